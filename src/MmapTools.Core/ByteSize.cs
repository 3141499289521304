using System.Globalization;

namespace MmapTools;

/// <summary>
/// A size in bytes as people read it, the same in every front end (errors, PowerShell views,
/// notebook pictures): binary units (KiB, MiB, ...), one decimal at most, a dot whatever the culture.
/// </summary>
public static class ByteSize
{
    private static readonly string[] Units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>In the largest unit that keeps a whole number in front: "512 bytes", "4 KiB", "1.5 GiB".</summary>
    public static string Format(double bytes)
    {
        int unit = 0;
        while (Math.Abs(bytes) >= 1024 && unit < Units.Length - 1) { bytes /= 1024; unit++; }
        return bytes.ToString(unit == 0 ? "0" : "0.#", CultureInfo.InvariantCulture) + " " + Units[unit];
    }
}
