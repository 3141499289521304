namespace MmapTools.Tests;

public sealed class CacheSnapshotTests : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes a file, evicts it and reads back the given page ranges.</summary>
    private string PartlyCached(string name, int pages, params (int First, int Count)[] cached)
    {
        string path = _dir.WritePattern(Path.Join("tree", name), (long)pages * Page);
        PageCache.Evict(path);
        foreach (var (first, count) in cached) PageCache.Warm(path, (long)first * Page, (long)count * Page);
        return path;
    }

    [Fact]
    public void SaveEvictRestore_BringsBackTheSnapshotsPagesOfUnchangedFiles_AndNoneOfChangedOnes()
    {
        Directory.CreateDirectory(_dir["tree"]);
        Directory.CreateDirectory(_dir["tree/sub"]);
        string a = PartlyCached("a.bin", 2048, (0, 256), (1024, 512));
        string b = PartlyCached("sub/b.bin", 1024, (0, 1024));
        string changed = PartlyCached("changed.bin", 512, (0, 512));
        string replaced = PartlyCached("replaced.bin", 512, (0, 512));
        string missing = PartlyCached("missing.bin", 64, (0, 64));
        string snapshot = _dir["cache.jsonl"];

        var before = Oracle.Fincore([a, b]);
        var summary = CacheSnapshot.Save([_dir["tree"]], snapshot, recurse: true);
        var entries = CacheSnapshot.Read(snapshot).ToDictionary(e => e.Path);
        var afterSave = Oracle.Fincore([a, b]);
        Assert.Equal(5, summary.FilesRecorded);
        Assert.Equal(entries.Values.Sum(e => e.ResidentPages), summary.ResidentPages);
        foreach (string f in new[] { a, b }) Oracle.Between(before[f], entries[f].ResidentPages, afterSave[f], f);

        // Change one file (same size, new content and time), put another in the place of one, remove one.
        Thread.Sleep(20);
        using (var s = new FileStream(changed, FileMode.Open)) { s.WriteByte(1); s.Flush(true); }
        // Replaced as editors and package managers do: a new file renamed over the old. (Deleting first
        // would let the file system give the new file the freed inode number: then it reads as Changed.)
        File.Move(_dir.WritePattern("replacement.bin", 512L * Page), replaced, overwrite: true);
        File.Delete(missing);
        foreach (string f in new[] { a, b, changed, replaced }) PageCache.Evict(f);

        var skips = new List<CacheRestoreSkip>();
        var progress = new List<CacheRestoreProgress>();
        var result = CacheSnapshot.Restore(snapshot, onSkip: skips.Add, progress: new SyncProgress(progress.Add));

        var now = Oracle.Fincore([a, b, changed, replaced]);
        foreach (string f in new[] { a, b })
            Assert.True(now[f] >= 0.99 * entries[f].ResidentPages, $"{f}: fincore counts {now[f]} pages after the restore; the snapshot recorded {entries[f].ResidentPages}.");
        Assert.Equal(0, now[changed]);
        Assert.Equal(0, now[replaced]);
        Assert.Equal(CacheRestoreSkipKind.Changed, skips.Single(s => s.Path == changed).Kind);
        Assert.Equal(CacheRestoreSkipKind.Replaced, skips.Single(s => s.Path == replaced).Kind);
        Assert.Equal(CacheRestoreSkipKind.Missing, skips.Single(s => s.Path == missing).Kind);
        Assert.Equal((5, 2, 3), (result.Files, result.FilesRestored, result.FilesSkipped));
        Assert.Equal(entries[a].ResidentPages + entries[b].ResidentPages, result.SnapshotPages);
        Assert.Equal(result.SnapshotPages, result.PagesWarmed + result.PagesAlreadyResident);
        Assert.Equal(5, progress.Count);
        Assert.Equal(1.0, progress[^1].Fraction);
    }

    [Fact]
    public void Restore_WarmsOnlyMissingPages_InFileOrder_UnderTheRate()
    {
        Directory.CreateDirectory(_dir["tree"]);
        string f = PartlyCached("f.bin", 1024, (0, 1024));
        string snapshot = _dir["f.jsonl.gz"];
        var entry = CacheSnapshot.Save([f], snapshot).FilesRecorded == 1 ? CacheSnapshot.Read(snapshot).Single() : null;
        Assert.NotNull(entry);
        // Drop the second half only: a restore asks for those pages and no others.
        PageCache.Evict(f, 512L * Page);
        var stillCached = PageCache.GetResidency(f, 0, 512L * Page).ResidentPages;
        long rate = 4L << 20; // bytes a second
        var result = CacheSnapshot.Restore(snapshot, bytesPerSecond: rate);
        Assert.Equal(entry.ResidentPages - result.PagesWarmed, result.PagesAlreadyResident);
        Assert.True(result.PagesAlreadyResident >= stillCached, $"{result.PagesAlreadyResident} pages were found cached; the first half held {stillCached}.");
        // The first piece starts at once; every later byte waits its turn.
        long piece = Math.Max(Page, rate / 20);
        double least = Math.Max(0, result.WarmedBytes - piece) / (double)rate;
        Assert.True(result.Elapsed.TotalSeconds >= least, $"{result.WarmedBytes} bytes at {rate} bytes/s took {result.Elapsed.TotalSeconds:0.000} s, less than {least:0.000} s.");
        Assert.True(Oracle.Fincore([f])[f] >= 0.99 * entry.ResidentPages);

        // Without a rate cap, a gap that starts mid-file is warmed whole, in one piece.
        PageCache.Evict(f, 512L * Page);
        var uncapped = CacheSnapshot.Restore(snapshot);
        Assert.Equal(entry.ResidentPages, uncapped.PagesWarmed + uncapped.PagesAlreadyResident);
        Assert.True(Oracle.Fincore([f])[f] >= 0.99 * entry.ResidentPages);
    }

    [Fact]
    public void Runs_RoundTripThroughTheirEncoding()
    {
        PageRun[] runs = [new(0, 1), new(5, 300), new(100_000, 1), new(1L << 40, 7)];
        var bytes = CacheSnapshot.EncodeRuns(runs, []);
        Assert.Equal(runs, CacheSnapshot.DecodeRuns(bytes));
        Assert.Equal([0, 1], CacheSnapshot.EncodeRuns([new(0, 1)], []));
        Assert.Throws<FormatException>(() => CacheSnapshot.DecodeRuns([0x80]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"format\":\"other\",\"version\":1,\"pageSize\":4096}")]
    [InlineData("{\"format\":\"mmaptools-page-cache\",\"version\":99,\"pageSize\":4096}")]
    [InlineData("{\"format\":\"mmaptools-page-cache\",\"version\":1,\"pageSize\":4096}\n{\"path\":\"/x\"}")]
    public void Read_AFileThatIsNoSnapshot_IsInvalidSnapshot(string text)
    {
        string path = _dir.Write("bad.jsonl", System.Text.Encoding.UTF8.GetBytes(text));
        var e = Assert.Throws<MemoryMapException>(() => CacheSnapshot.Read(path).ToList());
        Assert.Equal("InvalidSnapshot", e.Reason);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Restore_RejectsANonPositiveRate() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CacheSnapshot.Restore(_dir["none.jsonl"], bytesPerSecond: 0));

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(Action<CacheRestoreProgress> report) : IProgress<CacheRestoreProgress>
    {
        public void Report(CacheRestoreProgress value) => report(value);
    }
}
