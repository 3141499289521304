using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// One mapping: a window of a file at any offset, anonymous memory, named POSIX shared memory or
/// a memfd. Offsets given to its methods count from the start of the window. <see cref="Read(long, Span{byte})"/>
/// and <see cref="Write"/> are safe: a page that vanished under the map (the file was truncated)
/// or that the protection forbids gives a <see cref="MemoryMapException"/>, never a SIGBUS or
/// SIGSEGV. <see cref="AsSpan"/> is the fast path without that protection.
/// </summary>
public sealed unsafe class MemoryMap : IDisposable
{
    private static int s_lastId;

    private readonly MappingHandle _mapping;
    private readonly SafeFileHandle? _file;
    private readonly int _delta;
    private readonly bool _mincoreTrusted;
    private volatile bool _disposed;

    private MemoryMap(MappingHandle mapping, int delta, SafeFileHandle? file, MapKind kind, string? path,
        string? name, long offset, long length, MapAccess access, bool isPrivate, MemoryMapOptions options, bool mincoreTrusted)
    {
        _mapping = mapping;
        _mapping.File = file;
        _delta = delta;
        _file = file;
        _mincoreTrusted = mincoreTrusted;
        Id = Interlocked.Increment(ref s_lastId);
        Kind = kind;
        Path = path;
        Name = name;
        Offset = offset;
        Length = length;
        Access = access;
        IsPrivate = isPrivate;
        Options = options;
    }

    /// <summary>A number unique in this process, in order of creation.</summary>
    public int Id { get; }

    public MapKind Kind { get; }

    /// <summary>The file mapped; for shared memory, its file under /dev/shm.</summary>
    public string? Path { get; }

    /// <summary>The shared memory, memfd or anonymous map's name.</summary>
    public string? Name { get; }

    /// <summary>The file offset where the window starts (0 for memory that is not a file window).</summary>
    public long Offset { get; }

    /// <summary>The window's length in bytes, exactly as asked.</summary>
    public long Length { get; }

    /// <summary>The protection of the whole map, as last set for all of it.</summary>
    public MapAccess Access { get; private set; }

    /// <summary>MAP_PRIVATE (copy-on-write) or MAP_SHARED.</summary>
    public bool IsPrivate { get; }

    /// <summary>The options the map was made with.</summary>
    public MemoryMapOptions Options { get; }

    public static int PageSize { get; } = Environment.SystemPageSize;

    /// <summary>True once <see cref="Dispose"/> was called, even while an operation begun before still runs.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The address of the window's first byte.</summary>
    public nint Address
    {
        get
        {
            using var lease = Lease();
            return lease.Base + _delta;
        }
    }

    /// <summary>For a memfd: a path another process can open to share it while this map lives.</summary>
    public string? DescriptorPath => Kind == MapKind.Memfd && !_disposed && _file is { IsClosed: false }
        ? $"/proc/{Environment.ProcessId}/fd/{_file.DangerousGetHandle()}" : null;

    // ---------------------------------------------------------------- factories

    /// <summary>
    /// Maps a window of an existing file. Any offset is allowed; the core maps from the page that
    /// holds it and exposes exactly [offset, offset + length). The window must lie inside the file.
    /// Defaults: read-only, shared.
    /// </summary>
    public static MemoryMap OpenFile(string path, long offset = 0, long? length = null, MemoryMapOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= MemoryMapOptions.Default;
        CheckWindowArguments(offset, length, options);
        var (access, isPrivate) = Resolve(options, MapAccess.Read, privateByDefault: false);
        var file = NativeFile.Open(path, writable: NeedsWritableFile(access, isPrivate));
        return MapDescriptor(file, path, offset, length, access, isPrivate, options);
    }

    /// <summary>
    /// Maps a window of a file already open in .NET (for example <c>FileStream.SafeFileHandle</c>).
    /// The map keeps its own duplicate of the descriptor; the caller keeps ownership of <paramref name="file"/>.
    /// </summary>
    public static MemoryMap OpenFile(SafeFileHandle file, long offset = 0, long? length = null, MemoryMapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ObjectDisposedException.ThrowIf(file.IsClosed, file);
        options ??= MemoryMapOptions.Default;
        CheckWindowArguments(offset, length, options);
        var (access, isPrivate) = Resolve(options, MapAccess.Read, privateByDefault: false);
        int fd = Libc.fcntl((int)file.DangerousGetHandle(), Libc.F_DUPFD_CLOEXEC, 0);
        if (fd < 0) throw SystemCallException.FromLastError("fcntl(F_DUPFD_CLOEXEC)");
        var own = new SafeFileHandle(fd, ownsHandle: true);
        return MapDescriptor(own, path: null, offset, length, access, isPrivate, options);
    }

