using System.Diagnostics;
using MmapTools.Interop;

namespace MmapTools;

// What a map does once made: the safe copies, the unsafe span, and the calls over page ranges.
public sealed unsafe partial class MemoryMap
{

    /// <summary>
    /// Copies bytes out of the map. A shared map of a regular file is read with pread on its file,
    /// whose pages are the map's; any other map, and whatever pread leaves (a truncated file's end),
    /// goes through process_vm_readv on this process, which reports a missing or forbidden page as
    /// EFAULT where a pointer read would raise SIGBUS or SIGSEGV.
    /// </summary>
    public void Read(long offset, Span<byte> destination) => Read(offset, destination, _readsThroughFile);

    /// <summary>Read, with the pread path allowed or not: the tests compare what each path gives.</summary>
    internal void Read(long offset, Span<byte> destination, bool throughFile)
    {
        CheckRange(offset, destination.Length, nameof(destination));
        using var lease = Lease();
        fixed (byte* buffer = destination)
        {
            int done = throughFile ? ReadFile(Offset + offset, buffer, destination.Length) : 0;
            if (done < destination.Length)
                Copy(lease.Base + _delta + (nint)offset + done, buffer + done, destination.Length - done, offset + done, writing: false);
        }
    }

    /// <summary>Whether <see cref="Read(long, Span{byte})"/> preads the file (see where the flag is declared).</summary>
    internal bool ReadsThroughFile => _readsThroughFile;

    /// <summary>pread from the map's file until the count, the end of the file or an error; returns the bytes read.</summary>
    private int ReadFile(long fileOffset, byte* buffer, int count)
    {
        int fd = (int)_file!.DangerousGetHandle(); // open while the lease holds the mapping, which closes it
        int done = 0;
        while (done < count)
        {
            nint read = Libc.pread(fd, buffer + done, (nuint)(count - done), fileOffset + done);
            if (read > 0) done += (int)read;
            else if (read == 0 || Libc.LastError != Errno.EINTR) break; // the copy through the map decides what the rest gives
        }
        return done;
    }

    /// <summary>Copies <paramref name="count"/> bytes out of the map into a new array.</summary>
    public byte[] Read(long offset, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckRange(offset, count); // before allocating: a count past the map must not cost (or fail) an allocation
        var bytes = new byte[count];
        Read(offset, bytes);
        return bytes;
    }

