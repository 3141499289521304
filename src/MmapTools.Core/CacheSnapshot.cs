using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace MmapTools;

/// <summary>One file of a page-cache snapshot: what identified it, and which of its pages were cached.</summary>
public sealed class CacheSnapshotEntry
{
    public string Path { get; init; } = "";

    /// <summary>Device (major &lt;&lt; 32 | minor) and inode when the snapshot was taken.</summary>
    public ulong Device { get; init; }

    /// <inheritdoc cref="Device"/>
    public ulong Inode { get; init; }

    public long Size { get; init; }
    public DateTime LastWriteTimeUtc { get; init; }

    /// <summary>Pages cached when the snapshot was taken (the sum of the runs).</summary>
    public long ResidentPages { get; init; }

    /// <summary>The cached runs, counted in pages from the start of the file.</summary>
    public IReadOnlyList<PageRun> Runs { get; init; } = [];
}

/// <summary>What saving a snapshot wrote.</summary>
public sealed class CacheSnapshotSummary
{
    public string Path { get; init; } = "";
    public long FilesExamined { get; init; }

    /// <summary>Files with at least one cached page: only those are written.</summary>
    public long FilesRecorded { get; init; }

    public long ResidentPages { get; init; }
    public int PageSize { get; init; }
    public long SnapshotBytes { get; init; }
    public long ResidentBytes => ResidentPages * PageSize;
}

/// <summary>Why a file of a snapshot was not restored.</summary>
public enum CacheRestoreSkipKind
{
    /// <summary>No file at the path any more.</summary>
    Missing,
    /// <summary>Another file (another device or inode) now has the path.</summary>
    Replaced,
    /// <summary>The same file, but its size or modification time changed: its cached pages may hold other data now.</summary>
    Changed,
    /// <summary>It could not be opened or examined.</summary>
    Unreadable,
}

/// <summary>A file of a snapshot that a restore skipped, and why.</summary>
public sealed record CacheRestoreSkip(string Path, CacheRestoreSkipKind Kind, string Reason);

/// <summary>How far a restore has gone.</summary>
public readonly record struct CacheRestoreProgress(long FilesDone, long PagesWarmed, double Fraction, string CurrentPath);

/// <summary>What a restore did.</summary>
public sealed class CacheRestoreResult
{
    public string Snapshot { get; init; } = "";
    public long Files { get; init; }
    public long FilesRestored { get; init; }
    public long FilesSkipped { get; init; }

    /// <summary>Pages the snapshot recorded for files that were restored (skipped files not counted).</summary>
    public long SnapshotPages { get; init; }

    /// <summary>Of those, pages still cached when the restore came to them: not read again.</summary>
    public long PagesAlreadyResident { get; init; }

    /// <summary>Pages the restore asked the kernel to read in.</summary>
    public long PagesWarmed { get; init; }

    public int PageSize { get; init; }
    public TimeSpan Elapsed { get; init; }
    public long WarmedBytes => PagesWarmed * PageSize;
}

/// <summary>
/// Saves which pages of files are cached, and puts them back later (after a restart or a failover).
/// <para>
/// The file is JSON Lines (UTF-8, one JSON object a line; gzip-compressed when the name ends in .gz):
/// a header <c>{"format":"mmaptools-page-cache","version":1,"pageSize":4096,"created":"...Z"}</c>, then
/// one line a file with cached pages: <c>{"path":"/abs","device":"259:1","inode":12,"size":8192,
/// "mtimeNs":1700000000123456700,"pages":2,"runs":"AAI="}</c>. <c>runs</c> is base64 of unsigned LEB128
/// integers, two a run: the pages skipped since the end of the previous run (from page 0 for the first)
/// and the run's length. Why this: any language reads JSON lines without a library of ours; a
/// line a file lets writer and reader stream, so memory stays flat whatever the tree; gap-and-length
/// varints make a run cost two to six bytes, so a file cached whole costs a few bytes beyond its path.
/// A reader must refuse a version it does not know.
/// </para>
/// </summary>
public static partial class CacheSnapshot
{
    public const string FormatName = "mmaptools-page-cache";
    public const int FormatVersion = 1;

