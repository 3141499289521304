using System.Runtime.InteropServices;

namespace MmapTools.Interop;

/// <summary>The Linux error numbers this code branches on (asm-generic/errno*.h, shared by x86_64 and arm64).</summary>
internal static partial class Errno
{
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, ENXIO = 6, EBADF = 9, EAGAIN = 11, ENOMEM = 12;
    public const int EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19, ENOTDIR = 20;
    public const int EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ETXTBSY = 26, EFBIG = 27;
    public const int ENOSPC = 28, ESPIPE = 29, EROFS = 30, ENAMETOOLONG = 36, ENOSYS = 38, ELOOP = 40;
    public const int EOVERFLOW = 75, EOPNOTSUPP = 95, ETIMEDOUT = 110;

    /// <summary>The errno's name, e.g. "EACCES", from glibc's own table (strerrorname_np, glibc 2.32+).</summary>
    public static string Name(int errno)
    {
        try
        {
            return Marshal.PtrToStringUTF8(strerrorname_np(errno)) ?? $"E{errno}";
        }
        catch (EntryPointNotFoundException)
        {
            return $"E{errno}"; // a C library older than glibc 2.32, or not glibc
        }
    }

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    [LibraryImport("libc")]
    private static partial nint strerrorname_np(int errno);
}
