using System.Text;

namespace MmapTools.Interactive;

/// <summary>A <see cref="MemoryMap"/> as a summary table with a strip of its residency.</summary>
public static class MemoryMapView
{
    private static readonly HeatMapOptions Strip = new() { MaxCells = 256, Columns = 64, CellSize = 6, Legend = false };

    public static string ToHtml(MemoryMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var html = new StringBuilder();
        Html.OpenFigure(html, "mmaptools-map", $"{map.Kind} map {map.Id}{(map.IsDisposed ? " (removed)" : "")}");
        var rows = new List<(string, string)>();
        string? source = map.Kind switch
        {
            MapKind.File => map.Path ?? "a file opened by the caller",
            MapKind.SharedMemory => $"{map.Name} ({map.Path})",
            MapKind.Memfd => map.Name,
            _ => map.Name,
        };
        if (source is not null) rows.Add(("Of", Html.Encode(source)));
        long pages = (map.Length + MemoryMap.PageSize - 1) / MemoryMap.PageSize;
        rows.Add(("Length", Html.Encode($"{ByteSize.Format(map.Length)} ({Html.Num(map.Length)} bytes, {Html.Num(pages)} page{(pages == 1 ? "" : "s")} of {ByteSize.Format(MemoryMap.PageSize)})")));
        if (map.Kind == MapKind.File) rows.Add(("File offset", Html.Encode(Html.Num(map.Offset))));
        rows.Add(("Access", Html.Encode(map.Access.ToString())));
        rows.Add(("Sharing", Html.Encode(map.IsPrivate ? "private (copy-on-write: writes stay in this process)" : "shared (writes reach the file and other processes)")));
        var options = Options(map.Options);
        if (options.Length > 0) rows.Add(("Options", Html.Encode(options)));
        if (!map.IsDisposed)
        {
            rows.Add(("Address", Html.Encode($"0x{map.Address:x}")));
            PageResidency? residency = null;
            try
            {
                residency = map.GetResidency();
            }
            catch (MemoryMapException)
            {
                // A map removed or changed between the check and the call: show it without residency.
            }
            catch (ObjectDisposedException)
            {
            }
            if (residency is not null)
            {
                var strip = new StringBuilder();
                ResidencyHeatMap.AppendSvg(strip, residency, Strip);
                strip.Append("<div>").Append(Html.Encode(ResidencyHeatMap.Counts(residency))).Append("</div>");
                rows.Add(("Residency", strip.ToString()));
            }
        }
        Html.Table(html, rows);
        Html.CloseFigure(html);
        return html.ToString();
    }

    private static string Options(MemoryMapOptions options)
    {
        var words = new List<string>();
        if (options.Populate) words.Add("populate (MAP_POPULATE)");
        if (options.HugePages) words.Add(options.HugePageSize == 0 ? "huge pages" : $"huge pages of {ByteSize.Format(options.HugePageSize)}");
        if (options.NoReserve) words.Add("no reserve (MAP_NORESERVE)");
        if (options.FixedAddress is { } at) words.Add($"fixed at 0x{at:x} (MAP_FIXED_NOREPLACE)");
        return string.Join(", ", words);
    }
}
