using System.Runtime.InteropServices;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// Owns one mapping. Every operation holds a reference (DangerousAddRef) while it runs, so
/// disposing while a read is in flight on another thread unmaps only once the read has finished,
/// and any later use fails with ObjectDisposedException instead of touching freed address space.
/// </summary>
internal sealed class MappingHandle : SafeHandle
{
    public MappingHandle(nint address, nuint length) : base(Libc.MAP_FAILED, ownsHandle: true)
    {
        SetHandle(address);
        ByteLength = length;
    }

    public nuint ByteLength { get; }

    public override bool IsInvalid => handle == Libc.MAP_FAILED;

    protected override bool ReleaseHandle() => Libc.munmap(handle, ByteLength) == 0;
}
