using System.Text.Json;

namespace MmapTools.Tests;

/// <summary>
/// MachineProfile against python3's own reading of the same machine, taken right after it
/// (tests/pester/machine-oracle.py): every item that both can have must agree.
/// </summary>
public sealed class MachineProfileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Oracle
    {
        get
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                string candidate = Path.Combine(folder.FullName, "tests", "pester", "machine-oracle.py");
                if (File.Exists(candidate)) return candidate;
            }
            throw new FileNotFoundException("tests/pester/machine-oracle.py is not above the test assembly.");
        }
    }

    private JsonElement ReadOracle(MachineProfile profile)
    {
        string? python = Machine.Find("python3");
        Skip.If(python is null, "python3, the independent reader, is not installed.");
        var result = Child.RunProgram(python!, Oracle, _dir.Path);
        Assert.True(result.ExitCode == 0, result.StandardError);
        return JsonDocument.Parse(result.StandardOutput).RootElement;
    }

    [SkippableFact]
    public void Every_item_agrees_with_python3()
    {
        var profile = MachineProfile.Read(_dir.Path);
        var oracle = ReadOracle(profile);
        foreach (string name in new[] { "KernelRelease", "Architecture", "PageSize", "CachestatPresent", "ZeroPageInUse", "ThpEnabled", "ThpDefrag",
                     "ThpShmemEnabled", "ReadAheadBytes", "FaultAroundBytes", "MaxMapCount", "OvercommitMemory", "MemlockLimit", "AddressSpaceLimit",
                     "SwapTotalBytes", "NumaNodes", "CgroupVersion", "CgroupMemoryLimit", "DamonReclaimActive", "TlbShootdownCounter", "DevMemPresent", "Runs32Bit" })
        {
            if (!oracle.TryGetProperty(name, out var expected)) continue;
            object? actual = typeof(MachineProfile).GetProperty(name)!.GetValue(profile);
            string want = expected.ValueKind switch
            {
                JsonValueKind.Null => "",
                JsonValueKind.True => "True",
                JsonValueKind.False => "False",
                JsonValueKind.String => expected.GetString()!,
                _ => expected.GetRawText(),
            };
            Assert.True(want == (actual is null ? "" : Convert.ToString(actual, System.Globalization.CultureInfo.InvariantCulture)),
                $"{profile.Explain(name)}; python3 read {expected.GetRawText()}");
        }
        if (Machine.IsRoot && oracle.TryGetProperty("LargeFolios", out var folios))
            Assert.True(profile.LargeFolios == folios.GetBoolean(), $"{profile.Explain("LargeFolios")}; python3 read {folios}");
    }

    [Fact]
    public void Unknown_items_are_null_and_say_why()
    {
        var profile = MachineProfile.Read(_dir.Path);
        Assert.Contains(profile.Facts, f => f.Name == nameof(MachineProfile.ZeroPageInUse));
        foreach (var fact in profile.Facts.Where(f => !f.Known))
        {
            Assert.Equal("unknown", fact.Value);
            Assert.False(string.IsNullOrWhiteSpace(fact.How), $"{fact.Name} is unknown without a reason");
            Assert.Null(typeof(MachineProfile).GetProperty(fact.Name)?.GetValue(profile));
        }
        Assert.Equal(profile.Facts.Count, profile.Facts.Select(f => f.Name).Distinct().Count());
    }

    [Fact]
    public void The_zero_page_probe_counts_what_it_read()
    {
        var profile = MachineProfile.Read(_dir.Path);
        Assert.Equal(64, profile.ZeroPageProbePages);
        if (profile.ZeroPageInUse is { } inUse)
            Assert.Equal(inUse ? 0 : profile.ZeroPageProbePages, profile.ZeroPageProbeAllocated);
    }

    [Fact]
    public void A_path_that_does_not_exist_is_refused_before_anything_is_measured()
    {
        var e = Assert.Throws<ArgumentException>(() => MachineProfile.Read(_dir["missing"]));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Leaves_no_probe_file_behind()
    {
        _ = MachineProfile.Read(_dir.Path);
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }
}
