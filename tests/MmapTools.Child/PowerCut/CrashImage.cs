using System.Collections.Concurrent;
using System.Diagnostics;

namespace MmapTools.PowerCut;

/// <summary>How the fixture starts a writer: the dotnet host and the test child's dll.</summary>
public sealed record WriterCommand(string Host, string Dll);

/// <summary>The page cache's view of the file when power was cut: resident and dirty pages, from cachestat and mincore.</summary>
public sealed record CacheView(long ResidentPages, long? DirtyPages, bool[] Resident, bool[] Dirty);

/// <summary>One cut: the model's verdict on the copy, the cache's view before it, and how the copy was taken.</summary>
public sealed record PowerCutRecord(
    PowerCutPlan Plan, PowerCutOutcome? Outcome, CacheView? Cache, List<string> LiveMismatch, string? MemoryFileSystem,
    int CopyAttempts, double Seconds);

/// <summary>
/// A crash image: a sparse image file attached to a loop device with direct I/O (so a write reaches
/// the image only when the kernel writes it back, never through the host's page cache), a file
/// system made on it and mounted in a private folder. <see cref="Cut"/> runs a writer in a child
/// process, stops it with SIGSTOP at its point ("cuts power"), copies the device with O_DIRECT to a
/// second image while no write to it is in flight (the copy is what the disk held at one moment),
/// kills the writer, mounts the copy (ext4 and xfs replay their journal, btrfs takes its last
/// committed tree) and reads the file back for <see cref="PowerCutModel"/>. The original is
/// unmounted while the copy is mounted: an xfs copy would need nouuid beside it, and btrfs would
/// refuse a second device with the same fsid. Everything is undone on Dispose, failures included.
/// </summary>
public sealed class CrashImage : IDisposable
{
    public static readonly string[] FileSystems = ["ext4", "xfs", "btrfs"];

    private readonly string _root;
    private readonly string _image;
    private readonly string _mount;
    private readonly string _copyMount;
    private string? _loop;
    private string? _copyLoop;
    private Process? _writer;
    private int _cuts;

