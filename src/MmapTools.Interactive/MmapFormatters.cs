using Microsoft.DotNet.Interactive.Formatting;

namespace MmapTools.Interactive;

/// <summary>Registers this library's pictures with .NET Interactive's <see cref="Formatter"/>.</summary>
public static class MmapFormatters
{
    /// <summary>The types drawn as pictures; the PowerShell views in MmapTools.Interactive.format.ps1xml name the same.</summary>
    public static IReadOnlyList<Type> Types { get; } =
    [
        typeof(PageResidency), typeof(MemoryMap), typeof(SyncResult), typeof(FaultMeasurement),
        typeof(ResidencyChange), typeof(ResidencySteps), typeof(TimingChart),
    ];

    /// <summary>
    /// Registers an HTML and a plain-text formatter for each of <see cref="Types"/>. Registering
    /// again replaces them (the last registration wins), so calling it twice is harmless.
    /// </summary>
    public static void Register()
    {
        Html<PageResidency>(r => ResidencyHeatMap.ToHtml(r));
        Html<MemoryMap>(MemoryMapView.ToHtml);
        Html<SyncResult>(SyncView.ToHtml);
        Html<FaultMeasurement>(FaultView.ToHtml);
        Html<ResidencyChange>(c => c.ToHtml());
        Html<ResidencySteps>(s => s.ToHtml());
        Html<TimingChart>(c => c.ToHtml());
        Formatter.Register<SyncResult>(r => $"msync {(r.Async ? "async" : "sync")}: dirty pages {r.DirtyPagesBefore?.ToString() ?? "?"} -> {r.DirtyPagesAfter?.ToString() ?? "?"} in {r.Elapsed.TotalMilliseconds:0.###} ms", PlainTextFormatter.MimeType);
    }

    private static void Html<T>(Func<T, string> toHtml)
    {
        Formatter.Register<T>((value, writer) => writer.Write(toHtml(value)), HtmlFormatter.MimeType);
        Formatter.Register<T>(value => value?.ToString() ?? "", PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(T), HtmlFormatter.MimeType, PlainTextFormatter.MimeType);
    }
}
