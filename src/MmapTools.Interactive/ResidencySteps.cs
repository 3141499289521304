using System.Text;

namespace MmapTools.Interactive;

/// <summary>
/// Residency after each of several steps, drawn as heat maps one under the other: a map that fills
/// as pages are touched, a cache that empties as it is evicted.
/// </summary>
public sealed class ResidencySteps
{
    private readonly List<(string Label, PageResidency Residency)> _steps = [];

    public ResidencySteps(string title, HeatMapOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(title);
        Title = title;
        Options = options ?? HeatMapOptions.Default;
    }

    public string Title { get; }

    public HeatMapOptions Options { get; }

    public IReadOnlyList<(string Label, PageResidency Residency)> Steps => _steps;

    /// <summary>Adds a step. Returns nothing, so that a PowerShell cell does not print the picture at every call.</summary>
    public void Add(string label, PageResidency residency)
    {
        ArgumentException.ThrowIfNullOrEmpty(label);
        ArgumentNullException.ThrowIfNull(residency);
        _steps.Add((label, residency));
    }

    public override string ToString() =>
        $"{Title}: " + string.Join("; ", _steps.Select(s => $"{s.Label} {s.Residency.ResidentPages}/{s.Residency.TotalPages}"));

    public string ToHtml()
    {
        var html = new StringBuilder();
        Html.OpenFigure(html, "mmaptools-steps", Title);
        if (_steps.Count > 0) html.Append("<div style=\"color:#555\">").Append(Html.Encode(ResidencyHeatMap.Describe(_steps[0].Residency))).Append("</div>");
        for (int i = 0; i < _steps.Count; i++)
        {
            var (label, residency) = _steps[i];
            html.Append("<div style=\"margin-top:6px\"><div>").Append(Html.Encode(label)).Append("</div>");
            ResidencyHeatMap.AppendSvg(html, residency, i == _steps.Count - 1 ? Options : Options with { Legend = false });
            html.Append("<div>").Append(Html.Encode(ResidencyHeatMap.Counts(residency))).Append("</div></div>");
        }
        Html.CloseFigure(html);
        return html.ToString();
    }
}
