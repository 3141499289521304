using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace MmapTools.Interactive.Tests;

public class LiveDisplayTests
{
    // A kernel whose every submission shows a value and updates it twice, as a watch's chart does.
    private sealed class ChartKernel() : Kernel("chart"), IKernelCommandHandler<SubmitCode>
    {
        public Task HandleAsync(SubmitCode command, KernelInvocationContext context)
        {
            var chart = LiveDisplay.Show("<b>reading 0</b>");
            chart.Update("<b>reading 1</b>");
            chart.Update("<b>reading 2</b>");
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Updates_carry_the_id_the_display_was_shown_under()
    {
        using var kernel = new ChartKernel();
        var result = await kernel.SendAsync(new SubmitCode("watch"));

        var shown = Assert.Single(result.Events.OfType<DisplayedValueProduced>());
        var updates = result.Events.OfType<DisplayedValueUpdated>().ToList();
        Assert.Equal(2, updates.Count);
        Assert.False(string.IsNullOrEmpty(shown.ValueId));
        Assert.All(updates, update => Assert.Equal(shown.ValueId, update.ValueId));
        Assert.Equal("<b>reading 2</b>", updates[^1].Value);
        Assert.Contains(updates[^1].FormattedValues, value => value.MimeType == HtmlFormatter.MimeType);
    }

    [Fact]
    public void Outside_a_running_cell_it_says_so()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LiveDisplay.Show("x"));
        Assert.Contains("no cell is running", error.Message);
    }
}
