using System.Globalization;
using System.Net;
using System.Text;

namespace MmapTools.Interactive;

/// <summary>Small helpers to write HTML and SVG by hand: escaping, invariant numbers, durations.</summary>
internal static class Html
{
    public static string Encode(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>A number for an attribute or a label, with a dot whatever the culture.</summary>
    public static string Num(double value, string format = "0.##") => value.ToString(format, CultureInfo.InvariantCulture);

    public static string Num(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Duration(TimeSpan elapsed) => elapsed.TotalMilliseconds switch
    {
        < 1 => $"{Num(elapsed.TotalMicroseconds, "0.#")} µs",
        < 1000 => $"{Num(elapsed.TotalMilliseconds, "0.###")} ms",
        _ => $"{Num(elapsed.TotalSeconds, "0.###")} s",
    };

    public const string Font = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px";

    /// <summary>The frame every picture of this library sits in: a titled block with a class to find it by.</summary>
    public static void OpenFigure(StringBuilder html, string cssClass, string title)
    {
        html.Append($"<div class=\"{cssClass}\" style=\"{Font};margin:4px 0\">");
        html.Append($"<div style=\"font-weight:600;margin-bottom:2px\">{Encode(title)}</div>");
    }

    public static void CloseFigure(StringBuilder html) => html.Append("</div>");

    /// <summary>A two-column table of name and value; values are HTML already.</summary>
    public static void Table(StringBuilder html, IEnumerable<(string Name, string ValueHtml)> rows)
    {
        html.Append("<table style=\"border-collapse:collapse;margin:2px 0\"><tbody>");
        foreach (var (name, value) in rows)
        {
            html.Append("<tr><th style=\"text-align:left;padding:1px 12px 1px 0;font-weight:500;color:#555\">")
                .Append(Encode(name)).Append("</th><td style=\"text-align:left;padding:1px 0\">")
                .Append(value).Append("</td></tr>");
        }
        html.Append("</tbody></table>");
    }

    public static void Note(StringBuilder html, string text) =>
        html.Append("<div style=\"color:#666;font-size:12px\">").Append(Encode(text)).Append("</div>");
}