    /// <summary>Copies bytes into the map with process_vm_writev; a read-only or vanished page gives an exception.</summary>
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length, nameof(source));
        using var lease = Lease();
        fixed (byte* buffer = source)
            Copy(lease.Base + _delta + (nint)offset, buffer, source.Length, offset, writing: true);
    }

    private void Copy(nint mapped, byte* buffer, int count, long offset, bool writing)
    {
        int pid = Environment.ProcessId;
        int done = 0;
        while (done < count)
        {
            var local = new Libc.Iovec { Base = (nint)(buffer + done), Length = (nuint)(count - done) };
            var remote = new Libc.Iovec { Base = mapped + done, Length = (nuint)(count - done) };
            nint copied = writing
                ? Libc.process_vm_writev(pid, &local, 1, &remote, 1, 0)
                : Libc.process_vm_readv(pid, &local, 1, &remote, 1, 0);
            if (copied > 0)
            {
                done += (int)copied;
                continue;
            }
            int errno = copied < 0 ? Libc.LastError : Errno.EFAULT;
            if (errno == Errno.EINTR) continue;
            if (errno == Errno.EFAULT) throw FailureHints.PageUnavailable(this, _file, offset + done, mapped + done, writing);
            throw new SystemCallException(writing ? "process_vm_writev" : "process_vm_readv", errno, FailureHints.SafeCopy(errno));
        }
    }

    /// <summary>
    /// UNSAFE: the map's bytes as a span, with no protection. A page of a truncated file read
    /// through it raises SIGBUS and kills the process, a protected page SIGSEGV, and the span dangles
    /// once the map is disposed. Use it for speed where the file cannot change underneath.
    /// </summary>
    public Span<byte> AsSpan(long offset = 0, int? length = null)
    {
        int count = length ?? (int)Math.Min(int.MaxValue, Length - Math.Min(offset, Length));
        CheckRange(offset, count, nameof(length));
        using var lease = Lease();
        return new Span<byte>((void*)(lease.Base + _delta + (nint)offset), count);
    }

    // ---------------------------------------------------------------- page-level operations

    /// <summary>
    /// msync over the range: writes the dirty pages of a shared file map in it to the file. What is
    /// on the device when it returns is told by <see cref="SyncResult.Guarantee"/>: with
    /// <paramref name="async"/> nothing (MS_ASYNC starts no write-back on Linux); otherwise the
    /// range's pages, and with <paramref name="durable"/> also the file's size and metadata (fsync
    /// of the file) and its name (fsync of the directory that holds it), which a grown or new file
    /// needs to survive a power cut.
    /// </summary>
    public SyncResult Sync(long offset = 0, long? length = null, bool async = false, bool invalidate = false, bool durable = false)
    {
        if (async && durable)
            throw new ArgumentException("A durable sync waits for the device, an asynchronous one does not: ask for one of them.", nameof(durable));
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        var before = FileCacheStat(offset, length.Value);
        int flags = (async || TestFault.SyncAsAsync ? Libc.MS_ASYNC : Libc.MS_SYNC) | (invalidate ? Libc.MS_INVALIDATE : 0);
        long started = Stopwatch.GetTimestamp();
        if (Libc.msync(lease.Base + start, bytes, flags) != 0)
            throw SystemCallException.FromLastError("msync", FailureHints.Msync);
        if (durable) SyncFileAndDirectory();
        var elapsed = Stopwatch.GetElapsedTime(started);
        var after = FileCacheStat(offset, length.Value);
        return new SyncResult
        {
            Offset = offset, Length = length.Value, Async = async, Invalidate = invalidate, Durable = durable, Elapsed = elapsed,
            DirtyPagesBefore = (long?)before?.Dirty, DirtyPagesAfter = (long?)after?.Dirty, WritebackPagesAfter = (long?)after?.Writeback,
            Guarantee = SyncGuarantee(async, invalidate, durable, (Offset - _delta + start) / PageSize, (long)bytes / PageSize),
        };
    }

    /// <summary>fsync of the map's file and, for a file opened by path, of the directory that holds its name.</summary>
    private void SyncFileAndDirectory()
    {
        if (_file is null) return;
        if (Libc.fsync((int)_file.DangerousGetHandle()) != 0)
            throw SystemCallException.FromLastError("fsync", errno => FailureHints.Fsync(null, errno));
        if (Kind != MapKind.File || Path is null) return;
        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? "/";
        using var handle = PosixFile.Open(directory, writable: false);
        if (Libc.fsync((int)handle.DangerousGetHandle()) != 0)
            throw SystemCallException.FromLastError("fsync", errno => FailureHints.Fsync(directory, errno));
    }

    /// <summary>What a sync of this form promises is on the device when it returns (pages are the file's, from its start).</summary>
    private string SyncGuarantee(bool async, bool invalidate, bool durable, long firstPage, long pages)
    {
        string invalidated = invalidate ? " MS_INVALIDATE writes nothing more." : "";
        if (Kind == MapKind.Anonymous)
            return "Nothing: anonymous memory has no file to write to.";
        if (Kind is MapKind.SharedMemory or MapKind.Memfd)
            return "Nothing survives a power cut: shared memory and memfd live in tmpfs, in memory only.";
        if (IsPrivate)
            return "Nothing: writes to a private map never reach the file.";
        if (async)
            return "Nothing yet: MS_ASYNC starts no write-back on Linux; the pages reach the device when the kernel's periodic write-back takes them (vm.dirty_expire_centisecs)." + invalidated;
        string range = $"The bytes of the file's pages {firstPage} to {firstPage + pages - 1} (the range widened to whole pages) are on the device; bytes outside the range are not promised.";
        return durable
            ? range + " So are the file's size and metadata (fsync) and its name in its directory (fsync of the directory)." + invalidated
            : range + " A size the file grew to and a new file's name are not promised (ask for durable)." + invalidated;
    }

    /// <summary>madvise over the range. Check <see cref="MemoryAdviceExtensions.LosesData"/> before advice that can lose data.</summary>
    public void Advise(MemoryAdvice advice, long offset = 0, long? length = null)
    {
        if (!Enum.IsDefined(advice)) throw new ArgumentOutOfRangeException(nameof(advice), advice, "Not a known madvise advice.");
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        // Before the call, so that no Read after it preads a page the guard now refuses.
        if (advice == MemoryAdvice.GuardInstall) _readsThroughFile = false;
        if (Libc.madvise(lease.Base + start, bytes, (int)advice) != 0)
            throw SystemCallException.FromLastError($"madvise({advice})", errno => FailureHints.Madvise(this, advice, errno));
    }


    /// <summary>mprotect over the range. Execute is granted only when asked for.</summary>
    public void Protect(MapAccess access, long offset = 0, long? length = null)
    {
        if ((access & ~(MapAccess.ReadWrite | MapAccess.Execute)) != 0)
            throw new ArgumentOutOfRangeException(nameof(access), access, "Not a combination of Read, Write and Execute.");
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        // Before the call, so that no Read after it preads a page the map now refuses.
        if ((access & MapAccess.Read) == 0) _readsThroughFile = false;
        if (Libc.mprotect(lease.Base + start, bytes, (int)access) != 0)
            throw SystemCallException.FromLastError("mprotect", errno => FailureHints.Mprotect(access, errno));
        if (offset == 0 && length == Length) Access = access;
    }

    /// <summary>mlock2 over the range; with <paramref name="onFault"/>, pages are locked as they are first touched (MLOCK_ONFAULT).</summary>
    public void Lock(long offset = 0, long? length = null, bool onFault = false)
    {
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        if (Libc.mlock2(lease.Base + start, bytes, onFault ? Libc.MLOCK_ONFAULT : 0) != 0)
            throw SystemCallException.FromLastError("mlock2", errno => FailureHints.Mlock(bytes, errno));
    }

    public void Unlock(long offset = 0, long? length = null)
    {
        var (start, bytes) = PageRange(offset, ref length);
        using var lease = Lease();
        if (Libc.munlock(lease.Base + start, bytes) != 0)
            throw SystemCallException.FromLastError("munlock");
    }

    /// <summary>
    /// Which pages of the range are in memory (mincore over the map), with the file's dirty,
    /// writeback and eviction counts from cachestat for file-backed maps where the kernel tells.
    /// </summary>
    public PageResidency GetResidency(long offset = 0, long? length = null, ResidencyDetail detail = ResidencyDetail.Runs)
    {
        var (start, bytes) = PageRange(offset, ref length);
        long pages = (long)(bytes / (nuint)PageSize);
        using var lease = Lease();
        using var scanner = new ResidencyScanner(pages, detail);
        scanner.ScanMapped(lease.Base + start, pages, PageSize);
        var stat = FileCacheStat(offset, length.Value);
        return new PageResidency
        {
            Path = Path, Name = Name, Offset = offset, Length = length.Value, PageSize = PageSize,
            TotalPages = pages, ResidentPages = scanner.ResidentPages, Source = ResidencySource.Mincore,
            IsTrusted = _mincoreTrusted,
            Note = !_mincoreTrusted ? MincoreTrust.UntrustedNote : scanner.RunsOmitted ? PageResidency.RunsOmittedNote(pages) : null,
            DirtyPages = (long?)stat?.Dirty, WritebackPages = (long?)stat?.Writeback,
            EvictedPages = (long?)stat?.Evicted, RecentlyEvictedPages = (long?)stat?.RecentlyEvicted,
            Bitmap = scanner.Bitmap, ResidentRuns = scanner.Runs, RunsOmitted = scanner.RunsOmitted,
            DirtyRuns = stat is { } dirtyStat && detail >= ResidencyDetail.Runs
                ? CachestatCall.TryDirtyRuns(_file!, Offset - _delta + start, pages, PageSize, dirtyStat.Dirty) : null,
        };
    }

    private Libc.Cachestat? FileCacheStat(long offset, long length) =>
        _file is null || IsPrivate ? null : CachestatCall.Try(_file, Offset + offset, length, out _);
}
