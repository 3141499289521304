using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using MmapTools.Interop;

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
public static class CacheSnapshot
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

    /// <summary>
    /// Warms the pages the snapshot recorded that are not cached now, for each file that is still the
    /// one recorded (same device, inode, size and modification time), in file-offset order, at most
    /// <paramref name="bytesPerSecond"/> (null: as fast as the disk goes). A file that is missing,
    /// replaced or changed is skipped and given to <paramref name="onSkip"/>.
    /// </summary>
    public static CacheRestoreResult Restore(string snapshot, long? bytesPerSecond = null, Action<CacheRestoreSkip>? onSkip = null,
        IProgress<CacheRestoreProgress>? progress = null, CancellationToken cancel = default)
    {
        if (bytesPerSecond is <= 0) throw new ArgumentOutOfRangeException(nameof(bytesPerSecond), bytesPerSecond, "The rate must be positive.");
        int pageSize = MemoryMap.PageSize;
        var clock = Stopwatch.StartNew();
        long files = 0, restored = 0, skipped = 0, snapshotPages = 0, alreadyResident = 0, warmed = 0;
        var throttle = new Throttle(bytesPerSecond);
        // Without a cap, reads are asked for ahead (WILLNEED starts them and returns) and waited for
        // Lookahead files later, so the storage always has a queue of work instead of one file's.
        var ahead = new Queue<PendingWarm>();
        try
        {
            using var reader = OpenReader(snapshot, out var file, out int recordedPageSize);
            if (recordedPageSize != pageSize)
                throw new MemoryMapException("InvalidSnapshot", $"'{snapshot}' counts pages of {recordedPageSize} bytes; this system's are {pageSize}.");
            while (Next(reader, snapshot) is { } entry)
            {
                cancel.ThrowIfCancellationRequested();
                files++;
                var (pending, skip) = Prepare(entry);
                if (skip is not null)
                {
                    skipped++;
                    onSkip?.Invoke(skip);
                }
                else if (pending is { } p)
                {
                    restored++;
                    snapshotPages += entry.ResidentPages;
                    long pages = p.Missing.Sum(r => r.End - r.Start) / pageSize;
                    alreadyResident += entry.ResidentPages - pages;
                    warmed += pages;
                    if (bytesPerSecond is null)
                    {
                        foreach (var (start, end) in p.Missing)
                            Libc.posix_fadvise((int)p.Handle.DangerousGetHandle(), start, end - start, (int)FileAdvice.WillNeed);
                        ahead.Enqueue(p);
                        if (ahead.Count > Lookahead) Warm(ahead.Dequeue(), throttle, cancel);
                    }
                    else Warm(p, throttle, cancel);
                }
                progress?.Report(new CacheRestoreProgress(files, warmed, file.Length == 0 ? 1 : (double)file.Position / file.Length, entry.Path));
            }
            while (ahead.Count > 0) Warm(ahead.Dequeue(), throttle, cancel);
        }
        finally
        {
            foreach (var p in ahead) p.Handle.Dispose();
        }
        return new CacheRestoreResult
        {
            Snapshot = System.IO.Path.GetFullPath(snapshot), Files = files, FilesRestored = restored, FilesSkipped = skipped,
            SnapshotPages = snapshotPages, PagesAlreadyResident = alreadyResident, PagesWarmed = warmed, PageSize = pageSize, Elapsed = clock.Elapsed,
        };
    }

    /// <summary>Files whose reads are asked for before the first of them is waited for.</summary>
    private const int Lookahead = 64;

    /// <summary>An open file of the snapshot that is still the one recorded, and the byte ranges of its recorded pages missing now.</summary>
    private sealed record PendingWarm(Microsoft.Win32.SafeHandles.SafeFileHandle Handle, List<(long Start, long End)> Missing, long Size);

    /// <summary>Opens the file and checks it is the one recorded: the pages to warm, or why it is skipped.</summary>
    private static (PendingWarm? Pending, CacheRestoreSkip? Skip) Prepare(CacheSnapshotEntry entry)
    {
        CacheRestoreSkip Skip(CacheRestoreSkipKind kind, string reason) => new(entry.Path, kind, reason);
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        Libc.Statx st;
        try
        {
            handle = PageCache.OpenRegular(entry.Path, out st);
        }
        catch (SystemCallException e) when (e.ErrorNumber == Errno.ENOENT)
        {
            return (null, Skip(CacheRestoreSkipKind.Missing, "it no longer exists"));
        }
        catch (Exception e) when (e is MemoryMapException or IOException or UnauthorizedAccessException)
        {
            return (null, Skip(CacheRestoreSkipKind.Unreadable, e.Message));
        }
        bool keep = false;
        try
        {
            ulong device = PageCache.DeviceOf(st);
            if (device != entry.Device || st.Inode != entry.Inode)
                return (null, Skip(CacheRestoreSkipKind.Replaced, $"another file has its path now (device {device >> 32}:{device & 0xFFFF_FFFF} inode {st.Inode}, recorded {entry.Device >> 32}:{entry.Device & 0xFFFF_FFFF} inode {entry.Inode})"));
            var modified = PageCache.ModifiedTime(st);
            if ((long)st.Size != entry.Size || modified != entry.LastWriteTimeUtc)
                return (null, Skip(CacheRestoreSkipKind.Changed, (long)st.Size != entry.Size
                    ? $"its size changed from {entry.Size} to {st.Size} bytes"
                    : $"it was modified at {modified:O}, after the snapshot recorded {entry.LastWriteTimeUtc:O}"));
            if (entry.Size == 0) return (null, null);
            var now = PageCache.GetResidency(handle, st, entry.Path, 0, null, ResidencyDetail.Runs);
            var missing = Intersect(RunsToRanges(entry.Runs), PageCache.MissingRanges(now.ResidentRuns, 0, entry.Size));
            keep = true;
            return (new PendingWarm(handle, missing, entry.Size), null);
        }
        finally
        {
            if (!keep) handle.Dispose();
        }
    }

    /// <summary>Reads the missing ranges in, in file-offset order, under the throttle's rate, and closes the file.</summary>
    private static void Warm(PendingWarm pending, Throttle throttle, CancellationToken cancel)
    {
        using var handle = pending.Handle;
        long end = MemoryMap.RoundUp(pending.Size, MemoryMap.PageSize);
        foreach (var piece in throttle.Pieces(pending.Missing))
        {
            cancel.ThrowIfCancellationRequested();
            throttle.Wait(piece.End - piece.Start, cancel);
            if (!PageCache.TryPopulate(handle, [piece], end))
                PageCache.ReadThrough(handle, piece.Start, Math.Min(piece.End, pending.Size) - piece.Start);
        }
    }

    /// <summary>Byte ranges of page runs.</summary>
    private static List<(long Start, long End)> RunsToRanges(IReadOnlyList<PageRun> runs)
    {
        long pageSize = MemoryMap.PageSize;
        return runs.Select(r => (r.FirstPage * pageSize, r.EndPage * pageSize)).ToList();
    }

    /// <summary>The overlap of two ordered lists of disjoint ranges.</summary>
    internal static List<(long Start, long End)> Intersect(List<(long Start, long End)> a, List<(long Start, long End)> b)
    {
        var result = new List<(long, long)>();
        int i = 0, j = 0;
        while (i < a.Count && j < b.Count)
        {
            long start = Math.Max(a[i].Start, b[j].Start), end = Math.Min(a[i].End, b[j].End);
            if (start < end) result.Add((start, end));
            if (a[i].End < b[j].End) i++; else j++;
        }
        return result;
    }

    /// <summary>Keeps a restore under a rate: pieces of at most a twentieth of a second's bytes, each
    /// started no sooner than the bytes before it allow.</summary>
    private sealed class Throttle(long? bytesPerSecond)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _bytes;

        public IEnumerable<(long Start, long End)> Pieces(List<(long Start, long End)> ranges)
        {
            long piece = bytesPerSecond is { } rate ? Math.Max(MemoryMap.PageSize, MemoryMap.RoundUp(Math.Min(rate / 20, 4L << 20), MemoryMap.PageSize)) : long.MaxValue;
            foreach (var (start, end) in ranges)
                for (long at = start; at < end; at = end - at > piece ? at + piece : end) yield return (at, end - at > piece ? at + piece : end);
        }

        public void Wait(long bytes, CancellationToken cancel)
        {
            if (bytesPerSecond is not { } rate) return;
            var due = TimeSpan.FromSeconds((double)_bytes / rate);
            var wait = due - _clock.Elapsed;
            if (wait > TimeSpan.Zero) cancel.WaitHandle.WaitOne(wait);
            _bytes += bytes;
        }
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
