using System.Text.Json;
using Xunit.Abstractions;

namespace MmapTools.Hardening;

/// <summary>
/// Running out of maps, address space, locked memory, /dev/shm and huge pages,
/// each a clear error (or a documented fallback), and the residency of a file another user cannot
/// write read as that user. What may take the process down runs in the child.
/// </summary>
public sealed class LimitsTests(ITestOutputHelper output)
{
    private static readonly int PageSize = Machine.PageSize;

    private static JsonElement RunToItsEnd(string[] wrapper, params string[] arguments)
    {
        var result = Child.Run(wrapper, arguments);
        Assert.True(result.ExitCode == 0, $"The child did not run to its end.\n{result}");
        return result.Report;
    }

    private static void AssertError(JsonElement error, string type, string reason, params string[] phrases)
    {
        Assert.True(error.ValueKind == JsonValueKind.Object, $"Expected an error, got {error}.");
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(reason, error.GetProperty("reason").GetString());
        string message = error.GetProperty("message").GetString()!;
        foreach (string phrase in phrases) Assert.Contains(phrase, message);
    }

    // ------------------------------------------------------------ vm.max_map_count

    /// <summary>
    /// One-page maps (alternating protections, so the kernel cannot merge them) until refused. The
    /// .NET runtime aborts the process when it cannot map memory for its JIT (each compiled method
    /// maps a view under W^X) or GC, so the core refuses first, 1024 maps short of the limit, with
    /// MapLimit; the process lives on and maps again once maps are freed.
    /// </summary>
    [Fact]
    public void MapsUpToVmMaxMapCount_AreRefusedWithMapLimit_BeforeTheRuntimeRunsOut()
    {
        var report = RunToItsEnd([], "max-map-count");
        output.WriteLine(report.ToString());
        long limit = report.GetProperty("limit").GetInt64();
        AssertError(report.GetProperty("error"), "MemoryMapException", "MapLimit", "vm.max_map_count", limit.ToString());
        // The core leaves the runtime the reserve its message names: it refused with the process's
        // maps, as the kernel counts them (the runtime's own included, however many this runtime
        // has), inside that reserve and short of the limit.
        var reserve = System.Text.RegularExpressions.Regex.Match(report.GetProperty("error").GetProperty("message").GetString()!, @"the last (\d+) are left");
        Assert.True(reserve.Success, "The MapLimit message does not name the reserve it leaves.");
        Assert.InRange(report.GetProperty("mapsAtRefusal").GetInt64(), limit - long.Parse(reserve.Groups[1].Value), limit - 1);
        Assert.True(report.GetProperty("made").GetInt64() > 0);
        Assert.True(report.GetProperty("recovered").GetBoolean());
    }

    /// <summary>
    /// When maps made outside the core fill the process to the limit, the kernel's ENOMEM reaches the
    /// core, whose error counts the maps and names vm.max_map_count. The runtime itself may abort
    /// before (it needs maps to JIT the error path, or for tiered recompilation): then its own fatal
    /// message names the limit. This is outside the core's reach and documented; either way the limit is named.
    /// </summary>
    [Fact]
    public void MapsMadeByOthers_FillingVmMaxMapCount_TheErrorNamesTheLimit()
    {
        // Without W^X the runtime needs no new map to JIT code: with it, a JIT at the limit made the
        // runtime fail to release its double-mapped code and hang instead of exiting.
        var result = Child.Run(["env", "DOTNET_EnableWriteXorExecute=0"], "max-map-count-foreign");
        output.WriteLine(result.ToString());
        if (result.ExitCode == 0)
        {
            var error = result.Report.GetProperty("error");
            if (error.GetProperty("type").GetString() == "OutOfMemoryException") return; // the GC could not commit: no crash, no detail
            AssertError(error, "SystemCallException", "ENOMEM", "vm.max_map_count", "This process has");
        }
        else
        {
            Assert.Contains("vm.map_max_count", result.StandardError); // the runtime's own spelling
        }
    }

    // ------------------------------------------------------------ address space and overcommit

    [Fact]
    public void HugeNoReserveMaps_UntilTheAddressSpaceIsGone_ThenTheOvercommitCharge_AreClearErrors()
    {
        var report = RunToItsEnd([], "address-space");
        output.WriteLine(report.ToString());
        Assert.True(report.GetProperty("made").GetInt32() >= 1, "Not even one 64 TiB NoReserve map was given.");
        Assert.True(report.GetProperty("usable").GetBoolean());
        AssertError(report.GetProperty("exhausted"), "SystemCallException", "ENOMEM", "address space", "64 TiB");
        // Without NoReserve, the heuristic (0) or strict (2) overcommit refuses 64 TiB; "always" (1) gives it.
        if (report.GetProperty("overcommit").GetString() != "1")
            AssertError(report.GetProperty("charged"), "SystemCallException", "ENOMEM", "vm.overcommit_memory", "NoReserve");
    }