    /// <summary>
    /// Walks the files and trees (<paramref name="recurse"/>: below each directory too) and writes the
    /// cached runs of every file with any to <paramref name="destination"/>. Files that cannot be
    /// examined are given to <paramref name="onError"/> and left out.
    /// </summary>
    public static CacheSnapshotSummary Save(IEnumerable<string> paths, string destination, bool recurse = false, Action<ResidencyWalkItem>? onError = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentException.ThrowIfNullOrEmpty(destination);
        var walker = new ResidencyWalker(new ResidencyWalkOptions { Recurse = recurse, Detail = ResidencyDetail.Runs });
        long examined = 0, recorded = 0, pages = 0;
        string full = System.IO.Path.GetFullPath(destination);
        using (var stream = OpenWrite(full))
        using (var json = new Utf8JsonWriter(stream))
        {
            WriteLine(stream, json, w =>
            {
                w.WriteString("format", FormatName);
                w.WriteNumber("version", FormatVersion);
                w.WriteNumber("pageSize", MemoryMap.PageSize);
                w.WriteString("created", DateTime.UtcNow);
            });
            var buffer = new List<byte>();
            foreach (string path in paths)
            {
                foreach (var item in walker.Examine(path))
                {
                    if (item.Kind == ResidencyWalkItemKind.Error) { onError?.Invoke(item); continue; }
                    if (item.Residency is not { } r) continue;
                    examined++;
                    if (r.RunsOmitted)
                    {
                        // Too scattered for the runs of one result: the bitmap holds them all, read out a run at a time.
                        try
                        {
                            r = PageCache.GetResidency(item.Path, r.Offset, r.Length, ResidencyDetail.Bitmap);
                        }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                        {
                            onError?.Invoke(new ResidencyWalkItem(ResidencyWalkItemKind.Error, item.Path, null, e));
                            continue;
                        }
                    }
                    if (r.ResidentPages == 0 || (r.Bitmap?.Runs() ?? r.ResidentRuns) is not { } runs) continue;
                    recorded++;
                    pages += r.ResidentPages;
                    ulong device = r.Device ?? 0;
                    WriteLine(stream, json, w =>
                    {
                        w.WriteString("path", item.Path);
                        w.WriteString("device", $"{device >> 32}:{device & 0xFFFF_FFFF}");
                        w.WriteNumber("inode", r.Inode ?? 0);
                        w.WriteNumber("size", r.Length);
                        w.WriteNumber("mtimeNs", ToUnixNanoseconds(r.LastWriteTimeUtc ?? default));
                        w.WriteNumber("pages", r.ResidentPages);
                        w.WriteBase64String("runs", EncodeRuns(runs, buffer));
                    });
                }
            }
        }
        return new CacheSnapshotSummary
        {
            Path = full, FilesExamined = examined, FilesRecorded = recorded, ResidentPages = pages,
            PageSize = MemoryMap.PageSize, SnapshotBytes = new FileInfo(full).Length,
        };
    }

    /// <summary>The files of a snapshot, read one line at a time.</summary>
    public static IEnumerable<CacheSnapshotEntry> Read(string snapshot)
    {
        using var reader = OpenReader(snapshot, out _, out _);
        while (Next(reader, snapshot) is { } entry) yield return entry;
    }

    internal static byte[] EncodeRuns(IEnumerable<PageRun> runs, List<byte> buffer)
    {
        buffer.Clear();
        long at = 0;
        foreach (var run in runs)
        {
            WriteVarint(buffer, (ulong)(run.FirstPage - at));
            WriteVarint(buffer, (ulong)run.PageCount);
            at = run.EndPage;
        }
        return buffer.ToArray();
    }

    internal static List<PageRun> DecodeRuns(ReadOnlySpan<byte> bytes)
    {
        var runs = new List<PageRun>();
        long at = 0;
        int i = 0;
        while (i < bytes.Length)
        {
            long first = at + (long)ReadVarint(bytes, ref i);
            if (i >= bytes.Length) throw new FormatException("A run has a gap but no length.");
            long count = (long)ReadVarint(bytes, ref i);
            runs.Add(new PageRun(first, count));
            at = first + count;
        }
        return runs;
    }

