using System.Buffers;
using System.Text;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// Page-cache residency of files and directory trees of any size, streamed: a walk holds the
/// directories still to visit (their paths) and the directory being read, never a list of files.
/// Each directory is read with getdents64 a buffer at a time and each file is opened relative to
/// it (openat, statx, cachestat, close: four calls a file where cachestat answers).
/// <para>
/// One walker counts each file once over all its calls to <see cref="Examine(string, CancellationToken)"/>: a directory is
/// walked once however often it is named or reached; hard links to one file (link count above 1)
/// count once, by the first path met, as in vmtouch, and only those files are remembered; a file
/// named directly counts once, and not again in a directory walked before or after. Files are
/// given in the order the file system lists them, each directory's files before the directories below it.
/// </para>
/// <para>
/// The thread enumerating a walk reads the directories and hands their files, a batch at a time, to
/// up to <see cref="ResidencyWalkOptions.MaxDegreeOfParallelism"/> threads of the thread pool (it
/// runs a batch itself when it would otherwise wait); it gives the results in the walk's order and
/// decides there which files count, so the items are those of a walk on one thread. At most a few
/// batches a thread are in flight, so memory stays flat however large the tree.
/// </para>
/// Not thread-safe: use one walker per thread.
/// </summary>
public sealed unsafe partial class ResidencyWalker
{
    private const int BufferBytes = 32 * 1024;

    private readonly HashSet<FileId> _directories = new();
    private readonly HashSet<FileId> _files = new();

    public ResidencyWalker(ResidencyWalkOptions? options = null)
    {
        options ??= new ResidencyWalkOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Offset, "offset");
        if (options.Length is { } length) ArgumentOutOfRangeException.ThrowIfNegative(length, "length");
        if (options.MaxFileSize is { } max) ArgumentOutOfRangeException.ThrowIfNegative(max, "maxFileSize");
        if (!Enum.IsDefined(options.Detail)) throw new ArgumentOutOfRangeException(nameof(options), options.Detail, "Not a known ResidencyDetail.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxDegreeOfParallelism, "maxDegreeOfParallelism");
        Options = options;
    }

    public ResidencyWalkOptions Options { get; }

    /// <inheritdoc cref="Examine(string, CancellationToken)"/>
    public IEnumerable<ResidencyWalkItem> Examine(string path) => Examine(path, CancellationToken.None);

