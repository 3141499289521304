using System.Globalization;
using System.Text;

namespace MmapTools.Tests;

/// <summary>
/// The smaps parser on texts made to the kernel's format: fields told apart by their whole keys
/// (some share a prefix with another), values that are not sizes, mappings without fields, many
/// distinct paths; and on this process's own smaps, against a plain reading of the same text.
/// </summary>
public class SmapsParseTests
{
    private static IReadOnlyList<MemoryRegion> Parse(params string[] lines) => ProcessMemory.Parse(7, Encoding.UTF8.GetBytes(string.Join('\n', lines) + '\n'));

    [Fact]
    public void A_field_is_told_by_its_whole_key_and_fields_not_kept_change_nothing()
    {
        var region = Assert.Single(Parse(
            "7f0000000000-7f0000010000 rw-p 00000000 00:00 0 ",
            "Rss:                  24 kB",
            "Rss_Future:           91 kB",
            "Pss_Dirty:            92 kB",
            "Pss:                   4 kB",
            "Private_Hugetlb:      93 kB",
            "Private_Clean:         1 kB",
            "Private_Dirty:         2 kB",
            "Shared_Hugetlb:       94 kB",
            "Shared_Clean:         12 kB",
            "Shared_Dirty:          3 kB",
            "SwapPss:              95 kB",
            "Swap:                  8 kB",
            "Swapped:              96 kB",
            "AnonHugePages:      2048 kB",
            "Anonymous:            16 kB",
            "Referenced:           20 kB",
            "ReferencedAgain:      97 kB",
            "Locked:                5 kB",
            "LockedOut:            98 kB",
            "A line of capitals with no colon",
            "THPeligible:    1",
            "THPeligibleSoon:    0",
            "VmFlags: rd wr mr mw me ac ",
            "VmFlagsMore: xx"));

        Assert.Equal(
            new long[] { 24, 4, 12, 3, 1, 2, 20, 16, 2048, 8, 5 },
            new[] { region.Rss, region.Pss, region.SharedClean, region.SharedDirty, region.PrivateClean, region.PrivateDirty, region.Referenced,
                region.Anonymous, region.AnonHugePages, region.Swap, region.Locked }.Select(bytes => bytes / 1024));
        Assert.True(region.ThpEligible);
        Assert.Equal(new[] { "rd", "wr", "mr", "mw", "me", "ac" }, region.VmFlags);
    }

    [Fact]
    public void A_value_that_is_not_a_size_in_kB_leaves_its_field_unset_and_a_long_one_is_read()
    {
        var region = Assert.Single(Parse(
            "7f0000000000-7f0000010000 rw-p 00000000 00:00 0 ",
            "Rss:                  12 MB",
            "Pss:                   x kB",
            "Swap:                    kB",
            "Locked: 99999999999999999999 kB",
            "Referenced:          1 2 kB",
            "Anonymous:            -4 kB",
            "Private_Dirty:         7 kB and more",
            "Shared_Clean:     123456789012 kB",
            "Shared_Dirty:9 kB"));

        Assert.Equal(0, region.Rss + region.Pss + region.Swap + region.Locked + region.Referenced + region.Anonymous + region.PrivateDirty);
        Assert.Equal(123456789012L * 1024, region.SharedClean);
        Assert.Equal(9 * 1024, region.SharedDirty);
    }

    [Fact]
    public void A_mapping_without_fields_keeps_its_line_alone_and_empty_lines_are_skipped()
    {
        var regions = Parse(
            "00400000-00401000 r-xp 00001000 fe:01 4242                       /opt/a path with  spaces/x.bin  ",
            "",
            "00401000-00402000 rw-P 0000000A FE:01 18446744                   [heap]",
            "Rss:                   4 kB",
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]");

        Assert.Equal(3, regions.Count);
        var first = regions[0];
        Assert.Equal((0x400000UL, 0x401000UL, "r-xp", 0x1000L, "fe:01", 4242L), (first.Start, first.End, first.Permissions, first.Offset, first.Device, first.Inode));
        Assert.Equal("/opt/a path with  spaces/x.bin", first.Path);
        Assert.Equal(0, first.Rss);
        Assert.Null(first.ThpEligible);
        Assert.Empty(first.VmFlags);
        Assert.Equal((0xAL, 18446744L, "[heap]", 4096L), (regions[1].Offset, regions[1].Inode, regions[1].Path, regions[1].Rss));
        Assert.Equal(0xffffffffff600000UL, regions[2].Start);
    }

    [Fact]
    public void Each_distinct_path_is_one_string_however_many_mappings_and_readings_name_it()
    {
        const int distinct = 300;
        var lines = Enumerable.Range(0, 2 * distinct).SelectMany(i => new[]
        {
            $"{0x10000 + i * 0x1000:x}-{0x11000 + i * 0x1000:x} r--p 00000000 08:01 {i % distinct} /usr/lib/lib number {i % distinct}.so",
            "Rss:                   4 kB",
        }).ToArray();

        var regions = Parse(lines);
        var again = Parse(lines);

        Assert.Equal(2 * distinct, regions.Count);
        for (int i = 0; i < distinct; i++)
        {
            Assert.Equal($"/usr/lib/lib number {i}.so", regions[i].Path);
            Assert.Same(regions[i].Path, regions[i + distinct].Path);
            Assert.Same(regions[i].Path, again[i].Path);
            Assert.Equal(i, regions[i + distinct].Inode);
        }
        Assert.Single(regions.Select(r => r.Permissions).Distinct(ReferenceEqualityComparer.Instance));
    }

