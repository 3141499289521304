using System.Globalization;

namespace MmapTools;

/// <summary>
/// A size in bytes as people read it, the same in every front end (errors, PowerShell views,
/// notebook pictures): binary units (B, KiB, MiB, ...), a dot whatever the culture, and at most
/// four digits, one of them a decimal below 100, so that it fits a table column of nine.
/// </summary>
public static class ByteSize
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>In the largest unit that keeps a whole number in front: "512 B", "4 KiB", "1.5 GiB", "768 MiB".</summary>
    public static string Format(double bytes)
    {
        int unit = 0;
        while (Math.Abs(bytes) >= 1024 && unit < Units.Length - 1) { bytes /= 1024; unit++; }
        return bytes.ToString(unit == 0 || Math.Abs(bytes) >= 100 ? "0" : "0.#", CultureInfo.InvariantCulture) + " " + Units[unit];
    }
}