    /// <summary>
    /// Creates the file if it is missing, grows it to <paramref name="size"/> bytes if it is smaller
    /// (never shrinks it), and maps its first <paramref name="size"/> bytes. Defaults: read-write, shared.
    /// </summary>
    public static MemoryMap CreateFile(string path, long size, MemoryMapOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        options ??= MemoryMapOptions.Default;
        CheckWindowArguments(0, size, options);
        var (access, isPrivate) = Resolve(options, MapAccess.ReadWrite, privateByDefault: false);
        var file = NativeFile.Open(path, writable: true, create: true);
        try
        {
            GrowTo(file, size);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        return MapDescriptor(file, path, 0, size, access, isPrivate, options);
    }

    /// <summary>Zero-filled memory backed by no file. Defaults: read-write, private.</summary>
    public static MemoryMap Anonymous(long length, MemoryMapOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        // Also keeps the rounding up to whole (huge) pages from overflowing.
        if (length > MaxLength)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{length} bytes is more than a 64-bit address space holds ({NativeFile.Bytes(MaxLength)} at most).");
        options ??= MemoryMapOptions.Default;
        CheckCommonOptions(options);
        var (access, isPrivate) = Resolve(options, MapAccess.ReadWrite, privateByDefault: true);
        if (options.Name is not null && !isPrivate)
            throw new ArgumentException("The kernel names private anonymous maps only; a shared one is named through shared memory or a memfd.", nameof(options));
        var mapping = Map(-1, 0, length, access, isPrivate, options, out int delta);
        return new MemoryMap(mapping, delta, null, MapKind.Anonymous, null, options.Name, 0, length, access, isPrivate, options, mincoreTrusted: true);
    }

    /// <summary>
    /// Named POSIX shared memory (shm_open): any process that opens the same name sees the same
    /// pages. Creates it when missing, grows it to <paramref name="size"/> if smaller. Defaults:
    /// read-write, shared. The name outlives the map until <see cref="RemoveSharedMemory"/>.
    /// </summary>
    public static MemoryMap SharedMemory(string name, long size, MemoryMapOptions? options = null)
    {
        string shmName = CheckSharedMemoryName(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        options ??= MemoryMapOptions.Default;
        CheckWindowArguments(0, size, options);
        var (access, isPrivate) = Resolve(options, MapAccess.ReadWrite, privateByDefault: false);
        int fd = Libc.shm_open(shmName, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0b110_110_000);
        if (fd < 0)
            throw SystemCallException.FromLastError("shm_open", errno => NativeFile.OpenHint("/dev/shm" + shmName, true, errno)
                ?? (errno == Errno.EINVAL ? $"'{name}' is not a valid shared memory name." : null));
        var file = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            GrowTo(file, size);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        return MapDescriptor(file, "/dev/shm" + shmName, 0, size, access, isPrivate, options, MapKind.SharedMemory, shmName.TrimStart('/'));
    }

    /// <summary>Removes a shared memory name (shm_unlink). Maps that exist keep their pages.</summary>
    public static void RemoveSharedMemory(string name)
    {
        string shmName = CheckSharedMemoryName(name);
        if (Libc.shm_unlink(shmName) != 0)
            throw SystemCallException.FromLastError("shm_unlink", errno => errno == Errno.ENOENT ? $"No shared memory is named '{name}'." : null);
    }

    /// <summary>
    /// A memfd (memfd_create): a file with no name in any directory, alive while a descriptor or a
    /// map refers to it; <see cref="DescriptorPath"/> lets another process open it. Defaults: read-write, shared.
    /// </summary>
    public static MemoryMap Memfd(string name, long size, MemoryMapOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length > 249) throw new ArgumentException("A memfd name has at most 249 characters.", nameof(name));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        options ??= MemoryMapOptions.Default;
        CheckCommonOptions(options);
        var (access, isPrivate) = Resolve(options, MapAccess.ReadWrite, privateByDefault: false);
        uint flags = Libc.MFD_CLOEXEC | (options.HugePages ? Libc.MFD_HUGETLB | HugePageFlags(options) : 0);
        int fd = Libc.memfd_create(name, flags);
        if (fd < 0)
            throw SystemCallException.FromLastError("memfd_create", errno => errno == Errno.EINVAL && options.HugePages
                ? "This huge page size is not supported." : null);
        var file = new SafeFileHandle(fd, ownsHandle: true);
        MappingHandle mapping;
        int delta;
        try
        {
            GrowTo(file, options.HugePages ? RoundUp(size, HugePageBytes(options)) : size);
            mapping = Map((int)file.DangerousGetHandle(), 0, size, access, isPrivate, options, out delta);
        }
        catch
        {
            file.Dispose(); // a failed map (no huge pages reserved, say) must not leave the memfd open
            throw;
        }
        return new MemoryMap(mapping, delta, file, MapKind.Memfd, null, name, 0, size, access, isPrivate, options, mincoreTrusted: true);
    }

    private static MemoryMap MapDescriptor(SafeFileHandle file, string? path, long offset, long? length, MapAccess access,
        bool isPrivate, MemoryMapOptions options, MapKind kind = MapKind.File, string? name = null)
    {
        try
        {
            var st = NativeFile.Stat(file);
            string what = path is null ? "the file" : $"'{path}'";
            int type = st.Mode & Libc.S_IFMT;
            bool device = type is Libc.S_IFCHR or Libc.S_IFBLK;
            if (type != Libc.S_IFREG && !device)
                throw new MemoryMapException("NotMappable", $"{what} is {NativeFile.DescribeType(st.Mode)}; only regular files and devices can be mapped.");
            long mapLength;
            if (device)
            {
                mapLength = length ?? throw new ArgumentException($"{what} is {NativeFile.DescribeType(st.Mode)}, which has no size: give a length.", nameof(length));
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
                NativeFile.MincoreSeesPageCache(file, st));
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
            throw SystemCallException.FromLastError("mmap", errno => MmapHint(errno, mapLength, access, options));
        var mapping = new MappingHandle(address, (nuint)mapLength);
        if (options.FixedAddress is not null && address != want)
        {
            // Kernels before 4.17 take MAP_FIXED_NOREPLACE as a mere hint.
            mapping.Dispose();
            throw new SystemCallException("mmap", Errno.EEXIST, $"The kernel placed the map at 0x{address:x}, not at 0x{want:x}: this kernel does not honour MAP_FIXED_NOREPLACE.");
        }
        if (options.Name is not null && fd < 0)
        {
            nint name = Marshal.StringToCoTaskMemUTF8(options.Name);
            try
            {
                if (Libc.prctl(Libc.PR_SET_VMA, Libc.PR_SET_VMA_ANON_NAME, (nuint)address, (nuint)mapLength, (nuint)name) != 0)
                {
                    var error = SystemCallException.FromLastError("prctl(PR_SET_VMA_ANON_NAME)", errno => errno == Errno.EINVAL
                        ? "This kernel cannot name anonymous maps (it needs Linux 5.17 with CONFIG_ANON_VMA_NAME)." : null);
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

    private static string? MmapHint(int errno, long mapLength, MapAccess access, MemoryMapOptions options) => errno switch
    {
        Errno.ENOMEM when options.HugePages =>
            $"No free huge pages of {NativeFile.Bytes(HugePageBytes(options))} for {NativeFile.Bytes(mapLength)}: vm.nr_hugepages is {ReadProc("/proc/sys/vm/nr_hugepages")}. Reserve some (sysctl vm.nr_hugepages=N, as root) or map without huge pages.",
        Errno.ENOMEM => NoMemoryHint(mapLength, options),
        Errno.EACCES when (access & MapAccess.Execute) != 0 =>
            "The file is on a file system mounted noexec, or was not opened for reading.",
        Errno.EACCES =>
            "The file was opened read-only, so a shared writable map is refused: map it private (copy-on-write) or read-only.",
        Errno.EPERM when (access & MapAccess.Execute) != 0 =>
            "Executable memory is refused here (noexec mount or a security policy).",
        Errno.EPERM => "The file is sealed or a security policy refuses this map.",
        Errno.EEXIST =>
            $"Something is already mapped at 0x{options.FixedAddress ?? 0:x}; MAP_FIXED_NOREPLACE refuses to replace it, and the map there is untouched.",
        Errno.EINVAL when options.HugePages => $"Huge pages of {NativeFile.Bytes(HugePageBytes(options))} are not supported here.",
        Errno.EINVAL when options.FixedAddress is not null => "The fixed address must be a multiple of the page size.",
        Errno.ENODEV => "This file's file system does not support mmap (/proc and /sys files, pipes and sockets cannot be mapped).",
        Errno.EOVERFLOW => "The offset and length overflow the file system's limits.",
        Errno.ETXTBSY => "The file is open for writing with MAP_DENYWRITE semantics.",
        _ => null,
    };

    /// <summary>Which limit refused the map: the number of maps, the free address space, RLIMIT_AS or the overcommit charge.</summary>
    private static string NoMemoryHint(long mapLength, MemoryMapOptions options)
    {
        string bytes = NativeFile.Bytes(mapLength);
        string maxMapCount = ReadProc("/proc/sys/vm/max_map_count");
        var space = Diagnosis.AddressSpace();
        if (space is { } s && long.TryParse(maxMapCount, out long limit) && s.Maps >= limit - 1)
            return $"This process has {s.Maps} maps, the limit vm.max_map_count ({limit}): remove maps (or raise the limit, sysctl vm.max_map_count=N, as root). " +
                "So close to it, the .NET runtime itself may fail to map memory for its JIT or GC and abort the process.";
        if (space is { } free && (ulong)mapLength > free.LargestGap)
            return $"No free range of {bytes} is left in this process's address space (the largest is {NativeFile.Bytes(free.LargestGap)}): remove maps or map less.";
        if (Diagnosis.AddressSpaceLimit() is { } rlimit && rlimit.Used + (ulong)mapLength > rlimit.Limit)
            return $"{bytes} more would pass this process's address-space limit RLIMIT_AS ({NativeFile.Bytes(rlimit.Limit)}, {NativeFile.Bytes(rlimit.Used)} in use; see ulimit -v).";
        string overcommit = ReadProc("/proc/sys/vm/overcommit_memory");
        if (!options.NoReserve)
            return $"The overcommit limit refused {bytes}: vm.overcommit_memory is {overcommit} ({(overcommit == "2" ? "strict: the total may not pass CommitLimit in /proc/meminfo" : "heuristic: one map may not exceed free RAM and swap")}). NoReserve skips this charge for maps that may do without it.";
        return $"The kernel would not give {bytes}: the address space, the number of maps (vm.max_map_count = {maxMapCount}) or the overcommit limit (vm.overcommit_memory = {overcommit}) is exhausted.";
    }

    // ---------------------------------------------------------------- safe copies

    /// <summary>
    /// Copies bytes out of the map. The copy goes through process_vm_readv on this process, which
    /// reports a missing or forbidden page as EFAULT where a pointer read would raise SIGBUS or SIGSEGV.
    /// </summary>
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length, nameof(destination));
        using var lease = Lease();
        fixed (byte* buffer = destination)
            Copy(lease.Base + _delta + (nint)offset, buffer, destination.Length, offset, writing: false);
    }

    /// <summary>Copies <paramref name="count"/> bytes out of the map into a new array.</summary>
    public byte[] Read(long offset, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckRange(offset, count); // before allocating: a count past the map must not cost (or fail) an allocation
        var bytes = new byte[count];
        Read(offset, bytes);
        return bytes;
    }

    /// <summary>Copies bytes into the map with process_vm_writev; a read-only or vanished page gives an exception.</summary>
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length, nameof(source));
        using var lease = Lease();
        fixed (byte* buffer = source)
            Copy(lease.Base + _delta + (nint)offset, buffer, source.Length, offset, writing: true);
    }

    private void Copy(nint mapped, byte* buffer, int count, long offset, bool writing)
    {
        int pid = Environment.ProcessId;
        int done = 0;
        while (done < count)
        {
            var local = new Libc.Iovec { Base = (nint)(buffer + done), Length = (nuint)(count - done) };
            var remote = new Libc.Iovec { Base = mapped + done, Length = (nuint)(count - done) };
            nint copied = writing
                ? Libc.process_vm_writev(pid, &local, 1, &remote, 1, 0)
                : Libc.process_vm_readv(pid, &local, 1, &remote, 1, 0);
            if (copied > 0)
            {
                done += (int)copied;
                continue;
            }
            int errno = copied < 0 ? Libc.LastError : Errno.EFAULT;
            if (errno == Errno.EINTR) continue;
            if (errno == Errno.EFAULT) throw Unavailable(offset + done, mapped + done, writing);
            throw new SystemCallException(writing ? "process_vm_writev" : "process_vm_readv", errno, errno is Errno.EPERM or Errno.ENOSYS
                ? "A security policy (seccomp or ptrace restrictions) forbids the safe copy; only AsSpan can reach this map here." : null);
        }
    }

    /// <summary>
    /// Says why the safe copy met a page it could not touch (EFAULT): the file is shorter now, the
    /// page's protection forbids the access (as /proc/self/maps shows it), the file system could not
    /// give the page (full), or, with a protection that allows it, a guard page or a file that was cut
    /// and grown again between the copy and this check.
    /// </summary>
    private MemoryMapException Unavailable(long offset, nint address, bool writing)
    {
        string verb = writing ? "write" : "read";
        string cannot = $"Cannot {verb} offset {offset} of the map";
        string file = Path ?? Name ?? "the file";
        bool fileBacked = _file is not null && Kind != MapKind.Anonymous;
        if (fileBacked)
        {
            long size = (long)NativeFile.Stat(_file!).Size;
            long fileOffset = Offset + offset;
            if (fileOffset >= RoundUp(size, PageSize))
                return new MemoryMapException("PageUnavailable",
                    $"{cannot}: {file} is now {size} bytes long (was it truncated?), so file offset {fileOffset} has no page. Through a pointer this access would have raised SIGBUS.");
        }
        string? permissions = Diagnosis.PermissionsAt(address);
        if (permissions is null || permissions[writing ? 1 : 0] == '-')
            return new MemoryMapException("PageUnavailable", writing
                ? $"{cannot}: the page is not writable{(permissions is null ? "" : $" ({permissions})")}; see Access and Protect."
                : $"{cannot}: the page is not readable{(permissions is null ? "" : $" ({permissions})")} (PROT_NONE or write-only); see Access and Protect.");
        if (fileBacked && Diagnosis.IsFull(_file!))
            return new MemoryMapException("PageUnavailable",
                $"{cannot}: the file system that holds {file} is full, so the kernel could not give the page (through a pointer this access would have raised SIGBUS). Free space there{(Kind == MapKind.SharedMemory ? " (/dev/shm)" : "")} or make the file smaller.");
        return new MemoryMapException("PageUnavailable", fileBacked
            ? $"{cannot}: its protection ({permissions}) allows the {verb}, but the page was missing: {file} was probably truncated and grown again while the copy ran (through a pointer this would have raised SIGBUS), or the page is a guard page (MADV_GUARD_INSTALL)."
            : $"{cannot}: its protection ({permissions}) allows the {verb}, but the page is a guard page (MADV_GUARD_INSTALL).");
    }

    /// <summary>
    /// UNSAFE: the map's bytes as a span, with no protection. A page of a truncated file read
    /// through it raises SIGBUS and kills the process, a protected page SIGSEGV, and the span dangles
    /// once the map is disposed. Use it for speed where the file cannot change underneath.
    /// </summary>
    public Span<byte> AsSpan(long offset = 0, int? length = null)
    {
        int count = length ?? (int)Math.Min(int.MaxValue, Length - Math.Min(offset, Length));
        CheckRange(offset, count, nameof(length));
        using var lease = Lease();
        return new Span<byte>((void*)(lease.Base + _delta + (nint)offset), count);
    }

    // ---------------------------------------------------------------- page-level operations

    /// <summary>msync over the range: flushes dirty pages of a shared file map to the file.</summary>
    public SyncResult Sync(long offset = 0, long? length = null, bool async = false, bool invalidate = false)
    {
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        var before = FileCacheStat(offset, length.Value);
        int flags = (async ? Libc.MS_ASYNC : Libc.MS_SYNC) | (invalidate ? Libc.MS_INVALIDATE : 0);
        long started = Stopwatch.GetTimestamp();
        if (Libc.msync(lease.Base + start, bytes, flags) != 0)
            throw SystemCallException.FromLastError("msync", errno => errno switch
            {
                Errno.EBUSY => "Invalidate was asked for a range that holds locked pages.",
                Errno.EIO => "The kernel could not write the pages back: the device reported an I/O error.",
                Errno.ENOSPC => "The file system is full; the dirty pages could not be written.",
                Errno.ENOMEM => "Part of the range is not mapped.",
                _ => null,
            });
        var elapsed = Stopwatch.GetElapsedTime(started);
        var after = FileCacheStat(offset, length.Value);
        return new SyncResult
        {
            Offset = offset, Length = length.Value, Async = async, Invalidate = invalidate, Elapsed = elapsed,
            DirtyPagesBefore = (long?)before?.Dirty, DirtyPagesAfter = (long?)after?.Dirty, WritebackPagesAfter = (long?)after?.Writeback,
        };
    }

    /// <summary>madvise over the range. Check <see cref="MemoryAdviceExtensions.LosesData"/> before advice that can lose data.</summary>
    public void Advise(MemoryAdvice advice, long offset = 0, long? length = null)
    {
        if (!Enum.IsDefined(advice)) throw new ArgumentOutOfRangeException(nameof(advice), advice, "Not a known madvise advice.");
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        if (Libc.madvise(lease.Base + start, bytes, (int)advice) != 0)
            throw SystemCallException.FromLastError($"madvise({advice})", errno => AdviceHint(advice, errno));
    }

    private string? AdviceHint(MemoryAdvice advice, int errno) => errno switch
    {
        Errno.EINVAL when advice is MemoryAdvice.Free && (!IsPrivate || Kind != MapKind.Anonymous) =>
            "Free applies only to private anonymous memory.",
        Errno.EINVAL when advice is MemoryAdvice.Remove && IsPrivate =>
            "Remove applies only to shared maps of files or shared memory whose file system can punch holes.",
        Errno.EINVAL when advice is MemoryAdvice.DontNeed or MemoryAdvice.DontNeedLocked && (Options.HugePages) =>
            "The range must be aligned to the huge page size.",
        Errno.EINVAL when advice is MemoryAdvice.Collapse =>
            "Collapse needs whole huge-page-aligned ranges whose pages were touched, in a map THP may back (see /sys/kernel/mm/transparent_hugepage/enabled).",
        Errno.EINVAL when advice is MemoryAdvice.HugePage or MemoryAdvice.NoHugePage =>
            "Transparent huge pages are not available for this map or kernel (see /sys/kernel/mm/transparent_hugepage/enabled).",
        Errno.EINVAL when advice is MemoryAdvice.Mergeable or MemoryAdvice.Unmergeable => "This kernel has no KSM (CONFIG_KSM).",
        Errno.EINVAL => $"This kernel or this kind of map does not accept {advice}.",
        Errno.EFAULT when advice is MemoryAdvice.PopulateRead or MemoryAdvice.PopulateWrite =>
            "A page could not be populated: it lies beyond the end of the file or its protection forbids the access.",
        Errno.EPERM => $"{advice} needs a capability this process lacks, or the pages are locked.",
        Errno.EAGAIN => "The kernel was short of a resource; try again.",
        Errno.ENOMEM => "Part of the range is not mapped, or the kernel ran out of memory.",
        Errno.EBUSY when advice is MemoryAdvice.Collapse => "The pages could not be collapsed right now.",
        _ => null,
    };

    /// <summary>mprotect over the range. Execute is granted only when asked for.</summary>
    public void Protect(MapAccess access, long offset = 0, long? length = null)
    {
        if ((access & ~(MapAccess.ReadWrite | MapAccess.Execute)) != 0)
            throw new ArgumentOutOfRangeException(nameof(access), access, "Not a combination of Read, Write and Execute.");
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        if (Libc.mprotect(lease.Base + start, bytes, (int)access) != 0)
            throw SystemCallException.FromLastError("mprotect", errno => errno switch
            {
                Errno.EACCES => $"The file was opened without the rights for {access} (a shared map opened read-only cannot be made writable).",
                Errno.ENOMEM => "Part of the range is not mapped, or the change would split the map past vm.max_map_count.",
                _ => null,
            });
        if (offset == 0 && length == Length) Access = access;
    }

    /// <summary>mlock2 over the range; with <paramref name="onFault"/>, pages are locked as they are first touched (MLOCK_ONFAULT).</summary>
    public void Lock(long offset = 0, long? length = null, bool onFault = false)
    {
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        if (Libc.mlock2(lease.Base + start, bytes, onFault ? Libc.MLOCK_ONFAULT : 0) != 0)
            throw SystemCallException.FromLastError("mlock2", errno => errno is Errno.ENOMEM or Errno.EPERM or Errno.EAGAIN
                ? $"Locking {NativeFile.Bytes(bytes)} would pass RLIMIT_MEMLOCK ({NativeFile.Bytes(NativeFile.MemlockLimit())} for this process; see ulimit -l), or this user may not lock memory."
                : null);
    }

    public void Unlock(long offset = 0, long? length = null)
    {
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        if (Libc.munlock(lease.Base + start, bytes) != 0)
            throw SystemCallException.FromLastError("munlock");
    }

    /// <summary>
    /// Which pages of the range are in memory (mincore over the map), with the file's dirty,
    /// writeback and eviction counts from cachestat for file-backed maps where the kernel tells.
    /// </summary>
    public PageResidency GetResidency(long offset = 0, long? length = null, ResidencyDetail detail = ResidencyDetail.Runs)
    {
        var (start, bytes) = PageRange(offset, ref length);
        long pages = (long)(bytes / (nuint)PageSize);
        using var lease = Lease();
        using var scanner = new ResidencyScanner(pages, detail);
        scanner.ScanMapped(lease.Base + start, pages, PageSize);
        var stat = FileCacheStat(offset, length.Value);
        return new PageResidency
        {
            Path = Path, Name = Name, Offset = offset, Length = length.Value, PageSize = PageSize,
            TotalPages = pages, ResidentPages = scanner.ResidentPages, Source = ResidencySource.Mincore,
            IsTrusted = _mincoreTrusted, Note = _mincoreTrusted ? null : NativeFile.UntrustedMincoreNote,
            DirtyPages = (long?)stat?.Dirty, WritebackPages = (long?)stat?.Writeback,
            EvictedPages = (long?)stat?.Evicted, RecentlyEvictedPages = (long?)stat?.RecentlyEvicted,
            Bitmap = scanner.Bitmap, ResidentRuns = scanner.Runs,
            DirtyRuns = stat is { } dirtyStat && detail >= ResidencyDetail.Runs
                ? NativeFile.TryDirtyRuns(_file!, Offset - _delta + start, pages, PageSize, dirtyStat.Dirty) : null,
        };
    }

    private Libc.Cachestat? FileCacheStat(long offset, long length) =>
        _file is null || IsPrivate ? null : NativeFile.TryCachestat(_file, Offset + offset, length, out _);

    // ---------------------------------------------------------------- lifetime

    /// <summary>Unmaps (once every operation in flight has finished). Harmless to call twice.</summary>
    public void Dispose()
    {
        // New operations see the flag and refuse; those already holding a lease finish first. The
        // mapping then unmaps and closes the file (MappingHandle.ReleaseHandle).
        _disposed = true;
        _mapping.Dispose();
    }

    public override string ToString() =>
        $"{Kind} map {Id} of {Path ?? Name ?? "memory"}: {Length} bytes, {Access}, {(IsPrivate ? "private" : "shared")}{(IsDisposed ? ", removed" : "")}";

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

    // ---------------------------------------------------------------- arguments

    private void CheckRange(long offset, long count, string countName = "count")
    {
        if (offset < 0 || offset > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"Offset {offset} is outside the map, which has {Length} bytes.");
        if (count < 0 || count > Length - offset)
            throw new ArgumentOutOfRangeException(countName, count, $"{count} bytes from offset {offset} run past the end of the map, which has {Length} bytes.");
    }

    /// <summary>Checks a window range (length null means to the end) and returns it widened to whole pages, relative to the mapping.</summary>
    private (nint Start, nuint Bytes) PageRange(long offset, [System.Diagnostics.CodeAnalysis.NotNull] ref long? length)
    {
        CheckRange(offset, 0); // the offset first, so that an offset past the end is named as such
        // Without a length the range runs to the end: from the end itself no byte follows, and the
        // offset, the only number given, is what was wrong.
        if (length is null && offset == Length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"Offset {offset} is the end of the map, which has {Length} bytes: no byte follows it.");
        length ??= Length - offset;
        if (length == 0) throw new ArgumentOutOfRangeException(nameof(length), 0, "The range is empty.");
        CheckRange(offset, length.Value, nameof(length));
        long first = (_delta + offset) & ~(long)(PageSize - 1);
        long end = RoundUp(_delta + offset + length.Value, PageSize);
        return ((nint)first, (nuint)(end - first));
    }

    private static void CheckWindowArguments(long offset, long? length, MemoryMapOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l) ArgumentOutOfRangeException.ThrowIfNegativeOrZero(l, nameof(length));
        if (options.HugePages)
            throw new ArgumentException("Huge pages apply to anonymous memory and memfds; a file is mapped with huge pages only from hugetlbfs, by its own nature.", nameof(options));
        CheckCommonOptions(options);
        if (options.Name is not null)
            throw new ArgumentException("Only anonymous maps take a name; a file map is named by its file.", nameof(options));
    }

    private static void CheckCommonOptions(MemoryMapOptions options)
    {
        if (options.Access is { } access && (access & ~(MapAccess.ReadWrite | MapAccess.Execute)) != 0)
            throw new ArgumentOutOfRangeException(nameof(options), access, "Access is a combination of Read, Write and Execute.");
        if (options.FixedAddress is { } fixedAt && (fixedAt == 0 || (fixedAt & (PageSize - 1)) != 0))
            throw new ArgumentOutOfRangeException(nameof(options), $"0x{fixedAt:x}", $"A fixed address must be a non-zero multiple of the page size ({PageSize}).");
        if (options.HugePageSize != 0 && (!options.HugePages || !long.IsPow2(options.HugePageSize) || options.HugePageSize < PageSize))
            throw new ArgumentOutOfRangeException(nameof(options), options.HugePageSize, "HugePageSize is a power of two of at least a page, and goes with HugePages.");
        if (options.Name is { } name && (name.Length is 0 or > 79 || name.Any(c => c < ' ' || c > '~' || c is '[' or ']' or '\\' or '$' or '`')))
            throw new ArgumentException($"'{name}' cannot name a map: up to 79 printable ASCII characters, none of [ ] \\ $ `.", nameof(options));
    }

    private static (MapAccess Access, bool IsPrivate) Resolve(MemoryMapOptions options, MapAccess access, bool privateByDefault) =>
        (options.Access ?? access, options.Private ?? privateByDefault);

    // A private map writes to copies, so the file itself need only be readable.
    private static bool NeedsWritableFile(MapAccess access, bool isPrivate) => !isPrivate && (access & MapAccess.Write) != 0;

    private static string CheckSharedMemoryName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        string bare = name.StartsWith('/') ? name[1..] : name;
        if (bare.Length is 0 or > 255 || bare.Contains('/') || bare is "." or "..")
            throw new ArgumentException($"'{name}' is not a shared memory name: one word of up to 255 characters without '/'.", nameof(name));
        return "/" + bare;
    }

