using System.Text.Json;

namespace MmapTools.PowerCut;

/// <summary>
/// The fixture as a program, for Pester and the notebook: power-cut FS ROUNDS SCENARIO... cuts power
/// ROUNDS times in each scenario (all: every one) on one crash image of file system FS and prints a
/// line "cut {json}" a cut and "result {json}" last: for each scenario the counts over its rounds
/// and whether any promise was broken or garbage found. "skip {reason}" when images cannot be made.
/// Before all of them, a line "claim {json}" a scenario: its name and the claim it judges.
/// </summary>
public static class PowerCutRun
{
    public static int Run(string fileSystem, int rounds, string[] names)
    {
        // Each scenario's claim first, so that a run that cannot cut still names what it could not judge.
        foreach (var scenario in PowerCutScenario.All) Line("claim " + JsonSerializer.Serialize(new { scenario = scenario.Name, claim = scenario.Claim }));
        if (CrashImage.WhyNot(fileSystem) is { } why)
        {
            Line("skip " + why);
            return 0;
        }
        var scenarios = names is ["all"] ? PowerCutScenario.All : names.Select(PowerCutScenario.Named).ToList();
        var command = new WriterCommand(Environment.ProcessPath!, typeof(PowerCutRun).Assembly.Location);
        var summaries = new List<object>();
        using (var image = new CrashImage(fileSystem))
        {
            foreach (var scenario in scenarios)
            {
                var records = new List<PowerCutRecord>();
                for (int round = 0; round < rounds; round++)
                {
                    var record = image.Cut(scenario.Plan, command);
                    records.Add(record);
                    Line("cut " + JsonSerializer.Serialize(Describe(scenario.Name, record)));
                }
                summaries.Add(Summarize(scenario, records));
            }
        }
        Line("result " + JsonSerializer.Serialize(new { fileSystem, rounds, scenarios = summaries, leftovers = CrashImage.Leftovers() }));
        return 0;
    }

    /// <summary>One cut as numbers: the cache's and the disk's view of each page.</summary>
    public static Dictionary<string, object?> Describe(string scenario, PowerCutRecord r) => new()
    {
        ["scenario"] = scenario,
        ["plan"] = r.Plan.ToString(),
        ["cacheResident"] = r.Cache?.Resident,
        ["cacheDirty"] = r.Cache?.Dirty,
        ["cacheDirtyPages"] = r.Cache?.DirtyPages,
        ["disk"] = r.Outcome?.Pages.Select(p => p.ToString()).ToArray(),
        ["fileExists"] = r.Outcome?.FileExists,
        ["diskSize"] = r.Outcome?.DiskSize,
        ["finalSize"] = r.Outcome?.FinalSize,
        ["promisedPages"] = r.Outcome?.PromisedPages,
        ["broken"] = r.Outcome?.Broken,
        ["garbage"] = r.Outcome?.Garbage,
        ["liveMismatch"] = r.LiveMismatch,
        ["memoryFileSystem"] = r.MemoryFileSystem,
        ["copyAttempts"] = r.CopyAttempts,
        ["seconds"] = Math.Round(r.Seconds, 3),
    };

    /// <summary>A scenario's rounds in counts: how many cuts found the file, its new size, its newest bytes, and what failed.</summary>
    public static Dictionary<string, object?> Summarize(PowerCutScenario scenario, IReadOnlyList<PowerCutRecord> records)
    {
        var outcomes = records.Select(r => r.Outcome).OfType<PowerCutOutcome>().ToList();
        return new()
        {
            ["scenario"] = scenario.Name,
            ["claim"] = scenario.Claim,
            ["rounds"] = records.Count,
            ["pages"] = scenario.Plan.MappedPages,
            ["fileFound"] = outcomes.Count(o => o.FileExists),
            ["newSizeFound"] = outcomes.Count(o => o.FileExists && o.DiskSize == o.FinalSize),
            ["newestPages"] = outcomes.Sum(o => o.Count(DiskPage.Newest)),
            ["olderPages"] = outcomes.Sum(o => o.Count(DiskPage.Older)),
            ["writtenPages"] = outcomes.Sum(o => o.WrittenPages),
            ["oldPages"] = outcomes.Sum(o => o.Count(DiskPage.Old)),
            ["absentPages"] = outcomes.Sum(o => o.Count(DiskPage.Absent)),
            ["mixedPages"] = outcomes.Sum(o => o.Count(DiskPage.Mixed)),
            ["promisedPages"] = outcomes.Sum(o => o.PromisedPages),
            ["dirtyAtCut"] = records.Sum(r => r.Cache?.DirtyPages ?? 0),
            ["broken"] = outcomes.SelectMany(o => o.Broken).Take(10).ToList(),
            ["garbage"] = outcomes.SelectMany(o => o.Garbage).Take(10).ToList(),
            ["liveMismatch"] = records.SelectMany(r => r.LiveMismatch).Take(10).ToList(),
            ["memoryFileSystem"] = records.Select(r => r.MemoryFileSystem).FirstOrDefault(m => m is not null),
            ["copyAttempts"] = records.Sum(r => r.CopyAttempts),
        };
    }

    private static void Line(string text)
    {
        Console.Out.WriteLine(text);
        Console.Out.Flush();
    }
}
