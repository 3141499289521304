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
public sealed unsafe partial class MemoryMap : IDisposable
{
    private static int s_lastId;

    private readonly MappingHandle _mapping;
    private readonly SafeFileHandle? _file;
    private readonly int _delta;
    private readonly bool _mincoreTrusted;
    private volatile bool _disposed;

    // Whether Read may pread the map's file instead of copying out of the map: only while the file's
    // pages are the map's pages and the map refuses none of them. That holds for a MAP_SHARED map of
    // a regular file (a private map may hold copied pages, anonymous memory has no file, and a
    // device's read need not return what its mapping shows) made readable, until Protect takes Read
    // from a range or guard pages are installed: from then on only a copy through the map tells
    // which pages it refuses, so this stays false for the map's life. A pread cannot raise SIGBUS:
    // for a file truncated before or during it, it stops short at the end of the file, and the rest
    // goes through process_vm_readv, which gives what the map still shows (the last page's tail)
    // and EFAULT past it, as for any map. Protection changed behind the map's back (mprotect or
    // munmap at Address by other code) is not seen here: Read then gives the file's bytes.
    private volatile bool _readsThroughFile;

    private MemoryMap(MappingHandle mapping, int delta, SafeFileHandle? file, MapKind kind, string? path,
        string? name, long offset, long length, MapAccess access, bool isPrivate, MemoryMapOptions options, bool mincoreTrusted,
        bool regularFile)
    {
        _mapping = mapping;
        _mapping.File = file;
        _delta = delta;
        _file = file;
        _mincoreTrusted = mincoreTrusted;
        _readsThroughFile = regularFile && file is not null && !isPrivate && (access & MapAccess.Read) != 0;
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
        var file = PosixFile.Open(path, writable: NeedsWritableFile(access, isPrivate));
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
        var file = PosixFile.Open(path, writable: true, create: true);
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
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{length} bytes is more than a 64-bit address space holds ({ByteSize.Format(MaxLength)} at most).");
        options ??= MemoryMapOptions.Default;
        CheckCommonOptions(options);
        var (access, isPrivate) = Resolve(options, MapAccess.ReadWrite, privateByDefault: true);
        if (options.Name is not null && !isPrivate)
            throw new ArgumentException("The kernel names private anonymous maps only; a shared one is named through shared memory or a memfd.", nameof(options));
        var mapping = Map(-1, 0, length, access, isPrivate, options, out int delta);
        return new MemoryMap(mapping, delta, null, MapKind.Anonymous, null, options.Name, 0, length, access, isPrivate, options, mincoreTrusted: true, regularFile: false);
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
            throw SystemCallException.FromLastError("shm_open", errno => FailureHints.SharedMemoryOpen(name, "/dev/shm" + shmName, errno));
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
            throw SystemCallException.FromLastError("shm_unlink", errno => FailureHints.SharedMemoryRemove(name, errno));
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
            throw SystemCallException.FromLastError("memfd_create", errno => FailureHints.MemfdCreate(options.HugePages, errno));
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
        return new MemoryMap(mapping, delta, file, MapKind.Memfd, null, name, 0, size, access, isPrivate, options, mincoreTrusted: true, regularFile: true);
    }

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
}
