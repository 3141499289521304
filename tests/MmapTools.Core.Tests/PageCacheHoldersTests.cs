using System.Diagnostics;
using System.Globalization;

namespace MmapTools.Tests;

/// <summary>
/// A child process that holds files: opens some (twice), maps others (descriptor closed), opens one and
/// deletes it, and fills a memfd. It prints "ready" and holds them until its standard input closes.
/// </summary>
internal sealed class FileHolder : IDisposable
{
    private const string Script = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        held = []
        for kind, path in zip(sys.argv[1::2], sys.argv[2::2]):
            if kind == "open":
                held += [os.open(path, os.O_RDONLY), os.open(path, os.O_RDONLY)]
            elif kind == "map":
                # libc's mmap, not Python's, which keeps a duplicate descriptor open.
                fd = os.open(path, os.O_RDONLY)
                held.append(libc.mmap(None, os.fstat(fd).st_size, 1, 1, fd, 0))  # PROT_READ, MAP_SHARED
                os.close(fd)
            elif kind == "deleted":
                held.append(os.open(path, os.O_RDONLY))
                os.unlink(path)
            elif kind == "memfd":
                fd = os.memfd_create("mmaptools-holder")
                os.write(fd, b"m" * int(path))
                held.append(fd)
        print("ready", flush=True)
        sys.stdin.readline()
        """;

    private readonly Process _process;

    /// <param name="holds">Pairs of (open | map | deleted | memfd, path or memfd size).</param>
    public FileHolder(params (string Kind, string Argument)[] holds)
    {
        var info = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Script);
        foreach (var (kind, argument) in holds) { info.ArgumentList.Add(kind); info.ArgumentList.Add(argument); }
        _process = Process.Start(info)!;
        Assert.Equal("ready", _process.StandardOutput.ReadLine());
    }

    public int Id => _process.Id;

    public void Dispose()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(10_000)) _process.Kill();
        _process.Dispose();
    }
}

/// <summary>Independent readings of the files a process holds: stat(1) and fincore(1), child processes of their own.</summary>
internal static class Oracle
{
    /// <summary>(device, inode) of every regular file behind /proc/PID/fd and /proc/PID/map_files, by stat(1),
    /// each with a /proc link that reaches it.</summary>
    public static Dictionary<(ulong, ulong), string> HeldFiles(int pid)
    {
        var links = Directory.GetFiles($"/proc/{pid}/fd").Concat(Directory.GetFiles($"/proc/{pid}/map_files")).ToArray();
        var result = Child.RunProgram("stat", ["-L", "-c", "%Hd %Ld %i %F|%n", .. links]);
        var held = new Dictionary<(ulong, ulong), string>();
        foreach (string line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split('|', 2)[0].Split(' ', 4);
            if (f[3] is "regular file" or "regular empty file")
                held.TryAdd(((ulong.Parse(f[0]) << 32) | ulong.Parse(f[1]), ulong.Parse(f[2])), line.Split('|', 2)[1]);
        }
        return held;
    }

    /// <summary>Resident pages of each file by fincore (paths that fincore cannot read are left out).</summary>
    public static Dictionary<string, long> Fincore(IEnumerable<string> paths)
    {
        var result = Child.RunProgram("fincore", ["--raw", "--noheadings", "--bytes", "--output", "PAGES,FILE", .. paths]);
        var pages = new Dictionary<string, long>();
        foreach (string line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int space = line.IndexOf(' ');
            pages[line[(space + 1)..]] = long.Parse(line[..space], CultureInfo.InvariantCulture);
        }
        return pages;
    }

    /// <summary>Asserts that the tool's count lies between two readings taken before and after it (DAMON reclaim moves counts meanwhile).</summary>
    public static void Between(long before, long tool, long after, string what) =>
        Assert.True(Math.Min(before, after) <= tool && tool <= Math.Max(before, after), $"{what}: the tool counted {tool} pages, fincore {before} before and {after} after.");
}

public sealed class ProcessFilesTests : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes a file, evicts it and brings back and locks the first <paramref name="residentPages"/>, so its count holds still.</summary>
    private (string Path, MemoryMap Lock) LockedFile(string name, int pages, int residentPages)
    {
        string path = _dir.WritePattern(name, (long)pages * Page);
        PageCache.Evict(path);
        var map = MemoryMap.OpenFile(path, 0, (long)residentPages * Page);
        map.Lock();
        return (path, map);
    }

    [Fact]
    public void Get_FindsOpenMappedDeletedAndMemfdFiles_EachOnce_WithTheirResidency()
    {
        var (opened, lockOpened) = LockedFile("opened.bin", 64, 16);
        var (mapped, lockMapped) = LockedFile("mapped.bin", 32, 32);
        string deleted = _dir.WritePattern("deleted.bin", 8L * Page);
        using (lockOpened) using (lockMapped)
        using (var holder = new FileHolder(("open", opened), ("map", opened), ("map", mapped), ("deleted", deleted), ("memfd", (5 * Page).ToString())))
        {
            var expected = Oracle.HeldFiles(holder.Id);
            var files = ProcessFiles.Get(holder.Id);

            Assert.Equal(expected.Keys.OrderBy(x => x), files.Select(f => (f.Device, f.Inode)).OrderBy(x => x));
            Assert.All(files, f => Assert.Equal([holder.Id], f.ProcessIds));

            var open = files.Single(f => f.Path == opened);
            Assert.Equal(FileHold.Open | FileHold.Mapped, open.Hold);
            Assert.Equal(CachedFileKind.File, open.Kind);
            Assert.Equal(opened, open.HostPath);
            Assert.Equal(64, open.TotalPages);

            var map = files.Single(f => f.Path == mapped);
            Assert.Equal(FileHold.Mapped, map.Hold);

            var gone = files.Single(f => f.Path == deleted);
            Assert.Equal(CachedFileKind.Deleted, gone.Kind);
            Assert.Null(gone.HostPath);
            Assert.False(File.Exists(deleted));

            var memfd = files.Single(f => f.Kind == CachedFileKind.Memfd);
            Assert.Equal("memfd:mmaptools-holder", memfd.Path);
            Assert.Equal(5L * Page, memfd.Size);

            // Every file, against fincore reading it through the holder's /proc links before and after.
            var before = Oracle.Fincore(expected.Values);
            var again = ProcessFiles.Get(holder.Id).ToDictionary(f => (f.Device, f.Inode));
            var after = Oracle.Fincore(expected.Values);
            foreach (var (id, link) in expected)
                Oracle.Between(before[link], again[id].ResidentPages, after[link], $"{again[id].Path} ({link})");
        }
    }

    [Fact]
    public void Get_ANonexistentProcess_IsAnArgumentError()
    {
        int pid = int.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim()) - 1;
        Skip.If(Directory.Exists($"/proc/{pid}"), $"A process has id {pid}.");
        var e = Assert.Throws<ArgumentException>(() => ProcessFiles.Get(pid));
        Assert.Equal("processId", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => ProcessFiles.Get(0));
    }

    [Fact]
    public void Scan_CountsAFileHeldByTwoProcessesOnce_WithBoth()
    {
        var (shared, hold) = LockedFile("shared.bin", 16, 4);
        using (hold)
        using (var first = new FileHolder(("open", shared)))
        using (var second = new FileHolder(("map", shared)))
        {
            var scan = ProcessFiles.Scan([first.Id, second.Id]);
            var file = scan.Files.Single(f => f.Path == shared);
            Assert.Equal(new[] { first.Id, second.Id }.Order(), file.ProcessIds);
            Assert.Equal(FileHold.Open | FileHold.Mapped, file.Hold);
            Assert.Empty(scan.Skipped);
        }
    }

    [Fact]
    public void CacheTop_EqualsABruteForceSortOfFincore()
    {
        var locks = new List<MemoryMap>();
        var paths = new List<string>();
        // Larger than any library the interpreter maps, and locked, so the top four hold still.
        foreach (var (name, resident) in new[] { ("a.bin", 3000), ("b.bin", 2500), ("c.bin", 4000), ("d.bin", 3500), ("e.bin", 10) })
        {
            var (path, map) = LockedFile(name, 4096, resident);
            locks.Add(map);
            paths.Add(path);
        }
        try
        {
            using var holder = new FileHolder(paths.Select(p => ("open", p)).ToArray());
            var top = CacheTop.Get(4, [holder.Id]);
            var held = ProcessFiles.Get(holder.Id).Where(f => f.HostPath is not null).Select(f => f.HostPath!).ToList();
            var brute = Oracle.Fincore(held).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(4).ToList();
            Assert.Equal(brute.Select(kv => kv.Key), top.Files.Select(f => f.Path));
            Assert.Equal(brute.Select(kv => kv.Value), top.Files.Select(f => f.ResidentPages));
        }
        finally
        {
            foreach (var map in locks) map.Dispose();
        }
    }

    [Fact]
    public void Classify_NamesDeletedFilesAndMemfds()
    {
        Assert.Equal(("/a b/c", CachedFileKind.File), ProcessFiles.Classify("/a b/c"));
        Assert.Equal(("/tmp/x", CachedFileKind.Deleted), ProcessFiles.Classify("/tmp/x (deleted)"));
        Assert.Equal(("memfd:name", CachedFileKind.Memfd), ProcessFiles.Classify("/memfd:name (deleted)"));
    }
}
