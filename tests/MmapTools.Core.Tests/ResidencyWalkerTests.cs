namespace MmapTools.Tests;

/// <summary>
/// ResidencyWalker: streamed walks of directory trees with the options users know from vmtouch
/// (follow links, one file system, include/exclude, a size limit), each file counted once, failures
/// as items; and PageCache.WarmMissing, which warms only what a residency found missing.
/// </summary>
public sealed class ResidencyWalkerTests : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>root/a.bin (3 pages), root/b.log (1), root/sub/c.bin (2), root/sub/deeper/d.bin (5), a FIFO and an empty file.</summary>
    private string MakeTree()
    {
        string root = _dir["tree"];
        Directory.CreateDirectory(Path.Combine(root, "sub", "deeper"));
        _dir.WritePattern("tree/a.bin", 3 * Page - 7);
        _dir.WritePattern("tree/b.log", 100);
        _dir.WritePattern("tree/sub/c.bin", 2 * Page);
        _dir.WritePattern("tree/sub/deeper/d.bin", 5 * Page);
        File.WriteAllBytes(Path.Combine(root, "empty.bin"), []);
        Assert.Equal(0, Child.RunProgram("mkfifo", Path.Combine(root, "sub", "fifo")).ExitCode);
        return root;
    }

    private static List<ResidencyWalkItem> Walk(ResidencyWalkOptions options, params string[] paths)
    {
        var walker = new ResidencyWalker(options);
        return paths.SelectMany(walker.Examine).ToList();
    }

    private static string[] Names(IEnumerable<ResidencyWalkItem> items, ResidencyWalkItemKind kind = ResidencyWalkItemKind.File) =>
        items.Where(i => i.Kind == kind).Select(i => Path.GetFileName(i.Path)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Recurse_GivesEveryRegularFile_WithTheSameCountsAsPageCache_AndEachDirectory()
    {
        string root = MakeTree();

        var items = Walk(new() { Recurse = true }, root);

        Assert.Equal(["a.bin", "b.log", "c.bin", "d.bin", "empty.bin"], Names(items));
        Assert.Equal(["deeper", "sub", "tree"], Names(items, ResidencyWalkItemKind.Directory));
        Assert.DoesNotContain(items, i => i.Kind == ResidencyWalkItemKind.Error);
        foreach (var item in items.Where(i => i.Kind == ResidencyWalkItemKind.File))
        {
            var alone = PageCache.GetResidency(item.Path);
            Assert.Equal(alone.TotalPages, item.Residency!.TotalPages);
            Assert.Equal(alone.Length, item.Residency.Length);
            Assert.Equal(item.Path, item.Residency.Path);
            Assert.NotNull(item.Residency.Inode);
        }
        Assert.Equal(3 + 1 + 2 + 5, items.Sum(i => i.Residency?.TotalPages ?? 0));
    }

    [Fact]
    public void AWalk_GivesADirectorysFilesBeforeTheDirectoriesBelowIt()
    {
        string root = MakeTree();

        var order = Walk(new() { Recurse = true }, root).Select(i => Path.GetRelativePath(root, i.Path)).ToList();

        Assert.True(order.IndexOf("a.bin") < order.IndexOf("sub"));
        Assert.True(order.IndexOf("sub") < order.IndexOf(Path.Combine("sub", "c.bin")));
        Assert.True(order.IndexOf(Path.Combine("sub", "c.bin")) < order.IndexOf(Path.Combine("sub", "deeper", "d.bin")));
    }

    [Fact]
    public void WithoutRecurse_GivesOnlyTheFilesDirectlyInTheDirectory()
    {
        string root = MakeTree();

        var items = Walk(new(), root);

        Assert.Equal(["a.bin", "b.log", "empty.bin"], Names(items));
        Assert.Single(items, i => i.Kind == ResidencyWalkItemKind.Directory);
    }

    [Fact]
    public void Details_RunsAndBitmap_ComeFromTheWalkToo()
    {
        string root = MakeTree();
        PageCache.Warm(Path.Combine(root, "sub", "deeper", "d.bin"));

        var d = Walk(new() { Recurse = true, Detail = ResidencyDetail.Bitmap }, root).Single(i => i.Path.EndsWith("d.bin", StringComparison.Ordinal));

        Assert.Equal(ResidencySource.Mincore, d.Residency!.Source);
        Assert.Equal(5, d.Residency.Bitmap!.CountSet());
        Assert.Equal([new PageRun(0, 5)], d.Residency.ResidentRuns!);
    }

    [Fact]
    public void HardLinks_CountOnce_AndANamedFile_CountsOnceWithItsDirectory_InEitherOrder()
    {
        string root = MakeTree();
        string a = Path.Combine(root, "a.bin");
        Assert.Equal(0, Child.RunProgram("ln", a, Path.Combine(root, "sub", "a-again.bin")).ExitCode);

        var walked = Walk(new() { Recurse = true }, root);
        Assert.Equal(5, walked.Count(i => i.Kind == ResidencyWalkItemKind.File));

        var fileFirst = Walk(new() { Recurse = true }, Path.Combine(root, "sub", "c.bin"), root);
        var treeFirst = Walk(new() { Recurse = true }, root, Path.Combine(root, "sub", "c.bin"), Path.Combine(root, "sub"));
        Assert.Equal(5, fileFirst.Count(i => i.Kind == ResidencyWalkItemKind.File));
        Assert.Equal(5, treeFirst.Count(i => i.Kind == ResidencyWalkItemKind.File));
        Assert.Equal(3, treeFirst.Count(i => i.Kind == ResidencyWalkItemKind.Directory)); // sub is not walked twice
    }

    [Fact]
    public void SymbolicLinks_AreSkippedInAWalk_FollowedWhenAsked_WithoutLoopsOrDoubleCounts()
    {
        string root = MakeTree();
        string outside = _dir["outside"];
        Directory.CreateDirectory(outside);
        _dir.WritePattern("outside/far.bin", 4 * Page);
        File.CreateSymbolicLink(Path.Combine(root, "to-a"), Path.Combine(root, "a.bin"));
        File.CreateSymbolicLink(Path.Combine(root, "to-far"), Path.Combine(outside, "far.bin"));
        Directory.CreateSymbolicLink(Path.Combine(root, "sub", "to-outside"), outside);
        Directory.CreateSymbolicLink(Path.Combine(root, "sub", "deeper", "loop"), root);
        File.CreateSymbolicLink(Path.Combine(root, "dangling"), Path.Combine(root, "nothing-here"));

        var plain = Walk(new() { Recurse = true }, root);
        Assert.Equal(["a.bin", "b.log", "c.bin", "d.bin", "empty.bin"], Names(plain));
        Assert.DoesNotContain(plain, i => i.Kind == ResidencyWalkItemKind.Error);

        var followed = Walk(new() { Recurse = true, FollowSymlinks = true }, root);
        // to-a is a.bin again (counted once, by the path met first); far.bin once, through either link.
        Assert.Equal(6, followed.Count(i => i.Kind == ResidencyWalkItemKind.File));
        Assert.Single(followed, i => i.Kind == ResidencyWalkItemKind.File && i.Residency!.TotalPages == 4);
        Assert.Equal(4, followed.Count(i => i.Kind == ResidencyWalkItemKind.Directory)); // the loop back to the root is cut
        var dangling = Assert.Single(followed, i => i.Kind == ResidencyWalkItemKind.Error);
        Assert.EndsWith("dangling", dangling.Path, StringComparison.Ordinal);
        Assert.Equal("ENOENT", Assert.IsAssignableFrom<MemoryMapException>(dangling.Error).Reason);
    }

    [SkippableFact]
    public void AWalk_StaysOnItsFileSystem_UnlessAskedToCross()
    {
        string shm = Path.Combine("/dev/shm", $"mmaptools-walk-{Environment.ProcessId}");
        Skip.IfNot(Directory.Exists("/dev/shm"), "/dev/shm is missing.");
        Directory.CreateDirectory(shm);
        try
        {
            File.WriteAllBytes(Path.Combine(shm, "in-shm.bin"), new byte[2 * Page]);
            string root = MakeTree();
            Directory.CreateSymbolicLink(Path.Combine(root, "shm"), shm);
            Skip.If(new DriveInfo(shm).Name == new DriveInfo(root).Name, "/dev/shm is on the same file system as the temp folder.");

            var staying = Walk(new() { Recurse = true, FollowSymlinks = true }, root);
            var crossing = Walk(new() { Recurse = true, FollowSymlinks = true, CrossFileSystems = true }, root);

            Assert.DoesNotContain("in-shm.bin", Names(staying));
            Assert.Contains("in-shm.bin", Names(crossing));
            // A directory on another file system named directly is walked: the rule is about crossing from the start.
            Assert.Contains("in-shm.bin", Names(Walk(new() { Recurse = true }, shm)));
        }
        finally
        {
            Directory.Delete(shm, recursive: true);
        }
    }

    [Fact]
    public void IncludeExcludeAndMaxFileSize_SelectFilesByNameAndSize_AndExcludedDirectoriesAreNotWalked()
    {
        string root = MakeTree();

        Assert.Equal(["a.bin", "c.bin", "d.bin", "empty.bin"], Names(Walk(new() { Recurse = true, Include = n => n.EndsWith(".bin", StringComparison.Ordinal) }, root)));
        Assert.Equal(["a.bin", "b.log", "empty.bin"], Names(Walk(new() { Recurse = true, Exclude = n => n == "sub" }, root)));
        Assert.Equal(["a.bin", "b.log", "c.bin", "empty.bin"], Names(Walk(new() { Recurse = true, MaxFileSize = 3 * Page }, root)));
        Assert.Equal(["b.log", "empty.bin"], Names(Walk(new() { Recurse = true, MaxFileSize = 100 }, root)));
        // Named files obey the same rules.
        Assert.Empty(Walk(new() { Exclude = n => n == "a.bin" }, Path.Combine(root, "a.bin")));
        Assert.Empty(Walk(new() { MaxFileSize = 0 }, Path.Combine(root, "a.bin")));
    }

    [Fact]
    public void FilesAndDirectoriesThatVanishMidWalk_BecomeErrors_AndTheWalkGoesOn()
    {
        string root = _dir["vanishing"];
        Directory.CreateDirectory(Path.Combine(root, "sub"));
        for (int i = 0; i < 10; i++) _dir.WritePattern($"vanishing/f{i}.bin", Page);
        _dir.WritePattern("vanishing/sub/inner.bin", Page);

        var items = new List<ResidencyWalkItem>();
        // On one thread each file is examined when the walk comes to it; more threads examine ahead.
        foreach (var item in new ResidencyWalker(new() { Recurse = true, MaxDegreeOfParallelism = 1 }).Examine(root))
        {
            items.Add(item);
            if (item.Kind != ResidencyWalkItemKind.File || items.Count(i => i.Kind == ResidencyWalkItemKind.File) != 1) continue;
            // The directory was already read: everything else goes now.
            foreach (string file in Directory.GetFiles(root)) if (file != item.Path) File.Delete(file);
            Directory.Delete(Path.Combine(root, "sub"), recursive: true);
        }

        Assert.Single(items, i => i.Kind == ResidencyWalkItemKind.File);
        var errors = items.Where(i => i.Kind == ResidencyWalkItemKind.Error).ToList();
        Assert.Equal(10, errors.Count); // 9 files and the subdirectory
        Assert.All(errors, e => Assert.Equal("ENOENT", Assert.IsAssignableFrom<MemoryMapException>(e.Error).Reason));
        Assert.Contains(errors, e => e.Path.EndsWith("/sub", StringComparison.Ordinal));
    }

    [Fact]
    public void NamedItems_ThatAreNotFiles_OrMissing_AreErrors_WhileFifosInAWalkAreSkipped()
    {
        string root = MakeTree();

        var fifo = Assert.Single(Walk(new(), Path.Combine(root, "sub", "fifo")));
        var missing = Assert.Single(Walk(new(), Path.Combine(root, "missing")));

        Assert.Equal("NotMappable", Assert.IsAssignableFrom<MemoryMapException>(fifo.Error).Reason);
        Assert.Equal("ENOENT", Assert.IsAssignableFrom<MemoryMapException>(missing.Error).Reason);
        Assert.DoesNotContain(Walk(new() { Recurse = true }, root), i => i.Path.EndsWith("fifo", StringComparison.Ordinal));
    }

    [Fact]
    public void ANamedLink_CountsAsItsTarget()
    {
        string root = MakeTree();
        string link = Path.Combine(root, "link.bin");
        File.CreateSymbolicLink(link, Path.Combine(root, "sub", "deeper", "d.bin"));

        var item = Assert.Single(Walk(new(), link, Path.Combine(root, "sub", "deeper", "d.bin")));

        Assert.Equal(Path.Combine(root, "sub", "deeper", "d.bin"), item.Path);
    }

    [Fact]
    public void BadOptions_AreRefusedBeforeAnyCall()
    {
        Assert.Throws<ArgumentOutOfRangeException>("offset", () => new ResidencyWalker(new() { Offset = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>("length", () => new ResidencyWalker(new() { Length = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>("maxFileSize", () => new ResidencyWalker(new() { MaxFileSize = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>("options", () => new ResidencyWalker(new() { Detail = (ResidencyDetail)9 }));
        Assert.Throws<ArgumentException>("path", () => new ResidencyWalker().Examine(""));
    }

    [Fact]
    public void AWalkOfManyFiles_HoldsNoListOfThem()
    {
        string root = _dir["many"];
        for (int d = 0; d < 10; d++)
        {
            Directory.CreateDirectory(Path.Combine(root, $"d{d}"));
            for (int f = 0; f < 50; f++) File.WriteAllBytes(Path.Combine(root, $"d{d}", $"f{f}"), [1]);
        }
        // One thread, so that this thread's allocations are the walk's (other tests allocate meanwhile).
        var walker = new ResidencyWalker(new() { Recurse = true, MaxDegreeOfParallelism = 1 });
        long files = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var item in walker.Examine(root)) if (item.Kind == ResidencyWalkItemKind.File) files++;
        long perFile = (GC.GetAllocatedBytesForCurrentThread() - before) / files;

        Assert.Equal(500, files);
        // A residency object, its path and a handle wrapper a file; nothing that grows with the tree.
        Assert.True(perFile < 1024, $"{perFile} bytes allocated per file");
    }

    [Fact]
    public void MissingRanges_AreTheGapsBetweenResidentRuns()
    {
        long start = 3 * Page + 5; // the range starts inside page 3
        Assert.Equal([(3L * Page, 13L * Page)], PageCache.MissingRanges(null, start, 10 * Page - 5));
        Assert.Equal([(3L * Page, 4L * Page), (6L * Page, 10L * Page), (11L * Page, 13L * Page)],
            PageCache.MissingRanges([new PageRun(1, 2), new PageRun(7, 1)], start, 10 * Page - 5));
        Assert.Empty(PageCache.MissingRanges([new PageRun(0, 10)], start, 10 * Page - 5));
        Assert.Empty(PageCache.MissingRanges([], 0, 0));
    }

    [Theory]
    [InlineData(0L, 4L << 30, 2)]
    [InlineData(4096L * 3, (4L << 30) - 4096 * 7, 4)]
    [InlineData(123L << 20, 300L << 20, 2)]
    [InlineData(0L, 255L << 20, 4)] // short: one piece
    [InlineData(0L, 1L << 30, 1)]   // one processor: one piece
    public void EvictPieces_CoverTheRange_CutOnlyAtWholeFolios(long start, long bytes, int count)
    {
        long folio = (long)Page * (Page / 8);

        var pieces = PageCache.EvictPieces(start, bytes, count);

        Assert.InRange(pieces.Count, 1, count);
        if (bytes < PageCache.ParallelEvictBytes || count == 1) Assert.Single(pieces);
        Assert.Equal(start, pieces[0].Start);
        Assert.Equal(start + bytes, pieces[^1].Start + pieces[^1].Bytes);
        for (int i = 1; i < pieces.Count; i++)
        {
            Assert.Equal(pieces[i - 1].Start + pieces[i - 1].Bytes, pieces[i].Start);
            Assert.Equal(0, pieces[i].Start % folio); // no folio straddles a cut
            Assert.True(pieces[i].Bytes > 0);
        }
    }

    [Fact]
    public void WarmMissing_BringsInTheGaps_AndRefusesAMapsResidency()
    {
        string path = _dir.WritePattern("warm-missing.bin", 64 * Page);
        PageCache.Evict(path);
        var residency = PageCache.GetResidency(path, detail: ResidencyDetail.Runs);
        Assert.Equal(0, residency.ResidentPages);

        Assert.Equal(64, PageCache.WarmMissing(residency));
        Assert.Equal(64, PageCache.GetResidency(path).ResidentPages);
        Assert.Equal(0, PageCache.WarmMissing(PageCache.GetResidency(path, detail: ResidencyDetail.Runs)));

        using var map = MemoryMap.Anonymous(Page);
        Assert.Throws<ArgumentException>("residency", () => PageCache.WarmMissing(map.GetResidency()));
    }
}
