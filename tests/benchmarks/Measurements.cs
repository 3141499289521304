using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace MmapTools.Benchmarks;

/// <summary>What a measurement reports: its time and a value both sides must agree on.</summary>
public readonly record struct Timed(double Milliseconds, ulong Check, long Count);

/// <summary>The C# measurements of build.ps1 bench. Each times exactly the work, in this process.</summary>
public static unsafe class Measurements
{
    /// <summary>One pass over the map, <paramref name="chunk"/> bytes at a time, with the safe <see cref="MemoryMap.Read(long, Span{byte})"/>.</summary>
    public static Timed SafeRead(MemoryMap map, int chunk) => Pass(map, chunk, static (map, at, into) => map.Read(at, into));

    /// <summary>The same pass copying from <see cref="MemoryMap.AsSpan"/> (no protection against SIGBUS).</summary>
    public static Timed SpanCopy(MemoryMap map, int chunk) => Pass(map, chunk, static (map, at, into) => map.AsSpan(at, into.Length).CopyTo(into));

    private delegate void CopyChunk(MemoryMap map, long at, Span<byte> into);

    private static Timed Pass(MemoryMap map, int chunk, CopyChunk copy)
    {
        var buffer = new byte[chunk];
        ulong check = 0;
        long bytes = 0;
        long started = Stopwatch.GetTimestamp();
        for (long at = 0; at < map.Length; at += chunk)
        {
            int count = (int)Math.Min(chunk, map.Length - at);
            copy(map, at, buffer.AsSpan(0, count));
            check ^= MemoryMarshal.Read<ulong>(buffer) + (ulong)at;
            bytes += count;
        }
        return new Timed(Stopwatch.GetElapsedTime(started).TotalMilliseconds, check, bytes);
    }

    /// <summary>The same pass with pread on the file (RandomAccess.Read): the kernel's copy from the page cache, nothing else.</summary>
    public static Timed PreadCopy(string path, int chunk)
    {
        var buffer = new byte[chunk];
        using var handle = File.OpenHandle(path);
        ulong check = 0;
        long bytes = 0;
        long started = Stopwatch.GetTimestamp();
        for (int read; (read = RandomAccess.Read(handle, buffer, bytes)) > 0;)
        {
            check ^= MemoryMarshal.Read<ulong>(buffer) + (ulong)bytes;
            bytes += read;
        }
        return new Timed(Stopwatch.GetElapsedTime(started).TotalMilliseconds, check, bytes);
    }

    /// <summary>
    /// A sequential scan (a sum of every 8-byte word) of the file through a new map: MADV_SEQUENTIAL,
    /// then the map's bytes read in place, a window at a time. The map is made and removed in the time.
    /// </summary>
    public static Timed ScanThroughMap(string path)
    {
        long started = Stopwatch.GetTimestamp();
        using var map = MemoryMap.OpenFile(path);
        map.Advise(MemoryAdvice.Sequential);
        ulong sum = 0;
        const int window = 1 << 30;
        for (long at = 0; at < map.Length; at += window)
            sum += Sum(map.AsSpan(at, (int)Math.Min(window, map.Length - at)));
        return new Timed(Stopwatch.GetElapsedTime(started).TotalMilliseconds, sum, map.Length);
    }

    /// <summary>The same scan through a FileStream (no buffering of its own, SequentialScan) reading 1 MiB at a time.</summary>
    public static Timed ScanThroughFileStream(string path)
    {
        long started = Stopwatch.GetTimestamp();
        var buffer = new byte[1 << 20];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        ulong sum = 0;
        long bytes = 0;
        for (int read; (read = stream.Read(buffer, 0, buffer.Length)) > 0;)
        {
            sum += Sum(buffer.AsSpan(0, read));
            bytes += read;
        }
        return new Timed(Stopwatch.GetElapsedTime(started).TotalMilliseconds, sum, bytes);
    }

    /// <summary>The sum of the little-endian 8-byte words (a tail shorter than 8 bytes counts as one word), vectorized.</summary>
    public static ulong Sum(ReadOnlySpan<byte> bytes)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(bytes);
        var vectors = MemoryMarshal.Cast<ulong, Vector<ulong>>(words);
        var acc = Vector<ulong>.Zero;
        foreach (var v in vectors) acc += v;
        ulong sum = Vector.Sum(acc);
        for (int i = vectors.Length * Vector<ulong>.Count; i < words.Length; i++) sum += words[i];
        if (bytes.Length % 8 != 0)
        {
            Span<byte> tail = stackalloc byte[8];
            tail.Clear();
            bytes[(words.Length * 8)..].CopyTo(tail);
            sum += MemoryMarshal.Read<ulong>(tail);
        }
        return sum;
    }

    /// <summary>
    /// One file's residency summary through Core, <paramref name="count"/> times (open, statx,
    /// cachestat, close, and the result object). Check is the resident page count, Count the calls.
    /// </summary>
    public static Timed CoreSummary(string path, int count)
    {
        long resident = 0;
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++) resident = PageCache.GetResidency(path).ResidentPages;
        return new Timed(Stopwatch.GetElapsedTime(started).TotalMilliseconds, (ulong)resident, count);
    }

    /// <summary><see cref="MemoryMap.OpenFile(string, long, long?, MemoryMapOptions?)"/> and Dispose, <paramref name="count"/> times.</summary>
    public static Timed MapAndDispose(string path, int count)
    {
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++) MemoryMap.OpenFile(path).Dispose();
        return new Timed(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 0, count);
    }

    /// <summary>
    /// The raw per-page baseline from C#, for machines without a C compiler: the same libc calls as
    /// bench-native mincore (open, fstat through statx's size, one mmap, one mincore, munmap, close),
    /// none of MmapTools' code. Check is the resident page count, Count the pages.
    /// </summary>
    public static Timed RawMincore(string path)
    {
        long started = Stopwatch.GetTimestamp();
        using var handle = File.OpenHandle(path);
        long size = RandomAccess.GetLength(handle);
        long pageSize = Environment.SystemPageSize;
        long pages = (size + pageSize - 1) / pageSize;
        var vector = new byte[Math.Max(pages, 1)];
        long resident = 0;
        if (pages > 0)
        {
            nint map = mmap(0, (nuint)size, 1 /* PROT_READ */, 1 /* MAP_SHARED */, (int)handle.DangerousGetHandle(), 0);
            if (map == -1) throw new IOException($"mmap failed with errno {Marshal.GetLastPInvokeError()}");
            fixed (byte* v = vector)
            {
                if (mincore(map, (nuint)size, v) != 0) throw new IOException($"mincore failed with errno {Marshal.GetLastPInvokeError()}");
            }
            munmap(map, (nuint)size);
            foreach (byte b in vector) resident += b & 1;
        }
        return new Timed(Stopwatch.GetElapsedTime(started).TotalMilliseconds, (ulong)resident, pages);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(nint addr, nuint length);

    [DllImport("libc", SetLastError = true)]
    private static extern int mincore(nint addr, nuint length, byte* vector);
}
