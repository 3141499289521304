using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Invoke-MemoryReclaim: asks a memory cgroup (given by its folder, or as the cgroup of a process)
/// to reclaim an amount of memory now, through cgroup v2's memory.reclaim. The processes in it fault
/// the pages back as they need them, so it asks first (ConfirmImpact Medium). On cgroup v1 it
/// says what the cgroup has instead and does nothing.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "MemoryReclaim", DefaultParameterSetName = ProcessSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(CgroupReclaimResult))]
public sealed class InvokeMemoryReclaimCommand : MmapCmdlet
{
    private const string ProcessSet = "ProcessId", PathSet = "LiteralPath";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ProcessSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "Pid")]
    [ValidateRange(1, int.MaxValue)]
    public int[] ProcessId { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true, Position = 1)]
    [ValidateRange(1, long.MaxValue)]
    public long Bytes { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == PathSet)
        {
            foreach (string path in LiteralPath) Reclaim(GetUnresolvedProviderPathFromPSPath(path));
            return;
        }
        foreach (int pid in ProcessId)
            if (TryItem(pid, () => CgroupReclaim.Find(pid), out var cgroup)) Reclaim(cgroup.Path);
    }

    private void Reclaim(string path)
    {
        if (!ShouldProcessAt(ConfirmImpact.Medium, path, $"Reclaim {Bytes} bytes (the processes in the cgroup fault back what they need)")) return;
        if (TryItem(path, () => CgroupReclaim.Reclaim(path, Bytes), out var result)) WriteObject(result);
    }
}