    [Fact]
    public void A_sink_gets_only_the_fields_it_names_and_the_others_as_nothing()
    {
        var sink = new RssOnly { Seen = [] };
        Smaps.Parse(Encoding.UTF8.GetBytes(string.Join('\n',
            "7f0000000000-7f0000010000 rw-p 00000000 00:00 0 ",
            "Rss:                  24 kB",
            "Pss:                   4 kB",
            "Referenced:           20 kB",
            "THPeligible:    1",
            "VmFlags: rd wr mr mw me ac ")), ref sink);

        var (sizes, thp, flags) = Assert.Single(sink.Seen);
        Assert.Equal(24 * 1024, sizes[Smaps.Rss]);
        Assert.Equal(24 * 1024, sizes.Sum());
        Assert.Null(thp);
        Assert.Empty(flags);
    }

    private struct RssOnly : ISmapsSink
    {
        public List<(long[] Sizes, bool? Thp, byte[] Flags)> Seen;

        public static int Fields => 1 << Smaps.Rss;

        public readonly void Add(in SmapsHeader header, ReadOnlySpan<long> sizes, bool? thpEligible, ReadOnlySpan<byte> vmFlags) =>
            Seen.Add((sizes.ToArray(), thpEligible, vmFlags.ToArray()));
    }

    [Theory]
    [InlineData("7f0000000000 rw-p 00000000 00:00 0", "'7f0000000000 rw-p 00000000 00:00 0'")]
    [InlineData("7f00000g0000-7f0000010000 rw-p 00000000 00:00 0", "'7f00000g0000'")]
    [InlineData("7f0000000000-7f0000010000 rw-p 0000z000 00:00 0", "'0000z000'")]
    [InlineData("7f0000000000-7f0000010000 rw-p 00000000 00:00 12a", "'12a'")]
    [InlineData("7f0000000000-10000000000000000 rw-p 00000000 00:00 0", "'10000000000000000'")]
    [InlineData("-7f0000010000 rw-p 00000000 00:00 0", "''")]
    public void A_mapping_line_that_is_not_one_is_a_format_error_naming_what_is_wrong(string line, string named)
    {
        var error = Assert.Throws<FormatException>(() => Parse(line, "Rss:                   4 kB"));
        Assert.StartsWith(named + " is not", error.Message);
    }

    [Fact]
    public void This_process_smaps_reads_as_a_plain_reading_of_the_same_text_does()
    {
        byte[] text = File.ReadAllBytes("/proc/self/smaps");

        var regions = ProcessMemory.Parse(Environment.ProcessId, text);
        var plain = PlainReading(Encoding.UTF8.GetString(text));

        Assert.Equal(plain.Count, regions.Count);
        for (int i = 0; i < plain.Count; i++)
        {
            var (line, fields) = plain[i];
            var r = regions[i];
            string[] words = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            string[] range = words[0].Split('-');
            Assert.Equal(ulong.Parse(range[0], NumberStyles.HexNumber), r.Start);
            Assert.Equal(ulong.Parse(range[1], NumberStyles.HexNumber), r.End);
            Assert.Equal(words[1], r.Permissions);
            Assert.Equal(long.Parse(words[2], NumberStyles.HexNumber), r.Offset);
            Assert.Equal(words[3], r.Device);
            Assert.Equal(long.Parse(words[4]), r.Inode);
            Assert.Equal(words.Length > 5 && words[5].Trim(' ') is { Length: > 0 } path ? path : null, r.Path);
            long Size(string key) => fields.TryGetValue(key, out var value) ? long.Parse(value.Replace(" kB", "").Trim()) * 1024 : 0;
            Assert.Equal<long>(
                new[] { "Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "AnonHugePages", "Swap", "Locked" }.Select(Size),
                [r.Rss, r.Pss, r.SharedClean, r.SharedDirty, r.PrivateClean, r.PrivateDirty, r.Referenced, r.Anonymous, r.AnonHugePages, r.Swap, r.Locked]);
            Assert.Equal(fields.TryGetValue("THPeligible", out var thp) ? thp.Trim() == "1" : null, r.ThpEligible);
            Assert.Equal(fields.TryGetValue("VmFlags", out var flags) ? flags.Split(' ', StringSplitOptions.RemoveEmptyEntries) : [], r.VmFlags);
        }
    }

    /// <summary>Each mapping line with its fields by key: lines split, a field being a line whose first word ends with a colon.</summary>
    private static List<(string Line, Dictionary<string, string> Fields)> PlainReading(string smaps)
    {
        var mappings = new List<(string, Dictionary<string, string>)>();
        foreach (string line in smaps.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string first = line.Split(' ')[0];
            if (first.EndsWith(':')) mappings[^1].Item2[first[..^1]] = line[first.Length..];
            else mappings.Add((line, []));
        }
        return mappings;
    }
}
