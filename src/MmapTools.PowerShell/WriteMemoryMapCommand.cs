using System.Management.Automation;
using System.Text;

namespace MmapTools.PowerShell;

/// <summary>
/// Write-MemoryMap: copies bytes, or text encoded with -Encoding, into a map at an offset. On a
/// shared file map the bytes reach the page cache at once (other processes and reads of the file
/// see them); Sync-MemoryMap writes them to the disk. A read-only or vanished page gives the error
/// PageUnavailable, never a crash.
/// </summary>
[Cmdlet(VerbsCommunications.Write, "MemoryMap", DefaultParameterSetName = BytesSet)]
[OutputType(typeof(MemoryMap))]
public sealed class WriteMemoryMapCommand : MmapCmdlet
{
    private const string BytesSet = "Bytes", TextSet = "Text";

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap Map { get; set; } = null!;

    [Parameter(Position = 1)]
    public long Offset { get; set; }

    [Parameter(Mandatory = true, Position = 2, ParameterSetName = BytesSet)]
    [ValidateNotNull]
    public byte[] Value { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = TextSet)]
    [ValidateNotNull]
    public string Text { get; set; } = "";

    [Parameter(ParameterSetName = TextSet)]
    [EncodingTransformation]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    public Encoding Encoding { get; set; } = EncodingTransformationAttribute.Utf8;

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        byte[] bytes = ParameterSetName == TextSet ? Encoding.GetBytes(Text) : Value;
        if (TryItem(Map, () => Map.Write(Offset, bytes)) && PassThru) WriteObject(Map);
    }
}
