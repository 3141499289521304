using System.Diagnostics;
using System.Text.Json;
using MmapTools;
using MmapTools.Testing;

// The tests' child process: every scenario does something that kills a process, or may kill it if
// the core is wrong (a pointer read of a truncated file or a guard page, a race of Dispose with
// operations, a file truncated under a map, running out of maps or address space), or that needs a
// process of its own (a lowered rlimit, another user, a private /dev/shm, a SIGKILL). Usage:
// MmapTools.Child <scenario> [arguments], the scenarios and their arguments as listed below.
// Two kinds of report on stdout: a scenario meant to die prints "READY" right before the step that
// should kill it, and "SURVIVED" (exit 0, which the parent reports as a failure) if it did not die;
// the others print one JSON object on the last line ("result {...}") and exit with 0, with lines
// ("ready", "synced N") that let the parent act at the right moment without sleeping.
// Exit codes: 0 ran (the parent judges the report), 2 usage, 3 set-up failed, 4 a worker hung.

var scenarios = new (string Name, string Arguments, Func<string[], int> Run)[]
{
    ("sigbus-span", "[directory]", a => Scenarios.SigbusThroughSpan(a.Length > 1 ? a[1] : Path.GetTempPath())),
    ("sigsegv-span", "", _ => Scenarios.SigsegvThroughSpan()),
    ("race", "<dir> <rounds> <seed>", a => Scenarios.Race(a[1], int.Parse(a[2]), int.Parse(a[3]))),
    ("truncation-victim", "<path> <minSize> <opsPerWorker> <seed>", a => Scenarios.TruncationVictim(a[1], long.Parse(a[2]), int.Parse(a[3]), int.Parse(a[4]))),
    ("writer", "<path> <round> <size> [nosync]", a => Scenarios.Writer(a[1], int.Parse(a[2]), int.Parse(a[3]), sync: a.Length < 5 || a[4] != "nosync")),
    ("max-map-count", "", _ => Scenarios.MaxMapCount()),
    ("max-map-count-foreign", "", _ => Scenarios.MaxMapCountForeign()),
    ("address-space", "", _ => Scenarios.AddressSpace()),
    ("memlock", "<bytes>", a => Scenarios.Memlock(long.Parse(a[1]))),
    ("shm-full", "<name> <size>", a => Scenarios.SharedMemoryFull(a[1], long.Parse(a[2]))),
    ("residency", "<path>", a => Scenarios.Residency(a[1])),
    ("walk", "<root> <threads> [follow]", a => Scenarios.Walk(a[1], int.Parse(a[2]), follow: a.Length > 3 && a[3] == "follow")),
    ("power-cut", "<file system> <rounds> <scenario|all>...", a => MmapTools.PowerCut.PowerCutRun.Run(a[1], int.Parse(a[2]), a[3..])),
    ("power-cut-writer", "<path> <plan>", a => MmapTools.PowerCut.PowerCutWriter.Run(a[1], MmapTools.PowerCut.PowerCutPlan.Parse(a[2..]))),
};

if (args.Length < 1) return Usage("no scenario");
var scenario = scenarios.FirstOrDefault(s => s.Name == args[0]);
if (scenario.Run is null) return Usage($"unknown scenario '{args[0]}'");

try
{
    return scenario.Run(args);
}
catch (IndexOutOfRangeException)
{
    return Usage($"missing arguments for '{args[0]}'");
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    Console.Error.WriteLine($"SETUP-FAILED {e.GetType().FullName}: {e.Message}");
    return 3;
}

int Usage(string problem)
{
    Console.Error.WriteLine($"{problem}\nusage: MmapTools.Child " + string.Join(" | ", scenarios.Select(s => $"{s.Name} {s.Arguments}".TrimEnd())));
    return 2;
}

/// <summary>What the scenarios share: the report lines.</summary>
internal static class Shared
{
    public static void Line(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    public static void Result(object report) => Line("result " + JsonSerializer.Serialize(report));

    public static Dictionary<string, object?> Error(Exception e) => new()
    {
        ["type"] = e.GetType().Name,
        ["reason"] = (e as MemoryMapException)?.Reason,
        ["message"] = e.Message,
    };
}

/// <summary>Counts of outcomes by operation, safe to add to from many threads.</summary>
internal sealed class Tally
{
    private readonly Dictionary<string, long> _counts = [];
    private readonly List<string> _samples = [];

