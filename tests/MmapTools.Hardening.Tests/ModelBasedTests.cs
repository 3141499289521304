using System.Diagnostics;
using System.Text.Json;
using CsCheck;
using Xunit.Abstractions;

namespace MmapTools.Hardening;

/// <summary>
/// Random sequences of map (file, anonymous, shared memory; private or shared; any
/// offset and length), write, read (also by both of Read's paths, pread and process_vm_readv, side by side), sync, advise, protect, residency and remove, with another party
/// truncating, extending and writing the files, checked step by step against <see cref="SequenceRun"/>'s
/// model of the bytes.
/// <para>
/// The run is reproducible from one seed. CsCheck's Sample takes its seed for the first iteration
/// only and draws the others from a thread's own generator, so the run derives one CsCheck seed per
/// sequence from the run's seed and runs each with <c>iter: 1</c>. A failing sequence is then shrunk
/// by CsCheck from its own seed (Sample with that seed first, then smaller cases for a while) and
/// the test reports the shrunk sequence with the seed that reproduces it.
/// </para>
/// <para>
/// Environment: <c>CsCheck_Iter</c> sequences (default 150, a few seconds), <c>CsCheck_Seed</c> the
/// run's seed (default a new one, printed), <c>CsCheck_Threads</c> threads (default the cores),
/// <c>MMAPTOOLS_SHRINK_SECONDS</c> how long to shrink (default 60), <c>MMAPTOOLS_FUZZ_REPORT</c> a
/// file for the run's JSON summary (build.ps1 fuzz prints it), <c>MMAPTOOLS_SEQUENCE_SEED</c> one
/// sequence's seed (as a failure prints it) to run alone, <c>CsCheck_Iter</c> times.
/// </para>
/// </summary>
public sealed class ModelBasedTests(ITestOutputHelper output)
{
    private static readonly int PageSize = Machine.PageSize;

    /// <summary>Byte positions and lengths that favour page edges: k pages, k pages ± 2, or anything up to 6 pages.</summary>
    private static readonly Gen<int> Position = Gen.Frequency(
        (3, Gen.Int[0, 6 * PageSize]),
        (2, Gen.Int[0, 6].Select(k => k * PageSize)),
        (2, Gen.Select(Gen.Int[0, 6], Gen.Int[-2, 2]).Select(t => Math.Max(0, t.Item1 * PageSize + t.Item2))));

    private static Gen<Op> OpOf(OpKind kind) =>
        Gen.Select(Gen.Int[0, 7], Position, Position, Gen.Int[0, 2047]).Select(t => new Op(kind, t.Item1, t.Item2, t.Item3, t.Item4));

    private static readonly Gen<Op> AnyOp = Gen.Frequency(
        (4, OpOf(OpKind.MapFile)),
        (1, OpOf(OpKind.CreateFile)),
        (2, OpOf(OpKind.MapAnonymous)),
        (2, OpOf(OpKind.MapSharedMemory)),
        (1, OpOf(OpKind.MapSharedMemoryFile)),
        (7, OpOf(OpKind.Write)),
        (7, OpOf(OpKind.Read)),
        (4, OpOf(OpKind.ReadBothPaths)),
        (2, OpOf(OpKind.Sync)),
        (5, OpOf(OpKind.Advise)),
        (3, OpOf(OpKind.Protect)),
        (2, OpOf(OpKind.Residency)),
        (1, OpOf(OpKind.FileResidency)),
        (1, OpOf(OpKind.Remove)),
        (3, OpOf(OpKind.Truncate)),
        (2, OpOf(OpKind.WriteFile)),
        (1, OpOf(OpKind.Verify)));

    internal static readonly Gen<Scenario> Scenarios =
        Gen.Select(Position.Array[1, 3], Gen.Int, AnyOp.Array[1, 48]).Select(t => new Scenario(t.Item1, t.Item2, t.Item3));

    private static int EnvironmentNumber(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int value) && value > 0 ? value : fallback;

