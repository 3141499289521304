using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Set-MemoryAdvice: madvise for a map or a range of it; with -Path, advice for files without a
/// map: -Evict drops their cached pages (as vmtouch -e), -Warm reads them into the page cache (as
/// vmtouch -t), -FileAdvice gives any posix_fadvise advice. Advice that can lose data (Free,
/// Remove, DontNeed on a private map) asks first: ConfirmImpact is High, so -WhatIf and -Confirm
/// work and -Confirm:$false skips the question. Harmless advice never asks unless -WhatIf or
/// -Confirm is given. -PassThru reports the residency before and after.
/// </summary>
[Cmdlet(VerbsCommon.Set, "MemoryAdvice", DefaultParameterSetName = MapSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(AdviceResult))]
public sealed class SetMemoryAdviceCommand : RangeCmdlet
{
    private const string MapSet = "Map";
    private const string PathAdviceSet = "PathFileAdvice", LiteralPathAdviceSet = "LiteralPathFileAdvice";
    private const string PathEvictSet = "PathEvict", LiteralPathEvictSet = "LiteralPathEvict";
    private const string PathWarmSet = "PathWarm", LiteralPathWarmSet = "LiteralPathWarm";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = MapSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap[] Map { get; set; } = [];

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = MapSet)]
    public MemoryAdvice Advice { get; set; }

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathAdviceSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathEvictSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathWarmSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathAdviceSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathEvictSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathWarmSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = PathAdviceSet)]
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = LiteralPathAdviceSet)]
    public FileAdvice FileAdvice { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = PathEvictSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathEvictSet)]
    public SwitchParameter Evict { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = PathWarmSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathWarmSet)]
    public SwitchParameter Warm { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == MapSet)
        {
            foreach (var map in Map) AdviseMap(map);
            return;
        }
        bool literal = ParameterSetName.StartsWith("Literal", StringComparison.Ordinal);
        foreach (string file in FileSystemPaths.Resolve(this, literal ? LiteralPath : Path, literal))
            AdviseFile(file);
    }

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
