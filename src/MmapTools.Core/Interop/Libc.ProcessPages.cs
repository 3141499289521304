using System.Runtime.InteropServices;

namespace MmapTools.Interop;

/// <summary>
/// Another process's pages: the PAGEMAP_SCAN ioctl on /proc/PID/pagemap (&lt;linux/fs.h&gt;, Linux 6.7+),
/// pidfd_open and process_madvise. The two calls have no wrapper in glibc before 2.36, so they go
/// through syscall(2); their numbers come from the unified table every architecture has shared
/// since 4.20 (x86_64's syscall_64.tbl and arm64's asm-generic/unistd.h both give 434 and 440).
/// </summary>
internal static unsafe partial class Libc
{
    public const long SYS_pidfd_open = 434, SYS_process_madvise = 440;

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static partial long pidfd_open(long number, int pid, uint flags);

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static partial long process_madvise(long number, int pidfd, Iovec* iovec, nuint count, int advice, uint flags);

    // <linux/fs.h>: the PAGE_IS_* categories of struct page_region.
    public const ulong PAGE_IS_WPALLOWED = 1 << 0, PAGE_IS_WRITTEN = 1 << 1, PAGE_IS_FILE = 1 << 2, PAGE_IS_PRESENT = 1 << 3;
    public const ulong PAGE_IS_SWAPPED = 1 << 4, PAGE_IS_PFNZERO = 1 << 5, PAGE_IS_HUGE = 1 << 6, PAGE_IS_SOFT_DIRTY = 1 << 7;

    /// <summary>_IOWR('f', 16, struct pm_scan_arg): direction 3 &lt;&lt; 30 | size 96 &lt;&lt; 16 | 'f' &lt;&lt; 8 | 16;
    /// the generic ioctl encoding, which x86_64 and arm64 share.</summary>
    public static readonly uint PAGEMAP_SCAN = (3u << 30) | ((uint)sizeof(PmScanArg) << 16) | ('f' << 8) | 16;

    /// <summary>struct pm_scan_arg: twelve __u64 fields.</summary>
    public struct PmScanArg
    {
        public ulong Size, Flags, Start, End, WalkEnd, Vec, VecLength, MaxPages;
        public ulong CategoryInverted, CategoryMask, CategoryAnyOfMask, ReturnMask;
    }

    /// <summary>struct page_region: [Start, End) with the categories asked for in the return mask.</summary>
    public struct PageRegion { public ulong Start, End, Categories; }

    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl_pagemap_scan(int fd, nuint request, PmScanArg* argument);

    // <uapi/linux/capability.h>
    public const int CAP_SYS_PTRACE = 19, CAP_SYS_NICE = 23, CAP_SYS_ADMIN = 21;
}
