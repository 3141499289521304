using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>Opening and examining files with the kernel's own calls, with errors that say what was wrong.</summary>
internal static unsafe class NativeFile
{
    /// <summary>
    /// Opens without blocking (a FIFO would otherwise wait for a writer) and closes on exec.
    /// </summary>
    public static SafeFileHandle Open(string path, bool writable, bool create = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        int flags = (writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_NONBLOCK | Libc.O_CLOEXEC | (create ? Libc.O_CREAT : 0);
        int fd = Libc.open(path, flags, 0b110_110_100); // 0664, less the umask
        if (fd < 0)
        {
            var error = SystemCallException.FromLastError("open", errno => OpenHint(path, writable, errno));
            // A UNIX socket cannot be opened at all (ENXIO): it is the kind of file that is wrong,
            // as for a FIFO or a directory, which open but have no pages.
            if (error.ErrorNumber == Errno.ENXIO && TypeAt(path) == Libc.S_IFSOCK)
                throw new MemoryMapException("NotMappable", $"'{path}' is {DescribeType(Libc.S_IFSOCK)}; it has no pages to map or cache, only regular files and devices do.", error);
            throw error;
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>The S_IFMT bits of the file at the path (symbolic links followed), or 0 when it cannot be examined.</summary>
    private static int TypeAt(string path)
    {
        Libc.Statx st;
        return Libc.statx(Libc.AT_FDCWD, path, 0, Libc.STATX_BASIC_STATS, &st) == 0 ? st.Mode & Libc.S_IFMT : 0;
    }

    public static string? OpenHint(string path, bool writable, int errno) => errno switch
    {
        Errno.ENOENT => $"'{path}' does not exist.",
        Errno.EACCES or Errno.EPERM => writable
            ? $"'{path}' cannot be opened for writing by this user; map it read-only or private."
            : $"'{path}' cannot be read by this user.",
        Errno.EROFS => $"'{path}' is on a read-only file system; map it read-only or private.",
        Errno.EISDIR => $"'{path}' is a directory, not a file.",
        Errno.ETXTBSY => $"'{path}' is a program being run; it cannot be opened for writing.",
        Errno.ENOTDIR => $"A part of '{path}' that should be a directory is a file.",
        Errno.ENAMETOOLONG => "The path is too long.",
        Errno.ELOOP => $"'{path}' has too many levels of symbolic links.",
        Errno.EMFILE or Errno.ENFILE => "Too many files are open (see ulimit -n).",
        _ => null,
    };

    public static Libc.Statx Stat(SafeFileHandle file)
    {
        Libc.Statx st;
        if (Libc.statx((int)file.DangerousGetHandle(), "", Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, &st) != 0)
            throw SystemCallException.FromLastError("statx");
        return st;
    }

    public static string DescribeType(int mode) => (mode & Libc.S_IFMT) switch
    {
        Libc.S_IFREG => "a regular file",
        Libc.S_IFDIR => "a directory",
        Libc.S_IFIFO => "a FIFO (named pipe)",
        Libc.S_IFSOCK => "a socket",
        Libc.S_IFCHR => "a character device",
        Libc.S_IFBLK => "a block device",
        Libc.S_IFLNK => "a symbolic link",
        _ => "an unknown kind of file",
    };

    /// <summary>
    /// Whether mincore reports the page cache for this file. Since Linux 5.0 it does only for files
    /// the caller owns or may write (or as a capable root); for others it hides the cache by calling
    /// every page resident (can_do_mincore in mm/mincore.c: the vector is filled with 1s), which
    /// over-counts. Root is trusted through CAP_FOWNER.
    /// </summary>
    public static bool MincoreSeesPageCache(SafeFileHandle file, in Libc.Statx st)
    {
        uint euid = Libc.geteuid();
        if (euid == 0 || st.Uid == euid) return true;
        return Libc.faccessat(Libc.AT_FDCWD, $"/proc/self/fd/{file.DangerousGetHandle()}", Libc.W_OK, 0) == 0;
    }

    public const string UntrustedMincoreNote =
        "mincore does not report the page cache of a file this user neither owns nor may write: the kernel calls every page of it resident, so the count means nothing.";

    /// <summary>cachestat over a byte range; null where the kernel refuses (no such call, EPERM, or an unsupported file system).</summary>
    public static Libc.Cachestat? TryCachestat(SafeFileHandle file, long offset, long length, out int errno)
    {
        var range = new Libc.CachestatRange { Offset = (ulong)offset, Length = (ulong)length };
        Libc.Cachestat result;
        if (Libc.cachestat(Libc.SYS_cachestat, (int)file.DangerousGetHandle(), &range, &result, 0) == 0)
        {
            errno = 0;
            return result;
        }
        errno = Libc.LastError;
        return null;
    }

    /// <summary>Most cachestat calls <see cref="TryDirtyRuns"/> makes before it gives up (null).</summary>
    internal const int DirtyRunsCallLimit = 1 << 16;

    /// <summary>
    /// The runs of dirty pages among <paramref name="pages"/> pages from the page-aligned byte
    /// <paramref name="firstByte"/> of the file: cachestat over a range, halved where it holds some
    /// dirty pages but not only dirty ones. Null where cachestat refuses or the pages are too scattered
    /// to find within <see cref="DirtyRunsCallLimit"/> calls. A large folio is dirty as a whole, so a
    /// run may be wider than the bytes written.
    /// </summary>
    public static IReadOnlyList<PageRun>? TryDirtyRuns(SafeFileHandle file, long firstByte, long pages, int pageSize, ulong? knownDirty = null)
    {
        var runs = new List<PageRun>();
        int calls = 0;

        bool Scan(long first, long count, ulong? dirty)
        {
            if (dirty is null)
            {
                if (++calls > DirtyRunsCallLimit) return false;
                if (TryCachestat(file, firstByte + first * pageSize, count * pageSize, out _) is not { } stat) return false;
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

    public static ulong MemlockLimit()
    {
        Libc.Rlimit limit;
        return Libc.getrlimit(Libc.RLIMIT_MEMLOCK, &limit) == 0 ? limit.Current : 0;
    }

    public static string Bytes(double bytes)
    {
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        int unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1) { bytes /= 1024; unit++; }
        return unit == 0 ? $"{bytes:0} bytes" : $"{bytes:0.#} {units[unit]}";
    }
}
