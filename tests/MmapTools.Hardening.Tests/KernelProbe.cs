using System.Runtime.InteropServices;

namespace MmapTools.Hardening;

/// <summary>What this kernel offers, asked of the kernel with raw calls of its own, never through the core.</summary>
internal static partial class KernelProbe
{
    // Values of include/uapi/linux/prctl.h and asm-generic/mman-common.h (x86_64 and arm64 alike).
    private const int PR_SET_VMA = 0x53564d41;
    private const int PR_SET_VMA_ANON_NAME = 0;
    private const int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int PrctlSetVmaName(int option, nuint what, nint address, nuint length, string name);

    /// <summary>Whether prctl(PR_SET_VMA_ANON_NAME) names a map here (Linux 5.17+ with CONFIG_ANON_VMA_NAME).</summary>
    public static readonly Lazy<bool> NamesAnonymousMaps = new(() =>
    {
        nuint length = (nuint)Environment.SystemPageSize;
        nint map = Mmap(0, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        Assert.True(map != -1, $"a one-page anonymous mmap failed with errno {Marshal.GetLastPInvokeError()}");
        try
        {
            return PrctlSetVmaName(PR_SET_VMA, PR_SET_VMA_ANON_NAME, map, length, "mmaptools-probe") == 0;
        }
        finally
        {
            Munmap(map, length);
        }
    });
}
