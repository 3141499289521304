using Microsoft.DotNet.Interactive.Formatting;

namespace MmapTools.Interactive.Tests;

// The Formatter is process-wide: these tests must not run beside others that format.
[CollectionDefinition(nameof(FormatterTests), DisableParallelization = true)]
public class FormatterCollection;

[Collection(nameof(FormatterTests))]
public sealed class FormatterTests : IDisposable
{
    public FormatterTests() => MmapFormatters.Register();

    public void Dispose() => Formatter.ResetToDefault();

    [Fact]
    public void Residency_formats_as_a_heat_map()
    {
        var residency = new PageResidency { Path = "/f", PageSize = 4096, TotalPages = 3, ResidentPages = 1, ResidentRuns = [new PageRun(1, 1)] };
        string html = residency.ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("class=\"mmaptools-residency\"", html);
        Assert.Equal(3, Svg.CellFills(Svg.Single(Svg.Parse(html))).Count);
        Assert.Equal(residency.ToString(), residency.ToDisplayString(PlainTextFormatter.MimeType));
    }

    [Fact]
    public void Every_type_prefers_html()
    {
        foreach (var type in MmapFormatters.Types)
            Assert.Equal(HtmlFormatter.MimeType, Formatter.GetPreferredMimeTypesFor(type).First());
    }

    [Fact]
    public void Maps_sync_results_faults_changes_and_charts_have_their_pictures()
    {
        using var map = MemoryMap.Anonymous(MemoryMap.PageSize);
        Assert.Contains("mmaptools-map", map.ToDisplayString(HtmlFormatter.MimeType));
        Assert.Contains("mmaptools-sync", new SyncResult().ToDisplayString(HtmlFormatter.MimeType));
        Assert.Contains("mmaptools-faults", new FaultMeasurement().ToDisplayString(HtmlFormatter.MimeType));
        var empty = new PageResidency { TotalPages = 1, ResidentRuns = [] };
        Assert.Contains("mmaptools-change", new ResidencyChange("x", empty, empty).ToDisplayString(HtmlFormatter.MimeType));
        Assert.Contains("mmaptools-timing", new TimingChart("t").ToDisplayString(HtmlFormatter.MimeType));
    }

    [Fact]
    public void The_powershell_views_name_every_type_drawn()
    {
        var file = System.Xml.Linq.XDocument.Load(MmapToolsKernelExtension.FormatFilePath);
        var named = file.Descendants("TypeName").Select(t => t.Value).ToHashSet();
        foreach (var type in MmapFormatters.Types) Assert.Contains(type.FullName!, named);
        Assert.Contains(nameof(NotebookDisplay) + "]::Show", file.ToString());
    }
}