    private static void GrowTo(SafeFileHandle file, long size)
    {
        if ((long)NativeFile.Stat(file).Size >= size) return;
        if (Libc.ftruncate((int)file.DangerousGetHandle(), size) != 0)
            throw SystemCallException.FromLastError("ftruncate", errno => errno switch
            {
                Errno.EFBIG => $"{NativeFile.Bytes(size)} is larger than this file system allows.",
                Errno.ENOSPC => "The file system (for shared memory, /dev/shm) is full.",
                Errno.EINVAL => "This file cannot be resized.",
                _ => null,
            });
    }

    private static uint HugePageFlags(MemoryMapOptions options) =>
        options.HugePageSize == 0 ? 0 : (uint)(long.Log2(options.HugePageSize) << Libc.MAP_HUGE_SHIFT);

    private static long HugePageBytes(MemoryMapOptions options) =>
        options.HugePageSize != 0 ? options.HugePageSize : DefaultHugePageSize.Value;

    private static readonly Lazy<long> DefaultHugePageSize = new(() =>
    {
        foreach (string line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith("Hugepagesize:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 2 << 20;
    });

    private static string ReadProc(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    /// <summary>The longest anonymous map asked for: 2^57 bytes, past the 5-level-paging user address space (2^56).</summary>
    internal const long MaxLength = 1L << 57;

    internal static long RoundUp(long value, long multiple) => (value + multiple - 1) / multiple * multiple;
}
