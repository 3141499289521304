using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Get-CachedFile: the files processes hold open or mapped, each once by device and inode, with its
/// page-cache residency and the processes holding it; -Top N keeps the N files holding the most
/// cache. Without -ProcessId or -Process every process this user may read is examined, and those it
/// may not are reported once, in one warning.
/// </summary>
[Cmdlet(VerbsCommon.Get, "CachedFile", DefaultParameterSetName = AllSet)]
[OutputType(typeof(CachedFile))]
public sealed class GetCachedFileCommand : MmapCmdlet
{
    private const string AllSet = "All", ProcessIdSet = "ProcessId", ProcessSet = "Process";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ProcessIdSet)]
    [ValidateRange(1, int.MaxValue)]
    public int[] ProcessId { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = ProcessSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Process[] Process { get; set; } = [];

    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Top { get; set; }

    private readonly List<int> _processIds = new();

    protected override void ProcessRecord() =>
        _processIds.AddRange(ProcessTargets.Existing(this, ParameterSetName == ProcessSet ? Process.Select(p => p.Id) : ProcessId));

    protected override void EndProcessing()
    {
        bool all = ParameterSetName == AllSet;
        if (!all && _processIds.Count == 0) return;
        var scan = ProcessFiles.Scan(all ? null : _processIds.Distinct());
        if (all) ProcessTargets.WarnSkipped(this, scan.Skipped);
        else
            foreach (var skipped in scan.Skipped)
                WriteItemError(ErrorMapping.AccessDenied, ErrorCategory.PermissionDenied,
                    $"The files of process {skipped.ProcessId} cannot be read by this user ({skipped.Reason}); it was skipped.", skipped.ProcessId);
        // Largest first; -Top keeps the first N.
        foreach (var file in CacheTop.Rank(scan.Files, MyInvocation.BoundParameters.ContainsKey(nameof(Top)) ? Top : int.MaxValue)) WriteObject(file);
    }
}

/// <summary>What the cmdlets that take -ProcessId and -Process share.</summary>
internal static class ProcessTargets
{
    /// <summary>The ids of processes that exist; each that does not gets a ProcessNotFound error.</summary>
    public static IEnumerable<int> Existing(MmapCmdlet cmdlet, IEnumerable<int> processIds)
    {
        foreach (int pid in processIds)
        {
            if (Directory.Exists($"/proc/{pid}")) yield return pid;
            else cmdlet.WriteError(ErrorMapping.Create(ErrorMapping.ProcessNotFound, ErrorCategory.ObjectNotFound, $"No process has id {pid}.", pid));
        }
    }

    /// <summary>One warning for all the processes a scan of every process could not read.</summary>
    public static void WarnSkipped(Cmdlet cmdlet, IReadOnlyList<SkippedProcess> skipped)
    {
        if (skipped.Count == 0) return;
        string ids = string.Join(", ", skipped.Take(20).Select(s => s.ProcessId)) + (skipped.Count > 20 ? ", ..." : "");
        cmdlet.WriteWarning($"{skipped.Count} processes could not be read by this user and were skipped (ids {ids}): {skipped[0].Reason}. Run as root to see their files.");
    }
}
