using System.Diagnostics;
using CsCheck;
using MmapTools.PowerCut;
using Xunit.Abstractions;

namespace MmapTools.Hardening;

/// <summary>One crash image per file system for a test class, made on first use; the class ends with none left behind.</summary>
public sealed class CrashImages : IDisposable
{
    private readonly Dictionary<string, CrashImage> _images = [];

    /// <summary>The file systems this machine can make images of, and why not for the others.</summary>
    public static (List<string> Usable, List<string> Reasons) Available()
    {
        var usable = new List<string>();
        var reasons = new List<string>();
        foreach (string fileSystem in CrashImage.FileSystems)
        {
            if (CrashImage.WhyNot(fileSystem) is { } why) reasons.Add($"{fileSystem}: {why}");
            else usable.Add(fileSystem);
        }
        return (usable, reasons);
    }

    public CrashImage For(string fileSystem)
    {
        lock (_images)
        {
            if (!_images.TryGetValue(fileSystem, out var image)) _images[fileSystem] = image = new CrashImage(fileSystem);
            return image;
        }
    }

    public static WriterCommand Writer => new(Child.DotnetHost, Child.Dll);

    public void Dispose()
    {
        foreach (var image in _images.Values) image.Dispose();
        var leftovers = OperatingSystem.IsLinux() && Machine.IsRoot ? CrashImage.Leftovers() : [];
        Assert.True(leftovers.Count == 0, $"crash images left behind: {string.Join("; ", leftovers)}");
    }
}

/// <summary>
/// Power cuts on crash images of ext4, xfs and btrfs (each where this machine can make it): a writer
/// child is stopped at its point, the device copied as it stands, and the copy judged. A test fails
/// only where a promised byte, size or name is missing from the copy, where a sector holds bytes
/// never written there, or where the running system lost a write; what MAY be on the disk is counted
/// and printed, a finding. Named *DurabilityTests so that `build.ps1 fuzz` prints its counts.
/// </summary>
public sealed class PowerCutDurabilityTests(ITestOutputHelper output, CrashImages images) : IClassFixture<CrashImages>
{
    public static TheoryData<string> Scenarios => [.. PowerCutScenario.All.Select(s => s.Name)];

    private static List<string> UsableOrSkip()
    {
        var (usable, reasons) = CrashImages.Available();
        Skip.If(usable.Count == 0, $"no crash image can be made here: {string.Join("; ", reasons)}");
        return usable;
    }

    [SkippableTheory]
    [MemberData(nameof(Scenarios))]
    public void AfterAPowerCut_ThePromisedBytesAreOnTheDisk_AndNothingElseButWrittenBytes(string name)
    {
        var scenario = PowerCutScenario.Named(name);
        var (usable, reasons) = (UsableOrSkip(), CrashImages.Available().Reasons);
        foreach (string reason in reasons) output.WriteLine($"not tried: {reason}");
        foreach (string fileSystem in usable)
        {
            var record = images.For(fileSystem).Cut(scenario.Plan, CrashImages.Writer);
            output.WriteLine($"{fileSystem}: {Describe(record)}");
            AssertKept(fileSystem, record);
            if (!scenario.Plan.OnDisk)
                Assert.True(record.MemoryFileSystem == "tmpfs", $"{fileSystem}: the {scenario.Plan.Kind} memory is on {record.MemoryFileSystem ?? "an unknown file system"}, not tmpfs");
        }
    }

    private static void AssertKept(string fileSystem, PowerCutRecord record)
    {
        Assert.True(record.LiveMismatch.Count == 0, $"{fileSystem}, {record.Plan}: the running system lost writes: {string.Join("; ", record.LiveMismatch)}");
        if (record.Outcome is not { } outcome) return;
        Assert.True(outcome.Broken.Count == 0, $"{fileSystem}, {record.Plan}: promised but missing after the cut: {string.Join("; ", outcome.Broken.Take(5))}");
        Assert.True(outcome.Garbage.Count == 0, $"{fileSystem}, {record.Plan}: never written, yet on the disk: {string.Join("; ", outcome.Garbage.Take(5))}");
    }

    private static string Describe(PowerCutRecord r) => r.Outcome is not { } o
        ? $"memory on {r.MemoryFileSystem}: no file on the disk to survive ({r.Seconds:0.0} s)"
        : $"file {(o.FileExists ? $"found, {o.DiskSize} of {o.FinalSize} bytes" : "absent")}; pages newest {o.Count(DiskPage.Newest)}, older {o.Count(DiskPage.Older)}, old {o.Count(DiskPage.Old)}, mixed {o.Count(DiskPage.Mixed)}, absent {o.Count(DiskPage.Absent)} of {o.Pages.Length} ({o.PromisedPages} promised); dirty at the cut {r.Cache?.DirtyPages}; copy taken at attempt {r.CopyAttempts}; {r.Seconds:0.0} s";

    private static readonly Gen<PowerCutPlan> Plans =
        Gen.Select(Gen.Int[4, 32], Gen.Int[2, 40], Gen.Int).Select((pages, steps, seed) => PowerCutScenario.Random(new Random(seed), pages, steps));

    /// <summary>
    /// The long run: power cut at a random step of random sequences of writes and syncs of every
    /// form (the writer goes on after its point, so the cut lands wherever SIGSTOP finds it).
    /// MMAPTOOLS_POWERCUT_CUTS cuts a file system (default 3 times MMAPTOOLS_HARDENING_SCALE),
    /// drawn from CsCheck_Seed (default a new one, printed).
    /// </summary>
    [SkippableFact]
    public void PowerCutsAtRandomPoints_KeepSyncedBytes_AndTearNothingIntoGarbage()
    {
        var usable = UsableOrSkip();
        int cuts = int.TryParse(Environment.GetEnvironmentVariable("MMAPTOOLS_POWERCUT_CUTS"), out int n) && n > 0 ? n : 3 * ChildRuns.Scale;
        string runSeed = Check.Seed ?? new PCG((uint)Random.Shared.Next(), (ulong)Random.Shared.NextInt64()).ToString();
        var generator = PCG.Parse(runSeed);
        var clock = Stopwatch.StartNew();
        int done = 0, promised = 0, newest = 0, mixed = 0, steps = 0;
        foreach (string fileSystem in usable)
        {
            for (int i = 0; i < cuts; i++)
            {
                string seed = new PCG(generator.Stream, generator.Next64()).ToString();
                Plans.Sample(plan =>
                {
                    var record = images.For(fileSystem).Cut(plan, CrashImages.Writer);
                    try
                    {
                        AssertKept(fileSystem, record);
                    }
                    catch (Exception e)
                    {
                        throw new InvalidOperationException($"cut seed {seed} (CsCheck_Seed={seed} CsCheck_Iter=1 on {fileSystem} replays it): {e.Message}", e);
                    }
                    done++;
                    steps += plan.Steps.Count;
                    promised += record.Outcome!.PromisedPages;
                    newest += record.Outcome.Count(DiskPage.Newest);
                    mixed += record.Outcome.Count(DiskPage.Mixed);
                }, seed: seed, iter: 1, threads: 1);
            }
        }
        output.WriteLine($"power cuts: {done} random cuts on {string.Join(", ", usable)} ({cuts} each), run seed {runSeed} (CsCheck_Seed={runSeed} MMAPTOOLS_POWERCUT_CUTS={cuts} reproduces it), {clock.Elapsed.TotalSeconds:0} s");
        output.WriteLine($"  {steps} steps; {promised} promised pages all intact; {newest} pages held their newest write, {mixed} a mix of sectors of written versions; no garbage");
        Assert.Equal(cuts * usable.Count, done);
    }
}
