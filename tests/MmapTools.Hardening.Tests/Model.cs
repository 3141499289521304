namespace MmapTools.Hardening;

internal enum BackingKind { File, SharedMemory, Anonymous }

/// <summary>
/// What the kernel holds for a file, a shared memory object or an anonymous map's own memory: plain
/// bytes. <see cref="Data"/> covers whole pages, so the bytes past <see cref="Size"/> in the last
/// page are there too: a shared map can write them, and the kernel may zero them at any writeback
/// or size change. Such a byte is "fuzzy": it reads as its value or as zero.
/// </summary>
internal sealed class Backing
{
    private static readonly int PageSize = Machine.PageSize;

    public Backing(BackingKind kind, string label, string? path, string? sharedMemoryName = null)
    {
        Kind = kind;
        Label = label;
        Path = path;
        SharedMemoryName = sharedMemoryName;
    }

    public BackingKind Kind { get; }

    public string Label { get; }

    /// <summary>The file; for shared memory its file under /dev/shm; null for anonymous memory.</summary>
    public string? Path { get; }

    public string? SharedMemoryName { get; }

    /// <summary>Shared memory exists once a map created it; files exist from the start.</summary>
    public bool Exists { get; set; }

    public long Size { get; private set; }

    public byte[] Data { get; private set; } = [];

    public bool[] Fuzzy { get; private set; } = [];

    /// <summary>Pages that exist: a page at or past this one raises SIGBUS through a pointer.</summary>
    public long PageCount => Data.Length / PageSize;

    public static long RoundUp(long value) => (value + PageSize - 1) / PageSize * PageSize;

    /// <summary>
    /// ftruncate. Shrinking zeroes the rest of the new last page for sure and drops the pages past
    /// it; growing keeps the old last page's tail as it was (fuzzy where a map wrote it) and adds zeros.
    /// </summary>
    public void Resize(long size)
    {
        var data = new byte[RoundUp(size)];
        var fuzzy = new bool[data.Length];
        long keep = size < Size ? size : Data.Length;
        Array.Copy(Data, data, Math.Min(keep, data.Length));
        Array.Copy(Fuzzy, fuzzy, Math.Min(keep, data.Length));
        Data = data;
        Fuzzy = fuzzy;
        Size = size;
    }

    /// <summary>write(2) at an offset: extends the file when it ends past it; the bytes are certain.</summary>
    public void WriteThroughFile(long offset, ReadOnlySpan<byte> bytes)
    {
        if (offset + bytes.Length > Size) Resize(offset + bytes.Length);
        bytes.CopyTo(Data.AsSpan((int)offset));
        Fuzzy.AsSpan((int)offset, bytes.Length).Clear();
    }

    /// <summary>A byte written through a shared map: past the end of the file it may be zeroed later.</summary>
    public void WriteThroughMap(long index, byte value)
    {
        Data[index] = value;
        Fuzzy[index] = index >= Size;
    }

    /// <summary>A hole punched (MADV_REMOVE): the bytes of whole pages inside the file read as zeros.</summary>
    public void PunchHole(long start, long end)
    {
        end = Math.Min(end, Size);
        if (end <= start) return;
        Data.AsSpan((int)start, (int)(end - start)).Clear();
        Fuzzy.AsSpan((int)start, (int)(end - start)).Clear();
    }

    public override string ToString() => $"{Label} ({Size} bytes)";
}

/// <summary>
/// One map and what it must show: per page its protection, guard marker and, for a private map of a
/// file, its copy-on-write copy (null while the page still shows the file's page).
/// </summary>
internal sealed class MapModel
{
    private static readonly int PageSize = Machine.PageSize;

    public MapModel(int id, MemoryMap real, Backing backing, bool isPrivate, long offset, long length, MapAccess access, bool fileWritable)
    {
        Id = id;
        Real = real;
        Backing = backing;
        IsPrivate = isPrivate;
        Offset = offset;
        Length = length;
        Delta = (int)(offset % PageSize);
        Pages = (int)((Delta + length + PageSize - 1) / PageSize);
        FirstFilePage = (offset - Delta) / PageSize;
        Access = access;
        FileWritable = fileWritable;
        ReadsThroughFile = !isPrivate && !IsAnonymous && (access & MapAccess.Read) != 0;
        Protection = Enumerable.Repeat(access, Pages).ToArray();
        Guard = new bool[Pages];
        Copy = new byte[Pages][];
        CopyFuzzy = new bool[Pages][];
    }

    public int Id { get; }
    public MemoryMap Real { get; }
    public Backing Backing { get; }
    public bool IsPrivate { get; }
    public bool IsAnonymous => Backing.Kind == BackingKind.Anonymous;

