namespace MmapTools.Testing;

/// <summary>
/// Test content whose every byte follows from its file offset (and a round number, for files
/// written over again), so a window at the wrong offset, a lost write or a stale page shows.
/// </summary>
internal static class Content
{
    public static byte At(long offset, int round = 0) =>
        (byte)((((ulong)offset + (ulong)round * 0x632BE59BD9B4E019UL) * 0x9E3779B97F4A7C15UL) >> 56);

    public static void Fill(long offset, Span<byte> destination, int round = 0)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = At(offset + i, round);
    }

    public static byte[] Pattern(long offset, int count, int round = 0)
    {
        var bytes = new byte[count];
        Fill(offset, bytes, round);
        return bytes;
    }

    public static byte[] Random(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Reads a file's bytes at an offset without mapping it.</summary>
    public static byte[] ReadFile(string path, long offset, int count)
    {
        using var handle = File.OpenHandle(path);
        var bytes = new byte[count];
        int done = 0;
        while (done < count)
        {
            int read = RandomAccess.Read(handle, bytes.AsSpan(done), offset + done);
            if (read == 0) throw new EndOfStreamException($"{path} ends before {offset + count}.");
            done += read;
        }
        return bytes;
    }
}
