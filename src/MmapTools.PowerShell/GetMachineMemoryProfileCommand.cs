using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Get-MachineMemoryProfile: what changes mmap's behaviour on this machine, each item read from the
/// kernel or measured at the moment of the call (<see cref="MachineProfile"/>). Large folios,
/// read-ahead and fault-around are those of the file system of -Path (default: the current
/// location), where a probe file is written and removed.
/// </summary>
[Cmdlet(VerbsCommon.Get, "MachineMemoryProfile", DefaultParameterSetName = PathSet)]
[OutputType(typeof(MachineProfile))]
public sealed class GetMachineMemoryProfileCommand : MmapCmdlet
{
    private const string PathSet = "Path", LiteralPathSet = "LiteralPath";

    [Parameter(Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == LiteralPathSet;
        string[] paths = literal ? LiteralPath : Path ?? [CurrentDirectory()];
        foreach (string path in FileSystemPaths.Resolve(this, paths, literal))
        {
            if (TryItem(path, () => MachineProfile.Read(path), out var profile))
                WriteObject(profile);
        }
    }

    /// <summary>The current location where it is in the file system, else the temporary directory.</summary>
    private string CurrentDirectory()
    {
        var location = SessionState.Path.CurrentFileSystemLocation;
        return string.IsNullOrEmpty(location?.ProviderPath) ? System.IO.Path.GetTempPath() : location.ProviderPath;
    }
}
