using System.Globalization;

namespace MmapTools.PowerCut;

/// <summary>
/// A writer's plan: how its map is made, then a list of steps, each one word of the writer's
/// command line. The same plan drives the writer (which performs it) and the model (which says,
/// from it alone, what must and what may be on the disk after a power cut at its point).
/// Map kinds: existing (a file of Pages pages, synced to the disk before the writer starts), grow
/// (the same file grown to MappedPages with ftruncate and mapped whole), new (a file created by the
/// writer), private (existing, mapped MAP_PRIVATE), shm and memfd (tmpfs).
/// Steps: w:P (write page P's next version through the map), msync:A:B / msync-async:A:B /
/// msync-invalidate:A:B / msync-durable:A:B (pages A to B-1), fsync, fdatasync, evict (drop the
/// file's clean cached pages, POSIX_FADV_DONTNEED), munmap, point (print "point" and wait: the
/// fixture cuts power here), point-go (print "point" and go on: the cut lands somewhere after it),
/// exit (end the process without unmapping or syncing; the cut comes after its end).
/// </summary>
public sealed record PowerCutPlan(string Kind, int Pages, int MappedPages, IReadOnlyList<string> Steps)
{
    public static readonly string[] Kinds = ["existing", "grow", "new", "private", "shm", "memfd"];

    public bool OnDisk => Kind is not ("shm" or "memfd");

    /// <summary>Whether the file is on the disk, with Pages pages of version 0, before the writer starts.</summary>
    public bool Prepared => Kind is "existing" or "grow" or "private";

    public bool SharedFile => OnDisk && Kind != "private";

    /// <summary>The writer's arguments: kind, pages, mapped pages, then the steps.</summary>
    public string[] ToArguments() => [Kind, Pages.ToString(CultureInfo.InvariantCulture), MappedPages.ToString(CultureInfo.InvariantCulture), .. Steps];

    public static PowerCutPlan Parse(IReadOnlyList<string> arguments)
    {
        if (arguments.Count < 3 || !Kinds.Contains(arguments[0]))
            throw new ArgumentException($"a plan is <{string.Join('|', Kinds)}> <pages> <mapped pages> <steps...>, not '{string.Join(' ', arguments)}'");
        return new PowerCutPlan(arguments[0], int.Parse(arguments[1], CultureInfo.InvariantCulture),
            int.Parse(arguments[2], CultureInfo.InvariantCulture), [.. arguments.Skip(3)]);
    }

    public override string ToString() => string.Join(' ', ToArguments());

    /// <summary>A step split into its word and its page range (whole map when it names none).</summary>
    public (string Op, int First, int End) Step(int index)
    {
        string[] parts = Steps[index].Split(':');
        return parts.Length switch
        {
            1 => (parts[0], 0, MappedPages),
            2 => (parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture) + 1),
            _ => (parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture)),
        };
    }

    /// <summary>The version a write step leaves in its page: its index in the plan, plus one (0 is the prepared file's).</summary>
    public static int VersionOf(int step) => step + 1;

    /// <summary>The bytes of one page at a version: 0 the prepared file, -1 zeros (a hole or a grown tail), else the write's.</summary>
    public static void Fill(Span<byte> page, long fileOffset, int version)
    {
        if (version < 0) { page.Clear(); return; }
        for (int i = 0; i < page.Length; i++)
            page[i] = (byte)((((ulong)(fileOffset + i) + (ulong)version * 0x632BE59BD9B4E019UL) * 0x9E3779B97F4A7C15UL) >> 56);
    }
}

/// <summary>The scenarios a power cut is tested in: a name, what the plan does, and the claim it checks.</summary>
public sealed record PowerCutScenario(string Name, string Claim, PowerCutPlan Plan)
{
    private const int Pages = 16;

    private static PowerCutPlan Existing(params string[] steps) => new("existing", Pages, Pages, steps);

    private static string[] WriteAll(int pages = Pages) => [.. Enumerable.Range(0, pages).Select(p => $"w:{p}")];

