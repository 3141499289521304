using System.IO;
using System.Management.Automation;

namespace MmapTools.Benchmarks;

/// <summary>
/// Binds what Get-PageResidency binds (a path, a literal path or a piped Get-ChildItem object by value,
/// and -Summary), does nothing with it and writes one object, the count of records it was given:
/// PowerShell's own price of such a call, or of handing each listed file to a compiled cmdlet.
/// </summary>
[Cmdlet(VerbsCommon.Get, "Empty", DefaultParameterSetName = "Path")]
[OutputType(typeof(long))]
public sealed class GetEmptyCommand : PSCmdlet
{
    private long _records;

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = "LiteralPath", ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = "File", ValueFromPipeline = true)]
    public FileSystemInfo[] InputObject { get; set; } = [];

    [Parameter]
    public SwitchParameter Summary { get; set; }

    protected override void ProcessRecord() => _records++;

    protected override void EndProcessing() => WriteObject(_records);
}
