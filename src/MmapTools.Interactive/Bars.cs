using System.Text;

namespace MmapTools.Interactive;

/// <summary>Horizontal SVG bars, one a row with its label and value: the shape of every chart here.</summary>
internal static class Bars
{
    public const string DefaultColor = "#1c7ed6";

    public readonly record struct Bar(string Label, double Value, string ValueText, string Color);

    public static void AppendSvg(StringBuilder svg, IReadOnlyList<Bar> bars, string cssClass, int barWidth = 360)
    {
        const int rowHeight = 20, barHeight = 14;
        // About 7.5 pixels a character of 12 px sans-serif, and some room.
        int labelWidth = Math.Clamp(bars.Count == 0 ? 40 : (int)(bars.Max(b => b.Label.Length) * 7.5) + 16, 40, 480);
        int valueWidth = Math.Clamp(bars.Count == 0 ? 40 : (int)(bars.Max(b => b.ValueText.Length) * 7.5) + 16, 40, 320);
        double max = bars.Count == 0 ? 0 : bars.Max(b => b.Value);
        int width = labelWidth + barWidth + valueWidth;
        int height = Math.Max(1, bars.Count) * rowHeight;
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.Append($"<g class=\"{cssClass}\">");
        for (int i = 0; i < bars.Count; i++)
        {
            var bar = bars[i];
            int y = i * rowHeight;
            double length = max > 0 && bar.Value > 0 ? Math.Max(1, bar.Value / max * barWidth) : 0;
            svg.Append($"<text x=\"{labelWidth - 6}\" y=\"{y + 14}\" text-anchor=\"end\" fill=\"#333\">{Html.Encode(bar.Label)}</text>");
            svg.Append($"<rect class=\"bar\" x=\"{labelWidth}\" y=\"{y + 3}\" width=\"{Html.Num(length)}\" height=\"{barHeight}\" fill=\"{bar.Color}\"><title>{Html.Encode($"{bar.Label}: {bar.ValueText}")}</title></rect>");
            svg.Append($"<text x=\"{Html.Num(labelWidth + length + 5)}\" y=\"{y + 14}\" fill=\"#333\">{Html.Encode(bar.ValueText)}</text>");
        }
        svg.Append("</g></svg>");
    }
}
