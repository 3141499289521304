using MmapTools.Interop;

namespace MmapTools;

/// <summary>A file's identity: its device and inode, the same for every path and hard link that reaches it.</summary>
internal readonly record struct FileId(ulong Device, ulong Inode)
{
    public static FileId Of(in Libc.Statx st) => new(PageCache.DeviceOf(st), st.Inode);
}
