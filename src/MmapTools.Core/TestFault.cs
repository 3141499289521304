namespace MmapTools;

/// <summary>
/// Test-only: a deliberately wrong tool, to prove that the experiments and notebooks catch one. Read
/// once from the environment variable MMAPTOOLS_TEST_FAULT, which only the matrix's wrong-tool run
/// and its test set (tests/tools/Matrix.ps1 -WrongTool): a comma-separated list of
/// <c>residency</c> (every residency reports one page more than the kernel said) and <c>sync</c>
/// (a synchronous sync calls msync with MS_ASYNC). Unset, as everywhere else, it changes nothing.
/// </summary>
internal static class TestFault
{
    public const string Variable = "MMAPTOOLS_TEST_FAULT";

    private static readonly string[] Faults =
        (Environment.GetEnvironmentVariable(Variable) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Pages added to every resident count: 1 under the residency fault, else 0.</summary>
    public static readonly long ExtraResidentPages = Faults.Contains("residency") ? 1 : 0;

    /// <summary>Whether a synchronous sync is made asynchronous.</summary>
    public static readonly bool SyncAsAsync = Faults.Contains("sync");
}
