using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>The cachestat system call over a file's byte range: its page-cache counts, and the runs of its dirty pages.</summary>
internal static unsafe class CachestatCall
{
    /// <summary>cachestat over a byte range; null where the kernel refuses (no such call, EPERM, or an unsupported file system).</summary>
    public static Libc.Cachestat? Try(SafeFileHandle file, long offset, long length, out int errno) =>
        Try((int)file.DangerousGetHandle(), offset, length, out errno);

    public static Libc.Cachestat? Try(int fd, long offset, long length, out int errno)
    {
        var range = new Libc.CachestatRange { Offset = (ulong)offset, Length = (ulong)length };
        Libc.Cachestat result;
        if (Libc.cachestat(Libc.SYS_cachestat, fd, &range, &result, 0) == 0)
        {
            errno = 0;
            return result;
        }
        errno = Libc.LastError;
        return null;
    }

    /// <summary>Most cachestat calls <see cref="TryDirtyRuns(int, long, long, int, ulong?)"/> makes before it gives up (null).</summary>
    internal const int DirtyRunsCallLimit = 1 << 16;

    /// <summary>
    /// The runs of dirty pages among <paramref name="pages"/> pages from the page-aligned byte
    /// <paramref name="firstByte"/> of the file: cachestat over a range, halved where it holds some
    /// dirty pages but not only dirty ones. Null where cachestat refuses or the pages are too scattered
    /// to find within <see cref="DirtyRunsCallLimit"/> calls. A large folio is dirty as a whole, so a
    /// run may be wider than the bytes written.
    /// </summary>
    public static IReadOnlyList<PageRun>? TryDirtyRuns(SafeFileHandle file, long firstByte, long pages, int pageSize, ulong? knownDirty = null) =>
        TryDirtyRuns((int)file.DangerousGetHandle(), firstByte, pages, pageSize, knownDirty);

    public static IReadOnlyList<PageRun>? TryDirtyRuns(int fd, long firstByte, long pages, int pageSize, ulong? knownDirty = null)
    {
        var runs = new List<PageRun>();
        int calls = 0;

        bool Scan(long first, long count, ulong? dirty)
        {
            if (dirty is null)
            {
                if (++calls > DirtyRunsCallLimit) return false;
                if (Try(fd, firstByte + first * pageSize, count * pageSize, out _) is not { } stat) return false;
                dirty = stat.Dirty;
            }
            if (dirty == 0) return true;
            if (dirty >= (ulong)count || count == 1)
            {
                if (runs.Count > 0 && runs[^1].EndPage == first) runs[^1] = runs[^1] with { PageCount = runs[^1].PageCount + count };
                else runs.Add(new PageRun(first, count));
                return true;
            }
            long half = count / 2;
            return Scan(first, half, null) && Scan(first + half, count - half, null);
        }

        return pages > 0 && Scan(0, pages, knownDirty) ? runs : null;
    }
}
