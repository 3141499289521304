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
        var st = NativeFile.Stat(file);
        RequireRegular(st, "the file");
        return GetResidency(file, st, null, offset, length, detail);
    }

    private static PageResidency GetResidency(SafeFileHandle file, Libc.Statx st, string? path, long offset, long? length, ResidencyDetail detail)
    {
        var (start, bytes) = FileRange((long)st.Size, offset, length);
        int pageSize = MemoryMap.PageSize;
        long firstPage = start / pageSize;
        long pages = bytes == 0 ? 0 : (start + bytes - 1) / pageSize - firstPage + 1;
        int cachestatErrno = 0;
        var stat = bytes == 0 ? null : NativeFile.TryCachestat(file, start, bytes, out cachestatErrno);
        if (detail == ResidencyDetail.Summary && stat is { } s)
        {
            return new PageResidency
            {
                Path = path, Offset = start, Length = bytes, PageSize = pageSize, TotalPages = pages,
                ResidentPages = (long)s.Cached, DirtyPages = (long)s.Dirty, WritebackPages = (long)s.Writeback,
                EvictedPages = (long)s.Evicted, RecentlyEvictedPages = (long)s.RecentlyEvicted,
                Source = ResidencySource.Cachestat,
                Device = DeviceOf(st), Inode = st.Inode, LinkCount = st.NLink,
            };
        }
        bool trusted = NativeFile.MincoreSeesPageCache(file, st);
        using var scanner = new ResidencyScanner(pages, detail);
        scanner.ScanFile((int)file.DangerousGetHandle(), firstPage, pages, pageSize);
        string? note = !trusted ? NativeFile.UntrustedMincoreNote
            : detail == ResidencyDetail.Summary && bytes != 0 ? $"cachestat is not available here ({Errno.Name(cachestatErrno)}); mincore answered."
            : null;
        return new PageResidency
        {
            Path = path, Offset = start, Length = bytes, PageSize = pageSize, TotalPages = pages,
            ResidentPages = scanner.ResidentPages, DirtyPages = (long?)stat?.Dirty, WritebackPages = (long?)stat?.Writeback,
            EvictedPages = (long?)stat?.Evicted, RecentlyEvictedPages = (long?)stat?.RecentlyEvicted,
            Source = ResidencySource.Mincore, IsTrusted = trusted, Note = note,
            Device = DeviceOf(st), Inode = st.Inode, LinkCount = st.NLink,
            Bitmap = scanner.Bitmap, ResidentRuns = scanner.Runs,
            DirtyRuns = stat is { } dirtyStat && detail >= ResidencyDetail.Runs
                ? NativeFile.TryDirtyRuns(file, firstPage * pageSize, pages, pageSize, dirtyStat.Dirty) : null,
        };
    }

    private static ulong DeviceOf(in Libc.Statx st) => ((ulong)st.DevMajor << 32) | st.DevMinor;

    /// <summary>posix_fadvise advice for the file's range.</summary>
    public static void Advise(string path, FileAdvice advice, long offset = 0, long? length = null)
    {
        if (!Enum.IsDefined(advice)) throw new ArgumentOutOfRangeException(nameof(advice), advice, "Not a known posix_fadvise advice.");
        using var file = OpenRegular(path, out var st);
        var (start, bytes) = FileRange((long)st.Size, offset, length);
        if (bytes == 0) return;
        int error = Interop.Libc.posix_fadvise((int)file.DangerousGetHandle(), start, bytes, (int)advice);
        if (error != 0)
            throw new SystemCallException($"posix_fadvise({advice})", error, error == Errno.ESPIPE ? $"'{path}' is a pipe or FIFO." : null);
    }

    /// <summary>
    /// Drops the file's clean cached pages in the range (POSIX_FADV_DONTNEED), as vmtouch -e does.
    /// Dirty pages stay until written back, and the kernel drops only folios wholly inside the range:
    /// where a file system caches in large folios (ext4 since Linux 6.16), a range of a single page
    /// may drop nothing. Whole files are always dropped.
    /// </summary>
    public static void Evict(string path, long offset = 0, long? length = null) => Advise(path, FileAdvice.DontNeed, offset, length);

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

    private static void ReadThrough(SafeFileHandle file, long start, long bytes)
    {
        var buffer = new byte[1 << 20];
        for (long at = start; at < start + bytes;)
        {
            int read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, start + bytes - at)), at);
            if (read == 0) break;
            at += read;
        }
    }

    private static SafeFileHandle OpenRegular(string path, out Libc.Statx st)
    {
        var file = NativeFile.Open(path, writable: false);
        try
        {
            st = NativeFile.Stat(file);
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
            throw new MemoryMapException("NotMappable", $"{what} is {NativeFile.DescribeType(st.Mode)}; the page cache is asked about regular files only.");
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
