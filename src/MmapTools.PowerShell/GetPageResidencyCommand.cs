using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Get-PageResidency: which pages of maps, files or directory trees are in memory. Files are asked
/// without mapping them for long (cachestat where the kernel has it, else mincore a window at a
/// time); -Summary gives one total, as vmtouch does. Trees are walked by <see cref="ResidencyWalker"/>,
/// streamed: memory stays flat whatever the number of files. Each file is counted once per call
/// however often it is named (a symbolic link named directly counts as its target, hard links to
/// one file count once). Walking a tree follows no symbolic links unless -FollowSymlink, stays on
/// one file system unless -CrossFileSystem, and skips what is not a regular file (FIFOs, sockets,
/// devices), as vmtouch does. A directory's files are examined on -ThrottleLimit threads at once (one a
/// processor by default); objects are written from the cmdlet's own thread, in the walk's order.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PageResidency", DefaultParameterSetName = PathSet)]
[OutputType(typeof(PageResidency))]
[OutputType(typeof(ResidencySummary))]
public sealed class GetPageResidencyCommand : RangeCmdlet
{
    private const string MapSet = "Map", PathSet = "Path", LiteralPathSet = "LiteralPath", FileSet = "File";

    /// <summary>A walk shows a progress bar once it has run this long.</summary>
    private static readonly TimeSpan ProgressAfter = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// The clock that times a walk's progress bar and -Summary's Elapsed. PowerShell makes the
    /// cmdlet, so a test that must drive time sets this one for the process, and puts it back.
    /// </summary>
    internal static TimeProvider Clock { get; set; } = TimeProvider.System;

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