    public static readonly IReadOnlyList<PowerCutScenario> All =
    [
        new("write-only", "Bytes written through a shared map and never synced may or may not be on the disk after a power cut",
            Existing([.. WriteAll(), "point"])),
        new("ms-async", "msync(MS_ASYNC) promises nothing on the disk",
            Existing([.. WriteAll(), $"msync-async:0:{Pages}", "point"])),
        new("ms-sync-range", "msync(MS_SYNC) of a range puts that range on the disk, and only that range is promised",
            Existing([.. WriteAll(), "msync:0:4", "point"])),
        new("ms-sync-invalidate", "msync(MS_SYNC | MS_INVALIDATE) puts the range on the disk like MS_SYNC",
            Existing([.. WriteAll(), $"msync-invalidate:0:{Pages}", "point"])),
        new("fsync", "fsync of the descriptor instead of msync puts the map's writes on the disk",
            Existing([.. WriteAll(), "fsync", "point"])),
        new("fdatasync", "fdatasync of the descriptor instead of msync puts the map's writes on the disk",
            Existing([.. WriteAll(), "fdatasync", "point"])),
        new("munmap", "munmap without msync promises nothing on the disk",
            Existing([.. WriteAll(), "munmap", "point"])),
        new("exit", "A process that exits without msync leaves its writes to the kernel: nothing is promised on the disk",
            Existing([.. WriteAll(), "exit"])),
        new("private", "Writes to a private map never reach the file, msync or not",
            new("private", Pages, Pages, [.. WriteAll(), $"msync:0:{Pages}", "fsync", "point"])),
        new("grow-msync", "A file grown with ftruncate, written through a map and msync'ed: its bytes are promised, its new size is not without fsync",
            new("grow", Pages / 2, Pages, [.. WriteAll(), $"msync:0:{Pages}", "point"])),
        new("grow-durable", "A grown file synced durably (msync, fsync of the file and its directory) keeps its new size",
            new("grow", Pages / 2, Pages, [.. WriteAll(), $"msync-durable:0:{Pages}", "point"])),
        new("new-msync", "A new file written through a map and msync'ed: its name is not promised without an fsync of its directory",
            new("new", 0, Pages, [.. WriteAll(), $"msync:0:{Pages}", "point"])),
        new("new-durable", "A new file synced durably (msync, fsync of the file and its directory) is on the disk, name and bytes",
            new("new", 0, Pages, [.. WriteAll(), $"msync-durable:0:{Pages}", "point"])),
        new("evict", "Evicting a file after a write drops no dirty page: the bytes stay readable, and a power cut may find them on the disk",
            Existing([.. WriteAll(), "evict", "point"])),
        new("after-last-sync", "Bytes written after the last sync may be lost: the disk keeps the synced bytes at least",
            Existing([.. WriteAll(), $"msync:0:{Pages}", .. WriteAll(), "point"])),
        new("shm", "POSIX shared memory lives in tmpfs: nothing of it survives a power cut",
            new("shm", 0, Pages, [.. WriteAll(), $"msync:0:{Pages}", "point"])),
        new("memfd", "A memfd lives in tmpfs: nothing of it survives a power cut",
            new("memfd", 0, Pages, [.. WriteAll(), $"msync:0:{Pages}", "point"])),
    ];

    public static PowerCutScenario Named(string name) =>
        All.FirstOrDefault(s => s.Name == name) ?? throw new ArgumentException($"no power-cut scenario '{name}'; there are {string.Join(", ", All.Select(s => s.Name))}");

    /// <summary>A random plan for the long run: writes and syncs of every form over an existing file, cut at a random step.</summary>
    public static PowerCutPlan Random(Random random, int pages, int steps)
    {
        var list = new List<string>();
        int cut = random.Next(steps + 1);
        for (int i = 0; i < steps; i++)
        {
            if (i == cut) list.Add("point-go");
            int first = random.Next(pages), end = random.Next(first + 1, pages + 1);
            list.Add(random.Next(12) switch
            {
                < 6 => $"w:{random.Next(pages)}",
                6 => $"msync:{first}:{end}",
                7 => $"msync-async:{first}:{end}",
                8 => $"msync-durable:{first}:{end}",
                9 => "fsync",
                10 => "fdatasync",
                _ => "evict",
            });
        }
        if (cut == steps) list.Add("point-go");
        return new PowerCutPlan("existing", pages, pages, list);
    }
}
