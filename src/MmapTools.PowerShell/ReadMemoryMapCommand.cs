using System.Management.Automation;
using System.Text;

namespace MmapTools.PowerShell;

/// <summary>
/// Read-MemoryMap: copies bytes out of a map, or decodes them as text with -AsText. The copy is
/// safe: a page that vanished (the file was truncated) or that the protection forbids gives the
/// error PageUnavailable instead of killing PowerShell with SIGBUS or SIGSEGV.
/// </summary>
[Cmdlet(VerbsCommunications.Read, "MemoryMap", DefaultParameterSetName = BytesSet)]
[OutputType(typeof(byte[]), ParameterSetName = [BytesSet])]
[OutputType(typeof(string), ParameterSetName = [TextSet])]
public sealed class ReadMemoryMapCommand : MmapCmdlet
{
    private const string BytesSet = "Bytes", TextSet = "Text";

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public MemoryMap Map { get; set; } = null!;

    [Parameter(Position = 1)]
    public long Offset { get; set; }

    [Parameter(Position = 2)]
    public long Length { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = TextSet)]
    public SwitchParameter AsText { get; set; }

    [Parameter(ParameterSetName = TextSet)]
    [EncodingTransformation]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    public Encoding Encoding { get; set; } = EncodingTransformationAttribute.Utf8;

    protected override void ProcessRecord()
    {
        if (!TryItem(Map, Read, out byte[] bytes)) return;
        if (AsText) WriteObject(Encoding.GetString(bytes));
        else WriteObject(bytes, enumerateCollection: false);
    }

    private byte[] Read()
    {
        long count = Bound(nameof(Length), Length) ?? Map.Length - Math.Clamp(Offset, 0, Map.Length);
        if (count > Array.MaxLength)
            throw new ArgumentOutOfRangeException("length", count,
                $"{count} bytes do not fit in one array (at most {Array.MaxLength}); read the map in parts with -Offset and -Length.");
        // Core checks the range against the map: a negative count or one past the end gives LengthOutOfRange.
        return Map.Read(Offset, (int)Math.Max(count, -1));
    }
}
