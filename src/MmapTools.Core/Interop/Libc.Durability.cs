using System.Runtime.InteropServices;

namespace MmapTools.Interop;

/// <summary>
/// Flushing a file and its directory to the device, for <see cref="MemoryMap.Sync"/> with
/// durable: msync writes a map's pages, and on Linux it is fdatasync of that range at most; the
/// file's size, its other metadata and its name in a directory are promised only by fsync of the
/// file and of the directory that holds the name.
/// </summary>
internal static partial class Libc
{
    [LibraryImport(Library, SetLastError = true)]
    public static partial int fsync(int fd);
}
