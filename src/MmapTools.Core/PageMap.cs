using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// Reads a process's page table: /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst) by
/// the PAGEMAP_SCAN ioctl or by read(), and, as root, /proc/kpageflags for the pages' own flags.
/// Opening another process's pagemap needs ptrace read access to it (same user, or CAP_SYS_PTRACE).
/// </summary>
public static unsafe class PageMap
{
    // Bits of a pagemap entry.
    private const ulong PM_PRESENT = 1UL << 63, PM_SWAP = 1UL << 62, PM_FILE = 1UL << 61, PM_EXCLUSIVE = 1UL << 56, PM_SOFT_DIRTY = 1UL << 55;
    private const ulong PM_PFN_MASK = (1UL << 55) - 1;

    // Bits of a /proc/kpageflags entry (<linux/kernel-page-flags.h>).
    private const int KPF_REFERENCED = 2, KPF_DIRTY = 4, KPF_LRU = 5, KPF_ACTIVE = 6, KPF_ANON = 12, KPF_HUGE = 17, KPF_KSM = 21, KPF_THP = 22, KPF_ZERO_PAGE = 24;

    private const ulong ScanCategories = Libc.PAGE_IS_PRESENT | Libc.PAGE_IS_SWAPPED | Libc.PAGE_IS_FILE | Libc.PAGE_IS_SOFT_DIRTY | Libc.PAGE_IS_HUGE | Libc.PAGE_IS_PFNZERO;

    /// <summary>The states PAGEMAP_SCAN tells.</summary>
    public const PageStates ScanStates = PageStates.Present | PageStates.Swapped | PageStates.FileOrShared | PageStates.SoftDirty | PageStates.Huge | PageStates.ZeroPage;

    /// <summary>The states a read() of pagemap tells without kpageflags.</summary>
    public const PageStates ReadStates = PageStates.Present | PageStates.Swapped | PageStates.FileOrShared | PageStates.Exclusive | PageStates.SoftDirty;

    /// <summary>The states /proc/kpageflags adds.</summary>
    public const PageStates KernelStates = PageStates.Dirty | PageStates.Lru | PageStates.Active | PageStates.Referenced | PageStates.Ksm
        | PageStates.Huge | PageStates.ZeroPage | PageStates.Anonymous;

    private static int _scanSupported; // 0 unknown, 1 yes, -1 no

    /// <summary>Whether this kernel has the PAGEMAP_SCAN ioctl (Linux 6.7+), found by asking it once about this process.</summary>
    public static bool IsScanSupported
    {
        get
        {
            if (_scanSupported == 0)
            {
                using var pagemap = Open(Environment.ProcessId);
                var arg = new Libc.PmScanArg { Size = (ulong)sizeof(Libc.PmScanArg) };
                int result = Libc.ioctl_pagemap_scan((int)pagemap.DangerousGetHandle(), Libc.PAGEMAP_SCAN, &arg);
                _scanSupported = result >= 0 ? 1 : -1;
            }
            return _scanSupported > 0;
        }
    }

    private static int _softDirtySupported;

    /// <summary>
    /// Whether this kernel keeps soft-dirty bits (CONFIG_MEM_SOFT_DIRTY). Found from a page of a new
    /// map written here: a new mapping is soft-dirty as a whole where the kernel keeps the bits, and
    /// never where it does not (clear_refs 4 is then accepted and does nothing).
    /// </summary>
    public static bool IsSoftDirtySupported
    {
        get
        {
            if (_softDirtySupported == 0)
            {
                using var probe = MemoryMap.Anonymous(MemoryMap.PageSize);
                probe.Write(0, [1]);
                using var pagemap = Open(Environment.ProcessId);
                Span<byte> entry = stackalloc byte[8];
                RandomAccess.Read(pagemap, entry, (long)((ulong)probe.Address / (ulong)MemoryMap.PageSize) * 8);
                _softDirtySupported = (BitConverter.ToUInt64(entry) & PM_SOFT_DIRTY) != 0 ? 1 : -1;
            }
            return _softDirtySupported > 0;
        }
    }

    /// <summary>Whether this process may read /proc/kpageflags and the page frame numbers in pagemap (CAP_SYS_ADMIN).</summary>
    public static bool CanReadKernelFlags => Capabilities.Has(Libc.CAP_SYS_ADMIN) && File.Exists("/proc/kpageflags");