    public CrashImage(string fileSystem, string? parent = null)
    {
        FileSystem = fileSystem;
        _root = Directory.CreateDirectory(Path.Combine(parent ?? Path.GetTempPath(), $"mmaptools-powercut-{fileSystem}-{Guid.NewGuid():N}")).FullName;
        _image = Path.Combine(_root, "disk.img");
        _mount = Directory.CreateDirectory(Path.Combine(_root, "mnt")).FullName;
        _copyMount = Directory.CreateDirectory(Path.Combine(_root, "copy")).FullName;
        try
        {
            using (var image = File.Create(_image)) image.SetLength(ImageBytes(fileSystem));
            _loop = Run("losetup", "--find", "--show", "--direct-io=on", _image).Trim();
            // ext4 initializes its inode tables and journal at once, not in the background: a
            // background write would keep the device from the quiet moment a copy needs.
            Run($"mkfs.{fileSystem}", fileSystem == "ext4" ? ["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", _loop] : ["-q", "-f", _loop]);
            Run("mount", _loop, _mount);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string FileSystem { get; }

    /// <summary>The smallest image each mkfs accepts, rounded up (mkfs.xfs wants 300 MiB); sparse, so it costs what is written.</summary>
    private static long ImageBytes(string fileSystem) => fileSystem switch { "xfs" => 320L << 20, "btrfs" => 128L << 20, _ => 64L << 20 };

    /// <summary>Why crash images cannot be made here, decided from the machine alone; null when they can.</summary>
    public static string? WhyNot(string fileSystem)
    {
        if (!OperatingSystem.IsLinux()) return "crash images need Linux loop devices";
        if (PowerCutNative.geteuid() != 0) return "crash images need root: losetup, mkfs and mount";
        if (!File.Exists("/dev/loop-control")) return "this machine has no loop devices (/dev/loop-control is missing)";
        if (Find("losetup") is null) return "losetup (util-linux) is missing";
        if (Find($"mkfs.{fileSystem}") is null) return $"mkfs.{fileSystem} is missing (Debian: {(fileSystem == "xfs" ? "xfsprogs" : fileSystem == "btrfs" ? "btrfs-progs" : "e2fsprogs")}; the test run installs it as root)";
        if (!File.ReadLines("/proc/filesystems").Any(l => l.Split('\t').LastOrDefault() == fileSystem)) return $"this kernel has no {fileSystem}";
        return null;
    }

    /// <summary>
    /// Runs the plan's writer on a file of the image, cuts power at its point, and judges the copy.
    /// Cuts on the same image use files of their own.
    /// </summary>
    public PowerCutRecord Cut(PowerCutPlan plan, WriterCommand command)
    {
        var watch = Stopwatch.StartNew();
        int pageSize = MemoryMap.PageSize;
        string name = $"cut{++_cuts}.bin";
        string path = plan.OnDisk ? Path.Combine(_mount, name) : $"mmaptools-powercut-{Environment.ProcessId}-{_cuts}";
        if (plan.Prepared)
        {
            var bytes = new byte[plan.Pages * pageSize];
            for (int p = 0; p < plan.Pages; p++) PowerCutPlan.Fill(bytes.AsSpan(p * pageSize, pageSize), (long)p * pageSize, 0);
            using (var file = new FileStream(path, FileMode.Create, FileAccess.Write))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }
        }
        PowerCutNative.SyncDirectory(_mount);

        var lines = new BlockingCollection<string>();
        var info = new ProcessStartInfo(command.Host) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[command.Dll, "power-cut-writer", path, .. plan.ToArguments()]) info.ArgumentList.Add(argument);
        info.Environment["DOTNET_DbgEnableMiniDump"] = "0"; // killed at the cut: no dump,
        info.Environment["DOTNET_EnableDiagnostics"] = "0"; // and no diagnostic pipes left in /tmp
        _writer = Process.Start(info) ?? throw new InvalidOperationException("the writer did not start");
        var stderr = _writer.StandardError.ReadToEndAsync();
        var writer = _writer;
        var reader = Task.Run(() =>
        {
            while (writer.StandardOutput.ReadLine() is { } line) lines.Add(line);
            lines.CompleteAdding();
        });
        string? memoryFileSystem = null;
        bool stopped = false;
        while (!stopped)
        {
            if (!lines.TryTake(out string? line, TimeSpan.FromSeconds(120)))
            {
                if (!lines.IsCompleted) throw new TimeoutException($"the writer of '{plan}' printed nothing for 120 s");
                _writer.WaitForExit();
                if (_writer.ExitCode != 0) throw new InvalidOperationException($"the writer of '{plan}' failed (exit {_writer.ExitCode}): {stderr.Result}");
                break; // it exited: the cut comes after its end
            }
            if (line.StartsWith("tmpfs ", StringComparison.Ordinal))
                memoryFileSystem = PowerCutNative.FileSystemType(line[6..]) == PowerCutNative.TMPFS_MAGIC ? "tmpfs" : $"f_type 0x{PowerCutNative.FileSystemType(line[6..]):x}";
            if (line is "point" or "end")
            {
                if (PowerCutNative.kill(_writer.Id, PowerCutNative.SIGSTOP) != 0) throw new InvalidOperationException("SIGSTOP of the writer failed");
                stopped = true;
            }
        }

        CacheView? cache = plan.OnDisk && File.Exists(path) ? ReadCache(path) : null;
        // What the running system shows at the cut: every byte written through a shared map is
        // readable (nothing dropped, by Evict or anything else), whatever the disk holds. Only
        // where the writer waits at its point: after point-go it may be part-way through a write.
        var liveMismatch = new List<string>();
        bool waiting = plan.Steps.Take(PowerCutModel.CutStep(plan) + 1).Contains("point") || !stopped;
        if (plan.SharedFile && waiting && File.Exists(path))
        {
            var live = new DiskFile(true, new FileInfo(path).Length, File.ReadAllBytes(path));
            var latest = PowerCutModel.Evaluate(plan with { Steps = [.. plan.Steps.Select(s => s.StartsWith("point", StringComparison.Ordinal) ? "fsync" : s), "point"] }, live, pageSize);
            liveMismatch.AddRange(latest.Broken);
            liveMismatch.AddRange(latest.Garbage);
            liveMismatch.AddRange(latest.Pages.Select((state, p) => (state, p)).Where(x => x.state != DiskPage.Newest && x.state != DiskPage.Old).Select(x => $"page {x.p} reads {x.state} in the running system"));
        }

        string copy = Path.Combine(_root, "copy.img");
        int attempts = CopyQuiet(copy);
        StopWriter();
        reader.Wait(TimeSpan.FromSeconds(10));

        DiskFile disk;
        Run("umount", _mount);
        try
        {
            _copyLoop = Run("losetup", "--find", "--show", copy).Trim();
            Run("mount", _copyLoop, _copyMount);
            string copied = Path.Combine(_copyMount, name);
            disk = plan.OnDisk && File.Exists(copied) ? new DiskFile(true, new FileInfo(copied).Length, File.ReadAllBytes(copied)) : DiskFile.Absent;
            Run("umount", _copyMount);
            Run("losetup", "-d", _copyLoop);
            _copyLoop = null;
            File.Delete(copy);
        }
        finally
        {
            Run("mount", _loop!, _mount);
        }
        var outcome = plan.OnDisk ? PowerCutModel.Evaluate(plan, disk, pageSize) : null;
        return new PowerCutRecord(plan, outcome, cache, liveMismatch, memoryFileSystem, attempts, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Residency with dirty pages (cachestat halving the range) and the per-page bitmap (mincore).</summary>
    private static CacheView ReadCache(string path)
    {
        var residency = PageCache.GetResidency(path, detail: ResidencyDetail.Bitmap);
        var resident = new bool[residency.TotalPages];
        var dirty = new bool[residency.TotalPages];
        foreach (var run in residency.ResidentRuns ?? []) for (long p = run.FirstPage; p < run.FirstPage + run.PageCount; p++) resident[p] = true;
        foreach (var run in residency.DirtyRuns ?? []) for (long p = run.FirstPage; p < run.FirstPage + run.PageCount; p++) dirty[p] = true;
        return new CacheView(residency.ResidentPages, residency.DirtyPages, resident, dirty);
    }

    /// <summary>
    /// Copies the loop device with O_DIRECT to <paramref name="copy"/>, again until no write to it
    /// completed or was in flight while it ran (the kernel's own write-back goes on while the writer
    /// is stopped): such a copy is the disk at one moment. Returns the attempts it took.
    /// </summary>
    private int CopyQuiet(string copy)
    {
        string stat = $"/sys/block/{Path.GetFileName(_loop)}/stat";
        for (int attempt = 1; attempt <= 50; attempt++)
        {
            string before = WriteCounters(stat);
            Run("dd", $"if={_loop}", $"of={copy}", "bs=1M", "iflag=direct", "conv=sparse", "status=none");
            if (before == WriteCounters(stat) && before.EndsWith(" 0", StringComparison.Ordinal)) return attempt;
            Thread.Sleep(20 * attempt);
        }
        throw new InvalidOperationException($"{_loop} was written to during each of 50 copies: no quiet moment to copy");
    }

    /// <summary>Writes completed, sectors written and I/O in flight (fields 5, 7 and 9 of the block device's stat).</summary>
    private static string WriteCounters(string stat)
    {
        string[] fields = File.ReadAllText(stat).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return $"{fields[4]} {fields[6]} {fields[8]}";
    }

    private void StopWriter()
    {
        if (_writer is null) return;
        try
        {
            if (!_writer.HasExited)
            {
                PowerCutNative.kill(_writer.Id, PowerCutNative.SIGKILL);
                _writer.WaitForExit(30_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _writer.Dispose();
        _writer = null;
    }

    public void Dispose()
    {
        var problems = new List<string>();
        void Undo(string what, Action action)
        {
            try { action(); }
            catch (Exception e) { problems.Add($"{what}: {e.Message}"); }
        }
        Undo("kill the writer", StopWriter);
        if (IsMounted(_copyMount)) Undo("unmount the copy", () => Run("umount", _copyMount));
        if (_copyLoop is not null) Undo("detach the copy", () => Run("losetup", "-d", _copyLoop));
        if (IsMounted(_mount)) Undo("unmount the image", () => Run("umount", _mount));
        if (_loop is not null) Undo("detach the image", () => Run("losetup", "-d", _loop));
        _copyLoop = _loop = null;
        Undo("delete the images", () => Directory.Delete(_root, recursive: true));
        if (problems.Count > 0) throw new InvalidOperationException($"the crash image at {_root} was not cleaned up: {string.Join("; ", problems)}");
    }

    private static bool IsMounted(string directory) =>
        File.ReadLines("/proc/mounts").Any(l => l.Split(' ') is [_, var target, ..] && target == directory);

    /// <summary>Mounts and loop devices of crash images still present (the suite checks there are none at its end).</summary>
    public static List<string> Leftovers()
    {
        var found = File.ReadLines("/proc/mounts").Where(l => l.Contains("mmaptools-powercut-", StringComparison.Ordinal)).ToList();
        if (Find("losetup") is not null && PowerCutNative.geteuid() == 0)
            found.AddRange(Run("losetup", "-a").Split('\n').Where(l => l.Contains("mmaptools-powercut-", StringComparison.Ordinal)));
        return found;
    }

    private static string? Find(string program) =>
        "/usr/sbin:/sbin:/usr/bin:/bin".Split(':').Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            .Select(folder => Path.Combine(folder, program)).FirstOrDefault(File.Exists);

    private static string Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(Find(program) ?? program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {error.Result.Trim()}");
        return output;
    }
}