    /// <summary>
    /// A file's residency, or a directory's files (all below it with <see cref="ResidencyWalkOptions.Recurse"/>),
    /// lazily: nothing is read until the result is enumerated. A relative path is relative to the
    /// process's current directory. A symbolic link named here is followed. Failures become
    /// <see cref="ResidencyWalkItemKind.Error"/> items and the walk goes on. Once
    /// <paramref name="cancellationToken"/> is cancelled, the walk's threads stop after the file each
    /// is examining and the enumeration throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public IEnumerable<ResidencyWalkItem> Examine(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        if (full.Length > 1) full = full.TrimEnd('/');
        return ExamineFullPath(full.Length == 0 ? "/" : full, cancellationToken);
    }

    private IEnumerable<ResidencyWalkItem> ExamineFullPath(string path, CancellationToken cancel)
    {
        if (!TryStat(Libc.AT_FDCWD, path, follow: false, out var st, out var error))
        {
            yield return Failed(path, error);
            yield break;
        }
        string target = path;
        if ((st.Mode & Libc.S_IFMT) == Libc.S_IFLNK)
        {
            // A link named directly counts as its target.
            if (!TryStat(Libc.AT_FDCWD, path, follow: true, out st, out error))
            {
                yield return Failed(path, error);
                yield break;
            }
            target = File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
        }
        string name = NameOf(path);
        if (Options.Exclude?.Invoke(name) == true) yield break;
        if ((st.Mode & Libc.S_IFMT) == Libc.S_IFDIR)
        {
            foreach (var item in Walk(target, st, cancel)) yield return item;
        }
        else if (ExamineNamedFile(target, name, st) is { } item)
        {
            yield return item;
        }
    }

    private ResidencyWalkItem? ExamineNamedFile(string file, string name, in Libc.Statx st)
    {
        bool regular = (st.Mode & Libc.S_IFMT) == Libc.S_IFREG;
        if (regular && Options.Include?.Invoke(name) == false) return null;
        if (regular && Options.MaxFileSize is { } max && (long)st.Size > max) return null;
        var id = FileId.Of(st);
        if (_files.Contains(id)) return null;
        // Already counted by the walk of its directory.
        if (_directories.Count > 0 && System.IO.Path.GetDirectoryName(file) is { } parent
            && TryStat(Libc.AT_FDCWD, parent, follow: true, out var parentStat, out _) && _directories.Contains(FileId.Of(parentStat)))
            return null;
        try
        {
            var residency = PageCache.GetResidency(file, Options.Offset, Options.Length, Options.Detail);
            _files.Add(id);
            return new ResidencyWalkItem(ResidencyWalkItemKind.File, file, residency);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Failed(file, e);
        }
    }

    /// <summary>The directory's files, then the directories below it, depth first, in the order the file system lists them.</summary>
    private IEnumerable<ResidencyWalkItem> Walk(string root, Libc.Statx rootStat, CancellationToken cancel)
    {
        if (!_directories.Add(FileId.Of(rootStat))) yield break;
        ulong device = PageCache.DeviceOf(rootStat);
        var pending = new Stack<string>();
        var below = new List<string>();
        pending.Push(root);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        // With one thread the files are examined right here, as they are read.
        using var pool = Options.MaxDegreeOfParallelism > 1 ? new FilePool(this, Options.MaxDegreeOfParallelism, cancel) : null;
        try
        {
            while (pending.TryPop(out string? directory))
            {
                cancel.ThrowIfCancellationRequested();
                var entered = new ResidencyWalkItem(ResidencyWalkItemKind.Directory, directory);
                if (pool is null) yield return entered;
                else pool.Add(entered);
                int fd = Libc.open(directory, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
                if (fd < 0)
                {
                    var failed = Failed(directory, SystemCallException.FromLastError("open", errno => FailureHints.Open(directory, false, errno)));
                    if (pool is null) yield return failed;
                    else pool.Add(failed);
                    continue;
                }
                // Batches in flight keep the directory open until their last file is examined.
                var handle = new SafeFileHandle(fd, ownsHandle: true);
                try
                {
                    while (true)
                    {
                        nint filled = ReadEntries(fd, buffer);
                        if (filled < 0)
                        {
                            var failed = Failed(directory, SystemCallException.FromLastError("getdents64", errno => FailureHints.ReadDirectory(directory, errno)));
                            if (pool is null) yield return failed;
                            else pool.Add(failed);
                            break;
                        }
                        if (filled == 0) break;
                        for (int at = 0; at < filled;)
                        {
                            cancel.ThrowIfCancellationRequested();
                            int length = BitConverter.ToUInt16(buffer, at + Libc.DirentReclenOffset);
                            byte type = buffer[at + Libc.DirentTypeOffset];
                            int nameStart = at + Libc.DirentNameOffset;
                            int nameLength = buffer.AsSpan(nameStart, length - Libc.DirentNameOffset).IndexOf((byte)0);
                            at += length;
                            if (nameLength < 0 || IsDotOrDotDot(buffer.AsSpan(nameStart, nameLength))) continue;
                            var entry = new Entry(directory, buffer, nameStart, nameLength, type);
                            var step = ExamineEntry(fd, ref entry, device, below);
                            if (step is { } item)
                            {
                                if (pool is null) yield return item;
                                else pool.Add(item);
                            }
                            else if (entry.IsFile)
                            {
                                if (pool is null)
                                {
                                    if (Admit(ExamineFile(fd, entry)) is { } examined) yield return examined;
                                }
                                else if (pool.AddFile(handle, entry))
                                {
                                    foreach (var ready in pool.TakeReady()) yield return ready;
                                }
                            }
                        }
                    }
                }
                finally
                {
                    handle.Dispose();
                }
                for (int i = below.Count - 1; i >= 0; i--) pending.Push(below[i]);
                below.Clear();
                if (pool is not null)
                    foreach (var ready in pool.TakeReady()) yield return ready;
            }
            if (pool is not null)
                foreach (var ready in pool.TakeAll()) yield return ready;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A directory entry: its name (NUL-terminated UTF-8 in the buffer at <see cref="NameStart"/>) and what getdents said it is.</summary>
    private struct Entry(string directory, byte[] buffer, int nameStart, int nameLength, byte type)
    {
        public readonly string Directory = directory;
        public byte[] Buffer = buffer;
        public int NameStart = nameStart;
        public readonly int NameLength = nameLength;
        public byte Type = type;

        /// <summary>The name, once something needed it as a string.</summary>
        public string? Name;

        /// <summary>A regular file (as far as the directory tells) that passed the filters: to be examined.</summary>
        public bool IsFile;

        public string DecodeName() => Name ??= Decode(Buffer, NameStart, NameLength);

        public string PathOf() => Join(Directory, DecodeName());
    }

    /// <summary>
    /// One directory entry, on the thread reading the directory: a directory to walk is added to
    /// <paramref name="below"/>, a failure is returned, a file to examine is marked <see cref="Entry.IsFile"/>,
    /// anything else is skipped.
    /// </summary>
    private ResidencyWalkItem? ExamineEntry(int directoryFd, ref Entry entry, ulong device, List<string> below)
    {
        Libc.Statx st = default;
        bool stated = false;
        byte type = entry.Type;
        if (type == Libc.DT_UNKNOWN || (type == Libc.DT_LNK && Options.FollowSymlinks))
        {
            // The file system did not say what the entry is, or it is a link to follow: ask.
            if (!TryStatAt(directoryFd, entry.Buffer, entry.NameStart, follow: Options.FollowSymlinks, out st, out var error))
                return Failed(entry.PathOf(), error);
            stated = true;
            type = TypeOf(st.Mode);
        }
        if (type == Libc.DT_DIR)
        {
            if (!Options.Recurse) return null;
            if (Options.Exclude?.Invoke(entry.DecodeName()) == true) return null;
            if (!stated && !TryStatAt(directoryFd, entry.Buffer, entry.NameStart, follow: false, out st, out var error))
                return Failed(entry.PathOf(), error);
            if (!Options.CrossFileSystems && PageCache.DeviceOf(st) != device) return null;
            if (_directories.Add(FileId.Of(st))) below.Add(entry.PathOf());
            return null;
        }
        // Links not followed, FIFOs, sockets and devices hold no pages of a file.
        if (type != Libc.DT_REG) return null;
        if (Options.Include is not null || Options.Exclude is not null)
        {
            string name = entry.DecodeName();
            if (Options.Exclude?.Invoke(name) == true || Options.Include?.Invoke(name) == false) return null;
        }
        entry.IsFile = true;
        return null;
    }

    /// <summary>What examining one file found: the item, and the file's identity where it was stated, for <see cref="Admit"/>.</summary>
    private readonly record struct FileOutcome(ResidencyWalkItem? Item, bool Stated, FileId Id, bool Linked);

    /// <summary>
    /// Opens the file relative to its directory and examines it. Touches nothing of the walker but its
    /// options, so any thread may run it; which files count is decided by <see cref="Admit"/>. Its
    /// system calls stay outside any try block: the JIT calls libc directly only from code outside
    /// one, and from inside one through a stub of its own.
    /// </summary>
    private FileOutcome ExamineFile(int directoryFd, Entry entry)
    {
        int fd = OpenAt(directoryFd, entry.Buffer, entry.NameStart);
        if (fd < 0)
        {
            string failed = entry.PathOf();
            return new(Failed(failed, SystemCallException.FromLastError("open", errno => FailureHints.Open(failed, false, errno))), false, default, false);
        }
        FileOutcome outcome;
        if (!TryStat(fd, out var st, out var statError)) outcome = new(Failed(entry.PathOf(), statError), false, default, false);
        // Replaced by something else since the directory was read.
        else if ((st.Mode & Libc.S_IFMT) != Libc.S_IFREG) outcome = default;
        else if (Options.MaxFileSize is { } max && (long)st.Size > max) outcome = default;
        else
        {
            try
            {
                outcome = ExamineOpenFile(fd, entry, st);
            }
            catch
            {
                Libc.close(fd);
                throw;
            }
        }
        Libc.close(fd);
        return outcome;
    }

    private FileOutcome ExamineOpenFile(int fd, in Entry entry, in Libc.Statx st)
    {
        var id = FileId.Of(st);
        bool linked = st.NLink > 1;
        try
        {
            string path = entry.PathOf();
            var residency = PageCache.GetResidency(fd, st, path, Options.Offset, Options.Length, Options.Detail);
            return new(new ResidencyWalkItem(ResidencyWalkItemKind.File, path, residency), true, id, linked);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(Failed(entry.PathOf(), e), true, id, linked);
        }
    }

    /// <summary>The item of an examined file, or null where the file was counted before (a hard link, or a link followed to it).</summary>
    private ResidencyWalkItem? Admit(in FileOutcome outcome)
    {
        if (outcome.Stated)
        {
            bool counted = outcome.Linked || Options.FollowSymlinks ? !_files.Add(outcome.Id) : _files.Count > 0 && _files.Contains(outcome.Id);
            if (counted) return null;
        }
        return outcome.Item;
    }

    private static ResidencyWalkItem Failed(string path, Exception error) => new(ResidencyWalkItemKind.Error, path, null, error);

    private static nint ReadEntries(int fd, byte[] buffer)
    {
        fixed (byte* entries = buffer)
            return Libc.getdents64(fd, entries, (nuint)BufferBytes);
    }

    private static int OpenAt(int directoryFd, byte[] buffer, int nameStart)
    {
        fixed (byte* name = &buffer[nameStart])
            return Libc.openat(directoryFd, name, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
    }

    private static bool TryStatAt(int directoryFd, byte[] buffer, int nameStart, bool follow, out Libc.Statx st, out Exception error)
    {
        fixed (byte* name = &buffer[nameStart])
        fixed (Libc.Statx* result = &st)
        {
            int flags = Libc.AT_NO_AUTOMOUNT | (follow ? 0 : Libc.AT_SYMLINK_NOFOLLOW);
            if (Libc.statxAt(directoryFd, name, flags, Libc.STATX_BASIC_STATS, result) == 0)
            {
                error = null!;
                return true;
            }
        }
        int errno = Libc.LastError;
        error = new SystemCallException("statx", errno, FailureHints.StatEntry(follow, errno));
        return false;
    }

    private static bool TryStat(int fd, out Libc.Statx st, out Exception error)
    {
        byte empty = 0;
        fixed (Libc.Statx* result = &st)
        {
            if (Libc.statxAt(fd, &empty, Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, result) == 0)
            {
                error = null!;
                return true;
            }
        }
        error = SystemCallException.FromLastError("statx");
        return false;
    }

    private static bool TryStat(int directoryFd, string path, bool follow, out Libc.Statx st, out Exception error)
    {
        fixed (Libc.Statx* result = &st)
        {
            if (Libc.statx(directoryFd, path, follow ? 0 : Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, result) == 0)
            {
                error = null!;
                return true;
            }
        }
        int errno = Libc.LastError;
        error = new SystemCallException("statx", errno, FailureHints.Stat(path, follow, errno));
        return false;
    }

    private static byte TypeOf(int mode) => (mode & Libc.S_IFMT) switch
    {
        Libc.S_IFREG => Libc.DT_REG,
        Libc.S_IFDIR => Libc.DT_DIR,
        Libc.S_IFLNK => Libc.DT_LNK,
        _ => Libc.DT_UNKNOWN,
    };

    private static bool IsDotOrDotDot(ReadOnlySpan<byte> name) =>
        name.Length is 1 or 2 && name[0] == (byte)'.' && (name.Length == 1 || name[1] == (byte)'.');

    private static string Decode(byte[] buffer, int start, int length) => Encoding.UTF8.GetString(buffer, start, length);

    private static string Join(string directory, string name) =>
        directory.EndsWith('/') ? directory + name : string.Concat(directory, "/", name);

    private static string NameOf(string path) => path == "/" ? "/" : System.IO.Path.GetFileName(path);
}