    /// <summary>
    /// The state of each page of [<paramref name="address"/>, +<paramref name="length"/>) in process
    /// <paramref name="processId"/>. The range widens to whole pages. <paramref name="kernelFlags"/>
    /// adds /proc/kpageflags (root only; it implies a read of pagemap).
    /// </summary>
    public static PageStateMap GetStates(int processId, ulong address, long length, PageMapSource source = PageMapSource.Auto,
        bool kernelFlags = false, string? path = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        int pageSize = MemoryMap.PageSize;
        ulong start = address & ~(ulong)(pageSize - 1);
        ulong end = checked(address + (ulong)length + (ulong)pageSize - 1) & ~(ulong)(pageSize - 1);
        if (kernelFlags && !CanReadKernelFlags)
            throw new MemoryMapException("EACCES", "/proc/kpageflags needs CAP_SYS_ADMIN (root): without it pagemap hides the page frame numbers it is indexed by.");
        if (kernelFlags && source == PageMapSource.Scan)
            throw new ArgumentException("PAGEMAP_SCAN does not give page frame numbers: kernel flags need a read of pagemap (source Read or Auto).", nameof(source));
        string? note = null;
        var chosen = source;
        if (source == PageMapSource.Auto)
        {
            chosen = !kernelFlags && IsScanSupported ? PageMapSource.Scan : PageMapSource.Read;
            if (!kernelFlags && chosen == PageMapSource.Read) note = "PAGEMAP_SCAN is not in this kernel (6.7+): read pagemap instead.";
        }
        else if (source == PageMapSource.Scan && !IsScanSupported)
            throw new NotSupportedException("This kernel has no PAGEMAP_SCAN ioctl (Linux 6.7+); use the Read source.");

        using var pagemap = Open(processId);
        long pages = (long)((end - start) / (ulong)pageSize);
        var runs = new PageRunList();
        if (chosen == PageMapSource.Scan) Scan(pagemap, start, end, pageSize, runs);
        else Read(pagemap, start, pages, kernelFlags, runs);
        var known = (chosen == PageMapSource.Scan ? ScanStates : ReadStates | (kernelFlags ? KernelStates : 0))
            & (IsSoftDirtySupported ? ~PageStates.None : ~PageStates.SoftDirty);
        note ??= chosen == PageMapSource.Scan ? "PAGEMAP_SCAN does not tell which pages are mapped by this process only (Exclusive)." : null;
        return new PageStateMap(runs.Finish(pages))
        {
            ProcessId = processId, Start = start, Length = (long)(end - start), PageSize = pageSize, TotalPages = pages,
            Path = path, Source = chosen, Known = known, Note = note,
        };
    }

    /// <summary>The state of the pages of one mapping from <see cref="ProcessMemory.GetRegions"/>.</summary>
    public static PageStateMap GetStates(MemoryRegion region, PageMapSource source = PageMapSource.Auto, bool kernelFlags = false)
    {
        ArgumentNullException.ThrowIfNull(region);
        return GetStates(region.ProcessId, region.Start, region.Size, source, kernelFlags, region.Path);
    }

