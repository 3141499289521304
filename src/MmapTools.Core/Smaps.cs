using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;

namespace MmapTools;

/// <summary>A mapping line of smaps: start-end perms offset dev inode [path, which may hold spaces].</summary>
internal readonly record struct SmapsHeader(ulong Start, ulong End, string Permissions, long Offset, string Device, long Inode, string? Path);

/// <summary>What a reading of smaps makes of each mapping, once its fields have been read.</summary>
internal interface ISmapsSink
{
    /// <summary>One mapping: its line, its sizes in bytes (in <see cref="Smaps.SizeKeys"/> order), THPeligible if told, and its VmFlags line.</summary>
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
    /// mapping line with a hexadecimal digit. Compiled optimized at once, with its helpers inlined:
    /// a process parses smaps a few times, too few for tiering to reach this loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Parse<TSink>(ReadOnlySpan<byte> smaps, ref TSink sink) where TSink : struct, ISmapsSink
    {
        var strings = Strings;
        Span<long> sizes = stackalloc long[SizeKeys.Length];
        SmapsHeader header = default;
        bool inMapping = false;
        bool? thp = null;
        ReadOnlySpan<byte> flags = default;
        while (!smaps.IsEmpty)
        {
            int newline = smaps.IndexOf((byte)'\n');
            var line = newline < 0 ? smaps : smaps[..newline];
            smaps = newline < 0 ? default : smaps[(newline + 1)..];
            if (line.IsEmpty) continue;
            if ((uint)(line[0] - 'A') <= 'Z' - 'A')
            {
                int colon = line.IndexOf((byte)':');
                if (colon < 0) continue;
                var key = line[..colon];
                var value = line[(colon + 1)..];
                int index = IndexOfSizeKey(key);
                if (index >= 0)
                {
                    if (Kilobytes(value) is long kb) sizes[index] = kb * 1024;
                }
                else if (key.SequenceEqual("VmFlags"u8)) flags = value.Trim((byte)' ');
                else if (key.SequenceEqual("THPeligible"u8)) thp = value.Trim((byte)' ').SequenceEqual("1"u8);
                continue;
            }
            if (inMapping) sink.Add(header, sizes, thp, flags);
            header = Header(line, strings);
            inMapping = true;
            sizes.Clear();
            thp = null;
            flags = default;
        }
        if (inMapping) sink.Add(header, sizes, thp, flags);
    }

    /// <summary>A value of the form "   1234 kB", or null for any other.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long? Kilobytes(ReadOnlySpan<byte> text)
    {
        int at = 0;
        while (at < text.Length && text[at] == ' ') at++;
        int digits = at;
        long value = 0;
        for (; at < text.Length && (uint)(text[at] - '0') <= 9; at++)
        {
            if (value > (long.MaxValue - 9) / 10) return null;
            value = value * 10 + (text[at] - '0');
        }
        return at > digits && text[at..].SequenceEqual(" kB"u8) ? value : null;
    }

    /// <summary>The smaps sizes a mapping keeps, in the order of <see cref="ISmapsSink.Add"/>'s sizes; the other fields are skipped unparsed.</summary>
    public static readonly byte[][] SizeKeys =
    [
        "Rss"u8.ToArray(), "Pss"u8.ToArray(), "Shared_Clean"u8.ToArray(), "Shared_Dirty"u8.ToArray(), "Private_Clean"u8.ToArray(),
        "Private_Dirty"u8.ToArray(), "Referenced"u8.ToArray(), "Anonymous"u8.ToArray(), "AnonHugePages"u8.ToArray(), "Swap"u8.ToArray(), "Locked"u8.ToArray(),
    ];

    public const int Rss = 0, Pss = 1, SharedClean = 2, SharedDirty = 3, PrivateClean = 4, PrivateDirty = 5, Referenced = 6,
        Anonymous = 7, AnonHugePages = 8, Swap = 9, Locked = 10;

    /// <summary>The key's index in <see cref="SizeKeys"/>, or -1: told apart by length and a letter, then compared once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IndexOfSizeKey(ReadOnlySpan<byte> key)
    {
        int index = (key.Length, key[0]) switch
        {
            (3, (byte)'R') => Rss,
            (3, (byte)'P') => Pss,
            (12, (byte)'S') => key[7] == 'C' ? SharedClean : SharedDirty,
            (13, (byte)'P') => key[8] == 'C' ? PrivateClean : PrivateDirty,
            (10, (byte)'R') => Referenced,
            (9, (byte)'A') => Anonymous,
            (13, (byte)'A') => AnonHugePages,
            (4, (byte)'S') => Swap,
            (6, (byte)'L') => Locked,
            _ => -1,
        };
        return index >= 0 && key.SequenceEqual(SizeKeys[index]) ? index : -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static SmapsHeader Header(ReadOnlySpan<byte> line, Interner<string> strings)
    {
        var rest = line;
        var span = Word(ref rest);
        int dash = span.IndexOf((byte)'-');
        if (dash < 0) throw new FormatException($"'{Encoding.UTF8.GetString(line)}' is not an smaps mapping line.");
        var permissions = Word(ref rest);
        var offset = Word(ref rest);
        var device = Word(ref rest);
        var inode = Word(ref rest);
        var path = rest.Trim((byte)' ');
        return new SmapsHeader(Hex(span[..dash]), Hex(span[(dash + 1)..]), strings.Get(permissions), (long)Hex(offset), strings.Get(device),
            Utf8Parser.TryParse(inode, out long number, out int used) && used == inode.Length ? number
                : throw new FormatException($"'{Encoding.UTF8.GetString(inode)}' is not an inode number."),
            path.IsEmpty ? null : strings.Get(path));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> Word(ref ReadOnlySpan<byte> rest)
    {
        rest = rest.TrimStart((byte)' ');
        int end = rest.IndexOf((byte)' ');
        var word = end < 0 ? rest : rest[..end];
        rest = end < 0 ? default : rest[end..];
        return word;
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

/// <summary>One value for each distinct byte string met: made on first sight, then found by hash and compare.</summary>
internal sealed class Interner<T>(FromBytes<T> make)
{
    private readonly Dictionary<int, List<(byte[] Bytes, T Value)>> _seen = [];

    public int Count { get; private set; }

    public void Clear()
    {
        _seen.Clear();
        Count = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public T Get(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        int key = hash.ToHashCode();
        if (!_seen.TryGetValue(key, out var entries)) _seen[key] = entries = [];
        foreach (var (seen, value) in entries)
            if (bytes.SequenceEqual(seen)) return value;
        var made = make(bytes);
        entries.Add((bytes.ToArray(), made));
        Count++;
        return made;
    }
}
