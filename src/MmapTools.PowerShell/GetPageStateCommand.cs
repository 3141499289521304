using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Get-PageState: the state of each page of another process's mapping or address range, from its
/// page table: present, swapped, file or shared, exclusively mapped, soft-dirty, huge, and as root
/// the pages' own flags from /proc/kpageflags (dirty, LRU, active, referenced, KSM, zero page).
/// Mappings from Get-MemoryMap -ProcessId bind from the pipeline. Runs through PAGEMAP_SCAN where the
/// kernel has it, else a read of /proc/PID/pagemap.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PageState", DefaultParameterSetName = RegionSet)]
[OutputType(typeof(PageStateMap))]
public sealed class GetPageStateCommand : MmapCmdlet
{
    private const string RegionSet = "Region", RangeSet = "Range";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = RegionSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryRegion[] Region { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = RangeSet)]
    [ValidateRange(1, int.MaxValue)]
    public int ProcessId { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = RangeSet)]
    public ulong Address { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = RangeSet)]
    public long Length { get; set; }

    [Parameter]
    public PageMapSource Source { get; set; } = PageMapSource.Auto;

    [Parameter]
    public SwitchParameter KernelFlags { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == RangeSet)
        {
            object target = $"process {ProcessId} at 0x{Address:x}";
            if (TryItem(target, () => PageMap.GetStates(ProcessId, Address, Length, Source, KernelFlags), out var states)) WriteObject(states);
            return;
        }
        foreach (var region in Region)
            if (TryItem(region, () => PageMap.GetStates(region, Source, KernelFlags), out var states)) WriteObject(states);
    }
}
