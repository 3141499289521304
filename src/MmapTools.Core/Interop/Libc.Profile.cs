using System.Runtime.InteropServices;

namespace MmapTools.Interop;

/// <summary>What <see cref="MmapTools.MachineProfile"/> measures with: uname, and the bits of /proc/self/pagemap and /proc/kpageflags.</summary>
internal static unsafe partial class Libc
{
    /// <summary>struct utsname on Linux: six NUL-terminated fields of 65 bytes (sysname, nodename, release, version, machine, domainname).</summary>
    public const int UtsFieldLength = 65, UtsReleaseField = 2, UtsMachineField = 4;

    [StructLayout(LayoutKind.Sequential)]
    public struct Utsname { public fixed byte Fields[6 * UtsFieldLength]; }

    [LibraryImport(Library, SetLastError = true)]
    public static partial int uname(Utsname* name);

    // <asm-generic/mman-common.h>
    public const int MADV_NOHUGEPAGE = 15;

    // Documentation/admin-guide/mm/pagemap.rst: one 64-bit entry a page.
    public const ulong PAGEMAP_PRESENT = 1UL << 63, PAGEMAP_EXCLUSIVE = 1UL << 56, PAGEMAP_PFN_MASK = (1UL << 55) - 1;

    // <linux/kernel-page-flags.h>
    public const int KPF_COMPOUND_HEAD = 15, KPF_COMPOUND_TAIL = 16, KPF_ZERO_PAGE = 24;

    public const int POSIX_FADV_RANDOM = 1, POSIX_FADV_DONTNEED = 4;

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint pread(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlink(string path);
}
