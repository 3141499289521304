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
