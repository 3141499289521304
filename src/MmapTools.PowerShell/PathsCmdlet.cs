using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>A cmdlet that takes files by -Path (wildcards, pipeline) or -LiteralPath (PSPath from Get-ChildItem).</summary>
public abstract class PathsCmdlet : MmapCmdlet
{
    protected const string PathSet = "Path", LiteralPathSet = "LiteralPath";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>The file system paths of this record's -Path or -LiteralPath; each that cannot be resolved gets an error.</summary>
    protected IEnumerable<string> ResolvePaths() =>
        FileSystemPaths.Resolve(this, ParameterSetName == PathSet ? Path : LiteralPath, ParameterSetName == LiteralPathSet);
}
