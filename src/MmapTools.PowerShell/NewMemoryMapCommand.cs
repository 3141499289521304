using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// New-MemoryMap: maps a window of a file (at any offset), a file it creates or grows, anonymous
/// memory, named POSIX shared memory or a memfd. Each map is tracked in the session (Get-MemoryMap)
/// until Remove-MemoryMap, the removal of the module or the end of the runspace unmaps it.
/// </summary>
[Cmdlet(VerbsCommon.New, "MemoryMap", DefaultParameterSetName = PathSet)]
[OutputType(typeof(MemoryMap))]
public sealed class NewMemoryMapCommand : MmapCmdlet
{
    private const string PathSet = "Path", LiteralPathSet = "LiteralPath", CreatePathSet = "CreatePath",
        CreateLiteralPathSet = "CreateLiteralPath", AnonymousSet = "Anonymous", SharedMemorySet = "SharedMemory", MemfdSet = "Memfd";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = CreatePathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = CreateLiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public long Offset { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public long Length { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = CreatePathSet)]
    [Parameter(Mandatory = true, ParameterSetName = CreateLiteralPathSet)]
    public SwitchParameter Create { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = CreatePathSet)]
    [Parameter(Mandatory = true, ParameterSetName = CreateLiteralPathSet)]
    [Parameter(Mandatory = true, ParameterSetName = AnonymousSet)]
    [Parameter(Mandatory = true, ParameterSetName = SharedMemorySet)]
    [Parameter(Mandatory = true, ParameterSetName = MemfdSet)]
    public long Size { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = AnonymousSet)]
    public SwitchParameter Anonymous { get; set; }

    [Parameter(ParameterSetName = AnonymousSet)]
    public SwitchParameter Shared { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = SharedMemorySet)]
    [ArgumentCompleter(typeof(SharedMemoryNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string SharedMemoryName { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = MemfdSet)]
    public SwitchParameter Memfd { get; set; }

    [Parameter(ParameterSetName = AnonymousSet)]
    [Parameter(Mandatory = true, ParameterSetName = MemfdSet)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter]
    public MapAccess Access { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = CreatePathSet)]
    [Parameter(ParameterSetName = CreateLiteralPathSet)]
    [Parameter(ParameterSetName = SharedMemorySet)]
    [Parameter(ParameterSetName = MemfdSet)]
    public SwitchParameter Private { get; set; }

    [Parameter]
    public SwitchParameter Populate { get; set; }

    [Parameter(ParameterSetName = AnonymousSet)]
    [Parameter(ParameterSetName = MemfdSet)]
    public SwitchParameter HugePages { get; set; }

    [Parameter(ParameterSetName = AnonymousSet)]
    [Parameter(ParameterSetName = MemfdSet)]
    public long HugePageSize { get; set; }

    [Parameter]
    public SwitchParameter NoReserve { get; set; }

    [Parameter]
    public long FixedAddress { get; set; }

    protected override void ProcessRecord()
    {
        var options = new MemoryMapOptions
        {
            Access = MyInvocation.BoundParameters.ContainsKey(nameof(Access)) ? Access : null,
            Private = Private ? true : Shared ? false : null,
            Populate = Populate,
            HugePages = HugePages,
            HugePageSize = HugePageSize,
            NoReserve = NoReserve,
            FixedAddress = Bound(nameof(FixedAddress), FixedAddress) is { } address ? (nint)address : null,
            Name = ParameterSetName == AnonymousSet && Name.Length > 0 ? Name : null,
        };
        switch (ParameterSetName)
        {
            case PathSet or LiteralPathSet:
                long? length = Bound(nameof(Length), Length);
                // OpenFile's open reports a missing file (PathNotFound), so the path is not looked up first.
                foreach (string file in FileSystemPaths.Resolve(this, ParameterSetName == PathSet ? Path : LiteralPath, literal: ParameterSetName == LiteralPathSet, callerStats: true))
                    Emit(file, () => MemoryMap.OpenFile(file, Offset, length, options));
                break;
            case CreatePathSet or CreateLiteralPathSet:
                foreach (string file in FileSystemPaths.Resolve(this, ParameterSetName == CreatePathSet ? Path : LiteralPath, literal: true, mustExist: false))
                    Emit(file, () => MemoryMap.CreateFile(file, Size, options));
                break;
            case AnonymousSet:
                Emit("anonymous memory", () => MemoryMap.Anonymous(Size, options));
                break;
            case SharedMemorySet:
                Emit(SharedMemoryName, () => MemoryMap.SharedMemory(SharedMemoryName, Size, options));
                break;
            case MemfdSet:
                Emit(Name, () => MemoryMap.Memfd(Name, Size, options));
                break;
        }
    }

    private void Emit(object target, Func<MemoryMap> map)
    {
        if (!TryItem(target, map, out var made)) return;
        SessionMaps.Current.Add(made);
        WriteObject(made);
    }

    protected override (string Id, ErrorCategory Category) Classify(Exception e) => e switch
    {
        SystemCallException { ErrorName: "ENOMEM" or "EINVAL" } when HugePages => (ErrorMapping.HugePagesUnavailable, ErrorCategory.ResourceUnavailable),
        ArgumentOutOfRangeException { ParamName: "length" } when ParameterSetName is AnonymousSet or MemfdSet => (ErrorMapping.SizeOutOfRange, ErrorCategory.InvalidArgument),
        _ => base.Classify(e),
    };
}