    public void Add(string key, long count = 1)
    {
        lock (_counts) _counts[key] = _counts.GetValueOrDefault(key) + count;
    }

    /// <summary>Keeps the first few unexpected failures whole, for the parent's message.</summary>
    public void Sample(string text)
    {
        lock (_samples) if (_samples.Count < 10) _samples.Add(text);
    }

    public long this[string key]
    {
        get { lock (_counts) return _counts.GetValueOrDefault(key); }
    }

    public SortedDictionary<string, long> Counts
    {
        get { lock (_counts) return new(_counts); }
    }

    public List<string> Samples
    {
        get { lock (_samples) return [.. _samples]; }
    }
}

internal static class Scenarios
{
    private static readonly int PageSize = MemoryMap.PageSize;

    // ------------------------------------------------------------ race

    /// <summary>
    /// Rounds of Dispose racing Read, Write, Sync, Advise, GetResidency and Address on worker threads.
    /// Every call must complete (reads with the right bytes) or throw ObjectDisposedException; the
    /// tally's "other" counts anything else. The maps alternate between a file window at an odd
    /// offset, private anonymous memory and shared memory. In some rounds two threads dispose at once.
    /// </summary>
    public static int Race(string directory, int rounds, int seed)
    {
        const int Workers = 2;
        var random = new Random(seed);
        string path = Path.Combine(directory, "race.bin");
        int fileSize = 16 * PageSize;
        var content = new byte[fileSize];
        Content.Fill(0, content);
        File.WriteAllBytes(path, content);
        string shmName = $"mmaptools-race-{Environment.ProcessId}";

        var tally = new Tally();
        MemoryMap? current = null;
        long windowOffset = 0;
        int round = 0, finished = 0;
        bool stop = false, disposing = false, disposed = false;
        // Hand-offs spin (yielding the core now and then) rather than block: a blocked thread takes
        // milliseconds to wake on a small VM, which would make each round that long.
        var threads = new Thread[Workers];
        for (int w = 0; w < Workers; w++)
        {
            int workerSeed = random.Next();
            threads[w] = new Thread(() =>
            {
                var rnd = new Random(workerSeed);
                var buffer = new byte[2 * PageSize];
                int seen = 0;
                while (true)
                {
                    for (int spins = 0; Volatile.Read(ref round) == seen && !Volatile.Read(ref stop); spins++) Pause(spins);
                    if (Volatile.Read(ref stop)) return;
                    seen = Volatile.Read(ref round);
                    var map = Volatile.Read(ref current)!;
                    long baseOffset = Volatile.Read(ref windowOffset);
                    while (true)
                    {
                        // An operation that began before Dispose was called and completed after it
                        // returned is one the unmap had to wait for: the race was real.
                        bool before = !Volatile.Read(ref disposing);
                        if (!RaceStep(map, baseOffset, rnd, buffer, tally)) break;
                        if (before && Volatile.Read(ref disposed)) tally.Add("overlapped");
                    }
                    Interlocked.Increment(ref finished);
                }
            }) { IsBackground = true, Name = $"race-worker-{w}" };
            threads[w].Start();
        }

        long started = Stopwatch.GetTimestamp();
        try
        {
            for (int r = 0; r < rounds; r++)
            {
                int kind = r % 3;
                long offset = kind == 0 ? random.Next(1, PageSize) : 0;
                MemoryMap map = kind switch
                {
                    0 => MemoryMap.OpenFile(path, offset, fileSize - offset - random.Next(0, PageSize),
                        new MemoryMapOptions { Access = MapAccess.ReadWrite }),
                    1 => MemoryMap.Anonymous(random.Next(1, 8) * PageSize + random.Next(0, PageSize)),
                    _ => MemoryMap.SharedMemory(shmName, 4 * PageSize),
                };
                if (kind == 1) map.Write(0, content.AsSpan(0, (int)map.Length)); // so reads know what to expect
                else if (kind == 2) map.Write(0, content.AsSpan(0, 4 * PageSize));
                Volatile.Write(ref current, map);
                Volatile.Write(ref windowOffset, offset);
                Volatile.Write(ref disposing, false);
                Volatile.Write(ref disposed, false);
                Volatile.Write(ref finished, 0);
                Volatile.Write(ref round, r + 1); // the workers go
                Thread.SpinWait(random.Next(0, 5_000)); // varies the moment of the race, not a synchronization
                Volatile.Write(ref disposing, true);
                if (random.Next(4) == 0)
                {
                    // Two threads remove the map at once: both return, the unmap happens once.
                    var second = new Thread(map.Dispose);
                    second.Start();
                    map.Dispose();
                    second.Join();
                }
                else
                {
                    map.Dispose();
                }
                Volatile.Write(ref disposed, true);
                tally.Add("disposes");
                AfterDispose(map, tally);
                var waited = Stopwatch.StartNew();
                for (int spins = 0; Volatile.Read(ref finished) < Workers; spins++)
                {
                    Pause(spins);
                    if (waited.Elapsed > TimeSpan.FromSeconds(60))
                    {
                        Shared.Line("result " + JsonSerializer.Serialize(new { hung = true, round = r }));
                        return 4;
                    }
                }
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            foreach (var thread in threads) thread.Join(TimeSpan.FromSeconds(10));
            try { MemoryMap.RemoveSharedMemory(shmName); } catch (MemoryMapException) { }
        }
        Shared.Result(new
        {
            rounds,
            seconds = Stopwatch.GetElapsedTime(started).TotalSeconds,
            counts = tally.Counts,
            samples = tally.Samples,
        });
        return 0;
    }

    /// <summary>Waits a little without sleeping: mostly a spin, a yield of the core every 32nd time.</summary>
    private static void Pause(int spins)
    {
        if (spins % 32 == 31) Thread.Yield();
        else Thread.SpinWait(16);
    }

    /// <summary>One operation on the map; false once the map refused with ObjectDisposedException.</summary>
    private static bool RaceStep(MemoryMap map, long windowOffset, Random rnd, byte[] buffer, Tally tally)
    {
        int op = rnd.Next(7);
        string name = op switch { 0 or 1 => "read", 2 => "write", 3 => "sync", 4 => "advise", 5 => "residency", _ => "address" };
        try
        {
            long length = map.Length;
            switch (op)
            {
                case 0 or 1:
                {
                    int count = (int)Math.Min(buffer.Length, rnd.Next(1, buffer.Length + 1));
                    count = (int)Math.Min(count, length);
                    long at = rnd.NextInt64(0, length - count + 1);
                    var span = buffer.AsSpan(0, count);
                    span.Fill(0xEE);
                    map.Read(at, span);
                    for (int i = 0; i < count; i++)
                    {
                        if (span[i] != Content.At(windowOffset + at + i))
                        {
                            tally.Add("corrupt");
                            tally.Sample($"read of {map} at {at + i} gave {span[i]}, expected {Content.At(windowOffset + at + i)}");
                            break;
                        }
                    }
                    break;
                }
                case 2:
                {
                    // Writes the bytes the map already holds, so that every read knows what to expect.
                    int count = (int)Math.Min(length, rnd.Next(1, PageSize + 1));
                    long at = rnd.NextInt64(0, length - count + 1);
                    var span = buffer.AsSpan(0, count);
                    Content.Fill(windowOffset + at, span);
                    map.Write(at, span);
                    break;
                }
                case 3:
                    map.Sync(async: rnd.Next(2) == 0);
                    break;
                case 4:
                {
                    var advice = rnd.Next(5) switch
                    {
                        0 => MemoryAdvice.WillNeed,
                        1 => MemoryAdvice.Sequential,
                        2 => MemoryAdvice.Cold,
                        3 => MemoryAdvice.PopulateRead,
                        _ => map.IsPrivate && map.Kind == MapKind.Anonymous ? MemoryAdvice.Normal : MemoryAdvice.DontNeed,
                    };
                    map.Advise(advice);
                    break;
                }
                case 5:
                {
                    var residency = map.GetResidency(detail: rnd.Next(2) == 0 ? ResidencyDetail.Summary : ResidencyDetail.Bitmap);
                    if (residency.ResidentPages > residency.TotalPages)
                        tally.Sample($"residency of {map}: {residency.ResidentPages} of {residency.TotalPages} pages");
                    break;
                }
                default:
                    _ = map.Address;
                    break;
            }
            tally.Add($"{name}.completed");
            return true;
        }
        catch (ObjectDisposedException)
        {
            tally.Add($"{name}.disposed");
            return false;
        }
        catch (Exception e)
        {
            tally.Add("other");
            tally.Add($"other.{name}.{Outcome.Describe(e)}");
            tally.Sample($"{name} on {map}: {e}");
            // A map whose operations fail for another reason still ends the loop once it is disposed.
            return !map.IsDisposed;
        }
    }

    /// <summary>After Dispose has returned, every operation must throw ObjectDisposedException.</summary>
    private static void AfterDispose(MemoryMap map, Tally tally)
    {
        var buffer = new byte[1];
        Action[] calls =
        [
            () => map.Read(0, buffer), () => map.Write(0, buffer), () => map.Sync(), () => map.Advise(MemoryAdvice.WillNeed),
            () => map.GetResidency(), () => map.Protect(MapAccess.Read), () => _ = map.Address, () => map.AsSpan(0, 1),
            () => map.Lock(), map.Dispose,
        ];
        for (int i = 0; i < calls.Length; i++)
        {
            try
            {
                calls[i]();
                if (i != calls.Length - 1) // Dispose again is harmless and throws nothing
                {
                    tally.Add("after-dispose.not-refused");
                    tally.Sample($"call {i} on {map} succeeded after Dispose");
                }
            }
            catch (ObjectDisposedException)
            {
                tally.Add("after-dispose.refused");
            }
            catch (Exception e)
            {
                tally.Add("other");
                tally.Sample($"call {i} after Dispose on {map}: {e}");
            }
        }
    }

    // ------------------------------------------------------------ truncation

    /// <summary>
    /// Maps the file (shared, and a private window at an odd offset) and works on it from four
    /// threads while the parent truncates and extends the file, never below <paramref name="minSize"/>.
    /// The file holds the pattern, and writers write the pattern, so every byte read is the pattern
    /// or (past minSize, after a cut and a regrowth) zero, and below minSize exactly the pattern.
    /// Prints "ready" once mapped and "result {...}" when each worker has done its operations.
    /// </summary>
    public static int TruncationVictim(string path, long minSize, int opsPerWorker, int seed)
    {
        long size = new FileInfo(path).Length;
        using var shared = MemoryMap.OpenFile(path, 0, size, new MemoryMapOptions { Access = MapAccess.ReadWrite });
        long privateOffset = PageSize / 2 + 3;
        using var copy = MemoryMap.OpenFile(path, privateOffset, size - privateOffset,
            new MemoryMapOptions { Access = MapAccess.ReadWrite, Private = true });
        var tally = new Tally();
        Shared.Line("ready");
        long started = Stopwatch.GetTimestamp();
        var threads = Enumerable.Range(0, 4).Select(w => new Thread(() =>
        {
            var rnd = new Random(seed + w);
            var buffer = new byte[3 * PageSize];
            for (int i = 0; i < opsPerWorker; i++)
                TruncationStep(rnd.Next(3) == 0 ? copy : shared, rnd, buffer, minSize, tally);
        }) { Name = $"truncation-worker-{w}" }).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads)
        {
            if (!thread.Join(TimeSpan.FromSeconds(120)))
            {
                Shared.Line("result " + JsonSerializer.Serialize(new { hung = true }));
                return 4;
            }
        }
        Shared.Result(new
        {
            ops = 4L * opsPerWorker,
            seconds = Stopwatch.GetElapsedTime(started).TotalSeconds,
            counts = tally.Counts,
            samples = tally.Samples,
        });
        return 0;
    }

