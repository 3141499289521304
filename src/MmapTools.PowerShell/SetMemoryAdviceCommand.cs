using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Set-MemoryAdvice: madvise for a map or a range of it; with -Path, advice for files without a
/// map: -Evict drops their cached pages (as vmtouch -e), -Warm reads them into the page cache (as
/// vmtouch -t), -FileAdvice gives any posix_fadvise advice, -Lock locks them in memory (as vmtouch
/// -l) and returns the map that holds the lock. A PageResidency piped in (-Residency) is warmed
/// where it found pages missing, or evicted. Advice that can lose data (Free,
/// Remove, DontNeed on a private map) asks first: ConfirmImpact is High, so -WhatIf and -Confirm
/// work and -Confirm:$false skips the question. Harmless advice never asks unless -WhatIf or
/// -Confirm is given. -PassThru reports the residency before and after. -Region advises another
/// process's mapping through process_madvise (SetMemoryAdviceCommand.Process.cs).
/// </summary>
[Cmdlet(VerbsCommon.Set, "MemoryAdvice", DefaultParameterSetName = MapSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(AdviceResult))]
[OutputType(typeof(MemoryMap))]
public sealed partial class SetMemoryAdviceCommand : RangeCmdlet
{
    private const string MapSet = "Map";
    private const string PathAdviceSet = "PathFileAdvice", LiteralPathAdviceSet = "LiteralPathFileAdvice";
    private const string PathEvictSet = "PathEvict", LiteralPathEvictSet = "LiteralPathEvict";
    private const string PathWarmSet = "PathWarm", LiteralPathWarmSet = "LiteralPathWarm";
    private const string PathLockSet = "PathLock", LiteralPathLockSet = "LiteralPathLock";
    private const string ResidencyWarmSet = "ResidencyWarm", ResidencyEvictSet = "ResidencyEvict";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = MapSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap[] Map { get; set; } = [];

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = MapSet)]
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = RegionSet)]
    public MemoryAdvice Advice { get; set; }

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathAdviceSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathEvictSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathWarmSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathLockSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathAdviceSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathEvictSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathWarmSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathLockSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = PathAdviceSet)]
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = LiteralPathAdviceSet)]
    public FileAdvice FileAdvice { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = ResidencyWarmSet, ValueFromPipeline = true)]
    [Parameter(Mandatory = true, ParameterSetName = ResidencyEvictSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public PageResidency[] Residency { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = PathEvictSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathEvictSet)]
    [Parameter(Mandatory = true, ParameterSetName = ResidencyEvictSet)]
    public SwitchParameter Evict { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = PathWarmSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathWarmSet)]
    [Parameter(Mandatory = true, ParameterSetName = ResidencyWarmSet)]
    public SwitchParameter Warm { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = PathLockSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathLockSet)]
    public SwitchParameter Lock { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == MapSet)
        {
            foreach (var map in Map) AdviseMap(map);
            return;
        }
        if (ParameterSetName == RegionSet)
        {
            foreach (var region in Region) AdviseRegion(region);
            return;
        }
        if (ParameterSetName is ResidencyWarmSet or ResidencyEvictSet)
        {
            if (MyInvocation.BoundParameters.ContainsKey(nameof(Offset)) || MyInvocation.BoundParameters.ContainsKey(nameof(Length)))
                ThrowCommandError(ErrorMapping.InvalidArgument, ErrorCategory.InvalidArgument,
                    "A residency brings its own range: -Offset and -Length do not go with -Residency.");
            foreach (var residency in Residency) AdviseResidency(residency);
            return;
        }
        bool literal = ParameterSetName.StartsWith("Literal", StringComparison.Ordinal);
        foreach (string file in FileSystemPaths.Resolve(this, literal ? LiteralPath : Path, literal))
        {
            if (ParameterSetName is PathLockSet or LiteralPathLockSet) LockFile(file);
            else AdviseFile(file);
        }
    }

    /// <summary>
    /// Warms the pages a residency found missing (all of its range when it has no runs), or evicts its range.
    /// </summary>
    private void AdviseResidency(PageResidency residency)
    {
        string target = residency.Path ?? residency.Name ?? "a map's residency";
        if (residency.Path is null || residency.Device is null)
        {
            WriteItemError(ErrorMapping.InvalidArgument, ErrorCategory.InvalidArgument,
                $"The residency of {target} is of a map, not of a file: give the map its advice (Set-MemoryAdvice $map PopulateRead).", residency);
            return;
        }
        string file = residency.Path;
        bool warm = ParameterSetName == ResidencyWarmSet;
        string range = $"bytes {residency.Offset} to {residency.Offset + residency.Length}";
        string action = warm ? $"Warm the missing pages of {range}" : $"Evict {range}";
        if (!ShouldProcessHarmless(file, action)) return;
        Run(file, () => PageCache.GetResidency(file, residency.Offset, residency.Length, ResidencyDetail.Summary),
            warm ? () => PageCache.WarmMissing(residency) : () => PageCache.Evict(file, residency.Offset, residency.Length),
            (before, after, elapsed) => Result(warm ? "Warm" : "Evict", before, after, elapsed, file, null, null));
    }

    /// <summary>
    /// Locks the file's range in memory, as vmtouch -l does: maps it, mlock2(MLOCK_ONFAULT), then
    /// populates it, so every page comes in and stays. The lock lives as long as the map: the map is
    /// returned and tracked in the session, and Remove-MemoryMap (or the end of the session) unlocks.
    /// </summary>
    private void LockFile(string file)
    {
        if (!ShouldProcessHarmless(file, $"Lock {Describe()} in memory")) return;
        if (!TryItem(file, () =>
        {
            var map = MemoryMap.OpenFile(file, Offset, RangeLength);
            try
            {
                map.Lock(onFault: true);
                try
                {
                    map.Advise(MemoryAdvice.PopulateRead);
                }
                catch (SystemCallException e) when (e.ErrorName == "EINVAL")
                {
                    map.Lock(); // a kernel before 5.14: mlock2 without MLOCK_ONFAULT faults every page in itself
                }
            }
            catch
            {
                map.Dispose();
                throw;
            }
            return map;
        }, out var locked)) return;
        SessionMaps.Current.Add(locked);
        WriteObject(locked);
    }

    protected override (string Id, ErrorCategory Category) Classify(Exception e) => e switch
    {
        SystemCallException { Call: "mlock2", ErrorName: "ENOMEM" or "EAGAIN" or "EPERM" } => (ErrorMapping.MemoryLockLimit, ErrorCategory.ResourceUnavailable),
        _ => base.Classify(e),
    };

    private void AdviseMap(MemoryMap map)
    {
        string action = $"madvise({Advice}) over {Describe()}";
        bool proceed = Advice.LosesData(map.IsPrivate)
            ? ShouldProcess(map.ToString(), action + (map.IsPrivate ? " (the pages' content is discarded)" : " (the pages and their backing store are freed)"))
            : ShouldProcessHarmless(map.ToString(), action);
        if (!proceed) return;
        Run(map, () => map.GetResidency(Offset, RangeLength, ResidencyDetail.Summary), () => map.Advise(Advice, Offset, RangeLength),
            (before, after, elapsed) => Result(Advice.ToString(), before, after, elapsed, map.Path, map.Id, map.Name));
    }

    private void AdviseFile(string file)
    {
        var (name, act) = ParameterSetName switch
        {
            PathEvictSet or LiteralPathEvictSet => ("Evict", (Action)(() => PageCache.Evict(file, Offset, RangeLength))),
            PathWarmSet or LiteralPathWarmSet => ("Warm", () => PageCache.Warm(file, Offset, RangeLength)),
            _ => ($"FileAdvice.{FileAdvice}", () => PageCache.Advise(file, FileAdvice, Offset, RangeLength)),
        };
        // Evicting drops clean pages only; dirty ones stay until written back, so no file advice loses data.
        if (!ShouldProcessHarmless(file, $"{name} {Describe()}")) return;
        Run(file, () => PageCache.GetResidency(file, Offset, RangeLength, ResidencyDetail.Summary), act,
            (before, after, elapsed) => Result(name, before, after, elapsed, file, null, null));
    }

    private string Describe() => RangeLength is { } length ? $"bytes {Offset} to {Offset + length}" : Offset == 0 ? "the whole range" : $"from byte {Offset} to the end";

    /// <summary>Gives the advice; with -PassThru, measures the residency around it.</summary>
    private void Run(object target, Func<PageResidency> residency, Action advise, Func<PageResidency, PageResidency, TimeSpan, AdviceResult> result)
    {
        if (!PassThru)
        {
            TryItem(target, advise);
            return;
        }
        if (!TryItem(target, residency, out var before)) return;
        long started = Stopwatch.GetTimestamp();
        if (!TryItem(target, advise)) return;
        var elapsed = Stopwatch.GetElapsedTime(started);
        if (TryItem(target, residency, out var after)) WriteObject(result(before, after, elapsed));
    }

    private static AdviceResult Result(string advice, PageResidency before, PageResidency after, TimeSpan elapsed, string? path, int? mapId, string? name) => new()
    {
        Path = path, MapId = mapId, Name = name, Advice = advice, Offset = after.Offset, Length = after.Length,
        TotalPages = after.TotalPages, ResidentPagesBefore = before.ResidentPages, ResidentPagesAfter = after.ResidentPages,
        DirtyPagesBefore = before.DirtyPages, DirtyPagesAfter = after.DirtyPages, Elapsed = elapsed, Before = before, After = after,
    };
}
