using System.Buffers;
using System.Numerics;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// Turns mincore vectors into counts, a packed bitmap and runs, a window at a time, so memory
/// stays bounded whatever the size of the range: one vector of <see cref="WindowPages"/> bytes,
/// plus the bitmap only when it was asked for, plus at most <see cref="PageResidency.MaxRuns"/> runs
/// (past that the runs are dropped, and the counts go on).
/// </summary>
internal sealed unsafe class ResidencyScanner : IDisposable
{
    /// <summary>Pages examined per mincore call: 1 GiB of 4 KiB pages, a 256 KiB vector.</summary>
    internal const int WindowPages = 1 << 18;

    private readonly ResidencyDetail _detail;
    private readonly byte[] _vector;
    private readonly ulong[] _windowWords = new ulong[WindowPages / 64];
    private readonly ulong[]? _bitmap;
    private List<PageRun>? _runs;
    private long _scanned, _resident, _runStart = -1;

    public ResidencyScanner(long pageCount, ResidencyDetail detail)
    {
        _detail = detail;
        PageCount = pageCount;
        _vector = ArrayPool<byte>.Shared.Rent((int)Math.Min(WindowPages, Math.Max(pageCount, 1)));
        if (detail == ResidencyDetail.Bitmap) _bitmap = new ulong[(pageCount + 63) / 64];
        if (detail >= ResidencyDetail.Runs) _runs = new List<PageRun>();
    }

    public long PageCount { get; }

    public long ResidentPages => _resident;

    /// <summary>The range holds more than <see cref="PageResidency.MaxRuns"/> runs of resident pages: <see cref="Runs"/> is null.</summary>
    public bool RunsOmitted { get; private set; }

    public ResidencyBitmap? Bitmap => _bitmap is null ? null : new ResidencyBitmap(PageCount, _bitmap);

    public IReadOnlyList<PageRun>? Runs
    {
        get
        {
            if (_runs is not null && _runStart >= 0)
            {
                _runs.Add(new PageRun(_runStart, _scanned - _runStart));
                _runStart = -1;
            }
            return _runs;
        }
    }

    /// <summary>Asks mincore about the pages at <paramref name="address"/>, which must lie in a live mapping.</summary>
    public void ScanMapped(nint address, long pageCount, int pageSize)
    {
        for (long done = 0; done < pageCount;)
        {
            int pages = (int)Math.Min(WindowPages, pageCount - done);
            fixed (byte* vec = _vector)
            {
                if (Libc.mincore(address + (nint)(done * pageSize), (nuint)pages * (nuint)pageSize, vec) != 0)
                    throw SystemCallException.FromLastError("mincore", FailureHints.Mincore);
            }
            Accept(_vector.AsSpan(0, pages));
            done += pages;
        }
    }

    /// <summary>Maps the file a window at a time (without touching it) and asks mincore about each window.</summary>
    public void ScanFile(int fd, long firstPage, long pageCount, int pageSize)
    {
        for (long done = 0; done < pageCount;)
        {
            int pages = (int)Math.Min(WindowPages, pageCount - done);
            nuint bytes = (nuint)pages * (nuint)pageSize;
            nint window = Libc.mmap(0, bytes, Libc.PROT_READ, Libc.MAP_SHARED, fd, (firstPage + done) * pageSize);
            if (window == Libc.MAP_FAILED)
                throw SystemCallException.FromLastError("mmap", FailureHints.MmapForMincore);
            try
            {
                ScanMapped(window, pages, pageSize);
            }
            finally
            {
                Libc.munmap(window, bytes);
            }
            done += pages;
        }
    }

    private void Accept(ReadOnlySpan<byte> vector)
    {
        int words = (vector.Length + 63) / 64;
        Span<ulong> packed = _windowWords.AsSpan(0, words);
        Pack(vector, packed);
        foreach (ulong word in packed) _resident += BitOperations.PopCount(word);
        if (_bitmap is not null) CopyBits(packed, _scanned, vector.Length);
        if (_runs is not null) TrackRuns(packed, vector.Length);
        _scanned += vector.Length;
    }

    /// <summary>
    /// Packs bit 0 of each vector byte (the only bit mincore defines) into one bit a page, eight
    /// bytes at a time: masking keeps bit 0 of each byte and the multiply gathers them into the top byte.
    /// </summary>
    internal static void Pack(ReadOnlySpan<byte> vector, Span<ulong> words)
    {
        words.Clear();
        int i = 0;
        for (; i + 8 <= vector.Length; i += 8)
        {
            ulong lanes = BitConverter.ToUInt64(vector.Slice(i, 8)) & 0x0101010101010101UL;
            ulong eight = (lanes * 0x0102040810204080UL) >> 56;
            words[i >> 6] |= eight << (i & 63);
        }
        for (; i < vector.Length; i++)
            words[i >> 6] |= (ulong)(vector[i] & 1) << (i & 63);
    }

    private void CopyBits(ReadOnlySpan<ulong> packed, long firstPage, int pages)
    {
        // Windows are whole multiples of 64 pages except the last, so words line up.
        packed.Slice(0, (pages + 63) / 64).CopyTo(_bitmap.AsSpan((int)(firstPage >> 6)));
    }

    private void TrackRuns(ReadOnlySpan<ulong> packed, int pages)
    {
        int page = 0;
        while (page < pages)
        {
            bool inRun = _runStart >= 0;
            int next = NextBit(packed, page, pages, set: !inRun);
            if (next >= pages) break;
            if (inRun)
            {
                _runs!.Add(new PageRun(_runStart, _scanned + next - _runStart));
                _runStart = -1;
            }
            else if (_runs!.Count == PageResidency.MaxRuns)
            {
                RunsOmitted = true;
                _runs = null;
                return;
            }
            else
            {
                _runStart = _scanned + next;
            }
            page = next;
        }
    }

    private static int NextBit(ReadOnlySpan<ulong> words, int from, int limit, bool set)
    {
        for (int w = from >> 6; w < words.Length; w++)
        {
            ulong word = set ? words[w] : ~words[w];
            if (w == from >> 6) word &= ~0UL << (from & 63);
            if (word != 0) return Math.Min(limit, (w << 6) + BitOperations.TrailingZeroCount(word));
        }
        return limit;
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(_vector);
}
