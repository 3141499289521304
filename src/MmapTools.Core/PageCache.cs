using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// A file's pages in the page cache, without a lasting map: residency (cachestat where the kernel
/// has it, else mincore over a window at a time), eviction and warming.
/// </summary>
public static class PageCache
{
    /// <summary>
    /// Which pages of the file's range are cached. <see cref="ResidencyDetail.Summary"/> answers with
    /// cachestat (one call, whatever the size) and falls back to mincore; runs and the bitmap always
    /// come from mincore, with cachestat's dirty and eviction counts added where it answers.
    /// </summary>
    public static PageResidency GetResidency(string path, long offset = 0, long? length = null, ResidencyDetail detail = ResidencyDetail.Summary)
    {
        using var file = OpenRegular(path, out var st);
        return GetResidency(file, st, path, offset, length, detail);
    }

    /// <summary>The same for a file already open in .NET.</summary>
    public static PageResidency GetResidency(SafeFileHandle file, long offset = 0, long? length = null, ResidencyDetail detail = ResidencyDetail.Summary)
    {
        ArgumentNullException.ThrowIfNull(file);
        // A closed handle's descriptor number may already belong to another file.
        ObjectDisposedException.ThrowIf(file.IsClosed, file);
        var st = PosixFile.Stat(file);
        RequireRegular(st, "the file");
        return GetResidency(file, st, null, offset, length, detail);
    }

