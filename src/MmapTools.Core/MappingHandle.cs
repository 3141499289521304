using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// Owns one mapping. Every operation holds a reference (DangerousAddRef) while it runs, so
/// disposing while a read is in flight on another thread unmaps only once the read has finished,
/// and any later use fails with ObjectDisposedException instead of touching freed address space.
/// </summary>
internal sealed class MappingHandle : SafeHandle
{
    private static int s_live;

    public MappingHandle(nint address, nuint length) : base(Libc.MAP_FAILED, ownsHandle: true)
    {
        SetHandle(address);
        ByteLength = length;
        Interlocked.Increment(ref s_live);
    }

    /// <summary>How many mappings the core holds in this process (for the vm.max_map_count budget).</summary>
    public static int Live => Volatile.Read(ref s_live);

    public nuint ByteLength { get; }

    /// <summary>
    /// The descriptor the map was made from. It is closed with the mapping, after the last operation
    /// in flight, because those operations still ask it (cachestat, the size after a truncation).
    /// </summary>
    public SafeFileHandle? File { get; set; }

    public override bool IsInvalid => handle == Libc.MAP_FAILED;

    protected override bool ReleaseHandle()
    {
        bool unmapped = Libc.munmap(handle, ByteLength) == 0;
        Interlocked.Decrement(ref s_live);
        File?.Dispose();
        return unmapped;
    }
}
