using System.Diagnostics;
using Xunit.Abstractions;

namespace MmapTools.Tests;

/// <summary>A 256 MiB file of random bytes, written once for the class.</summary>
public sealed class LargeRandomFile : IDisposable
{
    public const int Size = 256 << 20;

    public LargeRandomFile()
    {
        Expected = Content.Random(Size, seed: 2560);
        Path = Dir.Write("concurrent.bin", Expected);
    }

    internal TempDir Dir { get; } = new();
    public string Path { get; }
    public byte[] Expected { get; }

    public void Dispose() => Dir.Dispose();
}

/// <summary>
/// Dispose on one thread while another reads: the unmap waits for the read in flight (SafeHandle
/// reference counting), every read either completes with the right bytes or throws
/// ObjectDisposedException, and every call after dispose throws ObjectDisposedException.
/// </summary>
public sealed class ConcurrencyTests(LargeRandomFile file, ITestOutputHelper output) : IClassFixture<LargeRandomFile>
{
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs one round: a reader thread reads the whole map in a loop while this thread disposes it.
    /// Returns how many reads began before Dispose was called and ended, with the right bytes, after
    /// it had returned: reads that the unmap had to wait for.
    /// </summary>
    private static int Round(MemoryMap map, byte[] buffer, int spin, Action<byte[]> check)
    {
        int disposed = 0, overlapped = 0;
        Exception? failure = null;
        using var started = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            try
            {
                while (true)
                {
                    bool disposedBefore = Volatile.Read(ref disposed) == 1;
                    started.Set();
                    try
                    {
                        map.Read(0, buffer);
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                    check(buffer);
                    if (!disposedBefore && Volatile.Read(ref disposed) == 1) overlapped++;
                    buffer.AsSpan().Clear(); // so that a read that copied nothing cannot pass
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        reader.Start();
        started.Wait();
        Thread.SpinWait(spin);
        map.Dispose();
        Volatile.Write(ref disposed, 1);

        Assert.True(map.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => map.Read(0, 1));
        Assert.Throws<ObjectDisposedException>(() => map.AsSpan(0, 1));
        Assert.Throws<ObjectDisposedException>(() => map.GetResidency());
        Assert.True(reader.Join(JoinTimeout), "The reader did not stop after dispose.");
        Assert.Null(failure);
        return overlapped;
    }

    [Fact]
    public void Dispose_WaitsForAReadOfTheWholeMapInFlight()
    {
        var buffer = new byte[LargeRandomFile.Size];
        var expected = file.Expected;
        var clock = Stopwatch.StartNew();
        int rounds = 0, overlapped = 0;
        // At least 4 rounds, then on (each with a longer spin before Dispose) until a read has been
        // in flight across a Dispose, or 200 rounds have missed it.
        while (rounds < 4 || (overlapped == 0 && rounds < 200))
        {
            var map = MemoryMap.OpenFile(file.Path);
            overlapped += Round(map, buffer, spin: rounds * 5000,
                check: b => Assert.True(b.AsSpan().SequenceEqual(expected), "A read that completed returned wrong bytes."));
            rounds++;
        }
        output.WriteLine($"{rounds} rounds in {clock.ElapsedMilliseconds} ms; {overlapped} reads outlived the Dispose call that waited for them");
        Assert.True(overlapped > 0, "No read was in flight while Dispose ran, so the test proved nothing.");
    }

    [Fact]
    public void Dispose_RacesManySmallReads_WithoutAWrongByteOrAnotherException()
    {
        const int size = 1 << 20;
        var expected = file.Expected.AsSpan(0, size).ToArray();
        var buffer = new byte[size];
        var clock = Stopwatch.StartNew();
        int rounds = 0;
        while (rounds < 50 || (clock.Elapsed < TimeSpan.FromSeconds(1.5) && rounds < 500))
        {
            var map = MemoryMap.OpenFile(file.Path, 0, size);
            Round(map, buffer, spin: rounds % 50 * 200,
                check: b => Assert.True(b.AsSpan().SequenceEqual(expected), "A read that completed returned wrong bytes."));
            rounds++;
        }
        output.WriteLine($"{rounds} rounds in {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void SafeCopiesFromSeveralThreads_OnOneMap_RoundTrip()
    {
        // Safe copies from several threads at once: each thread owns a page, writes it and reads it back.
        const int threads = 4, page = 4096, rounds = 2000;
        using var map = MemoryMap.Anonymous(threads * page);
        Exception? failure = null;
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                var data = new byte[page];
                for (int i = 0; i < rounds; i++)
                {
                    Array.Fill(data, (byte)(i % 251 + 1));
                    map.Write((long)t * page, data);
                    byte[] back = map.Read((long)t * page, page);
                    Assert.Equal(data, back);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        Assert.All(workers, w => Assert.True(w.Join(JoinTimeout)));
        Assert.Null(failure);
    }
}