    private static void WriteVarint(List<byte> buffer, ulong value)
    {
        while (value >= 0x80)
        {
            buffer.Add((byte)(value | 0x80));
            value >>= 7;
        }
        buffer.Add((byte)value);
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> bytes, ref int i)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (i >= bytes.Length) throw new FormatException("A run number is cut short.");
            byte b = bytes[i++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new FormatException("A run number is longer than 64 bits.");
    }

    private static long ToUnixNanoseconds(DateTime time) => (time.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    private static DateTime FromUnixNanoseconds(long ns) => new(DateTime.UnixEpoch.Ticks + ns / 100, DateTimeKind.Utc);

    private static Stream OpenWrite(string path)
    {
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        return path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionLevel.Fastest) : file;
    }

    private static readonly byte[] NewLine = "\n"u8.ToArray();

    private static void WriteLine(Stream stream, Utf8JsonWriter json, Action<Utf8JsonWriter> body)
    {
        json.Reset();
        json.WriteStartObject();
        body(json);
        json.WriteEndObject();
        json.Flush();
        stream.Write(NewLine);
    }

    private static StreamReader OpenReader(string snapshot, out FileStream file, out int pageSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(snapshot);
        file = new FileStream(snapshot, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Stream stream = snapshot.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        var reader = new StreamReader(stream, Encoding.UTF8);
        try
        {
            string header = reader.ReadLine() ?? throw Invalid(snapshot, "it is empty");
            using var doc = Parse(header, snapshot, 1);
            var root = doc.RootElement;
            if (!root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != FormatName)
                throw Invalid(snapshot, $"its first line does not name the format \"{FormatName}\"");
            int version = root.TryGetProperty("version", out var v) && v.TryGetInt32(out int n) ? n : -1;
            if (version != FormatVersion) throw Invalid(snapshot, $"it is version {version}; this reader knows version {FormatVersion}");
            pageSize = root.TryGetProperty("pageSize", out var p) && p.TryGetInt32(out int size) && size > 0 ? size : throw Invalid(snapshot, "its header has no page size");
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    private static CacheSnapshotEntry? Next(StreamReader reader, string snapshot)
    {
        string? line;
        do line = reader.ReadLine();
        while (line is { Length: 0 });
        if (line is null) return null;
        using var doc = Parse(line, snapshot, null);
        var e = doc.RootElement;
        try
        {
            string device = e.GetProperty("device").GetString() ?? "";
            int colon = device.IndexOf(':');
            ulong major = ulong.Parse(device.AsSpan(0, Math.Max(colon, 0)), CultureInfo.InvariantCulture);
            ulong minor = ulong.Parse(device.AsSpan(colon + 1), CultureInfo.InvariantCulture);
            var runs = DecodeRuns(e.GetProperty("runs").GetBytesFromBase64());
            return new CacheSnapshotEntry
            {
                Path = e.GetProperty("path").GetString() ?? throw new FormatException("path is null"),
                Device = (major << 32) | minor, Inode = e.GetProperty("inode").GetUInt64(), Size = e.GetProperty("size").GetInt64(),
                LastWriteTimeUtc = FromUnixNanoseconds(e.GetProperty("mtimeNs").GetInt64()),
                ResidentPages = runs.Sum(r => r.PageCount), Runs = runs,
            };
        }
        catch (Exception ex) when (ex is KeyNotFoundException or FormatException or InvalidOperationException or OverflowException)
        {
            throw Invalid(snapshot, $"a line does not describe a file ({ex.Message}): {Shorten(line)}", ex);
        }
    }

    private static JsonDocument Parse(string line, string snapshot, int? lineNumber)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw Invalid(snapshot, $"{(lineNumber is { } n ? $"line {n}" : "a line")} is not JSON ({e.Message}): {Shorten(line)}", e);
        }
    }

    private static string Shorten(string line) => line.Length <= 80 ? line : line[..80] + "...";

    private static MemoryMapException Invalid(string snapshot, string why, Exception? inner = null) =>
        new("InvalidSnapshot", $"'{snapshot}' is not a page-cache snapshot MmapTools can read: {why}.", inner);
}
