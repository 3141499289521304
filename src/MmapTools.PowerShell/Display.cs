using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Text for the format views (MmapTools.format.ps1xml). Each method takes the live object or its
/// deserialized copy (a property bag after Start-Job or remoting), so the same views serve both.
/// </summary>
public static class Display
{
    /// <summary>A residency bar: one cell a slice of the range, '#' all resident, '+' some, '.' none.
    /// Without runs (counts only) the bar shows the resident share from the left, not where the pages are.</summary>
    public static string Bar(object? residency, int width = 32)
    {
        var o = residency is null ? null : PSObject.AsPSObject(residency);
        long total = Long(o, "TotalPages"), resident = Long(o, "ResidentPages");
        if (total <= 0) return "[]";
        int cells = (int)Math.Min(width, total);
        var counts = new long[cells];
        if (Value(o, "ResidentRuns") is IEnumerable runs)
        {
            foreach (object? run in runs)
            {
                var r = PSObject.AsPSObject(run!);
                long first = Long(r, "FirstPage"), end = first + Long(r, "PageCount");
                for (long page = first; page < end;)
                {
                    int cell = Cell(page, total, cells);
                    long cellEnd = Math.Min(end, CellStart(cell + 1, total, cells));
                    counts[cell] += cellEnd - page;
                    page = cellEnd;
                }
            }
        }
        else
        {
            // Counts only: fill from the left in proportion.
            long left = resident;
            for (int cell = 0; cell < cells && left > 0; cell++)
            {
                long size = CellStart(cell + 1, total, cells) - CellStart(cell, total, cells);
                counts[cell] = Math.Min(size, left);
                left -= counts[cell];
            }
        }
        var chars = new char[cells];
        for (int cell = 0; cell < cells; cell++)
        {
            long size = CellStart(cell + 1, total, cells) - CellStart(cell, total, cells);
            chars[cell] = counts[cell] == 0 ? '.' : counts[cell] >= size ? '#' : '+';
        }
        return "[" + new string(chars) + "]";
    }

    private static long CellStart(int cell, long total, int cells) => (long)((decimal)total * cell / cells);

    private static int Cell(long page, long total, int cells)
    {
        int cell = (int)((decimal)page * cells / total);
        while (cell + 1 < cells && CellStart(cell + 1, total, cells) <= page) cell++;
        while (cell > 0 && CellStart(cell, total, cells) > page) cell--;
        return cell;
    }

    /// <summary>A size for a view, formatted as the core formats sizes (<see cref="ByteSize"/>); empty for null.</summary>
    public static string Bytes(object? bytes) => bytes is null ? ""
        : ByteSize.Format(Convert.ToDouble(PSObject.AsPSObject(bytes).BaseObject, CultureInfo.InvariantCulture));

    /// <summary>An address or a number in hex, 0x-prefixed; empty for null.</summary>
    public static string Hex(object? number) => number is null ? "" : PSObject.AsPSObject(number).BaseObject switch
    {
        nint n => $"0x{n:x}",
        ulong n => $"0x{n:x}",
        long n => $"0x{n:x}",
        int n => $"0x{n:x}",
        var other => other.ToString() ?? "",
    };

    /// <summary>A map's AddressHex (MmapTools.types.ps1xml): its address in hex, empty once removed. A
    /// code property, so that the import parses no script for it.</summary>
    public static string AddressHex(PSObject map) => map.BaseObject is MemoryMap { IsDisposed: false } live ? Hex(live.Address) : "";

    /// <summary>Runs of pages as "first+count, ...": at most <paramref name="shown"/> of them, then their number.</summary>
    public static string Runs(object? runs, int shown = 8)
    {
        if ((runs is PSObject p ? p.BaseObject : runs) is not IEnumerable list) return "";
        var all = list.Cast<object?>().Select(r => PSObject.AsPSObject(r!)).ToList();
        string text = string.Join(", ", all.Take(shown).Select(r => $"{Long(r, "FirstPage")}+{Long(r, "PageCount")}"));
        return all.Count <= shown ? $"{all.Count} run(s){(all.Count > 0 ? ": " + text : "")}" : $"{all.Count} runs: {text}, ...";
    }

    /// <summary>What a map or a residency is of: its file, else its name, else "(anonymous)".</summary>
    public static string Target(object? item)
    {
        var o = item is null ? null : PSObject.AsPSObject(item);
        return Value(o, "Path") as string is { Length: > 0 } path ? path
            : Value(o, "Name") as string is { Length: > 0 } name ? name
            : "(anonymous)";
    }

    private static object? Value(PSObject? o, string name)
    {
        object? value = o?.Properties[name]?.Value;
        return value is PSObject p ? p.BaseObject : value;
    }

    private static long Long(PSObject? o, string name) =>
        Value(o, name) is { } v ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : 0;
}
