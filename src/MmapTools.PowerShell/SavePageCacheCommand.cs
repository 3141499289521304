using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Save-PageCache: writes which pages of files and trees are cached to a snapshot file (see
/// <see cref="CacheSnapshot"/> for its format), for Restore-PageCache to put back later. The walk
/// streams, so memory stays flat however many files there are.
/// </summary>
[Cmdlet(VerbsData.Save, "PageCache", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
[OutputType(typeof(CacheSnapshotSummary))]
public sealed class SavePageCacheCommand : PathsCmdlet
{
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    [Parameter]
    public SwitchParameter Recurse { get; set; }

    private readonly List<string> _paths = new();

    protected override void ProcessRecord() =>
        _paths.AddRange(ResolvePaths());

    protected override void EndProcessing()
    {
        if (_paths.Count == 0) return;
        string? destination = FileSystemPaths.Resolve(this, [Destination], literal: true, mustExist: false).FirstOrDefault();
        if (destination is null || !ShouldProcess(destination, $"Write a page-cache snapshot of {_paths.Count} path(s)")) return;
        if (TryItem(destination, () => CacheSnapshot.Save(_paths, destination, Recurse,
                item => WriteError(ErrorMapping.Record(item.Error!, Classify(item.Error!), item.Path))), out var summary))
            WriteObject(summary);
    }
}
