using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Get-CgroupPageCache: the page cache a memory cgroup holds, from its memory.stat (cgroup v1 or v2),
/// found from a process (this PowerShell by default) or from the cgroup's directory.
/// </summary>
[Cmdlet(VerbsCommon.Get, "CgroupPageCache", DefaultParameterSetName = ProcessIdSet)]
[OutputType(typeof(CgroupPageCache))]
public sealed class GetCgroupPageCacheCommand : MmapCmdlet
{
    private const string ProcessIdSet = "ProcessId", ProcessSet = "Process", PathSet = "Path", LiteralPathSet = "LiteralPath";

    [Parameter(Position = 0, ParameterSetName = ProcessIdSet)]
    [ValidateRange(1, int.MaxValue)]
    public int[] ProcessId { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = ProcessSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Process[] Process { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case PathSet or LiteralPathSet:
                foreach (string path in FileSystemPaths.Resolve(this, ParameterSetName == PathSet ? Path : LiteralPath, ParameterSetName == LiteralPathSet))
                    if (TryItem(path, () => CgroupMemory.Get(path), out var byPath)) WriteObject(byPath);
                break;
            default:
                var ids = ParameterSetName == ProcessSet ? Process.Select(p => p.Id) : ProcessId.Length > 0 ? ProcessId : [Environment.ProcessId];
                foreach (int pid in ProcessTargets.Existing(this, ids))
                    if (TryItem(pid, () => CgroupMemory.GetForProcess(pid), out var byProcess)) WriteObject(byProcess);
                break;
        }
    }
}
