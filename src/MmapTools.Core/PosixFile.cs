using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>A file opened and examined with the kernel's own calls (open, statx), with errors that say what was wrong.</summary>
internal static unsafe class PosixFile
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
            var error = SystemCallException.FromLastError("open", errno => FailureHints.Open(path, writable, errno));
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
}
