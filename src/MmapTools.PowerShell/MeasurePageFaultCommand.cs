using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Measure-PageFault: runs a script block, as Measure-Command does (its output is discarded), and
/// reports the minor and major page faults and the time it took. A minor fault maps a page that is
/// already in memory; a major fault waited for it to be read from storage.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "PageFault")]
[OutputType(typeof(FaultMeasurement))]
public sealed class MeasurePageFaultCommand : MmapCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNull]
    public ScriptBlock ScriptBlock { get; set; } = null!;

    [Parameter(ValueFromPipeline = true)]
    public PSObject? InputObject { get; set; }

    [Parameter]
    public FaultScope Scope { get; set; } = FaultScope.Thread;

    protected override void ProcessRecord()
    {
        // The script block runs on this thread, so Thread scope counts its faults and no others.
        var variables = new List<PSVariable> { new("_", InputObject) };
        FaultMeasurement measurement;
        try
        {
            measurement = ProcessMemory.Measure(() => ScriptBlock.InvokeWithContext(null, variables), Scope);
        }
        catch (RuntimeException e) when (e is not PipelineStoppedException and not ActionPreferenceStopException)
        {
            ThrowTerminatingError(new ErrorRecord(e.ErrorRecord, e));
            return;
        }
        WriteObject(measurement);
    }
}
