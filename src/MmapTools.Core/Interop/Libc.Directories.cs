using System.Runtime.InteropServices;

namespace MmapTools.Interop;

/// <summary>
/// Reading directories and opening files relative to them, for <see cref="ResidencyWalker"/>:
/// getdents64 fills a buffer with many entries a call, and openat/statx take a name straight out of
/// that buffer (NUL-terminated UTF-8), so a walk builds no path to open a file.
/// </summary>
internal static unsafe partial class Libc
{
    // <linux/fcntl.h>: the same on x86_64 and arm64.
    public const int AT_SYMLINK_NOFOLLOW = 0x100, AT_NO_AUTOMOUNT = 0x800;

    // <dirent.h> d_type values.
    public const byte DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10, DT_SOCK = 12;

    /// <summary>struct linux_dirent64: d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), d_name (NUL-terminated).</summary>
    public const int DirentReclenOffset = 16, DirentTypeOffset = 18, DirentNameOffset = 19;

    [LibraryImport(Library, EntryPoint = "openat", SetLastError = true)]
    public static partial int openat(int dirfd, byte* path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true)]
    public static partial int statxAt(int dirfd, byte* path, int flags, uint mask, Statx* buffer);

    /// <summary>glibc 2.30+: the raw directory entries, as many as fit in the buffer; 0 at the end.</summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial nint getdents64(int fd, byte* buffer, nuint count);
}
