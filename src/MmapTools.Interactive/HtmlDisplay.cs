using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace MmapTools.Interactive;

/// <summary>
/// A picture written by hand (HTML or SVG markup) shown as one output of the running cell, which
/// later markup can replace in place, as a watch's chart does at every reading.
/// </summary>
/// <remarks>
/// Two faults of .NET Interactive (1.0.0-beta.26120.1) under Jupyter are why this exists rather than
/// <c>display(HTML(markup)).Update(...)</c>: its own update names another display id than the
/// display it updates, so a front end that matches ids (Jupyter's nbclient, JupyterLab) never applies
/// it; and a cell that mentions <c>HTML(...)</c> prints compiler warning CS1701 about the
/// Microsoft.AspNetCore.Html.Abstractions version into the notebook. Publishing the display events
/// with markup as text/html, under one id, avoids both.
/// </remarks>
public sealed class HtmlDisplay
{
    private readonly KernelInvocationContext context;

    private HtmlDisplay(KernelInvocationContext context) => this.context = context;

    /// <summary>The display id that the first markup and every update carry.</summary>
    public string DisplayId { get; } = Guid.NewGuid().ToString();

    /// <summary>
    /// Shows <paramref name="markup"/> in the cell being run. Outside a running cell there is nowhere
    /// to show it: that is an error, not a silent no-op.
    /// </summary>
    public static HtmlDisplay Show(string markup)
    {
        var context = KernelInvocationContext.Current
            ?? throw new InvalidOperationException("An HTML display needs a running notebook cell; no cell is running.");
        var display = new HtmlDisplay(context);
        context.Publish(new DisplayedValueProduced(markup, context.Command, Formatted(markup), display.DisplayId));
        return display;
    }

    /// <summary>Replaces the shown markup with <paramref name="markup"/>.</summary>
    public void Update(string markup) =>
        context.Publish(new DisplayedValueUpdated(markup, DisplayId, context.Command, Formatted(markup)));

    private static FormattedValue[] Formatted(string markup) => [new FormattedValue(HtmlFormatter.MimeType, markup)];
}
