using System.Text.Json;

// mmap, /proc and the libc calls here are Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace MmapTools.Hardening;

/// <summary>Counts from a child's JSON report.</summary>
internal static class Report
{
    public static long Count(JsonElement report, string key) =>
        report.GetProperty("counts").TryGetProperty(key, out var value) ? value.GetInt64() : 0;

    public static long Sum(JsonElement report, Func<string, bool> select) =>
        report.GetProperty("counts").EnumerateObject().Where(p => select(p.Name)).Sum(p => p.Value.GetInt64());

    public static string Samples(JsonElement report) =>
        report.TryGetProperty("samples", out var samples) ? string.Join("\n", samples.EnumerateArray().Select(s => s.GetString())) : "";
}

/// <summary>
/// A page cache page's real flags, from /proc/self/pagemap (its frame) and /proc/kpageflags (root
/// only): the check behind cachestat's dirty count, which this kernel can leave stale.
/// </summary>
internal static class KernelPageFlags
{
    private const int KpfDirty = 4;

    /// <summary>
    /// PG_dirty of the file's page at <paramref name="pageOffset"/>, read through a fresh read-only
    /// map of that page (faulted in by a safe read); null where the kernel does not tell (not root).
    /// </summary>
    public static bool? IsDirty(string path, long pageOffset)
    {
        try
        {
            long size = new FileInfo(path).Length;
            if (pageOffset >= size) return null;
            using var map = MemoryMap.OpenFile(path, pageOffset, Math.Min(Machine.PageSize, size - pageOffset));
            map.Read(0, 1);
            Span<byte> entry = stackalloc byte[8];
            using (var pagemap = File.OpenHandle("/proc/self/pagemap"))
                if (RandomAccess.Read(pagemap, entry, (long)((ulong)map.Address / (ulong)Machine.PageSize) * 8) != 8) return null;
            ulong value = BitConverter.ToUInt64(entry);
            ulong frame = value & ((1UL << 55) - 1);
            if ((value >> 63) == 0 || frame == 0) return null; // not present, or the frame hidden from this user
            using var flags = File.OpenHandle("/proc/kpageflags");
            if (RandomAccess.Read(flags, entry, (long)frame * 8) != 8) return null;
            return (BitConverter.ToUInt64(entry) >> KpfDirty & 1) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