    internal static SafeFileHandle Open(int processId)
    {
        string path = $"/proc/{processId}/pagemap";
        try
        {
            return File.OpenHandle(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"No process has id {processId}.", nameof(processId), e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MemoryMapException("EACCES",
                $"This user may not read the page table of process {processId} ({path}): that needs ptrace read access (PTRACE_MODE_READ: the same user and a dumpable process, or CAP_SYS_PTRACE).", e);
        }
    }

    private const int ScanBatch = 4096;

    // The hot loops are compiled optimized at once: a process calls them a few times, too few for tiering.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scan(SafeFileHandle pagemap, ulong start, ulong end, int pageSize, PageRunList runs)
    {
        var regions = ArrayPool<Libc.PageRegion>.Shared.Rent(ScanBatch);
        try
        {
            ScanInto(pagemap, start, end, pageSize, runs, regions);
        }
        finally
        {
            ArrayPool<Libc.PageRegion>.Shared.Return(regions);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanInto(SafeFileHandle pagemap, ulong start, ulong end, int pageSize, PageRunList runs, Libc.PageRegion[] regions)
    {
        fixed (Libc.PageRegion* vec = regions)
        {
            var arg = new Libc.PmScanArg
            {
                Size = (ulong)sizeof(Libc.PmScanArg), Start = start, End = end, Vec = (ulong)vec, VecLength = ScanBatch, ReturnMask = ScanCategories,
            };
            while (true)
            {
                int count = Libc.ioctl_pagemap_scan((int)pagemap.DangerousGetHandle(), Libc.PAGEMAP_SCAN, &arg);
                if (count < 0)
                {
                    if (Libc.LastError == Errno.EINTR) continue;
                    throw SystemCallException.FromLastError("ioctl(PAGEMAP_SCAN)");
                }
                int shift = BitOperations.TrailingZeroCount(pageSize);
                for (int i = 0; i < count; i++)
                {
                    ref var region = ref regions[i];
                    runs.Add((long)((region.Start - start) >> shift), (long)((region.End - region.Start) >> shift), CategoryStates[(int)(region.Categories & 0xff)]);
                }
                // The kernel stops short only when the vector is full, and then goes on from the last
                // region's end. Once it has walked on past a flush of its own buffer (512 regions),
                // walk_end still holds where that flush stopped (Linux 6.18): going on from there
                // would get the range's tail twice.
                ulong next = count > 0 ? Math.Max(arg.WalkEnd, regions[count - 1].End) : arg.WalkEnd;
                if (count < ScanBatch || next >= end) break;
                if (next <= arg.Start) throw new MemoryMapException("EIO", $"PAGEMAP_SCAN stopped at 0x{next:x} without reaching 0x{end:x}.");
                arg.Start = next;
            }
        }
    }

    // The states of each value of the categories asked for (all below bit 8), and of each value of a
    // pagemap entry's top nine bits (the flags, from soft-dirty at 55 to present at 63): a table
    // look-up a run rather than a test a flag.
    private static readonly PageStates[] CategoryStates = Table(256, c => FromCategories(c));
    private static readonly PageStates[] EntryStates = Table(512, top => FromEntry(top << 55));

    private static PageStates[] Table(int length, Func<ulong, PageStates> states)
    {
        var table = new PageStates[length];
        for (int i = 0; i < length; i++) table[i] = states((ulong)i);
        return table;
    }

    private static PageStates FromCategories(ulong categories)
    {
        var states = PageStates.None;
        if ((categories & Libc.PAGE_IS_PRESENT) != 0) states |= PageStates.Present;
        if ((categories & Libc.PAGE_IS_SWAPPED) != 0) states |= PageStates.Swapped;
        if ((categories & Libc.PAGE_IS_FILE) != 0) states |= PageStates.FileOrShared;
        if ((categories & Libc.PAGE_IS_HUGE) != 0) states |= PageStates.Huge;
        if ((categories & Libc.PAGE_IS_PFNZERO) != 0) states |= PageStates.ZeroPage;
        // Soft-dirty means written only where there is a page: holes are left out, as PAGEMAP_SCAN leaves them.
        if ((categories & Libc.PAGE_IS_SOFT_DIRTY) != 0 && (states & (PageStates.Present | PageStates.Swapped)) != 0) states |= PageStates.SoftDirty;
        return states;
    }

    // Entries a pread: 1 MiB. The kernel's work is the same whatever the size; fewer calls cost less.
    private const int ReadBatch = 1 << 17;

    private static void Read(SafeFileHandle pagemap, ulong start, long pages, bool kernelFlags, PageRunList runs)
    {
        int batch = (int)Math.Min(ReadBatch, pages);
        // Pooled: a new buffer each call would be a large-object allocation, and those bring on full collections.
        var entries = ArrayPool<ulong>.Shared.Rent(batch);
        var flags = kernelFlags ? ArrayPool<ulong>.Shared.Rent(batch) : null;
        try
        {
            using var kpageflags = kernelFlags ? File.OpenHandle("/proc/kpageflags") : null;
            ReadBatches(pagemap, start, pages, batch, entries, kpageflags, flags, runs);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(entries);
            if (flags is not null) ArrayPool<ulong>.Shared.Return(flags);
        }
    }

    private static void ReadBatches(SafeFileHandle pagemap, ulong start, long pages, int batch, ulong[] entries,
        SafeFileHandle? kpageflags, ulong[]? flags, PageRunList runs)
    {
        for (long done = 0; done < pages;)
        {
            int want = (int)Math.Min(batch, pages - done);
            var bytes = MemoryMarshal.AsBytes(entries.AsSpan(0, want));
            int read = RandomAccess.Read(pagemap, bytes, (long)(start / (ulong)MemoryMap.PageSize + (ulong)done) * 8);
            if (read <= 0) throw new MemoryMapException("EIO", $"pagemap ended at entry {done} of {pages}: the range lies beyond the process's address space.");
            int got = read / 8;
            if (kpageflags is not null)
            {
                ReadKernelFlags(kpageflags, entries.AsSpan(0, got), flags.AsSpan(0, got));
                for (int i = 0; i < got; i++) runs.Add(done + i, 1, StatesOf(entries[i]) | FromKernelFlags(flags![i]));
            }
            else AddEntries(entries.AsSpan(0, got), done, runs);
            done += got;
        }
    }

    private const ulong EntryStateBits = PM_PRESENT | PM_SWAP | PM_FILE | PM_EXCLUSIVE | PM_SOFT_DIRTY;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static PageStates StatesOf(ulong entry) => EntryStates[(int)(entry >> 55)];

    /// <summary>
    /// Adds the entries as runs: a run goes on while an entry's state bits match the one before it
    /// (the frame numbers differ). The entries are compared four at a time, each with the one before
    /// it, and only where one differs is its state looked up: the builder sees a call a run.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddEntries(ReadOnlySpan<ulong> entries, long first, PageRunList runs)
    {
        if (entries.IsEmpty) return;
        runs.Add(first, entries.Length, StatesOf(entries[0]));
        int i = 1;
        if (Vector256.IsHardwareAccelerated)
        {
            var mask = Vector256.Create(EntryStateBits);
            ref ulong origin = ref MemoryMarshal.GetReference(entries);
            for (; i + Vector256<ulong>.Count <= entries.Length; i += Vector256<ulong>.Count)
            {
                var these = Vector256.LoadUnsafe(ref origin, (nuint)i) & mask;
                var before = Vector256.LoadUnsafe(ref origin, (nuint)(i - 1)) & mask;
                for (uint changed = ~Vector256.Equals(these, before).ExtractMostSignificantBits() & 0xf; changed != 0; changed &= changed - 1)
                {
                    int at = i + BitOperations.TrailingZeroCount(changed);
                    runs.Set(first + at, StatesOf(entries[at]));
                }
            }
        }
        for (; i < entries.Length; i++)
            if (((entries[i] ^ entries[i - 1]) & EntryStateBits) != 0) runs.Set(first + i, StatesOf(entries[i]));
    }

    private static PageStates FromEntry(ulong entry)
    {
        var states = PageStates.None;
        if ((entry & PM_PRESENT) != 0) states |= PageStates.Present;
        if ((entry & PM_SWAP) != 0) states |= PageStates.Swapped;
        if ((entry & PM_FILE) != 0) states |= PageStates.FileOrShared;
        if ((entry & PM_EXCLUSIVE) != 0) states |= PageStates.Exclusive;
        if ((entry & PM_SOFT_DIRTY) != 0 && (entry & (PM_PRESENT | PM_SWAP)) != 0) states |= PageStates.SoftDirty;
        return states;
    }

    /// <summary>Reads the kpageflags of each present entry's frame, one pread per run of consecutive frames.</summary>
    private static void ReadKernelFlags(SafeFileHandle kpageflags, ReadOnlySpan<ulong> entries, Span<ulong> flags)
    {
        flags.Clear();
        for (int i = 0; i < entries.Length;)
        {
            ulong pfn = entries[i] & PM_PFN_MASK;
            if ((entries[i] & PM_PRESENT) == 0 || pfn == 0) { i++; continue; }
            int run = 1;
            while (i + run < entries.Length && (entries[i + run] & PM_PRESENT) != 0 && (entries[i + run] & PM_PFN_MASK) == pfn + (ulong)run) run++;
            RandomAccess.Read(kpageflags, MemoryMarshal.AsBytes(flags.Slice(i, run)), (long)pfn * 8);
            i += run;
        }
    }

    private static PageStates FromKernelFlags(ulong flags)
    {
        var states = PageStates.None;
        bool Bit(int bit) => (flags & (1UL << bit)) != 0;
        if (Bit(KPF_DIRTY)) states |= PageStates.Dirty;
        if (Bit(KPF_LRU)) states |= PageStates.Lru;
        if (Bit(KPF_ACTIVE)) states |= PageStates.Active;
        if (Bit(KPF_REFERENCED)) states |= PageStates.Referenced;
        if (Bit(KPF_KSM)) states |= PageStates.Ksm;
        if (Bit(KPF_THP) || Bit(KPF_HUGE)) states |= PageStates.Huge;
        if (Bit(KPF_ZERO_PAGE)) states |= PageStates.ZeroPage;
        if (Bit(KPF_ANON)) states |= PageStates.Anonymous;
        return states;
    }
}

/// <summary>This process's effective capabilities, from /proc/self/status.</summary>
internal static class Capabilities
{
    public static bool Has(int capability)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                return (ulong.Parse(line.AsSpan(7).Trim(), System.Globalization.NumberStyles.HexNumber) & (1UL << capability)) != 0;
        return false;
    }
}