    [SkippableFact]
    public void AnAddressSpaceRlimit_IsNamedWhenItRefusesTheMap()
    {
        Skip.If(Machine.Find("prlimit") is null, "prlimit (util-linux) is not installed.");
        var report = RunToItsEnd(["prlimit", "--as=8589934592", "--"], "address-space");
        output.WriteLine(report.ToString());
        AssertError(report.GetProperty("exhausted"), "SystemCallException", "ENOMEM", "RLIMIT_AS", "ulimit -v");
    }

    // ------------------------------------------------------------ RLIMIT_MEMLOCK

    /// <summary>
    /// Under a 64 KiB RLIMIT_MEMLOCK, locking 1 MiB fails with ENOMEM naming the limit. Root has
    /// CAP_IPC_LOCK, which ignores the limit, so the child drops it from its bounding set (setpriv);
    /// as root with the capability the lock succeeds: the documented exception.
    /// </summary>
    [SkippableFact]
    public void LockingPastRlimitMemlock_FailsNamingTheLimit()
    {
        Skip.If(Machine.Find("prlimit") is null || Machine.Find("setpriv") is null, "prlimit and setpriv (util-linux) are not installed.");
        var report = RunToItsEnd(["prlimit", "--memlock=65536:65536", "--", "setpriv", "--bounding-set=-ipc_lock", "--"], "memlock", (1 << 20).ToString());
        output.WriteLine(report.ToString());
        AssertError(report.GetProperty("now"), "SystemCallException", "ENOMEM", "RLIMIT_MEMLOCK", "64 KiB");
        AssertError(report.GetProperty("onFault"), "SystemCallException", "ENOMEM", "RLIMIT_MEMLOCK");

        if (Machine.IsRoot)
        {
            var root = RunToItsEnd(["prlimit", "--memlock=65536:65536", "--"], "memlock", (1 << 20).ToString());
            Assert.True(root.GetProperty("now").GetProperty("locked").GetBoolean(), $"Root with CAP_IPC_LOCK could not lock: {root}");
        }
    }

    // ------------------------------------------------------------ /dev/shm full

    /// <summary>
    /// Shared memory of 4 MiB on a 1 MiB tmpfs mounted over /dev/shm in a mount namespace of the
    /// child's own. What really happens: ftruncate succeeds (tmpfs files are sparse), and the page the
    /// file system cannot give raises SIGBUS through a pointer, for a write and for a read alike
    /// (shmem allocates a page on a read fault too). The safe copy turns both into PageUnavailable
    /// that names the full file system; the pages written before stay intact.
    /// </summary>
    [SkippableFact]
    public void SharedMemoryLargerThanDevShm_WritesPastTheSpace_FailClearlyNamingTheFullFileSystem_AndHolesReadAsZeros()
    {
        Skip.IfNot(Machine.IsRoot, "Mounting a small tmpfs over /dev/shm needs root (CI runs as root).");
        Skip.If(Machine.Find("unshare") is null, "unshare (util-linux) is not installed.");
        string name = $"mmaptools-full-{Environment.ProcessId}";
        var result = Child.Run(["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /dev/shm && exec \"$@\"", "sh"],
            "shm-full", name, (4 << 20).ToString());
        Skip.If(result.ExitCode != 0 && result.StandardError.Contains("mount", StringComparison.Ordinal), $"No mount namespace here: {result.StandardError}");
        Assert.True(result.ExitCode == 0, result.ToString());
        var report = result.Report;
        output.WriteLine(report.ToString());
        Assert.True(report.GetProperty("created").GetBoolean());
        Assert.Equal(1 << 20, report.GetProperty("written").GetInt64());
        Assert.True(report.GetProperty("firstPageIntact").GetBoolean());
        AssertError(report.GetProperty("write"), "MemoryMapException", "PageUnavailable", "file system", "is full", "/dev/shm");
        // A page never written is a hole of the file: a pointer read through the map would need a page
        // tmpfs has no room for (SIGBUS), while the safe Read of a shared map preads the file, and a
        // hole reads as zeros without taking a page.
        Assert.Equal("zeros", report.GetProperty("readUnwritten").GetString());
        Assert.Equal("ok", report.GetProperty("sync").GetString());
    }

    // ------------------------------------------------------------ huge pages

