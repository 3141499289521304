using System.Runtime.InteropServices;

namespace MmapTools.Interop;

/// <summary>
/// Bindings to glibc. Every constant is the Linux kernel's own value from the uapi headers
/// (asm-generic, which x86_64 and arm64 share for everything bound here), never .NET's internal
/// System.Native shim, whose numbering differs. Values that differ between the two architectures
/// (O_DIRECTORY, O_NOFOLLOW, the layout of struct stat) are avoided on purpose: files are
/// examined with statx, whose layout is the same everywhere.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Library = "libc";

    // <asm-generic/mman-common.h>, <asm-generic/mman.h>, <linux/mman.h>
    public const int PROT_NONE = 0x0, PROT_READ = 0x1, PROT_WRITE = 0x2, PROT_EXEC = 0x4;
    public const int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20;
    public const int MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_HUGETLB = 0x40000;
    public const int MAP_FIXED_NOREPLACE = 0x100000, MAP_HUGE_SHIFT = 26;
    public const int MS_ASYNC = 1, MS_INVALIDATE = 2, MS_SYNC = 4;
    public const uint MLOCK_ONFAULT = 0x01;
    public static readonly nint MAP_FAILED = -1;

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int munmap(nint addr, nuint length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int msync(nint addr, nuint length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int madvise(nint addr, nuint length, int advice);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int mincore(nint addr, nuint length, byte* vec);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int mprotect(nint addr, nuint length, int prot);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int mlock2(nint addr, nuint length, uint flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int munlock(nint addr, nuint length);

    // <asm-generic/fcntl.h>: these values are shared by x86_64 and arm64.
    public const int O_RDONLY = 0x0, O_RDWR = 0x2, O_CREAT = 0x40, O_EXCL = 0x80;
    public const int O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public const int AT_FDCWD = -100, AT_EMPTY_PATH = 0x1000;
    public const int W_OK = 2;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    public const int F_DUPFD_CLOEXEC = 1030;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int faccessat(int dirfd, string path, int mode, int flags);

    [LibraryImport(Library)]
    public static partial uint geteuid();

    /// <summary>Returns the error number itself (0 on success); it does not set errno.</summary>
    [LibraryImport(Library)]
    public static partial int posix_fadvise(int fd, long offset, long length, int advice);

    // <linux/stat.h>
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const int S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFCHR = 0x2000;
    public const int S_IFBLK = 0x6000, S_IFIFO = 0x1000, S_IFSOCK = 0xC000, S_IFLNK = 0xA000;

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(16)] public uint NLink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(120)] public uint MtimeNanoseconds;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, Statx* buffer);

    // Named shared memory and memfd (<linux/memfd.h>).
    public const uint MFD_CLOEXEC = 0x1, MFD_HUGETLB = 0x4;

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int shm_open(string name, int flags, uint mode);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int shm_unlink(string name);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);

    // cachestat(2) has no glibc wrapper. Its number, 451, is the same on every architecture.
    public const long SYS_cachestat = 451;

    public struct CachestatRange { public ulong Offset, Length; }

    public struct Cachestat
    {
        public ulong Cached, Dirty, Writeback, Evicted, RecentlyEvicted;
    }

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static partial long cachestat(long number, int fd, CachestatRange* range, Cachestat* result, uint flags);

    public struct Iovec { public nint Base; public nuint Length; }

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint process_vm_readv(int pid, Iovec* local, nuint localCount, Iovec* remote, nuint remoteCount, nuint flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint process_vm_writev(int pid, Iovec* local, nuint localCount, Iovec* remote, nuint remoteCount, nuint flags);

    // <linux/resource.h>
    public const int RUSAGE_SELF = 0, RUSAGE_THREAD = 1, RLIMIT_MEMLOCK = 8, RLIMIT_AS = 9;

    public struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, SharedText, UnsharedData, UnsharedStack, MinorFaults, MajorFaults;
        public long Swaps, BlockInputs, BlockOutputs, MessagesSent, MessagesReceived, Signals;
        public long VoluntarySwitches, InvoluntarySwitches;
    }

    public struct Rlimit { public ulong Current, Maximum; }

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getrusage(int who, Rusage* usage);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getrlimit(int resource, Rlimit* limit);

    // <linux/prctl.h>
    public const int PR_SET_VMA = 0x53564d41, PR_SET_VMA_ANON_NAME = 0;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    public static int LastError => Marshal.GetLastPInvokeError();
}
