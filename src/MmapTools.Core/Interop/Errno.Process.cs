namespace MmapTools.Interop;

internal static partial class Errno
{
    /// <summary>No such process (the target exited); an ioctl the file does not know.</summary>
    public const int ESRCH = 3, ENOTTY = 25;
}
