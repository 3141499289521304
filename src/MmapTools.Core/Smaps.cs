using System.Buffers;
using System.Buffers.Text;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Text;

namespace MmapTools;

/// <summary>A mapping line of smaps: start-end perms offset dev inode [path, which may hold spaces].</summary>
internal readonly record struct SmapsHeader(ulong Start, ulong End, string Permissions, long Offset, string Device, long Inode, string? Path);

/// <summary>What a reading of smaps makes of each mapping, once its fields have been read.</summary>
internal interface ISmapsSink
{
    /// <summary>
    /// The fields this sink reads, a bit for each (1 &lt;&lt; <see cref="Smaps.Rss"/>, ...,
    /// <see cref="Smaps.VmFlags"/>, <see cref="Smaps.ThpEligible"/>); the others are skipped
    /// unparsed and reach <see cref="Add"/> as 0, null or empty. A constant for each sink, so that
    /// the parse compiled for it drops the work outright.
    /// </summary>
    static abstract int Fields { get; }

    /// <summary>One mapping: its line, its sizes in bytes (<see cref="Smaps.Sizes"/> of them, indexed by <see cref="Smaps.Rss"/> and the like), THPeligible if told, and its VmFlags line.</summary>
    void Add(in SmapsHeader header, ReadOnlySpan<long> sizes, bool? thpEligible, ReadOnlySpan<byte> vmFlags);
}

/// <summary>
/// Reads and parses /proc/PID/smaps as the kernel writes it (UTF-8): one read into a pooled buffer,
/// then a line at a time over the bytes. A process with a thousand mappings has some 28,000 lines:
/// no line becomes a string, and the strings a mapping keeps (permissions, device, path) repeat
/// from mapping to mapping and from sample to sample, so each distinct one is made once a thread.
/// </summary>
internal static class Smaps
{
    // About a thousand mappings' worth of smaps: read in large calls, since the kernel writes out
    // whole mappings into each, and into a pooled buffer, since a new one each sample is a large
    // object (whose allocations bring on full collections).
    private const int Buffer = 1 << 20;

    /// <summary>Reads the smaps of process <paramref name="pid"/> whole, into a pooled buffer its <see cref="SmapsText.Dispose"/> returns.</summary>
    public static SmapsText Read(int pid, string paramName)
    {
        string path = $"/proc/{pid}/smaps";
        byte[] smaps = ArrayPool<byte>.Shared.Rent(Buffer);
        bool handedOver = false;
        try
        {
            // ReadAll may hand back a larger buffer: the text takes the buffer it read into.
            int length = ReadAll(path, ref smaps);
            var text = new SmapsText(smaps, length);
            handedOver = true;
            return text;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"No process has id {pid}.", paramName, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new MemoryMapException("EACCES", $"This user may not read the mappings of process {pid} ({path}).", e);
        }
        finally
        {
            if (!handedOver) ArrayPool<byte>.Shared.Return(smaps);
        }
    }

