using System.Diagnostics;
using Xunit.Abstractions;

namespace MmapTools.Hardening;

/// <summary>
/// What the child-process tests share. Each runs in a child process (tests/MmapTools.Child)
/// so that a core that lets a SIGBUS or SIGSEGV through kills the child, not the test host: the
/// child's exit status and report tell. A fatal signal in managed code makes the .NET runtime abort
/// (exit 134); a clean run exits 0 with a JSON report on its last line. Counts scale with
/// <c>MMAPTOOLS_HARDENING_SCALE</c> (default 1; build.ps1 fuzz sets more). The three are classes of
/// their own so that xunit runs them side by side.
/// </summary>
internal static class ChildRuns
{
    public static readonly int PageSize = Machine.PageSize;

    public static int Scale => int.TryParse(Environment.GetEnvironmentVariable("MMAPTOOLS_HARDENING_SCALE"), out int scale) && scale > 0 ? scale : 1;

    public static void AssertRanToItsEnd(ChildResult result)
    {
        Assert.False(result.StandardError.Contains("Fatal error.", StringComparison.Ordinal), $"The child died of a fatal signal.\n{result}");
        Assert.True(result.ExitCode == 0, $"The child did not run to its end.\n{result}");
    }
}

/// <summary>Maps removed on one thread while others read, write, sync, advise and ask residency.</summary>
public sealed class ConcurrencyTests(ITestOutputHelper output)
{
    private static int Scale => ChildRuns.Scale;

    private static void AssertRanToItsEnd(ChildResult result) => ChildRuns.AssertRanToItsEnd(result);

    [Fact]
    public void Dispose_RacingReadWriteSyncAdviseResidency_EveryCallCompletesOrThrowsObjectDisposed()
    {
        // The overlap of a call with Dispose is a race; on a loaded machine a run can miss it, so the
        // run is repeated (each checked in full) until a call was in flight across a Dispose.
        long overlapped = 0;
        for (int attempt = 1; attempt <= 5 && overlapped == 0; attempt++)
            overlapped = RaceDisposeWithCalls();
        Assert.True(overlapped > 0, "No call was in flight across a Dispose in five runs: the race was never run.");
    }

    /// <summary>One run of the race; checks every invariant and returns how many calls outlived a Dispose.</summary>
    private long RaceDisposeWithCalls()
    {
        using var dir = new TempDir();
        int rounds = 3000 * Scale;

        var result = Child.Run([], "race", dir.Path, rounds.ToString(), Random.Shared.Next().ToString());

        AssertRanToItsEnd(result);
        var report = result.Report;
        output.WriteLine(report.ToString());
        string samples = Report.Samples(report);
        Assert.True(Report.Count(report, "other") == 0, $"Calls failed with something other than ObjectDisposedException:\n{samples}");
        Assert.True(Report.Count(report, "corrupt") == 0, $"Reads returned wrong bytes:\n{samples}");
        Assert.True(Report.Count(report, "after-dispose.not-refused") == 0, $"Calls after Dispose were not refused:\n{samples}");
        Assert.Equal(rounds, Report.Count(report, "disposes"));
        Assert.Equal(9L * rounds, Report.Count(report, "after-dispose.refused"));
        // Each worker ends each round on an ObjectDisposedException: the races happened, and were refused cleanly.
        long refused = Report.Sum(report, k => k.EndsWith(".disposed", StringComparison.Ordinal));
        Assert.Equal(2L * rounds, refused);
        long completed = Report.Sum(report, k => k.EndsWith(".completed", StringComparison.Ordinal));
        Assert.True(completed > rounds, $"Only {completed} calls completed in {rounds} rounds.");
        // Calls in flight when Dispose was called that completed after it returned: the unmap waited.
        return Report.Count(report, "overlapped");
    }
}

/// <summary>Another process truncates and extends a mapped file while it is used.</summary>
public sealed class TruncationTests(ITestOutputHelper output)
{
    private static readonly int PageSize = ChildRuns.PageSize;

    private static int Scale => ChildRuns.Scale;

    private static void AssertRanToItsEnd(ChildResult result) => ChildRuns.AssertRanToItsEnd(result);

