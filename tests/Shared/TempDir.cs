namespace MmapTools.Testing;

/// <summary>A private folder under the temp path, removed with everything in it on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir(string prefix = "mmaptools-tests-") => Path = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Path { get; }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>Writes the bytes and fsyncs them, so the file's cached pages are clean (evictable).</summary>
    public string Write(string name, ReadOnlySpan<byte> content)
    {
        string path = this[name];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        stream.Write(content);
        stream.Flush(flushToDisk: true);
        return path;
    }

    /// <summary>A file of <paramref name="length"/> bytes of <see cref="Content.At"/>, fsynced.</summary>
    public string WritePattern(string name, long length)
    {
        string path = this[name];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        var chunk = new byte[1 << 20];
        for (long at = 0; at < length; at += chunk.Length)
        {
            int count = (int)Math.Min(chunk.Length, length - at);
            Content.Fill(at, chunk.AsSpan(0, count));
            stream.Write(chunk, 0, count);
        }
        stream.Flush(flushToDisk: true);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A FIFO, a file still open elsewhere or one a child left under another user must not
            // fail the test that made it.
        }
    }
}