    private static void TruncationStep(MemoryMap map, Random rnd, byte[] buffer, long minSize, Tally tally)
    {
        int op = rnd.Next(8);
        string name = op switch { 0 or 1 or 2 => "read", 3 or 4 => "write", 5 => "sync", 6 => "residency", _ => "advise" };
        long length = map.Length;
        // Ranges near the end of the map, where the cuts are, twice as often as elsewhere.
        int count = rnd.Next(1, buffer.Length + 1);
        long at = rnd.Next(3) == 0 ? rnd.NextInt64(0, length - count + 1) : rnd.NextInt64(Math.Max(0, minSize - map.Offset - count), length - count + 1);
        try
        {
            switch (op)
            {
                case 0 or 1 or 2:
                {
                    var span = buffer.AsSpan(0, count);
                    map.Read(at, span);
                    for (int i = 0; i < count; i++)
                    {
                        long fileOffset = map.Offset + at + i;
                        byte expected = Content.At(fileOffset);
                        if (span[i] != expected && (fileOffset < minSize || span[i] != 0))
                        {
                            tally.Add("corrupt");
                            tally.Sample($"{map}: file offset {fileOffset} read {span[i]}, expected {expected}{(fileOffset < minSize ? "" : " or 0")}");
                            break;
                        }
                    }
                    break;
                }
                case 3 or 4:
                {
                    var span = buffer.AsSpan(0, count);
                    Content.Fill(map.Offset + at, span);
                    map.Write(at, span);
                    break;
                }
                case 5:
                    map.Sync(at, count, async: rnd.Next(2) == 0);
                    break;
                case 6:
                    map.GetResidency(at, count, rnd.Next(2) == 0 ? ResidencyDetail.Runs : ResidencyDetail.Bitmap);
                    break;
                default:
                    map.Advise(rnd.Next(3) switch { 0 => MemoryAdvice.WillNeed, 1 => MemoryAdvice.PopulateRead, _ => MemoryAdvice.Cold }, at, count);
                    break;
            }
            tally.Add($"{name}.completed");
        }
        catch (MemoryMapException e) when (e.Reason == "PageUnavailable" && op <= 4)
        {
            tally.Add($"{name}.page-unavailable");
            if (!e.Message.Contains("truncated", StringComparison.Ordinal))
            {
                tally.Add("unclear");
                tally.Sample($"{name}: a PageUnavailable that does not name the truncation: {e.Message}");
            }
        }
        catch (SystemCallException e) when (op == 7 && e.ErrorName == "EFAULT")
        {
            // MADV_POPULATE_READ of a page past the end of the file.
            tally.Add($"{name}.efault");
        }
        catch (Exception e)
        {
            tally.Add("other");
            tally.Add($"other.{name}.{Outcome.Describe(e)}");
            tally.Sample($"{name} at {at}+{count} on {map}: {e}");
        }
    }