    [Fact]
    public void AnotherProcess_TruncatesAndExtends_WhileTheMapIsUsed_ClearErrorsAndTheBytesBeforeTheCutIntact()
    {
        // The cuts race the child's calls; on a loaded machine a short run can miss every one, so
        // the run is repeated (each checked in full) until a call has met a cut page.
        long unavailable = 0;
        for (int attempt = 1; attempt <= 5 && unavailable == 0; attempt++)
            unavailable = TruncateAndExtendWhileTheMapIsUsed();
        Assert.True(unavailable > 0, "No read or write met a truncated page in five runs: the race with the truncation never happened.");
    }

    /// <summary>One run of the race; checks every invariant and returns how many calls met a cut page.</summary>
    private long TruncateAndExtendWhileTheMapIsUsed()
    {
        using var dir = new TempDir();
        string path = dir["victim.bin"];
        int size = 32 * PageSize;
        long minSize = 5 * PageSize + 123;
        var content = new byte[size];
        Content.Fill(0, content);
        File.WriteAllBytes(path, content);
        int opsPerWorker = 15_000 * Scale;

        using var child = Child.Start([], "truncation-victim", path, minSize.ToString(), opsPerWorker.ToString(), Random.Shared.Next().ToString());
        child.WaitForLine("ready", Child.Timeout);
        // This process is the other party: it cuts and regrows the file until the child has done its work.
        var random = new Random();
        long cuts = 0, growths = 0;
        var clock = Stopwatch.StartNew();
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            while (!child.HasExited && clock.Elapsed < Child.Timeout)
            {
                long cut = minSize + random.NextInt64(0, size - minSize);
                stream.SetLength(cut);
                cuts++;
                stream.SetLength(random.Next(4) == 0 ? size : random.NextInt64(cut, size + 1));
                growths++;
            }
            stream.SetLength(size);
        }
        Assert.True(child.WaitForExit(TimeSpan.FromSeconds(60)), "The child did not end.");
        var result = child.Finish();
        AssertRanToItsEnd(result);
        var report = result.Report;
        output.WriteLine($"{cuts} cuts, {growths} growths in {clock.Elapsed.TotalSeconds:0.0} s\n{report}");
        string samples = Report.Samples(report);
        Assert.True(Report.Count(report, "other") == 0, $"Calls failed with something other than a clear error:\n{samples}");
        Assert.True(Report.Count(report, "corrupt") == 0, $"Reads returned bytes the file never held:\n{samples}");
        Assert.True(Report.Count(report, "unclear") == 0, $"PageUnavailable messages that do not name the truncation:\n{samples}");
        long unavailable = Report.Sum(report, k => k.EndsWith(".page-unavailable", StringComparison.Ordinal));
        Assert.True(Report.Count(report, "read.completed") > 0 && Report.Count(report, "write.completed") > 0
            && Report.Count(report, "sync.completed") > 0 && Report.Count(report, "residency.completed") > 0, "Some kind of call never completed.");

        // What was written before the truncation point is intact; past it, the pattern or zeros.
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(size, bytes.Length);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != content[i] && (i < minSize || bytes[i] != 0))
                Assert.Fail($"File byte {i} is {bytes[i]}, expected {content[i]}{(i < minSize ? "" : " or 0")}.");
        }
        return unavailable;
    }
}

/// <summary>Synced writes survive SIGKILL of the writer and are on the file.</summary>
public sealed class DurabilityTests(ITestOutputHelper output)
{
    private static readonly int PageSize = ChildRuns.PageSize;

    private static int Scale => ChildRuns.Scale;

    /// <summary>
    /// A writer child maps the file shared, writes round N's pattern, syncs with MS_SYNC, prints
    /// "synced N" and is killed with SIGKILL the moment the line arrives. The file must hold round
    /// N's bytes. Honestly: SIGKILL of a process does not lose the page cache, so that alone would
    /// hold without msync too. The stronger check is that the bytes are on the file, not only in
    /// memory: right after the kill, cachestat must count no dirty page, and POSIX_FADV_DONTNEED
    /// (which drops only clean pages) must empty the cache, so that the bytes read back next come
    /// from the device. Pages the sync had not written would still be dirty and stay cached.
    /// </summary>
    [Fact]
    public void SyncedWrites_SurviveSigkillOfTheWriter_AndAreOnTheFile_NotOnlyInTheCache()
    {
        using var dir = new TempDir();
        int size = 16 * PageSize + 100;
        int rounds = 100 * Scale;
        // Four files, a writer at a time on each: the rounds' MS_SYNCs wait on the disk, not on each other.
        const int Files = 4;
        long done = 0;
        Parallel.For(0, Files, new ParallelOptions { MaxDegreeOfParallelism = Files }, lane =>
        {
            string path = dir[$"durable{lane}.bin"];
            var expected = new byte[size];
            for (int round = lane + 1; round <= rounds; round += Files)
            {
                DurabilityRound(path, round, size, expected);
                Interlocked.Increment(ref done);
            }
        });
        Assert.Equal(rounds, done);
        output.WriteLine($"{rounds} rounds: each writer killed with SIGKILL right after 'synced', every synced byte read back from the device.");
    }

