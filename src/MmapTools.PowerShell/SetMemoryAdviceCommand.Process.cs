using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>Set-MemoryAdvice -Region: advice to another process's mapping, through process_madvise.</summary>
public sealed partial class SetMemoryAdviceCommand
{
    private const string RegionSet = "Region";

    /// <summary>Mappings of a process, as Get-MemoryMap -ProcessId gives them.</summary>
    [Parameter(Mandatory = true, ParameterSetName = RegionSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryRegion[] Region { get; set; } = [];

    /// <summary>
    /// Gives another process advice over its mapping. PageOut and Collapse go through ShouldProcess:
    /// the process faults paged-out pages back in, and a collapse stalls it while huge pages are made.
    /// </summary>
    private void AdviseRegion(MemoryRegion region)
    {
        if (!ProcessAdvice.IsSupported(Advice))
        {
            WriteItemError(ErrorMapping.InvalidArgument, ErrorCategory.InvalidArgument,
                $"Another process takes Cold, PageOut, WillNeed or Collapse through process_madvise, not {Advice}.", region);
            return;
        }
        string target = $"process {region.ProcessId} {region}";
        string action = $"process_madvise({Advice}) over {Describe()}";
        bool proceed = Advice is MemoryAdvice.PageOut or MemoryAdvice.Collapse
            ? ShouldProcessAt(ConfirmImpact.Medium, target, action + " (the process faults the pages back in as it needs them)")
            : ShouldProcessHarmless(target, action);
        if (!proceed) return;
        long length = RangeLength ?? region.Size - Offset;
        Func<PageResidency> residency = () => PageMap.GetStates(region.ProcessId, region.Start + (ulong)Offset, length, path: region.Path).ToResidency();
        Run(region, residency, () => ProcessAdvice.Advise(region, Advice, Offset, RangeLength),
            (before, after, elapsed) => Result(Advice.ToString(), before, after, elapsed, region.Path, null, $"process {region.ProcessId} at 0x{region.Start + (ulong)Offset:x}"));
    }
}
