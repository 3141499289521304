using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Watch-PageCache: every -Interval, the cached, dirty, writeback and evicted pages of files or trees,
/// of the files processes hold, or of a memory cgroup, with their change since the reading before;
/// a stream of objects that ends after -Count readings, after -Duration, or on Ctrl+C.
/// </summary>
[Cmdlet(VerbsCommon.Watch, "PageCache", DefaultParameterSetName = PathSet)]
[OutputType(typeof(PageCacheSample))]
public sealed class WatchPageCacheCommand : PathsCmdlet
{
    private const string ProcessIdSet = "ProcessId", ProcessSet = "Process", CgroupSet = "Cgroup";

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public SwitchParameter Recurse { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = ProcessIdSet)]
    [ValidateRange(1, int.MaxValue)]
    public int[] ProcessId { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = ProcessSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Process[] Process { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = CgroupSet)]
    [ValidateNotNullOrEmpty]
    public string Cgroup { get; set; } = "";

    [Parameter]
    [ValidateRange(0.001, 86400.0)]
    public double Interval { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    [Parameter]
    public TimeSpan Duration { get; set; }

    private readonly List<string> _paths = new();
    private readonly List<int> _processIds = new();
    private readonly CancellationTokenSource _stop = new();

    protected override void StopProcessing() => _stop.Cancel();

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (MyInvocation.BoundParameters.ContainsKey(nameof(Duration)) && Duration <= TimeSpan.Zero)
            ThrowCommandError(ErrorMapping.InvalidArgument, ErrorCategory.InvalidArgument, $"-Duration must be positive; it is {Duration}.", Duration);
    }

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case PathSet or LiteralPathSet:
                _paths.AddRange(ResolvePaths());
                break;
            case ProcessIdSet or ProcessSet:
                _processIds.AddRange(ProcessTargets.Existing(this, ParameterSetName == ProcessSet ? Process.Select(p => p.Id) : ProcessId));
                break;
        }
    }

    protected override void EndProcessing()
    {
        CacheWatch? watch = null;
        switch (ParameterSetName)
        {
            case PathSet or LiteralPathSet when _paths.Count > 0:
                watch = CacheWatch.ForFiles(_paths, Recurse);
                break;
            case ProcessIdSet or ProcessSet when _processIds.Count > 0:
                watch = CacheWatch.ForProcesses(_processIds.Distinct().ToList());
                break;
            case CgroupSet:
                string? directory = FileSystemPaths.Resolve(this, [Cgroup], literal: true).FirstOrDefault();
                if (directory is not null) TryItem(directory, () => CacheWatch.ForCgroup(directory), out watch);
                break;
        }
        if (watch is null) return;
        var bound = MyInvocation.BoundParameters;
        var samples = watch.Run(TimeSpan.FromSeconds(Interval), bound.ContainsKey(nameof(Count)) ? Count : null,
            bound.ContainsKey(nameof(Duration)) ? Duration : null, _stop.Token);
        foreach (var sample in samples) WriteObject(sample);
    }
}
