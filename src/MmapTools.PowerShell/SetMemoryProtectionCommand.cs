using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Set-MemoryProtection: mprotect over a map or a range of it. -Access None makes guard pages:
/// Read-MemoryMap and Write-MemoryMap then report PageUnavailable instead of crashing.
/// </summary>
[Cmdlet(VerbsCommon.Set, "MemoryProtection", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(MemoryMap))]
public sealed class SetMemoryProtectionCommand : RangeCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap[] Map { get; set; } = [];

    [Parameter(Mandatory = true, Position = 1)]
    public MapAccess Access { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var map in Map)
        {
            string range = RangeLength is { } length ? $"bytes {Offset} to {Offset + length}" : Offset == 0 ? "the whole map" : $"from byte {Offset} on";
            if (!ShouldProcess(map.ToString(), $"mprotect {range} to {Access}")) continue;
            if (TryItem(map, () => map.Protect(Access, Offset, RangeLength)) && PassThru) WriteObject(map);
        }
    }
}
