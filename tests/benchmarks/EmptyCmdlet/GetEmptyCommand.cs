using System.Management.Automation;

namespace MmapTools.Benchmarks;

/// <summary>Binds what Get-PageResidency -LiteralPath -Summary binds and writes one object: PowerShell's own price of such a call.</summary>
[Cmdlet(VerbsCommon.Get, "Empty")]
[OutputType(typeof(int))]
public sealed class GetEmptyCommand : PSCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath")]
    public string[] LiteralPath { get; set; } = [];

    [Parameter]
    public SwitchParameter Summary { get; set; }

    protected override void ProcessRecord() => WriteObject(LiteralPath.Length);
}
