namespace MmapTools.Tests;

/// <summary>
/// What kills a process runs in a child (tests/MmapTools.Child), and the test host lives on to check
/// how it died. When SIGBUS or SIGSEGV hits managed code, the .NET runtime's signal handler turns it
/// into a fatal AccessViolationException: it prints "Fatal error." and
/// "System.AccessViolationException: Attempted to read or write protected memory..." with the managed
/// stack on stderr, then aborts, so the child dies of SIGABRT (exit status 134 = 128 + 6), not of
/// SIGBUS (135) or SIGSEGV (139). The two faults cannot be told apart by exit status or message; the
/// scenario (and its in-process safe counterpart, which gets a MemoryMapException) tells which it was.
/// </summary>
public sealed class CrashTests
{
    private const int SigabrtExitCode = 128 + 6;

    private static void AssertDiedOfAFatalAccessViolation(ChildResult result)
    {
        Assert.True(result.StandardOutput.Contains("READY"), $"The child failed before the faulting access.\n{result}");
        Assert.False(result.StandardOutput.Contains("SURVIVED"), $"The faulting access did not kill the child.\n{result}");
        Assert.True(result.ExitCode == SigabrtExitCode, $"Expected death by SIGABRT after the runtime's fatal error.\n{result}");
        Assert.Contains("Fatal error.", result.StandardError);
        Assert.Contains("System.AccessViolationException", result.StandardError);
    }

    [Fact]
    public void SigbusThroughAsSpan_OnATruncatedFilesPage_KillsTheChild_AndTheHostLivesOn()
    {
        using var dir = new TempDir();

        var result = Child.Run([], "sigbus-span", dir.Path);

        AssertDiedOfAFatalAccessViolation(result);
        Assert.Contains("SigbusThroughSpan", result.StandardError); // the managed stack names the scenario
    }

    [Fact]
    public void SigsegvThroughAsSpan_OnAProtNonePage_KillsTheChild_AndTheHostLivesOn()
    {
        var result = Child.Run([], "sigsegv-span");

        AssertDiedOfAFatalAccessViolation(result);
        Assert.Contains("SigsegvThroughSpan", result.StandardError);
    }

    [Fact]
    public void CrashChild_RejectsAnUnknownScenario()
    {
        var result = Child.Run([], "no-such-scenario");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("unknown scenario", result.StandardError);
    }
}