    [SkippableFact]
    public void HugePages_WithNoneReserved_FailWithEnomemNamingVmNrHugepages()
    {
        long reserved = long.Parse(File.ReadAllText("/proc/sys/vm/nr_hugepages").Trim());
        Skip.If(reserved != 0, $"vm.nr_hugepages is {reserved} here; the refusal shows only with none reserved.");
        var anonymous = Assert.Throws<SystemCallException>(() => MemoryMap.Anonymous(2 << 20, new MemoryMapOptions { HugePages = true }));
        Assert.Equal("ENOMEM", anonymous.ErrorName);
        Assert.Contains("vm.nr_hugepages is 0", anonymous.Message);
        var memfd = Assert.Throws<SystemCallException>(() => MemoryMap.Memfd("mmaptools-huge", 2 << 20, new MemoryMapOptions { HugePages = true }));
        Assert.Equal("ENOMEM", memfd.ErrorName);
        Assert.Contains("vm.nr_hugepages", memfd.Message);
        output.WriteLine(anonymous.Message);
    }

    // ------------------------------------------------------------ another user: cachestat refused, mincore untrusted

    /// <summary>
    /// A root-owned 0644 file, a quarter of it cached. As root: cachestat answers the summary and
    /// mincore the runs, trusted, and both see a quarter. As nobody (setpriv): cachestat refuses
    /// (EPERM: the caller neither owns nor may write the file), so the summary falls back to mincore,
    /// and mincore of such a file does not tell: on this kernel it calls every page resident
    /// (mm/mincore.c, can_do_mincore; older notes say it shows only the caller's mapped pages). Every
    /// answer comes back IsTrusted = false with the note, and its count is not the cache's.
    /// </summary>
    [SkippableFact]
    public void Residency_AsAnotherUserWhoCannotWriteTheFile_IsMarkedUntrusted_TheKernelCallsEveryPageResident()
    {
        Skip.IfNot(Machine.IsRoot, "Switching to another user needs root (CI runs as root).");
        Skip.If(Machine.Find("setpriv") is null, "setpriv (util-linux) is not installed.");
        using var dir = new TempDir("mmaptools-unprivileged-");
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        // The build output may sit where nobody cannot go (under /root): run a copy of the child.
        string childCopy = Path.Combine(dir.Path, "child");
        Directory.CreateDirectory(childCopy);
        foreach (string file in Directory.GetFiles(Child.Directory)) File.Copy(file, Path.Combine(childCopy, Path.GetFileName(file)));
        string path = Path.Combine(dir.Path, "root-owned.bin");
        const int Pages = 64;
        var bytes = new byte[Pages * PageSize];
        Random.Shared.NextBytes(bytes);
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true); // clean pages, so that eviction drops them
        }
        File.SetUnixFileMode(path, (UnixFileMode)0b110_100_100);
        PageCache.Evict(path);
        // A quarter of the file in the cache: every fourth page faulted through a private map told
        // MADV_RANDOM (no readahead); a shared map's Read would pread the file, which reads ahead.
        using (var map = MemoryMap.OpenFile(path, options: new() { Private = true }))
        {
            map.Advise(MemoryAdvice.Random);
            for (int p = 0; p < Pages; p += 4) map.Read((long)p * PageSize, 1);
        }

        var asRoot = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        var rootSummary = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        Assert.True(asRoot.IsTrusted);
        Assert.Null(asRoot.Note);
        Assert.Equal(ResidencySource.Cachestat, rootSummary.Source);
        Assert.Equal(rootSummary.ResidentPages, asRoot.ResidentPages);
        Assert.InRange(asRoot.ResidentPages, 1, Pages - 1);

        var result = Child.Run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
            Path.Combine(childCopy, "MmapTools.Child.dll"), ["residency", path]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var report = result.Report;
        output.WriteLine(report.ToString());
        foreach (string answer in new[] { "summary", "runs", "map" })
        {
            var r = report.GetProperty(answer);
            Assert.Equal("Mincore", r.GetProperty("source").GetString());
            Assert.False(r.GetProperty("trusted").GetBoolean(), $"{answer}: {r}");
            Assert.Contains("neither owns nor may write", r.GetProperty("note").GetString());
        }
        // Why: the kernel hides the page cache from nobody; what mincore says is not what root sees.
        long nobodySees = report.GetProperty("runs").GetProperty("resident").GetInt64();
        output.WriteLine($"root sees {asRoot.ResidentPages} of {Pages} pages cached, mincore as nobody says {nobodySees}");
        Assert.NotEqual(asRoot.ResidentPages, nobodySees);
    }
}
