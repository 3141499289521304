using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Remove-MemoryMap: unmaps (munmap) once any operation in flight has finished. Removing a map
/// twice is harmless; a removed map refuses any further use with the error MapRemoved.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "MemoryMap", DefaultParameterSetName = MapSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveMemoryMapCommand : MmapCmdlet
{
    private const string MapSet = "Map", IdSet = "Id";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = MapSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap[] Map { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = IdSet)]
    [ArgumentCompleter(typeof(MapIdCompleter))]
    public int[] Id { get; set; } = [];

    protected override void ProcessRecord()
    {
        var maps = SessionMaps.Current;
        if (ParameterSetName == IdSet)
        {
            foreach (int id in Id)
            {
                if (maps.Find(id) is { } found) Remove(found);
                else WriteItemError(ErrorMapping.MapNotFound, ErrorCategory.ObjectNotFound,
                    $"This session has no map with id {id}; Get-MemoryMap lists the maps it has.", id);
            }
            return;
        }
        foreach (var map in Map) Remove(map);
    }

    private void Remove(MemoryMap map)
    {
        if (!map.IsDisposed && !ShouldProcessAt(ConfirmImpact.Medium, map, "Unmap")) return;
        map.Dispose();
        SessionMaps.Current.Remove(map);
    }
}
