namespace MmapTools.PowerShell;

/// <summary>
/// Get-PageResidency -Summary: one total over every file, directory tree or map examined, as
/// vmtouch prints it. Every member is a number, a string or a TimeSpan, so it crosses Start-Job
/// and remoting intact.
/// </summary>
public sealed class ResidencySummary
{
    /// <summary>Regular files counted (each once, however often it was named).</summary>
    public long Files { get; set; }

    /// <summary>Directories walked, the ones named included.</summary>
    public long Directories { get; set; }

    /// <summary>Maps counted.</summary>
    public long Maps { get; set; }

    public int PageSize { get; set; } = MemoryMap.PageSize;
    public long TotalPages { get; set; }
    public long ResidentPages { get; set; }
    public long TotalBytes { get; set; }
    public long ResidentBytes { get; set; }

    /// <summary>Dirty pages, summed over the items for which cachestat answered; null when it answered for none.</summary>
    public long? DirtyPages { get; set; }

    public long? WritebackPages { get; set; }
    public long? EvictedPages { get; set; }
    public long? RecentlyEvictedPages { get; set; }

    /// <summary>One bit a <see cref="ResidencySource"/> that answered: a walk adds every file, so naming each one's source would cost it more than the sum.</summary>
    private uint _sources;

    /// <summary>The interfaces that answered, comma-separated: Cachestat, Mincore.</summary>
    public string Sources => string.Join(", ",
        Enum.GetValues<ResidencySource>().Where(s => (_sources & (1u << (int)s)) != 0).Select(s => s.ToString()).Order(StringComparer.Ordinal));

    /// <summary>Items whose count mincore cannot be trusted for (files this user neither owns nor may write: it reports every page resident).</summary>
    public long UntrustedItems { get; set; }

    /// <summary>Items that could not be examined (each has its own error).</summary>
    public long FailedItems { get; set; }

    public TimeSpan Elapsed { get; set; }

    public double ResidentPercent => TotalPages == 0 ? 0 : 100.0 * ResidentPages / TotalPages;

    internal void Add(PageResidency r)
    {
        TotalPages += r.TotalPages;
        ResidentPages += r.ResidentPages;
        TotalBytes += r.Length;
        ResidentBytes += r.ResidentBytes;
        if (r.DirtyPages is { } d) DirtyPages = (DirtyPages ?? 0) + d;
        if (r.WritebackPages is { } w) WritebackPages = (WritebackPages ?? 0) + w;
        if (r.EvictedPages is { } e) EvictedPages = (EvictedPages ?? 0) + e;
        if (r.RecentlyEvictedPages is { } re) RecentlyEvictedPages = (RecentlyEvictedPages ?? 0) + re;
        if (!r.IsTrusted) UntrustedItems++;
        // An empty file asks no interface anything.
        if (r.TotalPages > 0) _sources |= 1u << (int)r.Source;
    }

    public override string ToString() =>
        $"Files: {Files}, Directories: {Directories}{(Maps > 0 ? $", Maps: {Maps}" : "")}, Resident Pages: {ResidentPages}/{TotalPages} " +
        $"{Display.Bytes(ResidentBytes)}/{Display.Bytes(TotalBytes)} {ResidentPercent:0.##}%";
}
