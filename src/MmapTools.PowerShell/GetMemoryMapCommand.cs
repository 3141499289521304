using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Get-MemoryMap: the maps New-MemoryMap made in this session, or with -ProcessId / -Process every
/// mapping of a process from /proc/PID/smaps, with its Rss, Pss, dirty and swapped sizes.
/// </summary>
[Cmdlet(VerbsCommon.Get, "MemoryMap", DefaultParameterSetName = SessionSet)]
[OutputType(typeof(MemoryMap), ParameterSetName = [SessionSet])]
[OutputType(typeof(MemoryRegion), ParameterSetName = [ProcessIdSet, ProcessSet])]
public sealed class GetMemoryMapCommand : MmapCmdlet
{
    private const string SessionSet = "Session", ProcessIdSet = "ProcessId", ProcessSet = "Process";

    [Parameter(Position = 0, ParameterSetName = SessionSet)]
    [ArgumentCompleter(typeof(MapIdCompleter))]
    public int[]? Id { get; set; }

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ProcessIdSet)]
    public int[] ProcessId { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = ProcessSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Process[] Process { get; set; } = [];

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case SessionSet:
                var maps = SessionMaps.Current.Snapshot();
                if (Id is null)
                {
                    foreach (var map in maps) WriteObject(map);
                    return;
                }
                foreach (int id in Id)
                {
                    if (maps.FirstOrDefault(m => m.Id == id) is { } map) WriteObject(map);
                    else WriteItemError(ErrorMapping.MapNotFound, ErrorCategory.ObjectNotFound,
                        $"This session has no map with id {id}; Get-MemoryMap alone lists the maps it has.", id);
                }
                break;
            case ProcessIdSet:
                foreach (int pid in ProcessId) WriteRegions(pid);
                break;
            case ProcessSet:
                foreach (var process in Process) WriteRegions(process.Id);
                break;
        }
    }

    private void WriteRegions(int pid)
    {
        if (TryItem(pid, () => ProcessMemory.GetRegions(pid), out var regions))
            foreach (var region in regions) WriteObject(region);
    }
}
