using System.Xml.Linq;

namespace MmapTools.Interactive.Tests;

/// <summary>Reads the markup back as XML, so tests check elements rather than substrings.</summary>
internal static class Svg
{
    public static readonly XNamespace Ns = "http://www.w3.org/2000/svg";

    /// <summary>Parses HTML made of well-formed elements (what this library writes), wrapped in one root.</summary>
    public static XElement Parse(string html) => XElement.Parse($"<root>{html.Replace("&#183;", "·").Replace("&#8594;", "→")}</root>");

    public static XElement Single(XElement root) => root.Descendants(Ns + "svg").Single();

    /// <summary>The fills of the heat map's cells, in page order.</summary>
    public static List<string> CellFills(XElement svg) =>
        svg.Descendants(Ns + "g").Single(g => (string?)g.Attribute("class") == "cells")
            .Elements(Ns + "rect").Select(r => (string)r.Attribute("fill")!).ToList();

    public static Dictionary<string, int> Count(IEnumerable<string> fills) =>
        fills.GroupBy(f => f).ToDictionary(g => g.Key, g => g.Count());
}
