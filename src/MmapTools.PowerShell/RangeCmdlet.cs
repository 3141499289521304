using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// A cmdlet that acts on a byte range: -Offset (default 0) and -Length (default: to the end). The
/// range need not be page-aligned; page-level calls widen it to whole pages.
/// </summary>
public abstract class RangeCmdlet : MmapCmdlet
{
    [Parameter]
    public long Offset { get; set; }

    [Parameter]
    public long Length { get; set; }

    /// <summary>-Length, or null when it was not given (to the end of the map or file).</summary>
    protected long? RangeLength => Bound(nameof(Length), Length);
}
