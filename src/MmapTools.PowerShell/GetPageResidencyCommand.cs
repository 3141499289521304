using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Get-PageResidency: which pages of maps, files or directory trees are in memory. Files are asked
/// without mapping them for long (cachestat where the kernel has it, else mincore a window at a
/// time); -Summary gives one total, as vmtouch does. Each file is counted once per call however
/// often it is named (a symbolic link named directly counts as its target, hard links to one file
/// count once). Walking a tree follows no symbolic links and skips what is not a regular file
/// (FIFOs, sockets, devices), as vmtouch does.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PageResidency", DefaultParameterSetName = PathSet)]
[OutputType(typeof(PageResidency))]
[OutputType(typeof(ResidencySummary))]
public sealed class GetPageResidencyCommand : RangeCmdlet
{
    private const string MapSet = "Map", PathSet = "Path", LiteralPathSet = "LiteralPath";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = MapSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap[] Map { get; set; } = [];

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public SwitchParameter Recurse { get; set; }

    [Parameter]
    public SwitchParameter Summary { get; set; }

    [Parameter]
    public ResidencyDetail Detail { get; set; }

    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly HashSet<(ulong Device, ulong Inode)> _linked = new();
    private readonly ResidencySummary _summary = new();
    private long _started;

    private ResidencyDetail EffectiveDetail => MyInvocation.BoundParameters.ContainsKey(nameof(Detail)) ? Detail
        : Summary ? ResidencyDetail.Summary : ResidencyDetail.Runs;

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        _started = Stopwatch.GetTimestamp();
    }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == MapSet)
        {
            foreach (var map in Map)
            {
                if (TryItem(map, () => map.GetResidency(Offset, RangeLength, EffectiveDetail), out var residency)) Report(residency, isMap: true);
                else _summary.FailedItems++;
            }
            return;
        }
        bool literal = ParameterSetName == LiteralPathSet;
        foreach (string path in FileSystemPaths.Resolve(this, literal ? LiteralPath : Path, literal))
        {
            if (Directory.Exists(path)) Walk(path);
            else ExamineFile(path, named: true);
        }
    }

    protected override void EndProcessing()
    {
        if (!Summary) return;
        _summary.Elapsed = Stopwatch.GetElapsedTime(_started);
        WriteObject(_summary);
    }

    /// <summary>A directory: its files, and with -Recurse every directory below it (not through symbolic links).</summary>
    private void Walk(string root)
    {
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            string directory = pending.Pop();
            if (!_seen.Add(directory + "/")) continue;
            _summary.Directories++;
            if (!TryItem(directory, () => new DirectoryInfo(directory).GetFileSystemInfos(), out var entries))
            {
                _summary.FailedItems++;
                continue;
            }
            var subdirectories = new List<string>();
            foreach (var entry in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                if (entry.LinkTarget is not null) continue;
                if (entry is DirectoryInfo) subdirectories.Add(entry.FullName);
                else ExamineFile(entry.FullName, named: false);
            }
            if (!Recurse) continue;
            for (int i = subdirectories.Count - 1; i >= 0; i--) pending.Push(subdirectories[i]);
        }
    }

    private void ExamineFile(string file, bool named)
    {
        // A symbolic link named directly is followed: its target is the file counted (once).
        if (named && new FileInfo(file).LinkTarget is not null && new FileInfo(file).ResolveLinkTarget(returnFinalTarget: true) is { Exists: true } target)
            file = target.FullName;
        if (!_seen.Add(file)) return;
        try
        {
            var residency = PageCache.GetResidency(file, Offset, RangeLength, EffectiveDetail);
            // Hard links name the same pages: the file counts once, by its first path, as in vmtouch.
            if (residency is { LinkCount: > 1, Device: { } device, Inode: { } inode } && !_linked.Add((device, inode))) return;
            Report(residency, isMap: false);
        }
        catch (MemoryMapException e) when (!named && e.Reason == "NotMappable")
        {
            // A FIFO, socket or device met while walking a tree: not a file with pages in the cache.
        }
        catch (Exception e) when (ErrorMapping.IsExpected(e))
        {
            _summary.FailedItems++;
            WriteError(ErrorMapping.Record(e, Classify(e), file));
        }
    }

    private void Report(PageResidency residency, bool isMap)
    {
        if (!Summary)
        {
            WriteObject(residency);
            return;
        }
        if (isMap) _summary.Maps++;
        else _summary.Files++;
        _summary.Add(residency);
    }
}
