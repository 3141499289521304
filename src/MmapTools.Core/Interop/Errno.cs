using System.Runtime.InteropServices;

namespace MmapTools.Interop;

/// <summary>Names of the Linux error numbers (asm-generic/errno*.h, shared by x86_64 and arm64).</summary>
internal static class Errno
{
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11, ENOMEM = 12;
    public const int EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19, ENOTDIR = 20;
    public const int EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ETXTBSY = 26, EFBIG = 27;
    public const int ENOSPC = 28, ESPIPE = 29, EROFS = 30, ENAMETOOLONG = 36, ENOSYS = 38, ELOOP = 40;
    public const int EOVERFLOW = 75, EOPNOTSUPP = 95, ETIMEDOUT = 110;

    private static readonly Dictionary<int, string> Names = new()
    {
        [EPERM] = "EPERM", [ENOENT] = "ENOENT", [EINTR] = "EINTR", [EIO] = "EIO", [EBADF] = "EBADF",
        [EAGAIN] = "EAGAIN", [ENOMEM] = "ENOMEM", [EACCES] = "EACCES", [EFAULT] = "EFAULT",
        [EBUSY] = "EBUSY", [EEXIST] = "EEXIST", [ENODEV] = "ENODEV", [ENOTDIR] = "ENOTDIR",
        [EISDIR] = "EISDIR", [EINVAL] = "EINVAL", [ENFILE] = "ENFILE", [EMFILE] = "EMFILE",
        [ETXTBSY] = "ETXTBSY", [EFBIG] = "EFBIG", [ENOSPC] = "ENOSPC", [ESPIPE] = "ESPIPE",
        [EROFS] = "EROFS", [ENAMETOOLONG] = "ENAMETOOLONG", [ENOSYS] = "ENOSYS", [ELOOP] = "ELOOP",
        [EOVERFLOW] = "EOVERFLOW", [EOPNOTSUPP] = "EOPNOTSUPP", [ETIMEDOUT] = "ETIMEDOUT",
    };

    public static string Name(int errno) => Names.TryGetValue(errno, out var name) ? name : $"E{errno}";

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