    internal static PageResidency GetResidency(SafeFileHandle file, in Libc.Statx st, string? path, long offset, long? length, ResidencyDetail detail)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            return GetResidency((int)file.DangerousGetHandle(), st, path, offset, length, detail);
        }
        finally
        {
            file.DangerousRelease();
        }
    }

    /// <summary>The same for a descriptor the caller keeps open: a walk asks this of every file, with no handle object (finalizable) for each.</summary>
    internal static PageResidency GetResidency(int fd, in Libc.Statx st, string? path, long offset, long? length, ResidencyDetail detail)
    {
        var (start, bytes) = FileRange((long)st.Size, offset, length);
        int pageSize = MemoryMap.PageSize;
        long firstPage = start / pageSize;
        long pages = bytes == 0 ? 0 : (start + bytes - 1) / pageSize - firstPage + 1;
        int cachestatErrno = 0;
        var stat = bytes == 0 ? null : CachestatCall.Try(fd, start, bytes, out cachestatErrno);
        if (detail == ResidencyDetail.Summary && stat is { } s)
        {
            return new PageResidency
            {
                Path = path, Offset = start, Length = bytes, PageSize = pageSize, TotalPages = pages,
                ResidentPages = (long)s.Cached, DirtyPages = (long)s.Dirty, WritebackPages = (long)s.Writeback,
                EvictedPages = (long)s.Evicted, RecentlyEvictedPages = (long)s.RecentlyEvicted,
                Source = ResidencySource.Cachestat,
                Device = DeviceOf(st), Inode = st.Inode, LinkCount = st.NLink, LastWriteTimeUtc = ModifiedTime(st),
            };
        }
        bool trusted = MincoreTrust.SeesPageCache(fd, st);
        using var scanner = new ResidencyScanner(pages, detail);
        scanner.ScanFile(fd, firstPage, pages, pageSize);
        string? note = !trusted ? MincoreTrust.UntrustedNote
            : detail == ResidencyDetail.Summary && bytes != 0 ? $"cachestat is not available here ({Errno.Name(cachestatErrno)}); mincore answered."
            : scanner.RunsOmitted ? PageResidency.RunsOmittedNote(pages)
            : null;
        return new PageResidency
        {
            Path = path, Offset = start, Length = bytes, PageSize = pageSize, TotalPages = pages,
            ResidentPages = scanner.ResidentPages, DirtyPages = (long?)stat?.Dirty, WritebackPages = (long?)stat?.Writeback,
            EvictedPages = (long?)stat?.Evicted, RecentlyEvictedPages = (long?)stat?.RecentlyEvicted,
            Source = ResidencySource.Mincore, IsTrusted = trusted, Note = note,
            Device = DeviceOf(st), Inode = st.Inode, LinkCount = st.NLink, LastWriteTimeUtc = ModifiedTime(st),
            Bitmap = scanner.Bitmap, ResidentRuns = scanner.Runs, RunsOmitted = scanner.RunsOmitted,
            DirtyRuns = stat is { } dirtyStat && detail >= ResidencyDetail.Runs
                ? CachestatCall.TryDirtyRuns(fd, firstPage * pageSize, pages, pageSize, dirtyStat.Dirty) : null,
        };
    }

    internal static ulong DeviceOf(in Libc.Statx st) => ((ulong)st.DevMajor << 32) | st.DevMinor;

    /// <summary>The file's modification time, to the 100 ns a DateTime holds.</summary>
    internal static DateTime ModifiedTime(in Libc.Statx st) =>
        DateTime.UnixEpoch.AddTicks(st.MtimeSeconds * TimeSpan.TicksPerSecond + st.MtimeNanoseconds / 100);

    /// <summary>posix_fadvise advice for the file's range.</summary>
    public static void Advise(string path, FileAdvice advice, long offset = 0, long? length = null)
    {
        if (!Enum.IsDefined(advice)) throw new ArgumentOutOfRangeException(nameof(advice), advice, "Not a known posix_fadvise advice.");
        using var file = OpenRegular(path, out var st);
        var (start, bytes) = FileRange((long)st.Size, offset, length);
        if (bytes == 0) return;
        int error = Interop.Libc.posix_fadvise((int)file.DangerousGetHandle(), start, bytes, (int)advice);
        if (error != 0)
            throw new SystemCallException($"posix_fadvise({advice})", error, FailureHints.Fadvise(path, error));
    }

    /// <summary>
    /// Drops the file's clean cached pages in the range (POSIX_FADV_DONTNEED), as vmtouch -e does.
    /// Dirty pages stay until written back, and the kernel drops only folios wholly inside the range:
    /// where a file system caches in large folios (ext4 since Linux 6.16), a range of a single page
    /// may drop nothing. Whole files are always dropped. A range of <see cref="ParallelEvictBytes"/>
    /// or more is dropped in pieces, one a processor (up to four) at once: freeing the folios is the
    /// kernel's work, and it goes faster on several processors. The pieces are split at multiples of
    /// the largest folio a page cache holds (a PMD: 2 MiB with 4 KiB pages), so every folio wholly
    /// inside the range lies wholly inside one piece.
    /// </summary>
    public static void Evict(string path, long offset = 0, long? length = null)
    {
        using var file = OpenRegular(path, out var st);
        var (start, bytes) = FileRange((long)st.Size, offset, length);
        if (bytes == 0) return;
        int fd = (int)file.DangerousGetHandle();
        var pieces = EvictPieces(start, bytes, Math.Min(Environment.ProcessorCount, 4));
        int error = 0;
        if (pieces.Count == 1)
            error = Libc.posix_fadvise(fd, start, bytes, (int)FileAdvice.DontNeed);
        else
            Parallel.ForEach(pieces, piece =>
            {
                int e = Libc.posix_fadvise(fd, piece.Start, piece.Bytes, (int)FileAdvice.DontNeed);
                if (e != 0) Interlocked.CompareExchange(ref error, e, 0);
            });
        if (error != 0) throw new SystemCallException($"posix_fadvise({FileAdvice.DontNeed})", error);
    }

    /// <summary>Ranges at least this long are evicted in parallel pieces.</summary>
    internal const long ParallelEvictBytes = 256L << 20;

    /// <summary>The range cut into up to <paramref name="count"/> pieces at multiples of the largest page-cache folio (one piece for a short range).</summary>
    internal static List<(long Start, long Bytes)> EvictPieces(long start, long bytes, int count)
    {
        var pieces = new List<(long Start, long Bytes)>();
        long folio = (long)MemoryMap.PageSize * (MemoryMap.PageSize / 8); // a PMD: one page table's worth of pages
        long end = start + bytes;
        if (count < 2 || bytes < ParallelEvictBytes || bytes / count < folio)
        {
            pieces.Add((start, bytes));
            return pieces;
        }
        long step = MemoryMap.RoundUp(bytes / count, folio);
        long at = start;
        for (long cut = MemoryMap.RoundUp(start, folio) + step; cut < end; cut += step)
        {
            pieces.Add((at, cut - at));
            at = cut;
        }
        pieces.Add((at, end - at));
        return pieces;
    }

    /// <summary>
    /// Brings the range into the page cache and returns once it is there: MADV_POPULATE_READ over
    /// a window at a time (Linux 5.14+), else reading it. Reading never risks SIGBUS, even if the
    /// file shrinks meanwhile. For readahead that returns at once, use <see cref="Advise"/> with WillNeed.
    /// </summary>
    public static void Warm(string path, long offset = 0, long? length = null)
    {
        using var file = OpenRegular(path, out var st);
        var (start, bytes) = FileRange((long)st.Size, offset, length);
        if (bytes > 0 && !TryPopulate(file, start, bytes))
            ReadThrough(file, start, bytes);
    }

    private static unsafe bool TryPopulate(SafeFileHandle file, long start, long bytes)
    {
        int pageSize = MemoryMap.PageSize;
        long window = (long)ResidencyScanner.WindowPages * pageSize;
        long aligned = start & ~(long)(pageSize - 1);
        long end = start + bytes;
        for (long at = aligned; at < end; at += window)
        {
            nuint size = (nuint)Math.Min(window, MemoryMap.RoundUp(end, pageSize) - at);
            nint map = Libc.mmap(0, size, Libc.PROT_READ, Libc.MAP_SHARED, (int)file.DangerousGetHandle(), at);
            if (map == Libc.MAP_FAILED) return false;
            int result = Libc.madvise(map, size, (int)MemoryAdvice.PopulateRead);
            int errno = Libc.LastError;
            Libc.munmap(map, size);
            if (result == 0) continue;
            // EINVAL: a kernel before 5.14; EFAULT: the file shrank meanwhile. Reading copes with both.
            if (errno is Errno.EINVAL or Errno.EFAULT) return false;
            throw new SystemCallException("madvise(PopulateRead)", errno);
        }
        return true;
    }

    /// <summary>
    /// Brings into the page cache only the pages that <paramref name="residency"/> found missing: the
    /// gaps between its <see cref="PageResidency.ResidentRuns"/>, each populated like <see cref="Warm"/>
    /// does, through one map a window. Where the residency has no runs (counts only) or the file at
    /// its path is no longer the one examined (another device or inode), the whole range is warmed.
    /// Returns how many pages were asked for.
    /// </summary>
    public static long WarmMissing(PageResidency residency)
    {
        ArgumentNullException.ThrowIfNull(residency);
        if (residency.Path is null || residency.Device is null)
            throw new ArgumentException("This residency is of a map, not of a file: warm the map itself (MemoryAdvice.PopulateRead).", nameof(residency));
        if (residency.PageSize != MemoryMap.PageSize)
            throw new ArgumentException($"This residency counts pages of {residency.PageSize} bytes; this system's are {MemoryMap.PageSize}.", nameof(residency));
        using var file = OpenRegular(residency.Path, out var st);
        var (start, bytes) = FileRange((long)st.Size, residency.Offset, residency.Length);
        if (bytes == 0) return 0;
        bool same = DeviceOf(st) == residency.Device && st.Inode == residency.Inode;
        var gaps = MissingRanges(same ? residency.ResidentRuns : null, start, bytes);
        long end = MemoryMap.RoundUp(start + bytes, MemoryMap.PageSize);
        if (gaps.Count > 0 && !TryPopulate(file, gaps, end))
            foreach (var (gapStart, gapEnd) in gaps) ReadThrough(file, gapStart, Math.Min(gapEnd, (long)st.Size) - gapStart);
        long pages = 0;
        foreach (var (gapStart, gapEnd) in gaps) pages += (gapEnd - gapStart) / MemoryMap.PageSize;
        return pages;
    }

    /// <summary>
    /// The page-aligned byte ranges of [start, start + bytes) outside the resident runs (counted from
    /// the range's first page), in order; the whole range when there are no runs to go by.
    /// </summary>
    internal static List<(long Start, long End)> MissingRanges(IReadOnlyList<PageRun>? residentRuns, long start, long bytes)
    {
        int pageSize = MemoryMap.PageSize;
        long first = start / pageSize * pageSize, end = MemoryMap.RoundUp(start + bytes, pageSize);
        var gaps = new List<(long Start, long End)>();
        if (bytes <= 0) return gaps;
        if (residentRuns is null)
        {
            gaps.Add((first, end));
            return gaps;
        }
        long at = first;
        foreach (var run in residentRuns.OrderBy(r => r.FirstPage))
        {
            long runStart = first + run.FirstPage * pageSize, runEnd = first + run.EndPage * pageSize;
            if (runStart > at) gaps.Add((at, Math.Min(runStart, end)));
            at = Math.Max(at, runEnd);
            if (at >= end) break;
        }
        if (at < end) gaps.Add((at, end));
        gaps.RemoveAll(g => g.End <= g.Start);
        return gaps;
    }

    /// <summary>MADV_POPULATE_READ over page-aligned, ordered ranges, mapping each window of the file once.</summary>
    internal static unsafe bool TryPopulate(SafeFileHandle file, List<(long Start, long End)> ranges, long end)
    {
        long window = (long)ResidencyScanner.WindowPages * MemoryMap.PageSize;
        nint map = 0;
        long mapStart = -1;
        nuint mapSize = 0;
        try
        {
            foreach (var (rangeStart, rangeEnd) in ranges)
            {
                for (long at = rangeStart; at < rangeEnd;)
                {
                    long windowStart = at / window * window;
                    if (windowStart != mapStart)
                    {
                        if (map != 0) Libc.munmap(map, mapSize);
                        map = 0;
                        mapSize = (nuint)Math.Min(window, end - windowStart);
                        nint mapped = Libc.mmap(0, mapSize, Libc.PROT_READ, Libc.MAP_SHARED, (int)file.DangerousGetHandle(), windowStart);
                        if (mapped == Libc.MAP_FAILED) return false;
                        map = mapped;
                        mapStart = windowStart;
                    }
                    long pieceEnd = Math.Min(rangeEnd, windowStart + (long)mapSize);
                    if (Libc.madvise(map + (nint)(at - windowStart), (nuint)(pieceEnd - at), (int)MemoryAdvice.PopulateRead) != 0)
                    {
                        int errno = Libc.LastError;
                        // EINVAL: a kernel before 5.14; EFAULT: the file shrank meanwhile. Reading copes with both.
                        if (errno is Errno.EINVAL or Errno.EFAULT) return false;
                        throw new SystemCallException("madvise(PopulateRead)", errno);
                    }
                    at = pieceEnd;
                }
            }
            return true;
        }
        finally
        {
            if (map != 0) Libc.munmap(map, mapSize);
        }
    }

    internal static void ReadThrough(SafeFileHandle file, long start, long bytes)
    {
        var buffer = new byte[1 << 20];
        for (long at = start; at < start + bytes;)
        {
            int read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, start + bytes - at)), at);
            if (read == 0) break;
            at += read;
        }
    }

    internal static SafeFileHandle OpenRegular(string path, out Libc.Statx st)
    {
        var file = PosixFile.Open(path, writable: false);
        try
        {
            st = PosixFile.Stat(file);
            RequireRegular(st, $"'{path}'");
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void RequireRegular(in Libc.Statx st, string what)
    {
        if ((st.Mode & Libc.S_IFMT) != Libc.S_IFREG)
            throw new MemoryMapException("NotMappable", $"{what} is {PosixFile.DescribeType(st.Mode)}; the page cache is asked about regular files only.");
    }

    /// <summary>The range clipped to the file: a range past the end of the file holds no pages.</summary>
    private static (long Start, long Bytes) FileRange(long size, long offset, long? length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l) ArgumentOutOfRangeException.ThrowIfNegative(l, nameof(length));
        long start = Math.Min(offset, size);
        long bytes = Math.Min(length ?? long.MaxValue, size - start);
        Debug.Assert(bytes >= 0);
        return (start, bytes);
    }
}
