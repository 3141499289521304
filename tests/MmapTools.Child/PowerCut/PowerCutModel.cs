namespace MmapTools.PowerCut;

/// <summary>A file as the disk holds it after the cut: absent, or its size and bytes.</summary>
public sealed record DiskFile(bool Exists, long Size, byte[] Bytes)
{
    public static readonly DiskFile Absent = new(false, 0, []);
}

/// <summary>A page of the file as the disk holds it after the cut.</summary>
public enum DiskPage
{
    /// <summary>Past the end of the file on the disk (or the file is absent).</summary>
    Absent,

    /// <summary>What it held before the writer started (the prepared bytes, or zeros where the file was grown or new).</summary>
    Old,

    /// <summary>Bytes the writer wrote, but not its last write to the page.</summary>
    Older,

    /// <summary>The writer's last write to the page.</summary>
    Newest,

    /// <summary>Sectors of different versions: a page the cut caught part-way, each sector still one that was written.</summary>
    Mixed,

    /// <summary>A sector that holds bytes never written there.</summary>
    Garbage,
}

/// <summary>What one cut found: the disk's view of each page, and what broke a promise or was never written.</summary>
public sealed record PowerCutOutcome(
    DiskPage[] Pages, bool FileExists, long DiskSize, long FinalSize, bool SizePromised, bool NamePromised,
    int PromisedPages, List<string> Broken, List<string> Garbage)
{
    public int Count(DiskPage state) => Pages.Count(p => p == state);

    /// <summary>Pages that hold any byte the writer wrote.</summary>
    public int WrittenPages => Pages.Count(p => p is DiskPage.Newest or DiskPage.Older or DiskPage.Mixed);

    public bool Passed => Broken.Count == 0 && Garbage.Count == 0;
}

/// <summary>
/// What must and what may be on the disk after a power cut, from the plan alone. MUST: every page
/// synced before the cut (msync MS_SYNC of a range holding it, fsync, fdatasync, a durable sync)
/// holds that version or a later one; the prepared file's bytes, size and name; a grown size after
/// fsync, fdatasync or a durable sync; a new file's name after a durable sync (fsync of its
/// directory). MAY: every 512-byte sector holds a version that was in it at some moment (the
/// prepared bytes, zeros of a hole, or a write through a shared map); anything else is garbage.
/// </summary>
public static class PowerCutModel
{
    public const int Sector = 512;

    /// <summary>The step the cut comes at: the first point, or the end (after an exit).</summary>
    public static int CutStep(PowerCutPlan plan)
    {
        for (int i = 0; i < plan.Steps.Count; i++) if (plan.Steps[i] is "point" or "point-go") return i;
        return plan.Steps.Count;
    }

    public static PowerCutOutcome Evaluate(PowerCutPlan plan, DiskFile disk, int pageSize)
    {
        int pages = plan.MappedPages, cut = CutStep(plan);
        var written = new List<int>[pages];
        var synced = new int[pages];
        var latest = new int[pages];
        for (int p = 0; p < pages; p++)
        {
            written[p] = [];
            synced[p] = latest[p] = Initial(plan, p);
        }
        bool sizePromised = plan.Prepared && plan.Kind != "grow", namePromised = plan.Prepared;
        for (int i = 0; i < plan.Steps.Count; i++)
        {
            var (op, first, end) = plan.Step(i);
            bool before = i < cut;
            if (op == "w" && plan.SharedFile)
            {
                written[first].Add(PowerCutPlan.VersionOf(i));
                latest[first] = PowerCutPlan.VersionOf(i);
            }
            if (!before || !plan.SharedFile) continue;
            if (op is "msync" or "msync-invalidate" or "msync-durable" or "fsync" or "fdatasync")
                for (int p = first; p < end; p++) synced[p] = latest[p];
            if (op is "fsync" or "fdatasync" or "msync-durable") sizePromised = true;
            if (op == "msync-durable") namePromised = true;
            if (op == "munmap") break;
        }
        long finalSize = (long)plan.MappedPages * pageSize, preparedSize = plan.Prepared ? (long)plan.Pages * pageSize : 0;
        var broken = new List<string>();
        var garbage = new List<string>();
        var states = new DiskPage[pages];
        if (!disk.Exists)
        {
            if (namePromised) broken.Add("the file is absent, though its name was synced");
            Array.Fill(states, DiskPage.Absent);
            return new(states, false, 0, finalSize, sizePromised, namePromised, 0, broken, garbage);
        }
        if (disk.Size != preparedSize && disk.Size != finalSize && !(plan.Kind == "new" && disk.Size == 0))
            garbage.Add($"the file has {disk.Size} bytes on the disk, a size it never had ({preparedSize} or {finalSize})");
        if (sizePromised && disk.Size != finalSize)
            broken.Add($"the file has {disk.Size} bytes on the disk, though its size {finalSize} was synced");
        int promisedPages = 0;
        var expected = new byte[pageSize];
        for (int p = 0; p < pages; p++)
        {
            long offset = (long)p * pageSize;
            if (offset >= disk.Size)
            {
                states[p] = DiskPage.Absent;
                continue;
            }
            if (synced[p] > Initial(plan, p)) promisedPages++;
            int[] candidates = [Initial(plan, p), .. written[p]];
            if (plan.Kind is "grow" or "new" && p >= plan.Pages) candidates = [-1, .. written[p]];
            var sectorVersions = new List<int>();
            for (int s = 0; s < pageSize / Sector; s++)
            {
                long at = offset + s * Sector;
                if (at >= disk.Size) break;
                var actual = disk.Bytes.AsSpan((int)at, (int)Math.Min(Sector, disk.Size - at));
                int found = int.MinValue;
                foreach (int version in candidates)
                {
                    PowerCutPlan.Fill(expected, offset, version);
                    if (actual.SequenceEqual(expected.AsSpan(s * Sector, actual.Length))) { found = version; break; }
                }
                if (found == int.MinValue)
                {
                    garbage.Add($"page {p} sector {s} holds bytes never written there (versions {string.Join(',', candidates)})");
                    sectorVersions.Add(int.MinValue);
                    continue;
                }
                sectorVersions.Add(found);
                if (synced[p] >= 0 && found < synced[p])
                    broken.Add($"page {p} sector {s} holds version {found}, older than version {synced[p]} synced before the cut");
            }
            states[p] = sectorVersions.Contains(int.MinValue) ? DiskPage.Garbage
                : sectorVersions.Distinct().Count() > 1 ? DiskPage.Mixed
                : sectorVersions[0] == latest[p] && written[p].Count > 0 ? DiskPage.Newest
                : sectorVersions[0] <= Initial(plan, p) || written[p].Count == 0 ? DiskPage.Old
                : DiskPage.Older;
        }
        return new(states, true, disk.Size, finalSize, sizePromised, namePromised, promisedPages, broken, garbage);
    }

    private static int Initial(PowerCutPlan plan, int page) => plan.Prepared && page < plan.Pages ? 0 : -1;
}