    /// <summary>
    /// Files and directories as Get-ChildItem and Get-Item give them, bound by value: PowerShell
    /// binds an object by its own type for less than it pays to find its PSPath property, which a
    /// piped Get-ChildItem paid for every file (about 10 us a file in CPU time here).
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = FileSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public FileSystemInfo[] InputObject { get; set; } = [];

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = FileSet)]
    public SwitchParameter Recurse { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = FileSet)]
    public SwitchParameter FollowSymlink { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = FileSet)]
    public SwitchParameter CrossFileSystem { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = FileSet)]
    [ValidateNotNullOrEmpty]
    public string[] Include { get; set; } = [];

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = FileSet)]
    [ValidateNotNullOrEmpty]
    public string[] Exclude { get; set; } = [];

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = FileSet)]
    [ValidateRange(0, long.MaxValue)]
    public long MaxFileSize { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = FileSet)]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    [Parameter]
    public SwitchParameter Summary { get; set; }

    [Parameter]
    public ResidencyDetail Detail { get; set; }

    private readonly ResidencySummary _summary = new();
    private readonly CancellationTokenSource _stop = new();
    private ResidencyWalker? _walker;
    private TimeProvider _clock = TimeProvider.System;
    private long _started, _nextProgress, _files, _directories;
    private string _directory = "";
    private bool _progressShown;

    private ResidencyDetail EffectiveDetail => MyInvocation.BoundParameters.ContainsKey(nameof(Detail)) ? Detail
        : Summary ? ResidencyDetail.Summary : ResidencyDetail.Runs;

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        _clock = Clock;
        _started = _clock.GetTimestamp();
        _nextProgress = _started + Ticks(ProgressAfter);
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
        var walker = _walker ??= NewWalker();
        foreach (string path in ResolveInput())
        {
            foreach (var item in Walk(walker, path))
            {
                switch (item.Kind)
                {
                    case ResidencyWalkItemKind.File:
                        _files++;
                        Report(item.Residency!, isMap: false);
                        break;
                    case ResidencyWalkItemKind.Directory:
                        _directories++;
                        _summary.Directories++;
                        _directory = item.Path;
                        break;
                    default:
                        _summary.FailedItems++;
                        WriteError(ErrorMapping.Record(item.Error!, Classify(item.Error!), item.Path));
                        break;
                }
                ShowProgress();
            }
        }
    }

    /// <summary>
    /// The file system paths of this record. A FileSystemInfo the provider made holds its full path
    /// (its ToString), taken as it is; one made with a relative path (<c>[IO.FileInfo]'a.bin'</c>)
    /// is resolved against the PowerShell location, as that path typed would be, never against the
    /// process's directory, which its FullName assumes. The walk stats every path it is given and
    /// reports a missing one (PathNotFound), so no path is looked up beforehand.
    /// </summary>
    private IEnumerable<string> ResolveInput()
    {
        if (ParameterSetName != FileSet)
        {
            bool literal = ParameterSetName == LiteralPathSet;
            return FileSystemPaths.Resolve(this, literal ? LiteralPath : Path, literal, callerStats: true);
        }
        return InputPaths();
    }

    private IEnumerable<string> InputPaths()
    {
        foreach (var info in InputObject)
        {
            string named = info.ToString();
            if (System.IO.Path.IsPathFullyQualified(named)) yield return named;
            else foreach (string resolved in FileSystemPaths.Resolve(this, [named], literal: true, callerStats: true)) yield return resolved;
        }
    }

    /// <summary>The walk's items; Ctrl+C stops its threads, and the pipeline, at once.</summary>
    private IEnumerable<ResidencyWalkItem> Walk(ResidencyWalker walker, string path)
    {
        using var items = walker.Examine(path, _stop.Token).GetEnumerator();
        while (true)
        {
            try
            {
                if (!items.MoveNext()) yield break;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            if (Stopping) throw new PipelineStoppedException();
            yield return items.Current;
        }
    }

    protected override void StopProcessing() => _stop.Cancel();

    protected override void EndProcessing()
    {
        if (_progressShown)
            WriteProgress(new ProgressRecord(0, "Get-PageResidency", "Done") { RecordType = ProgressRecordType.Completed });
        if (!Summary) return;
        _summary.Elapsed = _clock.GetElapsedTime(_started);
        WriteObject(_summary);
    }

    private ResidencyWalker NewWalker()
    {
        try
        {
            return new ResidencyWalker(new ResidencyWalkOptions
            {
                Recurse = Recurse,
                FollowSymlinks = FollowSymlink,
                CrossFileSystems = CrossFileSystem,
                MaxFileSize = Bound(nameof(MaxFileSize), MaxFileSize),
                Include = Matcher(Include),
                Exclude = Matcher(Exclude),
                Offset = Offset,
                Length = RangeLength,
                Detail = EffectiveDetail,
                MaxDegreeOfParallelism = ThrottleLimit,
            });
        }
        catch (ArgumentException e)
        {
            ThrowTerminatingError(ErrorMapping.Record(e, Classify(e), null));
            throw; // not reached
        }
    }

    /// <summary>Names matched against any of the patterns, case-insensitively as Get-ChildItem's -Include and -Exclude do; null for none.</summary>
    private static Func<string, bool>? Matcher(string[] patterns)
    {
        if (patterns.Length == 0) return null;
        var compiled = patterns.Select(p => WildcardPattern.Get(p, WildcardOptions.IgnoreCase)).ToArray();
        return name =>
        {
            foreach (var pattern in compiled)
                if (pattern.IsMatch(name)) return true;
            return false;
        };
    }

    /// <summary>A progress bar for walks that take longer than a second, updated four times a second.</summary>
    private void ShowProgress()
    {
        long now = _clock.GetTimestamp();
        if (now < _nextProgress) return;
        _nextProgress = now + Ticks(ProgressEvery);
        _progressShown = true;
        WriteProgress(new ProgressRecord(0, "Get-PageResidency", $"{_files} files in {_directories} directories")
        {
            CurrentOperation = _directory,
        });
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _clock.TimestampFrequency);

    private void Report(PageResidency residency, bool isMap)
    {
        if (residency.RunsOmitted)
            WriteWarning($"{residency.Path ?? residency.Name ?? "The map"}: more than {PageResidency.MaxRuns} runs of resident pages, so its ResidentRuns were left out " +
                $"(its counts are whole). -Detail Bitmap holds one bit a page and lists every run (Bitmap.Runs()); -Summary or -Detail Summary gives the counts alone.");
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
