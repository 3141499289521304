using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

// The mapping itself: the file checks before mmap, the flags, the mmap call, growing a file to
// its size, huge pages, and the lease that keeps the mapping alive while an operation uses it.
public sealed unsafe partial class MemoryMap
{
    private static MemoryMap MapDescriptor(SafeFileHandle file, string? path, long offset, long? length, MapAccess access,
        bool isPrivate, MemoryMapOptions options, MapKind kind = MapKind.File, string? name = null)
    {
        try
        {
            var st = PosixFile.Stat(file);
            string what = path is null ? "the file" : $"'{path}'";
            int type = st.Mode & Libc.S_IFMT;
            bool device = type is Libc.S_IFCHR or Libc.S_IFBLK;
            if (type != Libc.S_IFREG && !device)
                throw new MemoryMapException("NotMappable", $"{what} is {PosixFile.DescribeType(st.Mode)}; only regular files and devices can be mapped.");
            long mapLength;
            if (device)
            {
                mapLength = length ?? throw new ArgumentException($"{what} is {PosixFile.DescribeType(st.Mode)}, which has no size: give a length.", nameof(length));
            }
            else
            {
                long size = (long)st.Size;
                if (size == 0)
                    throw new MemoryMapException("EmptyFile", $"{what} is empty (size 0), so there is nothing to map. Files under /proc and /sys report size 0 and cannot be mapped; grow a file of your own first.");
                if (offset >= size)
                    throw new ArgumentOutOfRangeException(nameof(offset), offset, $"Offset {offset} is at or past the end of {what}, which has {size} bytes.");
                mapLength = length ?? size - offset;
                if (mapLength > size - offset)
                    throw new ArgumentOutOfRangeException(nameof(length), mapLength,
                        $"Offset {offset} plus length {mapLength} ends past the end of {what}, which has {size} bytes. A map cannot reach beyond the file (those pages would raise SIGBUS); grow the file first.");
            }
            var mapping = Map((int)file.DangerousGetHandle(), offset, mapLength, access, isPrivate, options, out int delta);
            return new MemoryMap(mapping, delta, file, kind, path, name ?? options.Name, offset, mapLength, access, isPrivate, options,
                MincoreTrust.SeesPageCache(file, st), regularFile: !device);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>mmap with the window aligned down to its page; 'delta' is where the window starts in the mapping.</summary>
    private static MappingHandle Map(int fd, long offset, long length, MapAccess access, bool isPrivate, MemoryMapOptions options, out int delta)
    {
        delta = (int)(offset & (PageSize - 1));
        long alignedOffset = offset - delta;
        long mapLength = RoundUp(delta + length, options.HugePages ? HugePageBytes(options) : PageSize);
        int flags = (isPrivate ? Libc.MAP_PRIVATE : Libc.MAP_SHARED)
            | (fd < 0 ? Libc.MAP_ANONYMOUS : 0)
            | (options.Populate ? Libc.MAP_POPULATE : 0)
            | (options.NoReserve ? Libc.MAP_NORESERVE : 0)
            // A huge-page memfd needs no MAP_HUGETLB: MFD_HUGETLB already made it a hugetlbfs file.
            | (options.HugePages && fd < 0 ? Libc.MAP_HUGETLB | (int)HugePageFlags(options) : 0)
            | (options.FixedAddress is null ? 0 : Libc.MAP_FIXED_NOREPLACE);
        nint want = options.FixedAddress ?? 0;
        Diagnosis.CheckMapBudget(MappingHandle.Live);
        nint address = Libc.mmap(want, (nuint)mapLength, (int)access, flags, fd, alignedOffset);
        if (address == Libc.MAP_FAILED)
            throw SystemCallException.FromLastError("mmap", errno => FailureHints.Mmap(errno, mapLength, access, options, HugePageBytes(options)));
        var mapping = new MappingHandle(address, (nuint)mapLength);
        if (options.FixedAddress is not null && address != want)
        {
            // Kernels before 4.17 take MAP_FIXED_NOREPLACE as a mere hint.
            mapping.Dispose();
            throw new SystemCallException("mmap", Errno.EEXIST, FailureHints.FixedAddressIgnored(address, want));
        }
        if (options.Name is not null && fd < 0)
        {
            nint name = Marshal.StringToCoTaskMemUTF8(options.Name);
            try
            {
                if (Libc.prctl(Libc.PR_SET_VMA, Libc.PR_SET_VMA_ANON_NAME, (nuint)address, (nuint)mapLength, (nuint)name) != 0)
                {
                    var error = SystemCallException.FromLastError("prctl(PR_SET_VMA_ANON_NAME)", FailureHints.NameAnonymous);
                    mapping.Dispose();
                    throw error;
                }
            }
            finally
            {
                Marshal.FreeCoTaskMem(name);
            }
        }
        return mapping;
    }

    /// <summary>Holds a reference on the mapping for the duration of one operation.</summary>
    private ref struct MappingLease
    {
        private readonly MappingHandle _handle;

        public MappingLease(MappingHandle handle)
        {
            _handle = handle;
            Base = handle.DangerousGetHandle();
        }

        public nint Base { get; }

        public void Dispose() => _handle.DangerousRelease();
    }

    private MappingLease Lease()
    {
        bool added = false;
        try
        {
            if (!_disposed) _mapping.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }
        // A SafeHandle disposed while another operation holds a reference still hands out new ones:
        // the flag, checked after taking the reference, makes every call after Dispose refuse.
        if (added && _disposed)
        {
            _mapping.DangerousRelease();
            added = false;
        }
        if (!added) throw new ObjectDisposedException(ToString(), "The map was removed; map again to use it.");
        return new MappingLease(_mapping);
    }

    private static void GrowTo(SafeFileHandle file, long size)
    {
        if ((long)PosixFile.Stat(file).Size >= size) return;
        if (Libc.ftruncate((int)file.DangerousGetHandle(), size) != 0)
            throw SystemCallException.FromLastError("ftruncate", errno => FailureHints.Ftruncate(size, errno));
    }

    private static uint HugePageFlags(MemoryMapOptions options) =>
        options.HugePageSize == 0 ? 0 : (uint)(long.Log2(options.HugePageSize) << Libc.MAP_HUGE_SHIFT);

    internal static long HugePageBytes(MemoryMapOptions options) =>
        options.HugePageSize != 0 ? options.HugePageSize : DefaultHugePageSize.Value;

    private static readonly Lazy<long> DefaultHugePageSize = new(() =>
    {
        foreach (string line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith("Hugepagesize:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 2 << 20;
    });

    /// <summary>The longest anonymous map asked for: 2^57 bytes, past the 5-level-paging user address space (2^56).</summary>
    internal const long MaxLength = 1L << 57;

    internal static long RoundUp(long value, long multiple) => (value + multiple - 1) / multiple * multiple;
}
