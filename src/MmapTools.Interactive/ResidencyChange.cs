using System.Diagnostics;
using System.Text;

namespace MmapTools.Interactive;

/// <summary>
/// Residency before and after something was done to a file or a map (an madvise, an msync, a read),
/// drawn as two heat maps with the change in counts.
/// </summary>
public sealed class ResidencyChange
{
    public ResidencyChange(string action, PageResidency before, PageResidency after, TimeSpan? elapsed = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(action);
        Action = action;
        Before = before ?? throw new ArgumentNullException(nameof(before));
        After = after ?? throw new ArgumentNullException(nameof(after));
        Elapsed = elapsed;
    }

    /// <summary>What was done, in words (e.g. "madvise(WillNeed)").</summary>
    public string Action { get; }

    public PageResidency Before { get; }

    public PageResidency After { get; }

    /// <summary>How long the action took, when it was timed.</summary>
    public TimeSpan? Elapsed { get; }

    public long ResidentPagesGained => After.ResidentPages - Before.ResidentPages;

    /// <summary>Asks <paramref name="probe"/> for the residency, runs <paramref name="action"/>, timed, and asks again.</summary>
    public static ResidencyChange Observe(string action, Func<PageResidency> probe, Action run)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(run);
        var before = probe();
        long started = Stopwatch.GetTimestamp();
        run();
        var elapsed = Stopwatch.GetElapsedTime(started);
        return new ResidencyChange(action, before, probe(), elapsed);
    }

    public override string ToString() =>
        $"{Action}: resident {Before.ResidentPages} -> {After.ResidentPages} of {After.TotalPages} pages" +
        (Before.DirtyPages is { } d0 && After.DirtyPages is { } d1 ? $", dirty {d0} -> {d1}" : "");

    public string ToHtml()
    {
        var html = new StringBuilder();
        string title = Elapsed is { } t ? $"{Action} (took {Html.Duration(t)})" : Action;
        Html.OpenFigure(html, "mmaptools-change", title);
        html.Append("<div style=\"color:#555\">").Append(Html.Encode(ResidencyHeatMap.Describe(After))).Append("</div>");
        foreach (var (label, residency) in new[] { ("before", Before), ("after", After) })
        {
            html.Append($"<div style=\"margin-top:4px\"><span style=\"display:inline-block;width:48px;color:#555\">{label}</span>");
            ResidencyHeatMap.AppendSvg(html, residency, label == "after" ? HeatMapOptions.Default : HeatMapOptions.Default with { Legend = false });
            html.Append("<div style=\"margin-left:48px\">").Append(Html.Encode(ResidencyHeatMap.Counts(residency))).Append("</div></div>");
        }
        html.Append("<div>").Append(Html.Encode(Delta())).Append("</div>");
        Html.CloseFigure(html);
        return html.ToString();
    }

    private string Delta()
    {
        string Signed(long n) => n > 0 ? $"+{Html.Num(n)}" : Html.Num(n);
        var parts = new List<string> { $"resident pages {Signed(ResidentPagesGained)}" };
        if (Before.DirtyPages is { } d0 && After.DirtyPages is { } d1) parts.Add($"dirty pages {Html.Num(d0)} → {Html.Num(d1)}");
        return "change: " + string.Join(", ", parts);
    }
}