    [Fact]
    public void RandomSequences_AgreeWithTheModel()
    {
        // MMAPTOOLS_SEQUENCE_SEED: one sequence, by the seed a failure printed, CsCheck_Iter times over.
        if (Environment.GetEnvironmentVariable("MMAPTOOLS_SEQUENCE_SEED") is { Length: > 0 } sequenceSeed)
        {
            int times = EnvironmentNumber("CsCheck_Iter", 1);
            for (int i = 0; i < times; i++) Scenarios.Sample(SequenceRun.Run, seed: sequenceSeed, iter: 1, threads: 1);
            return;
        }

        int count = EnvironmentNumber("CsCheck_Iter", 150);
        int threads = Math.Max(1, Check.Threads);
        string runSeed = Check.Seed ?? new PCG((uint)Random.Shared.Next(), (ulong)Random.Shared.NextInt64()).ToString();
        var generator = PCG.Parse(runSeed);
        var seeds = new string[count];
        for (int i = 0; i < count; i++) seeds[i] = new PCG(generator.Stream, generator.Next64()).ToString();

        // On stderr as well: a core that lets a SIGBUS through kills this test host, and the test
        // platform shows the host's stderr with the crash.
        Console.Error.WriteLine($"model-based run: {count} sequences from seed {runSeed} (CsCheck_Seed={runSeed} CsCheck_Iter={count} reproduces it)");
        SequenceRun.Stats.Clear();
        string? failedSeed = null;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, (i, loop) =>
        {
            try
            {
                Scenarios.Sample(SequenceRun.Run, seed: seeds[i], iter: 1, threads: 1);
            }
            catch (CsCheckException)
            {
                Interlocked.CompareExchange(ref failedSeed, seeds[i], null);
                loop.Stop();
            }
        });
        var elapsed = clock.Elapsed;
        long sequences = SequenceRun.Stats.GetValueOrDefault("sequences");
        long operations = SequenceRun.Stats.Where(s => char.IsUpper(s.Key[0])).Sum(s => s.Value);
        string summary = $"model-based run: {sequences} of {count} sequences passed, {operations} checked operations, run seed {runSeed}, {elapsed.TotalSeconds:0.0} s on {threads} threads";
        output.WriteLine(summary);
        foreach (var (key, value) in SequenceRun.Stats.OrderBy(s => s.Key, StringComparer.Ordinal)) output.WriteLine($"  {key}: {value}");
        WriteReport(count, sequences, runSeed, elapsed, failedSeed);

        if (failedSeed is null)
        {
            Assert.Equal(count, sequences);
            return;
        }
        // Shrink from the failing sequence's own seed: CsCheck runs it first, then smaller cases.
        int shrinkSeconds = EnvironmentNumber("MMAPTOOLS_SHRINK_SECONDS", 60);
        var shrunk = Assert.Throws<CsCheckException>(() =>
            Scenarios.Sample(SequenceRun.Run, seed: failedSeed, iter: long.MaxValue, time: shrinkSeconds, threads: threads));
        Assert.Fail($"{summary}\nsequence seed {failedSeed} failed; shrunk for {shrinkSeconds} s:\n{shrunk.Message}\n{shrunk.InnerException?.Message}");
    }

    private static void WriteReport(int count, long sequences, string seed, TimeSpan elapsed, string? failedSeed)
    {
        if (Environment.GetEnvironmentVariable("MMAPTOOLS_FUZZ_REPORT") is not { Length: > 0 } path) return;
        var report = new
        {
            asked = count,
            passed = sequences,
            seed,
            failedSeed,
            seconds = Math.Round(elapsed.TotalSeconds, 1),
            operations = SequenceRun.Stats.Where(s => char.IsUpper(s.Key[0])).Sum(s => s.Value),
            outcomes = new SortedDictionary<string, long>(SequenceRun.Stats, StringComparer.Ordinal),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The reproducibility the fuzz report relies on: one CsCheck seed, one sequence, every time.</summary>
    [Fact]
    public void ASequenceSeed_GivesTheSameSequence_AndRunsOnce()
    {
        string seed = new PCG(7, 12345).ToString();
        var seen = new List<Scenario>();
        Scenarios.Sample(s => seen.Add(s), seed: seed, iter: 1, threads: 1);
        Scenarios.Sample(s => seen.Add(s), seed: seed, iter: 1, threads: 1);
        Assert.Equal(2, seen.Count);
        Assert.Equal(seen[0].ToString(), seen[1].ToString());
    }
}
