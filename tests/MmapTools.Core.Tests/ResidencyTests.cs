using System.Runtime.InteropServices;

namespace MmapTools.Tests;

/// <summary>The residency bitmap, its runs and the packing of mincore vectors, against naive references and real maps.</summary>
public sealed class ResidencyTests : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // ---------------------------------------------------------------- naive references

    private static ulong[] NaivePack(ReadOnlySpan<byte> vector)
    {
        var words = new ulong[(vector.Length + 63) / 64];
        for (int i = 0; i < vector.Length; i++)
            if ((vector[i] & 1) != 0) words[i / 64] |= 1UL << (i % 64);
        return words;
    }

    private static List<PageRun> NaiveRuns(IReadOnlyList<bool> bits, bool resident)
    {
        var runs = new List<PageRun>();
        for (int i = 0; i < bits.Count;)
        {
            if (bits[i] != resident) { i++; continue; }
            int start = i;
            while (i < bits.Count && bits[i] == resident) i++;
            runs.Add(new PageRun(start, i - start));
        }
        return runs;
    }

    private static bool[] RandomBits(Random random, int count)
    {
        // Mix long runs and noise, with densities from empty to full.
        double density = random.NextDouble();
        double stickiness = random.NextDouble();
        var bits = new bool[count];
        bool current = random.NextDouble() < density;
        for (int i = 0; i < count; i++)
        {
            if (random.NextDouble() > stickiness) current = random.NextDouble() < density;
            bits[i] = current;
        }
        return bits;
    }

    private static ResidencyBitmap ToBitmap(bool[] bits)
    {
        var words = new ulong[(bits.Length + 63) / 64];
        for (int i = 0; i < bits.Length; i++) if (bits[i]) words[i / 64] |= 1UL << (i % 64);
        return new ResidencyBitmap(bits.Length, words);
    }

    public static TheoryData<int> Lengths => new([0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 1000, 4096 + 3]);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Pack_MatchesANaiveReference_OnRandomVectors(int length)
    {
        var random = new Random(length);
        for (int round = 0; round < 50; round++)
        {
            // mincore defines only bit 0; the other bits must be ignored, so fill them with noise.
            var vector = new byte[length];
            random.NextBytes(vector);
            var words = new ulong[(length + 63) / 64];
            words.AsSpan().Fill(ulong.MaxValue); // Pack must clear what it does not set

            ResidencyScanner.Pack(vector, words);

            Assert.Equal(NaivePack(vector), words);
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void BitmapRuns_MatchANaiveReference_OnRandomBitmaps(int length)
    {
        var random = new Random(1000 + length);
        for (int round = 0; round < 50; round++)
        {
            bool[] bits = RandomBits(random, length);
            var bitmap = ToBitmap(bits);

            Assert.Equal(NaiveRuns(bits, resident: true), bitmap.Runs(resident: true).ToList());
            Assert.Equal(NaiveRuns(bits, resident: false), bitmap.Runs(resident: false).ToList());
            Assert.Equal(bits.Count(b => b), bitmap.CountSet());
            for (int i = 0; i < length; i++) Assert.Equal(bits[i], bitmap[i]);
        }
    }

    [Fact]
    public void Bitmap_RejectsAWrongWordCount_AndAPageOutOfRange()
    {
        Assert.Equal("words", Assert.Throws<ArgumentException>(() => new ResidencyBitmap(65, new ulong[1])).ParamName);
        Assert.Equal("pageCount", Assert.Throws<ArgumentOutOfRangeException>(() => new ResidencyBitmap(-1, [])).ParamName);
        var bitmap = new ResidencyBitmap(10, [0b1011]);
        Assert.Equal("page", Assert.Throws<ArgumentOutOfRangeException>(() => bitmap[10]).ParamName);
        Assert.Equal("page", Assert.Throws<ArgumentOutOfRangeException>(() => bitmap[-1]).ParamName);
        Assert.Equal([new PageRun(0, 2), new PageRun(3, 1)], bitmap.Runs().ToList());
        Assert.Equal("3/10 pages set", bitmap.ToString());
    }

    // ---------------------------------------------------------------- real maps

    [Fact]
    public void MapResidency_MatchesTheTouchedPages_WhenReadaheadIsOff()
    {
        const int pages = 256;
        string path = _dir.WritePattern("touched.bin", pages * Page);
        PageCache.Evict(path);
        using var map = MemoryMap.OpenFile(path);
        map.Advise(MemoryAdvice.Random); // no readahead: a fault reads its own page only
        Assert.Equal(0, KernelOracle.MincoreCount(map.Address, pages * Page));
        Assert.Equal(0, map.GetResidency().ResidentPages);

        var random = new Random(7);
        var touched = new SortedSet<int> { 0, 63, 64, pages - 1 };
        while (touched.Count < 40) touched.Add(random.Next(pages));
        // Touched by a pointer read, which faults the page in; the safe Read of a shared file map is a
        // pread of the file, which reads ahead whatever the map's advice.
        foreach (int page in touched) Assert.Equal(Content.At((long)page * Page + 1), Marshal.ReadByte(map.Address, page * Page + 1));

        var residency = map.GetResidency(detail: ResidencyDetail.Bitmap);

        Assert.Equal(KernelOracle.Mincore(map.Address, pages * Page), Enumerable.Range(0, pages).Select(p => residency.Bitmap![p]));
        Assert.Equal(ResidencySource.Mincore, residency.Source);
        Assert.True(residency.IsTrusted);
        Assert.Equal(pages, residency.TotalPages);
        Assert.Equal(touched.Count, residency.ResidentPages);
        var bitmap = residency.Bitmap!;
        for (int page = 0; page < pages; page++)
            Assert.True(touched.Contains(page) == bitmap[page], $"page {page}: touched {touched.Contains(page)}, resident {bitmap[page]}");
        Assert.Equal(bitmap.Runs().ToList(), residency.ResidentRuns);
        Assert.Equal(NaiveRuns(Enumerable.Range(0, pages).Select(touched.Contains).ToArray(), true), residency.ResidentRuns);
        Assert.NotNull(residency.EvictedPages); // a shared file map adds cachestat's counts
    }

    [Fact]
    public void MapResidency_RunsAcrossMincoreWindows_MatchTheTouchedPages()
    {
        // More pages than one mincore window, so runs and bitmap words must join across windows.
        int window = ResidencyScanner.WindowPages;
        int pages = window + 3000;
        using var map = MemoryMap.Anonymous((long)pages * Page, new() { NoReserve = true });
        // Where THP is `always`, a touch would fault a whole huge page in.
        if (Kernel.HasConfig("CONFIG_TRANSPARENT_HUGEPAGE") != false) map.Advise(MemoryAdvice.NoHugePage);
        var random = new Random(8);
        var touched = new SortedSet<int>();
        for (int page = window - 5; page < window + 5; page++) touched.Add(page); // a run across the boundary
        touched.Add(0);
        touched.Add(pages - 1);
        while (touched.Count < 3000) touched.Add(random.Next(pages));
        foreach (int page in touched) map.Write((long)page * Page, [1]);

        var residency = map.GetResidency(detail: ResidencyDetail.Bitmap);

        bool[] expected = Enumerable.Range(0, pages).Select(touched.Contains).ToArray();
        Assert.Equal(expected, KernelOracle.Mincore(map.Address, (long)pages * Page));
        Assert.Equal(touched.Count, residency.ResidentPages);
        Assert.Equal(NaiveRuns(expected, true), residency.ResidentRuns);
        Assert.Equal(NaiveRuns(expected, true), residency.Bitmap!.Runs().ToList());
        Assert.Equal(NaiveRuns(expected, false), residency.Bitmap.Runs(resident: false).ToList());
        Assert.Null(residency.DirtyPages); // anonymous memory has no cachestat
    }

    [Fact]
    public void MapResidency_OfAnUnalignedRange_CountsThePagesItTouches()
    {
        using var map = MemoryMap.Anonymous(8 * Page);
        map.Write(2 * Page, [1]);
        map.Write(4 * Page, [1]);

        var residency = map.GetResidency(2 * Page - 1, 2 * Page + 2); // pages 1..4

        Assert.Equal(2 * Page - 1, residency.Offset);
        Assert.Equal(2 * Page + 2, residency.Length);
        Assert.Equal(4, residency.TotalPages);
        Assert.Equal(2, residency.ResidentPages);
        Assert.Equal([new PageRun(1, 1), new PageRun(3, 1)], residency.ResidentRuns);
        Assert.Null(residency.Bitmap); // only asked for runs
        Assert.Null(map.GetResidency(detail: ResidencyDetail.Summary).ResidentRuns);
    }

    [Fact]
    public void MapResidency_OfAWindowAtAnUnalignedFileOffset_CoversTheWindowOnly()
    {
        string path = _dir.WritePattern("window.bin", 8 * Page);
        PageCache.Evict(path);
        using (var toucher = MemoryMap.OpenFile(path, options: new() { Private = true })) // Read faults the page in
        {
            toucher.Advise(MemoryAdvice.Random); // no readahead around the fault
            toucher.Read(3 * Page, 1); // file page 3 only
        }

        using var map = MemoryMap.OpenFile(path, 2 * Page + 10, 3 * Page); // file pages 2..5

        var residency = map.GetResidency(detail: ResidencyDetail.Bitmap);
        Assert.Equal(4, residency.TotalPages);
        Assert.Equal(1, residency.ResidentPages);
        Assert.True(residency.Bitmap![1]);
    }
}