    // ------------------------------------------------------------ durability

    /// <summary>
    /// Maps the file shared, writes round <paramref name="round"/>'s pattern over all of it, syncs
    /// synchronously (MS_SYNC), prints "synced ROUND DIRTY" and then waits on stdin for the SIGKILL.
    /// With "nosync" it prints "written ROUND" instead, as the control.
    /// </summary>
    public static int Writer(string path, int round, int size, bool sync)
    {
        using var map = MemoryMap.CreateFile(path, size);
        var bytes = new byte[size];
        Content.Fill(0, bytes, round);
        map.Write(0, bytes);
        if (sync)
        {
            var result = map.Sync();
            Shared.Line($"synced {round} {result.DirtyPagesAfter?.ToString() ?? "unknown"}");
        }
        else
        {
            Shared.Line($"written {round}");
        }
        Console.In.ReadLine(); // the parent kills us here; if it closes stdin instead, exit plainly
        return 0;
    }

    // ------------------------------------------------------------ limits

    /// <summary>Maps one-page anonymous maps, alternating protections so that they cannot merge, until the kernel refuses.</summary>
    public static int MaxMapCount()
    {
        int limit = int.Parse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim());
        var maps = new List<MemoryMap>(limit + 16);
        Exception? failure = null;
        long mapsAtRefusal = 0;
        try
        {
            while (maps.Count < limit + 16)
                maps.Add(MemoryMap.Anonymous(PageSize, new MemoryMapOptions { Access = maps.Count % 2 == 0 ? MapAccess.Read : MapAccess.ReadWrite }));
        }
        catch (Exception e)
        {
            failure = e;
            // The kernel's count of this process's maps when the core refused, runtime maps included.
            mapsAtRefusal = File.ReadLines("/proc/self/maps").LongCount();
        }
        int made = maps.Count;
        foreach (var map in maps) map.Dispose();
        maps.Clear();
        // Once maps are freed, mapping works again: nothing was left broken.
        using var after = MemoryMap.Anonymous(PageSize);
        after.Write(0, [1]);
        Shared.Result(new { limit, made, mapsAtRefusal, error = failure is null ? null : Shared.Error(failure), recovered = after.Read(0, 1)[0] == 1 });
        return 0;
    }

