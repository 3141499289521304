using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// The one place where a failure becomes an <see cref="ErrorRecord"/>: a stable ErrorId and a
/// category for each kind of Core exception. PowerShell makes the FullyQualifiedErrorId
/// "&lt;ErrorId&gt;,MmapTools.PowerShell.&lt;Verb&gt;&lt;Noun&gt;Command" from it. The ids are listed in
/// about_MmapTools; tests assert them, so renaming one is a breaking change.
/// </summary>
internal static class ErrorMapping
{
    public const string PathNotFound = "PathNotFound";
    public const string NotAFileSystemPath = "NotAFileSystemPath";
    public const string NotMappable = "NotMappable";
    public const string EmptyFile = "EmptyFile";
    public const string OffsetOutOfRange = "OffsetOutOfRange";
    public const string LengthOutOfRange = "LengthOutOfRange";
    public const string SizeOutOfRange = "SizeOutOfRange";
    public const string InvalidArgument = "InvalidArgument";
    public const string MapRemoved = "MapRemoved";
    public const string MapNotFound = "MapNotFound";
    public const string SharedMemoryNotFound = "SharedMemoryNotFound";
    public const string NotSharedMemory = "NotSharedMemory";
    public const string AddressInUse = "AddressInUse";
    public const string AccessDenied = "AccessDenied";
    public const string PageUnavailable = "PageUnavailable";
    public const string HugePagesUnavailable = "HugePagesUnavailable";
    public const string ProcessNotFound = "ProcessNotFound";
    public const string IOError = "IOError";
    public const string NotSupported = "NotSupported";
    public const string NotLinux = "NotLinux";
    public const string MemoryLockLimit = "MemoryLockLimit";
    public const string MapLimit = "MapLimit";
    public const string NoMemoryCgroup = "NoMemoryCgroup";
    public const string InvalidSnapshot = "InvalidSnapshot";

    /// <summary>Whether the exception is a failure of the item at hand (reported), rather than a bug or a stop request (rethrown).</summary>
    public static bool IsExpected(Exception e) => e is MemoryMapException or IOException or ArgumentException
        or ObjectDisposedException or UnauthorizedAccessException or NotSupportedException;

    /// <summary>
    /// The error record, with a message for people where the exception's own has .NET's additions
    /// (" (Parameter 'offset')", "Actual value was ...", "Object name: ...").
    /// </summary>
    public static ErrorRecord Record(Exception e, (string Id, ErrorCategory Category) kind, object? target)
    {
        var record = new ErrorRecord(e, kind.Id, kind.Category, target);
        string? message = e switch
        {
            ObjectDisposedException d => $"{FirstLine(d.Message)} ({d.ObjectName})",
            ArgumentException a when a.ParamName is not null => ParameterSuffix.Replace(a.Message, ""),
            _ => null,
        };
        if (message is not null) record.ErrorDetails = new ErrorDetails(message);
        return record;
    }

    private static readonly System.Text.RegularExpressions.Regex ParameterSuffix =
        new(@"\s*\(Parameter '[^']*'\)(\r?\n.*)?$", System.Text.RegularExpressions.RegexOptions.Singleline);

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();

    public static ErrorRecord Create(string id, ErrorCategory category, string message, object? target, Exception? inner = null) =>
        new(new MemoryMapException(id, message, inner), id, category, target);

    public static (string Id, ErrorCategory Category) Classify(Exception e) => e switch
    {
        ObjectDisposedException => (MapRemoved, ErrorCategory.InvalidOperation),
        ArgumentOutOfRangeException { ParamName: "offset" } => (OffsetOutOfRange, ErrorCategory.InvalidArgument),
        ArgumentOutOfRangeException { ParamName: "length" or "count" or "source" or "destination" } => (LengthOutOfRange, ErrorCategory.InvalidArgument),
        ArgumentOutOfRangeException { ParamName: "size" } => (SizeOutOfRange, ErrorCategory.InvalidArgument),
        ArgumentException { ParamName: "processId" } => (ProcessNotFound, ErrorCategory.ObjectNotFound),
        ArgumentException => (InvalidArgument, ErrorCategory.InvalidArgument),
        SystemCallException s => ClassifyErrno(s),
        MemoryMapException { Reason: "NotMappable" } => (NotMappable, ErrorCategory.InvalidArgument),
        MemoryMapException { Reason: "EmptyFile" } => (EmptyFile, ErrorCategory.InvalidData),
        MemoryMapException { Reason: "PageUnavailable" } => (PageUnavailable, ErrorCategory.ResourceUnavailable),
        MemoryMapException { Reason: "EACCES" } => (AccessDenied, ErrorCategory.PermissionDenied),
        MemoryMapException { Reason: "MapLimit" } => (MapLimit, ErrorCategory.ResourceUnavailable),
        MemoryMapException { Reason: NoMemoryCgroup } => (NoMemoryCgroup, ErrorCategory.ObjectNotFound),
        MemoryMapException { Reason: InvalidSnapshot } => (InvalidSnapshot, ErrorCategory.InvalidData),
        MemoryMapException m => (m.Reason, ErrorCategory.NotSpecified),
        FileNotFoundException or DirectoryNotFoundException => (PathNotFound, ErrorCategory.ObjectNotFound),
        UnauthorizedAccessException => (AccessDenied, ErrorCategory.PermissionDenied),
        IOException => (IOError, ErrorCategory.ReadError),
        NotSupportedException => (NotSupported, ErrorCategory.NotImplemented),
        _ => (e.GetType().Name, ErrorCategory.NotSpecified),
    };

    /// <summary>Errors of a system call: the common causes by name, the rest by their errno name (ENOMEM, EINVAL, ...).</summary>
    private static (string, ErrorCategory) ClassifyErrno(SystemCallException e) => e.ErrorName switch
    {
        "ENOENT" => (PathNotFound, ErrorCategory.ObjectNotFound),
        "EACCES" or "EPERM" or "EROFS" or "ETXTBSY" => (AccessDenied, ErrorCategory.PermissionDenied),
        "EEXIST" when e.Call == "mmap" => (AddressInUse, ErrorCategory.ResourceExists),
        "EINVAL" when e.Call.StartsWith("prctl", StringComparison.Ordinal) => (NotSupported, ErrorCategory.NotImplemented),
        "EISDIR" or "ENODEV" or "ESPIPE" => (NotMappable, ErrorCategory.InvalidArgument),
        "ENOMEM" or "EAGAIN" or "ENOSPC" or "EMFILE" or "ENFILE" => (e.ErrorName, ErrorCategory.ResourceUnavailable),
        "EBUSY" => (e.ErrorName, ErrorCategory.ResourceBusy),
        "EINVAL" or "EOVERFLOW" or "EFBIG" or "ENAMETOOLONG" or "ELOOP" or "ENOTDIR" => (e.ErrorName, ErrorCategory.InvalidArgument),
        "ENOSYS" or "EOPNOTSUPP" => (e.ErrorName, ErrorCategory.NotImplemented),
        "EIO" => (e.ErrorName, ErrorCategory.WriteError),
        _ => (e.ErrorName, ErrorCategory.NotSpecified),
    };
}
