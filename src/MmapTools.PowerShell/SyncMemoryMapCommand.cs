using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Sync-MemoryMap: msync over a map or a range of it, so the dirty pages of a shared file map reach
/// the file on disk; -Durable also fsyncs the file and its directory (a grown size, a new name).
/// -PassThru tells how long it took, the dirty pages before and after, and what is on the disk.
/// </summary>
[Cmdlet(VerbsData.Sync, "MemoryMap")]
[OutputType(typeof(SyncResult))]
public sealed class SyncMemoryMapCommand : RangeCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap[] Map { get; set; } = [];

    [Parameter]
    public SwitchParameter Async { get; set; }

    [Parameter]
    public SwitchParameter Invalidate { get; set; }

    [Parameter]
    public SwitchParameter Durable { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var map in Map)
        {
            if (TryItem(map, () => map.Sync(Offset, RangeLength, Async, Invalidate, Durable), out var result) && PassThru)
                WriteObject(result);
        }
    }
}