    /// <summary>
    /// Maps made outside the core (plain mmap) fill the process up to vm.max_map_count, then the core
    /// is asked for one more: the kernel refuses with ENOMEM and the error must name the limit. The
    /// paths the error takes are run once before (an overcommit refusal), so that nothing needs the
    /// JIT, and so a new map, at the limit.
    /// </summary>
    public static unsafe int MaxMapCountForeign()
    {
        try { using var warm = MemoryMap.Anonymous(1L << 46); } catch (SystemCallException e) { _ = Shared.Error(e); }
        int limit = int.Parse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim());
        var maps = new nint[limit + 16];
        int made = 0;
        while (made < maps.Length)
        {
            nint at = Raw.mmap(0, (nuint)PageSize, made % 2 == 0 ? 1 : 3, 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, -1, 0);
            if (at == -1) break;
            maps[made++] = at;
        }
        Exception? failure = null;
        try
        {
            using var one = MemoryMap.Anonymous(PageSize);
        }
        catch (Exception e)
        {
            failure = e;
        }
        for (int i = 0; i < made; i++) Raw.munmap(maps[i], (nuint)PageSize);
        Shared.Result(new { limit, foreign = made, error = failure is null ? null : Shared.Error(failure) });
        return 0;
    }

    /// <summary>
    /// Address space: 64 TiB NoReserve maps until the kernel refuses (a 47-bit user space holds
    /// one, maybe two); then one 64 TiB map that asks for the overcommit charge.
    /// </summary>
    public static int AddressSpace()
    {
        const long Huge = 1L << 46;
        var maps = new List<MemoryMap>();
        Exception? exhausted = null, charged = null;
        try
        {
            while (maps.Count < 64)
                maps.Add(MemoryMap.Anonymous(Huge, new MemoryMapOptions { NoReserve = true }));
        }
        catch (Exception e)
        {
            exhausted = e;
        }
        int made = maps.Count;
        // The last page of each map is usable: the address space was really given.
        foreach (var map in maps) map.Write(Huge - 1, [42]);
        bool usable = maps.All(m => m.Read(Huge - 1, 1)[0] == 42);
        foreach (var map in maps) map.Dispose();
        try
        {
            using var map = MemoryMap.Anonymous(Huge);
        }
        catch (Exception e)
        {
            charged = e;
        }
        Shared.Result(new
        {
            made,
            usable,
            exhausted = exhausted is null ? null : Shared.Error(exhausted),
            charged = charged is null ? null : Shared.Error(charged),
            overcommit = File.ReadAllText("/proc/sys/vm/overcommit_memory").Trim(),
        });
        return 0;
    }

    /// <summary>Locks an anonymous map of <paramref name="bytes"/>, both at once and on fault.</summary>
    public static int Memlock(long bytes)
    {
        using var map = MemoryMap.Anonymous(bytes);
        Dictionary<string, object?> Attempt(bool onFault)
        {
            try
            {
                map.Lock(onFault: onFault);
                map.Unlock();
                return new() { ["locked"] = true };
            }
            catch (Exception e)
            {
                return Shared.Error(e);
            }
        }
        Shared.Result(new { bytes, now = Attempt(false), onFault = Attempt(true), limit = ReadLimit("Max locked memory") });
        return 0;
    }

    private static string? ReadLimit(string name) =>
        File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal));

    /// <summary>
    /// Shared memory larger than /dev/shm's free space (the parent runs this with a small tmpfs on
    /// /dev/shm): creating it, writing it a page at a time until a page cannot be had, reading a page
    /// never written, and syncing.
    /// </summary>
    public static int SharedMemoryFull(string name, long size)
    {
        var report = new Dictionary<string, object?>();
        try
        {
            using var map = MemoryMap.SharedMemory(name, size);
            report["created"] = true;
            var page = new byte[PageSize];
            page.AsSpan().Fill(0x5A);
            long written = 0;
            try
            {
                for (; written < size; written += PageSize) map.Write(written, page.AsSpan(0, (int)Math.Min(PageSize, size - written)));
            }
            catch (Exception e)
            {
                report["write"] = Shared.Error(e);
            }
            report["written"] = written;
            if (written > 0) report["firstPageIntact"] = map.Read(0, PageSize).All(b => b == 0x5A);
            try
            {
                report["readUnwritten"] = map.Read(size - PageSize, PageSize).All(b => b == 0) ? "zeros" : "not zeros";
            }
            catch (Exception e)
            {
                report["readUnwritten"] = Shared.Error(e);
            }
            try
            {
                map.Sync();
                report["sync"] = "ok";
            }
            catch (Exception e)
            {
                report["sync"] = Shared.Error(e);
            }
        }
        catch (Exception e)
        {
            report["create"] = Shared.Error(e);
        }
        finally
        {
            try { MemoryMap.RemoveSharedMemory(name); } catch (MemoryMapException) { }
        }
        Shared.Result(report);
        return 0;
    }

    // ------------------------------------------------------------ residency as another user

    /// <summary>Residency of a file through cachestat (Summary), mincore (Runs) and a map of it.</summary>
    public static int Residency(string path)
    {
        static object Describe(PageResidency r) => new
        {
            source = r.Source.ToString(),
            trusted = r.IsTrusted,
            note = r.Note,
            resident = r.ResidentPages,
            total = r.TotalPages,
        };
        var summary = PageCache.GetResidency(path, detail: ResidencyDetail.Summary);
        var runs = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        using var map = MemoryMap.OpenFile(path);
        var mapped = map.GetResidency(detail: ResidencyDetail.Runs);
        Shared.Result(new { euid = Environment.UserName, summary = Describe(summary), runs = Describe(runs), map = Describe(mapped) });
        return 0;
    }

    /// <summary>Every item of a recursive walk, in order, as this user sees it (run it as another user to meet files it may not read).</summary>
    public static int Walk(string root, int threads, bool follow)
    {
        var walker = new ResidencyWalker(new() { Recurse = true, FollowSymlinks = follow, MaxDegreeOfParallelism = threads });
        var items = walker.Examine(root).Select(i => new
        {
            kind = i.Kind.ToString(),
            path = i.Path,
            reason = (i.Error as MemoryMapException)?.Reason ?? i.Error?.GetType().Name,
            resident = i.Residency?.ResidentPages,
            total = i.Residency?.TotalPages,
        }).ToList();
        Shared.Result(new { euid = Environment.UserName, items });
        return 0;
    }

    // ------------------------------------------------------------ deaths by signal

    private static void Ready() => Shared.Line("READY");

    /// <summary>
    /// A two-page file mapped whole, then truncated to nothing: the second page no longer exists, and
    /// a pointer read of it (here through the unsafe span) raises SIGBUS. The process dies before its
    /// finally runs, so the file is made in a directory the parent passes and removes itself.
    /// </summary>
    public static int SigbusThroughSpan(string directory)
    {
        string path = Path.Combine(directory, $"sigbus-{Environment.ProcessId}.bin");
        try
        {
            File.WriteAllBytes(path, Enumerable.Repeat((byte)7, 2 * PageSize).ToArray());
            using var map = MemoryMap.OpenFile(path);
            Span<byte> span = map.AsSpan();
            if (span[PageSize] != 7) return 3;
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) stream.SetLength(0);
            Ready();
            byte value = Volatile.Read(ref span[PageSize]);
            Shared.Line($"SURVIVED read {value}");
            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A guard page: PROT_NONE, then a pointer read of it raises SIGSEGV.</summary>
    public static int SigsegvThroughSpan()
    {
        using var map = MemoryMap.Anonymous(2 * PageSize);
        Span<byte> span = map.AsSpan();
        span[PageSize] = 1;
        map.Protect(MapAccess.None, PageSize, PageSize);
        Ready();
        byte value = Volatile.Read(ref span[PageSize]);
        Shared.Line($"SURVIVED read {value}");
        return 0;
    }
}

internal static partial class Raw
{
    [System.Runtime.InteropServices.LibraryImport("libc")]
    public static partial nint mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [System.Runtime.InteropServices.LibraryImport("libc")]
    public static partial int munmap(nint address, nuint length);
}
