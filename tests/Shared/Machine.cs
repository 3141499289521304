using System.Runtime.InteropServices;

namespace MmapTools.Testing;

/// <summary>What the machine running the tests is and has: the user, the page size, programs on PATH.</summary>
internal static partial class Machine
{
    [LibraryImport("libc")]
    private static partial uint geteuid();

    public static bool IsRoot => geteuid() == 0;

    public static int PageSize { get; } = Environment.SystemPageSize;

    /// <summary>The path of a program on PATH, or null (for tools such as prlimit that a machine may lack).</summary>
    public static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);
}