    private static void DurabilityRound(string path, int round, int size, byte[] expected)
    {
        int pages = (size + PageSize - 1) / PageSize;
        using (var child = Child.Start([], "writer", path, round.ToString(), size.ToString()))
        {
            string line = child.WaitForLine("synced ", Child.Timeout);
            child.Kill();
            Assert.True(child.WaitForExit(TimeSpan.FromSeconds(30)), $"Round {round}: the writer did not die.");
            Assert.True(child.Finish().ExitCode == 137, $"Round {round}: the writer did not die of SIGKILL.\n{child.Finish()}");
            Assert.Equal($"synced {round} 0", line); // the writer saw no dirty page after its MS_SYNC
        }
        var afterKill = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        Assert.True(afterKill.DirtyPages == 0, $"Round {round}: {afterKill.DirtyPages} dirty pages after the synced writer died.");
        PageCache.Evict(path);
        var evicted = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        Assert.True(evicted.ResidentPages == 0, $"Round {round}: {evicted.ResidentPages} of {pages} pages stayed cached after DONTNEED: not clean, not on the file.");
        Content.Fill(0, expected, round);
        var actual = File.ReadAllBytes(path);
        Assert.Equal(size, actual.Length);
        int differs = Enumerable.Range(0, size).FirstOrDefault(i => actual[i] != expected[i], -1);
        Assert.True(differs < 0, $"Round {round}: byte {differs} read back from the device is {(differs < 0 ? 0 : actual[differs])}, expected {(differs < 0 ? 0 : expected[differs])}.");
    }

    /// <summary>
    /// The control for the test above: without the sync, the killed writer's pages are still dirty
    /// in the cache and DONTNEED cannot drop them, so the stronger check would see a missing sync.
    /// (The kernel writes dirty pages back after about 30 s, dirty_expire_centisecs, so right after
    /// the kill they are dirty unless memory is short.)
    /// </summary>
    [SkippableFact]
    public void UnsyncedWrites_StayDirtyInTheCache_SoTheDurabilityCheckWouldSeeAMissingSync()
    {
        using var dir = new TempDir();
        string path = dir["control.bin"];
        int size = 16 * PageSize;
        using (var child = Child.Start([], "writer", path, "1", size.ToString(), "nosync"))
        {
            child.WaitForLine("written 1", Child.Timeout);
            child.Kill();
            Assert.True(child.WaitForExit(TimeSpan.FromSeconds(30)));
        }
        var afterKill = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        // The flusher may write the pages back at any moment (its timer, memory pressure). Read after
        // the tool, the kernel's own dirty flags (kpageflags, root only) say whether the pages were
        // dirty all along, and so whether this run can show the control at all.
        int[] dirty = Enumerable.Range(0, size / PageSize).Where(page => KernelPageFlags.IsDirty(path, (long)page * PageSize) == true).ToArray();
        bool kernelTells = KernelPageFlags.IsDirty(path, 0) is not null;
        Skip.If(kernelTells && dirty.Length == 0,
            $"The kernel wrote the unsynced pages back before the check (dirty_expire_centisecs {File.ReadAllText("/proc/sys/vm/dirty_expire_centisecs").Trim()}): nothing is left dirty to show.");
        PageCache.Evict(path);
        var afterEvict = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        output.WriteLine($"without sync: {dirty.Length} pages dirty by kpageflags, {afterKill.DirtyPages} by the tool after the kill, {afterEvict.ResidentPages} cached after DONTNEED");
        Assert.True(afterKill.DirtyPages > 0, "The tool counts no dirty page of the unsynced file.");
        Assert.True(afterEvict.ResidentPages > 0, "DONTNEED dropped dirty pages.");
        // The bytes are there all the same (SIGKILL does not lose the page cache): not what the sync is for.
        var expected = new byte[size];
        Content.Fill(0, expected, 1);
        Assert.Equal(expected, File.ReadAllBytes(path));
    }
}
