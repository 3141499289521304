using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MmapTools.PowerCut;

/// <summary>The few libc calls of the fixture and its writer that the core does not offer.</summary>
internal static partial class PowerCutNative
{
    // <asm-generic/signal.h>, the same on x86_64 and arm64.
    public const int SIGKILL = 9, SIGSTOP = 19;

    // <linux/magic.h>
    public const long TMPFS_MAGIC = 0x01021994;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fsync(SafeFileHandle fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fdatasync(SafeFileHandle fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport("libc", SetLastError = true)]
    public static partial uint geteuid();

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statfs(string path, byte* buffer);

    /// <summary>f_type of the file system that holds the path: the first field of struct statfs on 64-bit Linux.</summary>
    public static unsafe long FileSystemType(string path)
    {
        byte* buffer = stackalloc byte[256];
        if (statfs(path, buffer) != 0) throw new IOException($"statfs({path}) failed: errno {Marshal.GetLastPInvokeError()}");
        return *(long*)buffer;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    /// <summary>fsync of a directory (opened O_RDONLY | O_CLOEXEC: .NET opens no directory), so that the names in it are on the disk.</summary>
    public static void SyncDirectory(string directory)
    {
        int fd = open(directory, 0x80000);
        if (fd < 0) throw new IOException($"open({directory}) failed: errno {Marshal.GetLastPInvokeError()}");
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (fsync(handle) != 0) throw new IOException($"fsync({directory}) failed: errno {Marshal.GetLastPInvokeError()}");
    }
}
