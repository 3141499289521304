namespace MmapTools.Testing;

/// <summary>How the tests and the child name what a call ended with, for counts and traces.</summary>
internal static class Outcome
{
    /// <summary>A stable name for an exception: its type, with the errno or the reason of the core's exceptions.</summary>
    public static string Describe(Exception e) => e switch
    {
        SystemCallException s => $"SystemCallException {s.ErrorName}",
        MemoryMapException m => $"MemoryMapException {m.Reason}",
        _ => e.GetType().Name,
    };
}
