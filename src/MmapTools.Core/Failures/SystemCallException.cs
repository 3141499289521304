using MmapTools.Interop;

namespace MmapTools;

/// <summary>A system call failed. Carries the call, the errno and a plain sentence on the likely cause.</summary>
public sealed class SystemCallException : MemoryMapException
{
    public SystemCallException(string call, int errno, string? hint = null)
        : base(Errno.Name(errno), Compose(call, errno, hint))
    {
        Call = call;
        ErrorNumber = errno;
        Hint = hint;
    }

    /// <summary>The call that failed, e.g. <c>mmap</c>.</summary>
    public string Call { get; }

    /// <summary>The errno value.</summary>
    public int ErrorNumber { get; }

    /// <summary>The errno name, e.g. <c>EACCES</c>.</summary>
    public string ErrorName => Reason;

    /// <summary>The likely cause in plain words, when one is known.</summary>
    public string? Hint { get; }

    private static string Compose(string call, int errno, string? hint) =>
        $"{call} failed with {Errno.Name(errno)} ({errno}, {Errno.Describe(errno)})." + (hint is null ? "" : " " + hint);

    /// <summary>Reads errno right after a failed call and wraps it, with a hint chosen by errno.</summary>
    internal static SystemCallException FromLastError(string call, Func<int, string?>? hint = null)
    {
        int errno = Libc.LastError;
        return new SystemCallException(call, errno, hint?.Invoke(errno));
    }
}
