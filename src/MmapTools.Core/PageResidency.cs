using System.Numerics;

namespace MmapTools;

/// <summary>A run of consecutive pages, counted from the first page of the range asked about.</summary>
public readonly record struct PageRun(long FirstPage, long PageCount)
{
    public long EndPage => FirstPage + PageCount;
}

/// <summary>One bit a page, packed 64 to a word: page <c>i</c> is bit <c>i % 64</c> of word <c>i / 64</c>.</summary>
public sealed class ResidencyBitmap
{
    private readonly ulong[] _words;

    public ResidencyBitmap(long pageCount, ulong[] words)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pageCount);
        if (words.LongLength != (pageCount + 63) / 64)
            throw new ArgumentException($"{pageCount} pages need {(pageCount + 63) / 64} words, not {words.LongLength}.", nameof(words));
        PageCount = pageCount;
        _words = words;
    }

    public long PageCount { get; }

    /// <summary>The packed words; bits past <see cref="PageCount"/> are zero. A method, not a
    /// property, so that PowerShell's formatting and serialization do not copy it.</summary>
    public ReadOnlySpan<ulong> GetWords() => _words;

    public bool this[long page]
    {
        get
        {
            if ((ulong)page >= (ulong)PageCount) throw new ArgumentOutOfRangeException(nameof(page), page, $"The bitmap has {PageCount} pages.");
            return (_words[page >> 6] & (1UL << (int)(page & 63))) != 0;
        }
    }

    public override string ToString() => $"{CountSet()}/{PageCount} pages set";

    public long CountSet()
    {
        long count = 0;
        foreach (ulong word in _words) count += BitOperations.PopCount(word);
        return count;
    }

    /// <summary>The runs of set (resident) or clear pages, found a word at a time.</summary>
    public IEnumerable<PageRun> Runs(bool resident = true)
    {
        long page = 0;
        while (page < PageCount)
        {
            long start = Find(page, resident);
            if (start >= PageCount) yield break;
            long end = Find(start, !resident);
            yield return new PageRun(start, end - start);
            page = end;
        }
    }

    // The first page at or after 'from' whose bit equals 'set', or PageCount.
    private long Find(long from, bool set)
    {
        for (long w = from >> 6; w < _words.LongLength; w++)
        {
            ulong word = set ? _words[w] : ~_words[w];
            if (w == from >> 6) word &= ~0UL << (int)(from & 63);
            if (word != 0) return Math.Min(PageCount, (w << 6) + BitOperations.TrailingZeroCount(word));
        }
        return PageCount;
    }
}

/// <summary>Which pages of a file or a map are in memory, and what answered.</summary>
public sealed class PageResidency
{
    /// <summary>The file, when the residency is of a file or a file-backed map.</summary>
    public string? Path { get; init; }

    /// <summary>The map's or shared memory's name, when it has one.</summary>
    public string? Name { get; init; }

    /// <summary>The byte offset the range starts at (in the file, or in the map).</summary>
    public long Offset { get; init; }

    /// <summary>The length of the range in bytes.</summary>
    public long Length { get; init; }

    public int PageSize { get; init; }

    /// <summary>Pages the range touches.</summary>
    public long TotalPages { get; init; }

    public long ResidentPages { get => _residentPages; init => _residentPages = value + TestFault.ExtraResidentPages; }

    private readonly long _residentPages;

    /// <summary>Dirty pages in the page cache, where cachestat tells; otherwise null.</summary>
    public long? DirtyPages { get; init; }

    /// <summary>Pages under writeback, where cachestat tells.</summary>
    public long? WritebackPages { get; init; }

    /// <summary>Pages evicted from the cache since the file was opened by anyone, where cachestat tells.</summary>
    public long? EvictedPages { get; init; }

    /// <summary>Evicted pages that would still be in memory with a little more of it (refault distance), where cachestat tells.</summary>
    public long? RecentlyEvictedPages { get; init; }

    public ResidencySource Source { get; init; }

    /// <summary>For a file: its device (major &lt;&lt; 32 | minor) and inode, which identify it whatever the
    /// path it was reached by (hard links share them); null for maps.</summary>
    public ulong? Device { get; init; }

    /// <inheritdoc cref="Device"/>
    public ulong? Inode { get; init; }

    /// <summary>For a file: when it was last modified (UTC); null for maps.</summary>
    public DateTime? LastWriteTimeUtc { get; init; }

    /// <summary>For a file: how many hard links it has (more than 1: other paths name the same pages).</summary>
    public uint? LinkCount { get; init; }

    /// <summary>
    /// False where the kernel is known not to tell: mincore of a file that this user neither owns nor
    /// may write calls every page resident (Linux 5.0+ hides the page cache from such users).
    /// </summary>
    public bool IsTrusted { get; init; } = true;

    /// <summary>Why the answer cannot be trusted, or which fallback was taken; null when neither applies.</summary>
    public string? Note { get; init; }

    /// <summary>The per-page bitmap, when asked for with <see cref="ResidencyDetail.Bitmap"/>.</summary>
    public ResidencyBitmap? Bitmap { get; init; }

    /// <summary>
    /// Runs of resident pages, when asked for with <see cref="ResidencyDetail.Runs"/> or more; null
    /// where the range holds more than <see cref="MaxRuns"/> of them (see <see cref="RunsOmitted"/>).
    /// </summary>
    public IReadOnlyList<PageRun>? ResidentRuns { get; init; }

    /// <summary>
    /// Most runs one result holds: 1 MiB of runs. A file whose cached pages alternate would otherwise
    /// hold a run for every other page (a 64 GiB file: 8 million runs, 128 MiB). Past it the runs
    /// are left out and the counts stay whole; <see cref="ResidencyDetail.Bitmap"/> holds one bit a
    /// page however scattered the pages are, and <see cref="ResidencyBitmap.Runs"/> lists its runs one at a time.
    /// </summary>
    public const int MaxRuns = 1 << 16;

    /// <summary>True where runs were asked for but the range holds more than <see cref="MaxRuns"/>: <see cref="ResidentRuns"/> is null.</summary>
    public bool RunsOmitted { get; init; }

    internal static string RunsOmittedNote(long pages) =>
        $"More than {MaxRuns} runs of resident pages: the runs were left out (the counts are whole). " +
        $"Detail Bitmap holds one bit a page ({ByteSize.Format((pages + 7) / 8)} here) and lists every run; Detail Summary gives the counts alone.";

    /// <summary>
    /// Runs of dirty pages, counted like <see cref="ResidentRuns"/>, when runs or the bitmap were
    /// asked for and cachestat answers (file-backed ranges); null otherwise. Found by halving the
    /// range with cachestat where it holds dirty pages, so a clean range costs nothing more.
    /// </summary>
    public IReadOnlyList<PageRun>? DirtyRuns { get; init; }

    public long ResidentBytes => Math.Min(Length, ResidentPages * PageSize);

    public double ResidentPercent => TotalPages == 0 ? 0 : 100.0 * ResidentPages / TotalPages;

    public override string ToString() =>
        $"{Path ?? Name ?? "map"}: {ResidentPages}/{TotalPages} pages resident ({ResidentPercent:0.#}%, {Source}{(IsTrusted ? "" : ", untrusted")})";
}
