using System.Diagnostics;
using MmapTools.Interop;

namespace MmapTools;

// Restore: warming the pages a snapshot recorded that are missing now, file by file, at a rate cap.
public static partial class CacheSnapshot
{
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
}
