using System.Text;

namespace MmapTools.Interactive;

/// <summary>A <see cref="FaultMeasurement"/>: minor and major faults as bars, with the time.</summary>
public static class FaultView
{
    public static string ToHtml(FaultMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        var html = new StringBuilder();
        Html.OpenFigure(html, "mmaptools-faults", $"Page faults in {Html.Duration(measurement.Elapsed)} ({measurement.Scope.ToString().ToLowerInvariant()})");
        var bars = new List<Bars.Bar>
        {
            new("minor faults", measurement.MinorFaults, Html.Num(measurement.MinorFaults), "#1c7ed6"),
            new("major faults", measurement.MajorFaults, Html.Num(measurement.MajorFaults), "#e03131"),
        };
        Bars.AppendSvg(html, bars, "fault-bars");
        Html.Note(html, "A minor fault maps a page already in memory; a major fault waited for storage.");
        Html.CloseFigure(html);
        return html.ToString();
    }
}
