using System.Globalization;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>What kind of file a process holds.</summary>
public enum CachedFileKind
{
    /// <summary>A file with a name in the file system.</summary>
    File,
    /// <summary>A file removed from the file system while a process still holds it: its pages stay cached until the last holder lets go.</summary>
    Deleted,
    /// <summary>A memfd (memfd_create): memory with a file's interface, never named in a file system.</summary>
    Memfd,
}

/// <summary>How the processes hold a file.</summary>
[Flags]
public enum FileHold
{
    None = 0,
    /// <summary>An open file descriptor (/proc/PID/fd).</summary>
    Open = 1,
    /// <summary>A mapping (/proc/PID/maps).</summary>
    Mapped = 2,
}

/// <summary>A file held open or mapped by processes, with its page-cache residency (the whole file).</summary>
public sealed class CachedFile
{
    /// <summary>The path as the first process found holding it names it (inside a container: the container's path).</summary>
    public string Path { get; init; } = "";

    /// <summary>Where this process reaches the file by name: the path itself when the holder shares this
    /// process's root and mount namespace, else through /proc/PID/root; null for deleted files and memfds.</summary>
    public string? HostPath { get; init; }

    public CachedFileKind Kind { get; init; }

    /// <summary>The device (major &lt;&lt; 32 | minor) and inode that identify the file.</summary>
    public ulong Device { get; init; }

    /// <inheritdoc cref="Device"/>
    public ulong Inode { get; init; }

    public long Size { get; init; }
    public int PageSize { get; init; }
    public long TotalPages { get; init; }
    public long ResidentPages { get; init; }
    public long? DirtyPages { get; init; }
    public long? WritebackPages { get; init; }
    public long? EvictedPages { get; init; }
    public long? RecentlyEvictedPages { get; init; }
    public ResidencySource Source { get; init; }

    /// <summary>False where mincore answered for a file this user may not write (see <see cref="PageResidency.IsTrusted"/>).</summary>
    public bool IsTrusted { get; init; } = true;

    /// <summary>Open, mapped or both, over all the processes holding it.</summary>
    public FileHold Hold { get; internal set; }

    /// <summary>The processes holding the file, in ascending order.</summary>
    public IReadOnlyList<int> ProcessIds => _processIds;

    internal readonly List<int> _processIds = new();

    public long ResidentBytes => Math.Min(Size, ResidentPages * PageSize);

    public double ResidentPercent => TotalPages == 0 ? 0 : 100.0 * ResidentPages / TotalPages;

    public override string ToString() => $"{Path}: {ResidentPages}/{TotalPages} pages resident, held by {string.Join(",", ProcessIds)}";

    internal static CachedFile From(PageResidency r, string path, string? hostPath, CachedFileKind kind) => new()
    {
        Path = path, HostPath = hostPath, Kind = kind, Device = r.Device ?? 0, Inode = r.Inode ?? 0,
        Size = r.Length, PageSize = r.PageSize, TotalPages = r.TotalPages, ResidentPages = r.ResidentPages,
        DirtyPages = r.DirtyPages, WritebackPages = r.WritebackPages, EvictedPages = r.EvictedPages,
        RecentlyEvictedPages = r.RecentlyEvictedPages, Source = r.Source, IsTrusted = r.IsTrusted,
    };
}

/// <summary>A process whose files could not be read, and why.</summary>
public sealed record SkippedProcess(int ProcessId, string Reason);

/// <summary>The files a set of processes holds, each once, and the processes that could not be read.</summary>
public sealed class ProcessFileScan
{
    public IReadOnlyList<CachedFile> Files { get; init; } = [];
    public IReadOnlyList<SkippedProcess> Skipped { get; init; } = [];
}

/// <summary>
/// The files processes hold open (/proc/PID/fd) or mapped (/proc/PID/maps), each counted once by
/// device and inode however many descriptors, mappings and processes hold it, with the residency of
/// the whole file (cachestat, one call a file). A file is reached through the holder itself
/// (/proc/PID/fd/N, /proc/PID/map_files/RANGE), so deleted files, memfds and files inside
/// containers are found; a mapping whose map_files entry cannot be opened (it needs CAP_SYS_ADMIN) is
/// reached by name through /proc/PID/root.
/// </summary>
public static class ProcessFiles
{
    private const string DeletedSuffix = " (deleted)";

    /// <summary>The files one process holds. Throws <see cref="ArgumentException"/> (processId) when no
    /// such process exists, and <see cref="MemoryMapException"/> (EACCES) when this user may not read its files.</summary>
    public static IReadOnlyList<CachedFile> Get(int processId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        var scan = new Scanner();
        if (scan.Add(processId) is { } failure)
        {
            if (failure.Missing) throw new ArgumentException($"No process has id {processId}.", nameof(processId));
            throw new MemoryMapException("EACCES", $"This user may not read the files of process {processId}: {failure.Reason}");
        }
        return scan.Files();
    }

    /// <summary>
    /// The files the processes hold (every process when <paramref name="processIds"/> is null), each once
    /// with all its holders. A process this user may not read is listed in <see cref="ProcessFileScan.Skipped"/>
    /// once; one that exits during the scan is left out without a word.
    /// </summary>
    public static ProcessFileScan Scan(IEnumerable<int>? processIds = null)
    {
        var scan = new Scanner();
        var skipped = new List<SkippedProcess>();
        foreach (int pid in processIds ?? AllProcessIds())
        {
            if (scan.Add(pid) is { Missing: false } failure) skipped.Add(new SkippedProcess(pid, failure.Reason));
        }
        return new ProcessFileScan { Files = scan.Files(), Skipped = skipped };
    }