    /// <summary>Reads a file that tells no size (a /proc file) to its end into a pooled buffer, growing it as needed.</summary>
    private static int ReadAll(string path, ref byte[] buffer)
    {
        using var file = File.OpenHandle(path);
        int length = 0;
        for (int read; (read = RandomAccess.Read(file, buffer.AsSpan(length), length)) > 0;)
        {
            length += read;
            if (length < buffer.Length) continue;
            var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
            buffer.AsSpan(0, length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = larger;
        }
        return length;
    }

    /// <summary>
    /// Parses smaps into <paramref name="sink"/>. A field's key begins with a capital letter, a
    /// mapping line with a hexadecimal digit. A field line is told by its first bytes, without a
    /// search for its colon, so that a field not kept (about half of them) costs only finding its
    /// line's end. The steps of a field line (its end, its key, where its number lies) are this
    /// class's own code, compiled optimized at once with this loop: a process parses smaps a few
    /// times, too few for tiering to reach the loop, and the library's helpers it called instead
    /// ran at whatever tier a sample found them, which made the parse cost three times C's. The
    /// numbers are Utf8Parser's: set beside a parser of our own, side by side in one process, a
    /// working-set sample took the same time, warm and in a fresh process's first rounds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Parse<TSink>(ReadOnlySpan<byte> smaps, ref TSink sink) where TSink : struct, ISmapsSink
    {
        var strings = Strings;
        Span<long> sizes = stackalloc long[Sizes];
        SmapsHeader header = default;
        bool inMapping = false;
        bool? thp = null;
        ReadOnlySpan<byte> flags = default;
        for (int at = 0, end; at < smaps.Length; at = end + 1)
        {
            end = LineEnd(smaps, at);
            if (end == at) continue;
            if ((uint)(smaps[at] - 'A') <= 'Z' - 'A')
            {
                int field = Field(smaps[at..end]);
                int valueAt = at + (field >> 8);
                field &= 0xFF;
                if (field == Other || (TSink.Fields & 1 << field) == 0) continue;
                if (field < Sizes)
                {
                    if (Kilobytes(smaps, valueAt, end) is >= 0 and var kb) sizes[field] = kb * 1024;
                }
                else if (field == VmFlags) flags = smaps[valueAt..end].Trim((byte)' ');
                else thp = smaps[valueAt..end].Trim((byte)' ').SequenceEqual("1"u8);
                continue;
            }
            if (inMapping) sink.Add(header, sizes, thp, flags);
            header = Header(smaps, at, end, strings);
            inMapping = true;
            sizes.Clear();
            thp = null;
            flags = default;
        }
        if (inMapping) sink.Add(header, sizes, thp, flags);
    }

    /// <summary>
    /// Where the line at <paramref name="at"/> ends: its newline, or the end of the text. The
    /// kernel pads a field's key and value to fixed widths, 27 bytes in all for a size up to
    /// 99,999,999 kB, so one compare of the 32 bytes at a line's start finds most lines' ends.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LineEnd(ReadOnlySpan<byte> smaps, int at)
    {
        if (Vector256.IsHardwareAccelerated && at <= smaps.Length - Vector256<byte>.Count && Matches(smaps, at, (byte)'\n') is not 0 and var newlines)
            return at + BitOperations.TrailingZeroCount(newlines);
        int newline = smaps[at..].IndexOf((byte)'\n');
        return newline < 0 ? smaps.Length : at + newline;
    }

    /// <summary>Where the spaces from <paramref name="at"/> end (a value's padding, some 20 of them), found as <see cref="LineEnd"/> finds a line's end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SpacesEnd(ReadOnlySpan<byte> smaps, int at)
    {
        if (Vector256.IsHardwareAccelerated && at <= smaps.Length - Vector256<byte>.Count && ~Matches(smaps, at, (byte)' ') is not 0 and var others)
            return at + BitOperations.TrailingZeroCount(others);
        int other = smaps[at..].IndexOfAnyExcept((byte)' ');
        return other < 0 ? smaps.Length : at + other;
    }

    /// <summary>Which of the 32 bytes at <paramref name="at"/> are <paramref name="value"/>, a bit each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Matches(ReadOnlySpan<byte> smaps, int at, byte value) =>
        Vector256.Equals(Vector256.Create(smaps.Slice(at, Vector256<byte>.Count)), Vector256.Create(value)).ExtractMostSignificantBits();

    /// <summary>A value of the form "   1234 kB" between <paramref name="at"/> and <paramref name="end"/>, or -1 for any other.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Kilobytes(ReadOnlySpan<byte> smaps, int at, int end)
    {
        int digitsEnd = end - " kB".Length;
        if (digitsEnd < at || !smaps[digitsEnd..end].SequenceEqual(" kB"u8)) return -1;
        return Decimal(smaps[Math.Min(SpacesEnd(smaps, at), digitsEnd)..digitsEnd]);
    }

    /// <summary>A decimal number of one or more digits, or -1 for any other text (a sign, or a number past <see cref="long.MaxValue"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Decimal(ReadOnlySpan<byte> digits) =>
        !digits.IsEmpty && (uint)(digits[0] - '0') <= 9 && Utf8Parser.TryParse(digits, out long number, out int used) && used == digits.Length ? number : -1;

    /// <summary>How many sizes a mapping keeps, in the order of <see cref="ISmapsSink.Add"/>'s sizes; the other fields are skipped unparsed.</summary>
    public const int Sizes = 11;

    public const int Rss = 0, Pss = 1, SharedClean = 2, SharedDirty = 3, PrivateClean = 4, PrivateDirty = 5, Referenced = 6,
        Anonymous = 7, AnonHugePages = 8, Swap = 9, Locked = 10;

    /// <summary>The fields kept that are not sizes.</summary>
    public const int VmFlags = Sizes, ThpEligible = Sizes + 1;

    /// <summary>Every field kept, as <see cref="ISmapsSink.Fields"/>.</summary>
    public const int AllFields = (1 << (ThpEligible + 1)) - 1;

    // A field not kept.
    private const int Other = 0xFF;

    /// <summary>
    /// The field a line holds (a size's index, <see cref="VmFlags"/>, <see cref="ThpEligible"/> or
    /// <see cref="Other"/>) in the low byte, and where its value begins (its key's length with the
    /// colon) above. Told apart by the first letter, then by whole keys with their colons, which
    /// the JIT compares a word at a time. Not inlined: inlined, its many compares leave the JIT
    /// too many locals to keep the parse loop's own in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Field(ReadOnlySpan<byte> line) => line[0] switch
    {
        (byte)'R' => Is(line, "Rss:"u8, Rss) ?? Is(line, "Referenced:"u8, Referenced) ?? Other,
        (byte)'P' => Is(line, "Pss:"u8, Pss) ?? Is(line, "Private_Clean:"u8, PrivateClean) ?? Is(line, "Private_Dirty:"u8, PrivateDirty) ?? Other,
        (byte)'S' => Is(line, "Shared_Clean:"u8, SharedClean) ?? Is(line, "Shared_Dirty:"u8, SharedDirty) ?? Is(line, "Swap:"u8, Swap) ?? Other,
        (byte)'A' => Is(line, "Anonymous:"u8, Anonymous) ?? Is(line, "AnonHugePages:"u8, AnonHugePages) ?? Other,
        (byte)'L' => Is(line, "Locked:"u8, Locked) ?? Other,
        (byte)'V' => Is(line, "VmFlags:"u8, VmFlags) ?? Other,
        (byte)'T' => Is(line, "THPeligible:"u8, ThpEligible) ?? Other,
        _ => Other,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int? Is(ReadOnlySpan<byte> line, ReadOnlySpan<byte> key, int field) => line.StartsWith(key) ? field | key.Length << 8 : null;

    /// <summary>The mapping line from <paramref name="at"/> to <paramref name="end"/>: start-end perms offset dev inode [path, which may hold spaces].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static SmapsHeader Header(ReadOnlySpan<byte> smaps, int at, int end, Interner<string> strings)
    {
        int start = at;
        var range = Word(smaps, ref at, end);
        int dash = range.IndexOf((byte)'-');
        if (dash < 0) throw new FormatException($"'{Encoding.UTF8.GetString(smaps[start..end])}' is not an smaps mapping line.");
        var permissions = Word(smaps, ref at, end);
        var offset = Word(smaps, ref at, end);
        var device = Word(smaps, ref at, end);
        var inode = Word(smaps, ref at, end);
        var path = smaps[Math.Min(SpacesEnd(smaps, at), end)..end].TrimEnd((byte)' ');
        return new SmapsHeader(Hex(range[..dash]), Hex(range[(dash + 1)..]), strings.Get(permissions), (long)Hex(offset), strings.Get(device),
            Decimal(inode) is >= 0 and var number ? number : throw new FormatException($"'{Encoding.UTF8.GetString(inode)}' is not an inode number."),
            path.IsEmpty ? null : strings.Get(path));
    }

    /// <summary>The word after the spaces at <paramref name="at"/>, which is moved past it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> Word(ReadOnlySpan<byte> smaps, ref int at, int end)
    {
        int start = Math.Min(SpacesEnd(smaps, at), end);
        int space = smaps[start..end].IndexOf((byte)' ');
        at = space < 0 ? end : start + space;
        return smaps[start..at];
    }

    private static ulong Hex(ReadOnlySpan<byte> text) =>
        Utf8Parser.TryParse(text, out ulong value, out int used, 'x') && used == text.Length ? value
        : throw new FormatException($"'{Encoding.UTF8.GetString(text)}' is not a hexadecimal number.");

    // A thread's strings, kept between readings: a sample a second of the same process finds every
    // one of them made already. Dropped whole when it grows past what a few processes' mappings name.
    [ThreadStatic] private static Interner<string>? _strings;

    private static Interner<string> Strings
    {
        get
        {
            var strings = _strings ??= new Interner<string>(static bytes => Encoding.UTF8.GetString(bytes));
            if (strings.Count > 16_384) strings.Clear();
            return strings;
        }
    }
}

/// <summary>The text of an smaps file in a pooled buffer, returned by <see cref="Dispose"/>.</summary>
internal readonly struct SmapsText(byte[] buffer, int length) : IDisposable
{
    public ReadOnlySpan<byte> Span => buffer.AsSpan(0, length);

    public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
}

internal delegate T FromBytes<T>(ReadOnlySpan<byte> bytes);

/// <summary>
/// One value for each distinct byte string met: made on first sight, then found by hash and
/// compare in an open-addressed table.
/// </summary>
internal sealed class Interner<T>(FromBytes<T> make)
{
    private Entry[] _entries = new Entry[64];

    private struct Entry
    {
        public int Hash;
        public byte[]? Bytes;
        public T Value;
    }

    public int Count { get; private set; }

    public void Clear()
    {
        Array.Clear(_entries);
        Count = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public T Get(ReadOnlySpan<byte> bytes)
    {
        int hash = Hash(bytes);
        var entries = _entries;
        int mask = entries.Length - 1;
        for (int slot = hash & mask; ; slot = (slot + 1) & mask)
        {
            ref var entry = ref entries[slot];
            if (entry.Bytes is null) break;
            if (entry.Hash == hash && bytes.SequenceEqual(entry.Bytes)) return entry.Value;
        }
        var made = make(bytes);
        // Kept at most half full, so that a search ends soon at an empty slot.
        if (++Count * 2 > entries.Length) Grow();
        Put(_entries, new Entry { Hash = hash, Bytes = bytes.ToArray(), Value = made });
        return made;
    }

    private void Grow()
    {
        var entries = new Entry[_entries.Length * 2];
        foreach (var entry in _entries)
            if (entry.Bytes is not null) Put(entries, entry);
        _entries = entries;
    }

    private static void Put(Entry[] entries, Entry entry)
    {
        int mask = entries.Length - 1;
        int slot = entry.Hash & mask;
        while (entries[slot].Bytes is not null) slot = (slot + 1) & mask;
        entries[slot] = entry;
    }

    // The runtime's own hash of bytes, seeded at random for each process (so that no text a process
    // chose, such as a path, can be made to collide wherever it is read).
    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }
}
