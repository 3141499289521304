using System.Runtime.InteropServices;

namespace MmapTools.Benchmarks;

/// <summary>Builds the benchmark's files and puts them in the page cache the same way for every tool.</summary>
public static class Workloads
{
    private const int Chunk = 1 << 20;

    /// <summary>A file of <paramref name="size"/> bytes of a pattern (no byte run compresses or dedupes), flushed to disk so that it can be evicted.</summary>
    public static void CreateFile(string path, long size)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var buffer = new byte[Chunk];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        for (long at = 0; at < size; at += Chunk)
        {
            int count = (int)Math.Min(Chunk, size - at);
            Fill(buffer.AsSpan(0, count), at);
            stream.Write(buffer, 0, count);
        }
        stream.Flush(flushToDisk: true);
    }

    private static void Fill(Span<byte> destination, long offset)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(destination);
        ulong index = (ulong)offset / 8;
        for (int i = 0; i < words.Length; i++) words[i] = (index + (ulong)i) * 0x9E3779B97F4A7C15UL;
        for (int i = words.Length * 8; i < destination.Length; i++) destination[i] = (byte)(offset + i);
    }

    /// <summary>
    /// <paramref name="count"/> files of <paramref name="minSize"/> to <paramref name="maxSize"/> bytes (a fixed
    /// random sequence), <paramref name="perDirectory"/> to a directory, ten directories to a parent:
    /// root/d000/e0/f0000.dat. Returns the bytes written. Written from one process, with one open,
    /// write and close a file, then one sync of the file system.
    /// </summary>
    public static long CreateTree(string root, int count, int minSize, int maxSize, int perDirectory, int seed)
    {
        var random = new Random(seed);
        var buffer = new byte[maxSize];
        long bytes = 0;
        string directory = "";
        for (int i = 0; i < count; i++)
        {
            if (i % perDirectory == 0)
            {
                int d = i / perDirectory;
                directory = Path.Combine(root, $"d{d / 10:000}", $"e{d % 10}");
                Directory.CreateDirectory(directory);
            }
            int size = random.Next(minSize, maxSize + 1);
            Fill(buffer.AsSpan(0, size), (long)i << 20);
            using (var handle = File.OpenHandle(Path.Combine(directory, $"f{i % perDirectory:0000}.dat"), FileMode.Create, FileAccess.Write))
                RandomAccess.Write(handle, buffer.AsSpan(0, size), 0);
            bytes += size;
        }
        Sync();
        return bytes;
    }

    [DllImport("libc", EntryPoint = "sync")]
    private static extern void Sync();

    /// <summary>
    /// Reads the whole file in 1 MiB chunks, as any program reading it would, so that the kernel
    /// caches it in the folio sizes it picks for plain reads (large folios where the file system has them).
    /// </summary>
    public static long Cache(string path)
    {
        var buffer = new byte[Chunk];
        using var handle = File.OpenHandle(path);
        long total = 0;
        for (int read; (read = RandomAccess.Read(handle, buffer, total)) > 0;) total += read;
        return total;
    }

    /// <summary>
    /// Reads the whole file in 1 MiB chunks under POSIX_FADV_RANDOM, which makes the kernel read
    /// exactly what is asked into 4 KiB folios (no readahead, no large folios): the page cache as a
    /// file read piecemeal leaves it.
    /// </summary>
    public static long CacheInSmallFolios(string path)
    {
        var buffer = new byte[Chunk];
        using var handle = File.OpenHandle(path);
        int error = posix_fadvise((int)handle.DangerousGetHandle(), 0, 0, 1 /* POSIX_FADV_RANDOM */);
        if (error != 0) throw new IOException($"posix_fadvise(RANDOM) failed with errno {error}");
        long total = 0;
        for (int read; (read = RandomAccess.Read(handle, buffer, total)) > 0;) total += read;
        return total;
    }

    [DllImport("libc")]
    private static extern int posix_fadvise(int fd, long offset, long length, int advice);

    /// <summary>Reads every file below the root. Returns the number of files.</summary>
    public static long CacheTree(string root)
    {
        long files = 0;
        var buffer = new byte[Chunk];
        foreach (string file in Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            using var handle = File.OpenHandle(file);
            for (long at = 0; RandomAccess.Read(handle, buffer, at) is var read and > 0; at += read) { }
            files++;
        }
        return files;
    }

    /// <summary>The number of regular files below the root, as a check that a tree left by an earlier run is whole.</summary>
    public static long CountFiles(string root) =>
        Directory.Exists(root) ? Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).LongCount() : 0;
}