    /// <summary>The ids of every process, from the numeric entries of /proc.</summary>
    public static IEnumerable<int> AllProcessIds()
    {
        foreach (string entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(System.IO.Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) yield return pid;
        }
    }

    /// <summary>The path a process names a file by (from a /proc link or a maps line), and its kind.</summary>
    internal static (string Path, CachedFileKind Kind) Classify(string named)
    {
        bool deleted = named.EndsWith(DeletedSuffix, StringComparison.Ordinal);
        string path = deleted ? named[..^DeletedSuffix.Length] : named;
        if (path.StartsWith("/memfd:", StringComparison.Ordinal)) return (path[1..], CachedFileKind.Memfd);
        return (path, deleted ? CachedFileKind.Deleted : CachedFileKind.File);
    }

    private readonly record struct Failure(bool Missing, string Reason);

    /// <summary>Collects files over processes, each file examined once.</summary>
    private sealed unsafe class Scanner
    {
        private readonly Dictionary<FileId, CachedFile> _files = new();

        /// <summary>Files met in maps, by the device and inode the maps line names (the kernel's own numbers,
        /// the same in every process): a library every process maps is reached and stated once, not once a process.</summary>
        private readonly Dictionary<(string Device, string Inode), CachedFile> _mapped = new();
        private readonly string? _ownNamespace = ReadLink("/proc/self/ns/mnt");
        private readonly FileId? _ownRoot = StatId("/proc/self/root");

        public IReadOnlyList<CachedFile> Files()
        {
            var files = _files.Values.ToList();
            foreach (var file in files) file._processIds.Sort();
            return files;
        }

        /// <summary>Adds the process's files; a failure to read its fd directory or maps is returned.</summary>
        public Failure? Add(int pid)
        {
            string proc = $"/proc/{pid}";
            string[] fds;
            string[] maps;
            try
            {
                fds = Directory.GetFiles($"{proc}/fd");
                maps = File.ReadAllLines($"{proc}/maps");
            }
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
            {
                return new Failure(true, "it does not exist");
            }
            catch (UnauthorizedAccessException)
            {
                return new Failure(false, $"{proc}/fd and {proc}/maps are readable only by its owner and by root");
            }
            catch (IOException e)
            {
                // ESRCH: it exited between opening and reading.
                return new Failure(true, e.Message);
            }
            bool sameRoot = ReadLink($"{proc}/ns/mnt") == _ownNamespace && StatId($"{proc}/root") == _ownRoot;
            foreach (string fd in fds)
            {
                if (ReadLink(fd) is { } target && target.StartsWith('/'))
                    Hold(pid, fd, target, FileHold.Open, sameRoot, out _);
            }
            var seen = new HashSet<(string, string)>();
            foreach (string line in maps)
            {
                // start-end perms offset dev inode path; only lines with a path and an inode are files.
                string[] parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 6 || parts[4] == "0") continue;
                string named = parts[5].Trim();
                var key = (parts[3], parts[4]);
                if (!named.StartsWith('/') || !seen.Add(key)) continue;
                if (_mapped.TryGetValue(key, out var known))
                {
                    AddHolder(known, pid, FileHold.Mapped);
                    continue;
                }
                var (path, kind) = Classify(named);
                string viaMapFiles = $"{proc}/map_files/{parts[0]}";
                if (Hold(pid, viaMapFiles, named, FileHold.Mapped, sameRoot, out var file)
                    || (kind == CachedFileKind.File && Hold(pid, $"{proc}/root{path}", named, FileHold.Mapped, sameRoot, out file)))
                {
                    if (file is not null) _mapped[key] = file;
                }
            }
            return null;
        }

        /// <summary>Records that the process holds the file reached at <paramref name="access"/> (<paramref name="file"/>:
        /// null for what is not a regular file); false when it cannot be reached.</summary>
        private bool Hold(int pid, string access, string named, FileHold how, bool sameRoot, out CachedFile? file)
        {
            file = null;
            Libc.Statx st;
            if (Libc.statx(Libc.AT_FDCWD, access, 0, Libc.STATX_BASIC_STATS, &st) != 0) return false;
            if ((st.Mode & Libc.S_IFMT) != Libc.S_IFREG) return true;
            var id = FileId.Of(st);
            if (!_files.TryGetValue(id, out file))
            {
                int fd = Libc.open(access, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
                if (fd < 0) return false;
                using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
                var (path, kind) = Classify(named);
                var residency = PageCache.GetResidency(handle, PosixFile.Stat(handle), path, 0, null, ResidencyDetail.Summary);
                string? hostPath = kind != CachedFileKind.File ? null : sameRoot ? path : $"/proc/{pid}/root{path}";
                file = CachedFile.From(residency, path, hostPath, kind);
                _files.Add(id, file);
            }
            AddHolder(file, pid, how);
            return true;
        }

        private static void AddHolder(CachedFile file, int pid, FileHold how)
        {
            file.Hold |= how;
            if (file._processIds.Count == 0 || !file._processIds.Contains(pid)) file._processIds.Add(pid);
        }

        private static string? ReadLink(string path)
        {
            try
            {
                return new FileInfo(path).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }

        private static FileId? StatId(string path)
        {
            Libc.Statx st;
            return Libc.statx(Libc.AT_FDCWD, path, 0, Libc.STATX_BASIC_STATS, &st) == 0 ? FileId.Of(st) : null;
        }
    }
}
