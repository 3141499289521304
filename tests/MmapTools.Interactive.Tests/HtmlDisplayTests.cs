using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace MmapTools.Interactive.Tests;

public class HtmlDisplayTests
{
    // A kernel whose every submission shows a picture and redraws it twice, as a watch's chart does.
    private sealed class ChartKernel() : Kernel("chart"), IKernelCommandHandler<SubmitCode>
    {
        public Task HandleAsync(SubmitCode command, KernelInvocationContext context)
        {
            var chart = HtmlDisplay.Show("<svg><text>reading 0</text></svg>");
            chart.Update("<svg><text>reading 1</text></svg>");
            chart.Update("<svg><text>reading 2</text></svg>");
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Updates_carry_the_id_the_picture_was_shown_under_and_the_markup_as_it_is()
    {
        using var kernel = new ChartKernel();
        var result = await kernel.SendAsync(new SubmitCode("watch"));

        var shown = Assert.Single(result.Events.OfType<DisplayedValueProduced>());
        var updates = result.Events.OfType<DisplayedValueUpdated>().ToList();
        Assert.Equal(2, updates.Count);
        Assert.False(string.IsNullOrEmpty(shown.ValueId));
        Assert.All(updates, update => Assert.Equal(shown.ValueId, update.ValueId));
        var last = Assert.Single(updates[^1].FormattedValues);
        Assert.Equal(HtmlFormatter.MimeType, last.MimeType);
        Assert.Equal("<svg><text>reading 2</text></svg>", last.Value);
    }

    [Fact]
    public void Outside_a_running_cell_it_says_so()
    {
        var error = Assert.Throws<InvalidOperationException>(() => HtmlDisplay.Show("<svg/>"));
        Assert.Contains("no cell is running", error.Message);
    }
}
