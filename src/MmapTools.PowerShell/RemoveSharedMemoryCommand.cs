using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Remove-SharedMemory: removes the names of POSIX shared memory objects (shm_unlink), as
/// New-MemoryMap -SharedMemoryName made them. Maps of it that exist keep their pages; the memory
/// is freed once the last of them is removed, and a new map of the name makes a new, empty object.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "SharedMemory", DefaultParameterSetName = MapSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveSharedMemoryCommand : MmapCmdlet
{
    private const string NameSet = "Name", MapSet = "Map";

    /// <summary>Also binds the Name of Get-ChildItem /dev/shm output.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(SharedMemoryNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>
    /// Maps bind here by value. This is the default set because PowerShell tries the default set
    /// first when it binds pipeline input: else a map's Name would bind to -Name by property, and a
    /// memfd or anonymous map's name would remove an unrelated shared memory object of that name.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = MapSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap[] Map { get; set; } = [];

    protected override void ProcessRecord()
    {
        if (ParameterSetName == NameSet)
        {
            foreach (string name in Name) Remove(name);
            return;
        }
        foreach (var map in Map)
        {
            if (map.Kind == MapKind.SharedMemory) Remove(map.Name!);
            else WriteItemError(ErrorMapping.NotSharedMemory, ErrorCategory.InvalidArgument,
                $"Map {map.Id} is {map.Kind} memory, not shared memory made with -SharedMemoryName: it has no name to remove. Remove-MemoryMap unmaps it.", map);
        }
    }

    private void Remove(string name)
    {
        string shown = "/dev/shm/" + name.TrimStart('/');
        if (!ShouldProcess(shown, "Remove shared memory")) return;
        TryItem(name, () => MemoryMap.RemoveSharedMemory(name));
    }

    protected override (string Id, ErrorCategory Category) Classify(Exception e) => e is SystemCallException { ErrorName: "ENOENT" }
        ? (ErrorMapping.SharedMemoryNotFound, ErrorCategory.ObjectNotFound)
        : base.Classify(e);
}
