using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// The file or the mapping does not allow what was asked: a FIFO or directory where a file was
/// expected, a page that vanished with a truncation, a protection that forbids the access.
/// <see cref="Reason"/> is a stable word to branch on; the message is a sentence for people.
/// </summary>
public class MemoryMapException : IOException
{
    public MemoryMapException(string reason, string message, Exception? inner = null)
        : base(message, inner) => Reason = reason;

    /// <summary>A stable identifier: <c>NotMappable</c>, <c>EmptyFile</c>, <c>PageUnavailable</c>,
    /// <c>MapLimit</c> (vm.max_map_count nearly reached), or, for a failed system call, the errno name such as <c>ENOMEM</c>.</summary>
    public string Reason { get; }
}

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
