namespace MmapTools.PowerShell;

/// <summary>
/// Set-MemoryAdvice -PassThru: the advice given and the residency of the range before and after.
/// The counts are repeated as plain numbers beside the two residency objects so they survive any
/// serialization depth.
/// </summary>
public sealed class AdviceResult
{
    /// <summary>The file advised, or the file of the map advised.</summary>
    public string? Path { get; init; }

    /// <summary>The map advised; null for file advice given with -Path.</summary>
    public int? MapId { get; init; }

    /// <summary>The map's name (anonymous, shared memory, memfd).</summary>
    public string? Name { get; init; }

    /// <summary>What was done: a madvise advice, a posix_fadvise advice (FileAdvice.X), Evict or Warm.</summary>
    public string Advice { get; init; } = "";

    public long Offset { get; init; }
    public long Length { get; init; }
    public long TotalPages { get; init; }
    public long ResidentPagesBefore { get; init; }
    public long ResidentPagesAfter { get; init; }
    public long? DirtyPagesBefore { get; init; }
    public long? DirtyPagesAfter { get; init; }
    public TimeSpan Elapsed { get; init; }
    public PageResidency? Before { get; init; }
    public PageResidency? After { get; init; }

    public override string ToString() =>
        $"{Advice} on {Path ?? Name ?? $"map {MapId}"}: {ResidentPagesBefore} -> {ResidentPagesAfter} of {TotalPages} pages resident";
}