    /// <summary>Private and backed by a file or shared memory: pages are copied on write.</summary>
    public bool CopiesOnWrite => IsPrivate && !IsAnonymous;

    public long Offset { get; }
    public long Length { get; }
    public int Delta { get; }
    public int Pages { get; }
    public long FirstFilePage { get; }
    public MapAccess Access { get; set; }

    /// <summary>Whether the descriptor behind the map was opened for writing (VM_MAYWRITE on a shared map).</summary>
    public bool FileWritable { get; }

    /// <summary>
    /// Whether Read may take the file's bytes with pread: a shared map of a file or shared memory
    /// (both regular files), readable when made, on which no range lost Read and no guard page was installed.
    /// </summary>
    public bool ReadsThroughFile { get; set; }

    public bool Disposed { get; set; }
    public MapAccess[] Protection { get; }
    public bool[] Guard { get; }
    public byte[]?[] Copy { get; }
    public bool[]?[] CopyFuzzy { get; }

    public bool PageExists(int page) => IsAnonymous || FirstFilePage + page < Backing.PageCount;

    public bool CanRead(int page) => PageExists(page) && !Guard[page] && (Protection[page] & MapAccess.Read) != 0;

    public bool CanWrite(int page) => PageExists(page) && !Guard[page] && (Protection[page] & MapAccess.Write) != 0;

    /// <summary>The byte at an offset of the mapping (the window's offset plus <see cref="Delta"/>) and whether it may read as zero instead.</summary>
    public (byte Value, bool Fuzzy) ByteAt(long mappingOffset)
    {
        int page = (int)(mappingOffset / PageSize);
        int inPage = (int)(mappingOffset % PageSize);
        if (Copy[page] is { } copy) return (copy[inPage], CopyFuzzy[page]![inPage]);
        long index = IsAnonymous ? mappingOffset : (FirstFilePage + page) * PageSize + inPage;
        return (Backing.Data[index], Backing.Fuzzy[index]);
    }

    public void WriteByte(long mappingOffset, byte value)
    {
        int page = (int)(mappingOffset / PageSize);
        int inPage = (int)(mappingOffset % PageSize);
        if (CopiesOnWrite)
        {
            BreakCopyOnWrite(page);
            Copy[page]![inPage] = value;
            CopyFuzzy[page]![inPage] = false;
        }
        else if (IsAnonymous)
        {
            Backing.WriteThroughMap(mappingOffset, value);
        }
        else
        {
            Backing.WriteThroughMap((FirstFilePage + page) * PageSize + inPage, value);
        }
    }

    /// <summary>A private page takes a copy of the file's page as it is now, fuzzy bytes and all.</summary>
    public void BreakCopyOnWrite(int page)
    {
        if (!CopiesOnWrite || Copy[page] is not null) return;
        int from = (int)((FirstFilePage + page) * PageSize);
        Copy[page] = Backing.Data.AsSpan(from, PageSize).ToArray();
        CopyFuzzy[page] = Backing.Fuzzy.AsSpan(from, PageSize).ToArray();
    }

    /// <summary>The page's private content is discarded: a copy goes (the file shows again), anonymous memory reads zeros.</summary>
    public void Zap(int page)
    {
        if (CopiesOnWrite)
        {
            Copy[page] = null;
            CopyFuzzy[page] = null;
        }
        else if (IsAnonymous && IsPrivate)
        {
            Backing.Data.AsSpan(page * PageSize, PageSize).Clear();
            Backing.Fuzzy.AsSpan(page * PageSize, PageSize).Clear();
        }
    }

    /// <summary>The file was cut to <paramref name="size"/>: copies of pages past the new last page are dropped with them (truncation unmaps even private copies).</summary>
    public void Truncated(long size)
    {
        if (!CopiesOnWrite) return;
        long keepPages = Backing.RoundUp(size) / PageSize;
        for (int page = 0; page < Pages; page++)
        {
            if (FirstFilePage + page >= keepPages)
            {
                Copy[page] = null;
                CopyFuzzy[page] = null;
            }
        }
    }

    /// <summary>What the map shows, page by page, for comparing before and after advice.</summary>
    public string Snapshot()
    {
        var text = new System.Text.StringBuilder();
        for (int page = 0; page < Pages; page++)
        {
            if (!PageExists(page))
            {
                text.Append('-');
                continue;
            }
            for (int i = 0; i < PageSize; i++)
            {
                var (value, fuzzy) = ByteAt((long)page * PageSize + i);
                text.Append(fuzzy ? '?' : ' ').Append(value.ToString("x2"));
            }
        }
        return text.ToString();
    }

    public string Label => $"map{Id}({(IsPrivate ? "private" : "shared")} {Backing.Label} [{Offset}, +{Length}) {Access}{(Disposed ? " removed" : "")})";

    public override string ToString() => Label;
}
