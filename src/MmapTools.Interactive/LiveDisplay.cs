using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace MmapTools.Interactive;

/// <summary>
/// One output of the running cell that later values replace in place, for a chart that redraws as
/// a watch goes on. .NET Interactive's own <c>display(x).Update(y)</c> announces the display under
/// one display id and sends the update under another (seen with 1.0.0-beta.26120.1 under Jupyter),
/// so a front end that matches ids, as Jupyter's nbclient and JupyterLab do, never applies the
/// update; publishing both events under the same id makes every front end redraw the one output.
/// </summary>
public sealed class LiveDisplay
{
    private static readonly string[] MimeTypes = [HtmlFormatter.MimeType, PlainTextFormatter.MimeType];
    private readonly KernelInvocationContext context;

    private LiveDisplay(KernelInvocationContext context) => this.context = context;

    /// <summary>The display id that the first value and every update carry.</summary>
    public string DisplayId { get; } = Guid.NewGuid().ToString();

    /// <summary>
    /// Displays <paramref name="value"/> (as HTML and plain text) in the cell being run. Outside a
    /// running cell there is nowhere to display: that is an error, not a silent no-op.
    /// </summary>
    public static LiveDisplay Show(object value)
    {
        var context = KernelInvocationContext.Current
            ?? throw new InvalidOperationException("A live display needs a running notebook cell; no cell is running.");
        var display = new LiveDisplay(context);
        context.Publish(new DisplayedValueProduced(value, context.Command, FormattedValue.CreateManyFromObject(value, MimeTypes), display.DisplayId));
        return display;
    }

    /// <summary>Replaces the displayed value with <paramref name="value"/>.</summary>
    public void Update(object value) =>
        context.Publish(new DisplayedValueUpdated(value, DisplayId, context.Command, FormattedValue.CreateManyFromObject(value, MimeTypes)));
}
