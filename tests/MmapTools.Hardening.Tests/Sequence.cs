using System.Collections.Concurrent;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace MmapTools.Hardening;

public enum OpKind
{
    MapFile, CreateFile, MapAnonymous, MapSharedMemory, MapSharedMemoryFile,
    Write, Read, ReadBothPaths, Sync, Advise, Protect, Residency, FileResidency, Remove, Truncate, WriteFile, Verify,
}

/// <summary>
/// One generated operation. Its numbers are resolved against the state when it runs (a target is
/// taken modulo the maps or files that exist, a position modulo the map's length), so that any
/// shrunk sequence is still a valid one. <see cref="Flags"/> holds the choices: private or shared,
/// access, advice, a data seed.
/// </summary>
public readonly record struct Op(OpKind Kind, int Target, int Position, int Length, int Flags)
{
    public override string ToString() => $"{Kind}(t{Target} p{Position} l{Length} f{Flags})";
}

/// <summary>Files to start with (their sizes) and the operations.</summary>
public sealed record Scenario(int[] FileSizes, int ContentSeed, Op[] Ops)
{
    public override string ToString() =>
        $"files [{string.Join(", ", FileSizes)}] seed {ContentSeed}, {Ops.Length} ops:\n  " + string.Join("\n  ", Ops);
}

/// <summary>The model disagrees with what MemoryMap, PageCache or the kernel did.</summary>
public sealed class ModelMismatchException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Runs a scenario against the real MemoryMap/PageCache and a model of the bytes each file, shared
/// memory object and map must hold, checking every outcome: the bytes read, the exception thrown
/// (type, Reason, whether the message names a truncation), the file's bytes and size, the
/// protections in /proc/self/maps (no Execute unless asked), residency invariants, and that advice
/// which changed what a map shows is advice that <see cref="MemoryAdviceExtensions.LosesData"/> flags.
/// Truncation and extension come from "another party": a FileStream of the test's own, outside the core.
/// </summary>
internal sealed class SequenceRun : IDisposable
{
    private static readonly int PageSize = Machine.PageSize;
    private static int s_runs;

    /// <summary>Outcomes by operation over all runs of this process: what the fuzz report counts.</summary>
    public static readonly ConcurrentDictionary<string, long> Stats = new();

    private static readonly MemoryAdvice[] Advices =
    [
        MemoryAdvice.Normal, MemoryAdvice.Random, MemoryAdvice.Sequential, MemoryAdvice.WillNeed, MemoryAdvice.DontNeed,
        MemoryAdvice.Free, MemoryAdvice.Remove, MemoryAdvice.DontFork, MemoryAdvice.DoFork, MemoryAdvice.HugePage,
        MemoryAdvice.NoHugePage, MemoryAdvice.DontDump, MemoryAdvice.DoDump, MemoryAdvice.WipeOnFork, MemoryAdvice.KeepOnFork,
        MemoryAdvice.Cold, MemoryAdvice.PageOut, MemoryAdvice.PopulateRead, MemoryAdvice.PopulateWrite, MemoryAdvice.DontNeedLocked,
        MemoryAdvice.Collapse, MemoryAdvice.GuardInstall, MemoryAdvice.GuardRemove, MemoryAdvice.DontNeed, MemoryAdvice.Remove,
    ];

    private readonly TempDir _dir = new("mmaptools-model-");
    private readonly List<Backing> _files = [];
    private readonly List<Backing> _sharedMemory = [];
    private readonly List<MapModel> _maps = [];
    private readonly List<string> _trace = [];
    private readonly Scenario _scenario;
    private int _step;

    public SequenceRun(Scenario scenario)
    {
        _scenario = scenario;
        int run = Interlocked.Increment(ref s_runs);
        var random = new Random(scenario.ContentSeed);
        for (int i = 0; i < scenario.FileSizes.Length; i++)
        {
            var file = new Backing(BackingKind.File, $"file{i}", _dir[$"file{i}.bin"]) { Exists = true };
            var bytes = new byte[scenario.FileSizes[i]];
            random.NextBytes(bytes);
            File.WriteAllBytes(file.Path!, bytes);
            file.WriteThroughFile(0, bytes);
            _files.Add(file);
        }
        for (int i = 0; i < 2; i++)
        {
            string name = $"mmaptools-model-{Environment.ProcessId}-{run}-{i}";
            _sharedMemory.Add(new Backing(BackingKind.SharedMemory, $"shm{i}", "/dev/shm/" + name, name));
        }
    }

    public static void Run(Scenario scenario)
    {
        using var run = new SequenceRun(scenario);
        run.Execute();
    }

    public void Execute()
    {
        foreach (var op in _scenario.Ops)
        {
            Step(op);
            _step++;
        }
        VerifyAll("at the end");
        foreach (var map in _maps.Where(m => !m.Disposed))
        {
            map.Real.Dispose();
            map.Disposed = true;
            Expect($"Read after the end's Dispose of {map}", () => map.Real.Read(0, 1), Expected.Throws<ObjectDisposedException>());
        }
        Count("sequences");
    }

    private void Step(Op op)
    {
        switch (op.Kind)
        {
            case OpKind.MapFile: MapFile(op, _files[op.Target % _files.Count]); break;
            case OpKind.MapSharedMemoryFile: MapFile(op, _sharedMemory[op.Target % _sharedMemory.Count]); break;
            case OpKind.CreateFile: CreateFile(op); break;
            case OpKind.MapAnonymous: MapAnonymous(op); break;
            case OpKind.MapSharedMemory: MapSharedMemory(op); break;
            case OpKind.Truncate: Truncate(op); break;
            case OpKind.WriteFile: WriteFile(op); break;
            case OpKind.FileResidency: FileResidency(op); break;
            case OpKind.Verify: VerifyAll("on request"); break;
            default:
                if (_maps.Count == 0)
                {
                    Trace($"{op.Kind}: no map yet");
                    return;
                }
                // Mostly a live map; one time in four any map, removed ones included.
                var live = _maps.Where(m => !m.Disposed).ToList();
                var map = op.Target % 4 != 3 && live.Count > 0 ? live[op.Target % live.Count] : _maps[op.Target % _maps.Count];
                switch (op.Kind)
                {
                    case OpKind.Read: Read(op, map); break;
                    case OpKind.ReadBothPaths: ReadBothPaths(op, map); break;
                    case OpKind.Write: Write(op, map); break;
                    case OpKind.Sync: Sync(op, map); break;
                    case OpKind.Advise: Advise(op, map); break;
                    case OpKind.Protect: Protect(op, map); break;
                    case OpKind.Residency: Residency(op, map); break;
                    case OpKind.Remove: Remove(op, map); break;
                }
                break;
        }
    }

    // ------------------------------------------------------------ maps

    private static MapAccess AccessFrom(int bits) => (bits & 3) switch
    {
        0 => MapAccess.Read,
        1 => MapAccess.ReadWrite,
        2 => MapAccess.None,
        _ => MapAccess.ReadWrite,
    };

    private void MapFile(Op op, Backing file)
    {
        bool isPrivate = (op.Flags & 1) != 0;
        MapAccess? access = (op.Flags & 8) != 0 ? null : AccessFrom(op.Flags >> 1);
        bool viaHandle = (op.Flags & 16) != 0 && file.Exists;
        bool populate = (op.Flags & 32) != 0;
        bool raw = (op.Flags & 64) != 0;
        bool wholeRest = (op.Flags & 128) != 0;
        long size = file.Size;
        long offset = raw || size == 0 ? op.Position : op.Position % size;
        long? length = wholeRest ? null : raw || size - offset <= 0 ? Math.Max(1, op.Length) : 1 + op.Length % (size - offset);
        var options = new MemoryMapOptions { Access = access, Private = isPrivate ? true : (op.Flags & 256) != 0 ? null : false, Populate = populate };
        var effective = access ?? MapAccess.Read;
        string what = $"MapFile {file} offset {offset} length {length?.ToString() ?? "rest"} {(isPrivate ? "private" : "shared")} {access?.ToString() ?? "default"}{(viaHandle ? " via handle" : "")}{(populate ? " populate" : "")}";

        Expected expected =
            !file.Exists ? Expected.SystemCall("ENOENT")
            : size == 0 ? Expected.Reason("EmptyFile")
            : offset >= size || (length ?? size - offset) > size - offset ? Expected.Throws<ArgumentOutOfRangeException>()
            : Expected.Ok;
        SafeFileHandle? handle = viaHandle ? File.OpenHandle(file.Path!, FileMode.Open, FileAccess.ReadWrite) : null;
        MemoryMap? real = null;
        try
        {
            Expect(what, () => real = handle is null ? MemoryMap.OpenFile(file.Path!, offset, length, options) : MemoryMap.OpenFile(handle, offset, length, options), expected);
        }
        finally
        {
            handle?.Dispose(); // the map keeps its own duplicate of the descriptor
        }
        if (real is null) return;
        bool fileWritable = viaHandle || (!isPrivate && (effective & MapAccess.Write) != 0);
        AddMap(real, file, isPrivate, offset, length ?? size - offset, effective, fileWritable, populate, MapKind.File);
    }

    private void CreateFile(Op op)
    {
        var file = _files[op.Target % _files.Count];
        long size = 1 + op.Length % (6 * PageSize);
        bool isPrivate = (op.Flags & 1) != 0;
        MapAccess? access = (op.Flags & 8) != 0 ? null : AccessFrom(op.Flags >> 1);
        var options = new MemoryMapOptions { Access = access, Private = isPrivate };
        MemoryMap? real = null;
        Expect($"CreateFile {file} size {size} {(isPrivate ? "private" : "shared")} {access?.ToString() ?? "default"}",
            () => real = MemoryMap.CreateFile(file.Path!, size, options), Expected.Ok);
        if (size > file.Size) file.Resize(size);
        AddMap(real!, file, isPrivate, 0, size, access ?? MapAccess.ReadWrite, fileWritable: true, populate: false, MapKind.File);
    }

    private void MapAnonymous(Op op)
    {
        long length = 1 + op.Length % (6 * PageSize);
        bool shared = (op.Flags & 1) != 0;
        // Execute only when asked, and asked for rarely: the check is that it appears nowhere else.
        MapAccess? access = (op.Flags & 8) != 0 ? null : (op.Flags & 0x1F0) == 0x1F0 ? MapAccess.ReadExecute : AccessFrom(op.Flags >> 1);
        bool populate = (op.Flags & 16) != 0;
        bool noReserve = (op.Flags & 32) != 0;
        string? name = !shared && (op.Flags & 192) == 192 ? "mmaptools-model" : null;
        var options = new MemoryMapOptions { Access = access, Private = shared ? false : null, Populate = populate, NoReserve = noReserve, Name = name };
        MemoryMap? real = null;
        // A kernel without CONFIG_ANON_VMA_NAME refuses the name, and the core says so.
        var expected = name is not null && !KernelProbe.NamesAnonymousMaps.Value ? Expected.SystemCall("EINVAL") : Expected.Ok;
        Expect($"MapAnonymous {length} {(shared ? "shared" : "private")} {access?.ToString() ?? "default"}{(populate ? " populate" : "")}{(noReserve ? " noreserve" : "")}{(name is null ? "" : " named")}",
            () => real = MemoryMap.Anonymous(length, options), expected);
        if (real is null) return;
        var backing = new Backing(BackingKind.Anonymous, $"anon{_maps.Count}", null) { Exists = true };
        backing.Resize(Backing.RoundUp(length));
        AddMap(real!, backing, !shared, 0, length, access ?? MapAccess.ReadWrite, fileWritable: true, populate, MapKind.Anonymous);
        if (name is not null && !MapsFile.Names(real!.Address).Contains("[anon:mmaptools-model]"))
            Fail($"the named anonymous map at 0x{real.Address:x} is not named in /proc/self/maps: {MapsFile.Names(real.Address)}");
    }

    private void MapSharedMemory(Op op)
    {
        var shm = _sharedMemory[op.Target % _sharedMemory.Count];
        long size = 1 + op.Length % (6 * PageSize);
        bool isPrivate = (op.Flags & 1) != 0;
        MapAccess? access = (op.Flags & 8) != 0 ? null : AccessFrom(op.Flags >> 1);
        bool populate = (op.Flags & 16) != 0;
        var options = new MemoryMapOptions { Access = access, Private = isPrivate, Populate = populate };
        MemoryMap? real = null;
        Expect($"SharedMemory {shm} size {size} {(isPrivate ? "private" : "shared")} {access?.ToString() ?? "default"}",
            () => real = MemoryMap.SharedMemory(shm.SharedMemoryName!, size, options), Expected.Ok);
        shm.Exists = true;
        if (size > shm.Size) shm.Resize(size);
        AddMap(real!, shm, isPrivate, 0, size, access ?? MapAccess.ReadWrite, fileWritable: true, populate, MapKind.SharedMemory);
    }

    private void AddMap(MemoryMap real, Backing backing, bool isPrivate, long offset, long length, MapAccess access, bool fileWritable, bool populate, MapKind kind)
    {
        var map = new MapModel(_maps.Count, real, backing, isPrivate, offset, length, access, fileWritable);
        _maps.Add(map);
        // MAP_POPULATE faults a private writable map in for writing, which copies every page now.
        if (populate && map.CopiesOnWrite && (access & MapAccess.Write) != 0)
            for (int page = 0; page < map.Pages; page++) map.BreakCopyOnWrite(page);
        Trace($"-> {map}");
        Count($"map.{(isPrivate ? "private" : "shared")}.{backing.Kind}");
        if (real.Length != length || real.Offset != (backing.Kind == BackingKind.Anonymous ? 0 : offset) || real.IsPrivate != isPrivate || real.Access != access)
            Fail($"{map}: the map reports length {real.Length}, offset {real.Offset}, private {real.IsPrivate}, access {real.Access}");
        if (real.Kind != kind) Fail($"{map}: kind {real.Kind}, expected {kind}");
        CheckProtections(map);
    }

    private void Remove(Op op, MapModel map)
    {
        Expect($"Dispose {map}", map.Real.Dispose, Expected.Ok);
        if ((op.Flags & 1) != 0) Expect($"Dispose again {map}", map.Real.Dispose, Expected.Ok);
        map.Disposed = true;
        if (!map.Real.IsDisposed) Fail($"{map}: IsDisposed is false after Dispose");
        Expect($"Address of removed {map}", () => _ = map.Real.Address, Expected.Throws<ObjectDisposedException>());
    }

    // ------------------------------------------------------------ copies

    /// <summary>A byte range of the map: in range unless "raw" asks for the numbers as they are.</summary>
    private static (long Offset, int Count) CopyRange(Op op, MapModel map)
    {
        if ((op.Flags & 1) != 0 && (op.Flags & 2) != 0) return (op.Position, op.Length); // raw: may be out of range
        long offset = op.Position % (map.Length + 1);
        return (offset, (int)(op.Length % (map.Length - offset + 1)));
    }

    private void Read(Op op, MapModel map) => Read(op, map, "Read", map.Real.Read);

    /// <summary>
    /// The same range read by Read as it chooses (pread of the file where the model says it may) and
    /// by a copy through the map alone (process_vm_readv): each must give what the model says, bytes
    /// or error, and the two the same bytes wherever the model is certain of them.
    /// </summary>
    private void ReadBothPaths(Op op, MapModel map)
    {
        if (!map.Disposed && map.Real.ReadsThroughFile != map.ReadsThroughFile)
            Fail($"{map}: Read {(map.Real.ReadsThroughFile ? "preads the file" : "copies through the map")}; the model says it {(map.ReadsThroughFile ? "may pread the file" : "must copy through the map")}");
        var chosen = Read(op, map, map.ReadsThroughFile ? "Read(pread)" : "Read(process_vm_readv)", map.Real.Read);
        var throughMap = Read(op, map, "Read(map-only)", (offset, buffer) => map.Real.Read(offset, buffer, throughFile: false));
        if (chosen is null || throughMap is null) return;
        var (from, _) = CopyRange(op, map);
        for (int i = 0; i < chosen.Length; i++)
        {
            if (chosen[i] != throughMap[i] && !map.ByteAt(map.Delta + from + i).Fuzzy)
                Fail($"{map}: byte {from + i} reads {chosen[i]} by Read, {throughMap[i]} through the map alone");
        }
    }

    private delegate void Reader(long offset, Span<byte> buffer);

    /// <summary>One read checked against the model; returns the bytes, or null when it threw (as expected).</summary>
    private byte[]? Read(Op op, MapModel map, string how, Reader read)
    {
        var (offset, count) = CopyRange(op, map);
        string what = $"{how} {map} offset {offset} count {count}";
        var expected = CopyOutcome(map, offset, count, writing: false, out _);
        var buffer = new byte[Math.Max(0, count)];
        buffer.AsSpan().Fill(0xEE);
        if (!Expect(what, () => read(offset, buffer), expected)) return null;
        Span<int> fuzzyBytes = stackalloc int[2];
        for (int i = 0; i < count; i++)
        {
            var (value, fuzzy) = map.ByteAt(map.Delta + offset + i);
            if (buffer[i] != value && !(fuzzy && buffer[i] == 0))
                Fail($"{what}: byte {offset + i} of the map is {buffer[i]}, the model says {value}{(fuzzy ? " or 0" : "")}");
            if (fuzzy && value != 0) fuzzyBytes[buffer[i] == 0 ? 0 : 1]++;
        }
        if (fuzzyBytes[0] > 0) Count("fuzzy.read-as-zero");
        if (fuzzyBytes[1] > 0) Count("fuzzy.read-as-written");
        return buffer;
    }

    private void Write(Op op, MapModel map)
    {
        var (offset, count) = CopyRange(op, map);
        var data = new byte[Math.Max(0, count)];
        new Random(op.Flags).NextBytes(data);
        string what = $"Write {map} offset {offset} count {count}";
        var expected = CopyOutcome(map, offset, count, writing: true, out long applied);
        Expect(what, () => map.Real.Write(offset, data), expected);
        // A write that meets a page it may not write has written the pages before it.
        for (long i = 0; i < applied; i++) map.WriteByte(map.Delta + offset + i, data[i]);
    }

    /// <summary>
    /// What a safe copy must do: argument errors first, then ObjectDisposedException, then the first
    /// page it may not touch gives PageUnavailable (naming a truncation if the page is past the end
    /// of the file), after copying the bytes before that page.
    /// </summary>
    private static Expected CopyOutcome(MapModel map, long offset, int count, bool writing, out long applied)
    {
        applied = 0;
        if (offset < 0 || offset > map.Length || count < 0 || count > map.Length - offset) return Expected.Throws<ArgumentOutOfRangeException>();
        if (map.Disposed) return Expected.Throws<ObjectDisposedException>();
        for (long at = offset; at < offset + count;)
        {
            int page = (int)((map.Delta + at) / PageSize);
            if (!(writing ? map.CanWrite(page) : map.CanRead(page)))
            {
                applied = at - offset;
                // The message names the first cause that holds, in this order: the file is shorter, the protection forbids, a guard page.
                bool forbidden = (map.Protection[page] & (writing ? MapAccess.Write : MapAccess.Read)) == 0;
                Count($"unavailable.{(writing ? "write" : "read")}.{(!map.PageExists(page) ? "truncated" : forbidden ? "protection" : "guard")}{(applied > 0 ? ".partial" : "")}");
                return Expected.PageUnavailable(!map.PageExists(page) ? "(was it truncated?)" : forbidden ? writing ? "not writable" : "not readable" : "guard page");
            }
            at = Math.Min(offset + count, (long)(page + 1) * PageSize - map.Delta);
        }
        applied = count;
        return Expected.Ok;
    }

    // ------------------------------------------------------------ page-range operations

    /// <summary>A range for Sync, Advise, Protect and GetResidency: a null length means to the end.</summary>
    private static (long Offset, long? Length) PageRangeOf(Op op, MapModel map)
    {
        if ((op.Flags & 0x200) != 0 && (op.Flags & 0x400) != 0) return (op.Position, op.Length == 0 ? null : op.Length);
        long offset = op.Position % (map.Length + 1);
        long length = op.Length % (map.Length - offset + 1);
        return (offset, length == 0 ? null : length);
    }

    /// <summary>Argument errors, then disposal; otherwise the pages of the mapping the range touches.</summary>
    private static Expected RangeOutcome(MapModel map, long offset, ref long? length, out int firstPage, out int endPage)
    {
        firstPage = endPage = 0;
        if (offset < 0 || offset > map.Length) return Expected.Throws<ArgumentOutOfRangeException>();
        length ??= map.Length - offset;
        if (length <= 0 || length > map.Length - offset) return Expected.Throws<ArgumentOutOfRangeException>();
        if (map.Disposed) return Expected.Throws<ObjectDisposedException>();
        firstPage = (int)((map.Delta + offset) / PageSize);
        endPage = (int)((map.Delta + offset + length.Value + PageSize - 1) / PageSize);
        return Expected.Ok;
    }

    private void Sync(Op op, MapModel map)
    {
        var (offset, length) = PageRangeOf(op, map);
        bool async = (op.Flags & 1) != 0, invalidate = (op.Flags & 2) != 0;
        long? asked = length;
        var expected = RangeOutcome(map, offset, ref length, out _, out _);
        SyncResult? result = null;
        string what = $"Sync {map} offset {offset} length {asked?.ToString() ?? "rest"}{(async ? " async" : "")}{(invalidate ? " invalidate" : "")}";
        if (!Expect(what, () => result = map.Real.Sync(offset, asked, async, invalidate), expected)) return;
        bool fileBacked = !map.IsPrivate && !map.IsAnonymous;
        if (fileBacked != (result!.DirtyPagesAfter is not null))
            Fail($"{what}: dirty pages after are {result.DirtyPagesAfter?.ToString() ?? "null"}; they are told for shared file maps only");
        // A shared map of a descriptor opened read-only is not VM_SHARED to the kernel (mmap clears
        // it without FMODE_WRITE), and msync flushes only VM_SHARED maps: pages others dirtied stay dirty.
        if (fileBacked && map.FileWritable && !async && result.DirtyPagesAfter != 0)
        {
            // cachestat counts the page cache's dirty tags. On 6.18/ext4 a truncation that splits a
            // dirty large folio can leave a tag behind on a page that is clean (and on the disk), so
            // the page's own PG_dirty (kpageflags) decides; a page really dirty fails.
            long first = (map.Offset + offset) / PageSize, last = (map.Offset + offset + length!.Value - 1) / PageSize;
            bool? dirty = false;
            for (long page = first; page <= last && page < map.Backing.PageCount && dirty == false; page++)
                dirty = KernelPageFlags.IsDirty(map.Backing.Path!, page * PageSize);
            if (dirty == true) Fail($"{what}: {result.DirtyPagesAfter} pages of the range are still dirty after MS_SYNC");
            Count(dirty is null ? "sync.dirty-count-unverified" : "kernel.stale-dirty-tag-after-sync");
        }
    }

    private void Protect(Op op, MapModel map)
    {
        var (offset, length) = PageRangeOf(op, map);
        var access = (op.Flags % 5) switch
        {
            0 => MapAccess.None,
            1 => MapAccess.Read,
            2 => MapAccess.ReadWrite,
            3 => MapAccess.Write,
            _ => map.IsAnonymous ? MapAccess.ReadExecute : MapAccess.Read,
        };
        long? asked = length;
        var expected = RangeOutcome(map, offset, ref length, out int first, out int end);
        // Read stops preading once mprotect is called without Read, whether the call then succeeds or not.
        if (expected.IsOk && (access & MapAccess.Read) == 0) map.ReadsThroughFile = false;
        // A shared map of a descriptor opened read-only cannot become writable (no VM_MAYWRITE).
        if (expected.IsOk && !map.IsPrivate && !map.IsAnonymous && !map.FileWritable && (access & MapAccess.Write) != 0)
            expected = Expected.SystemCall("EACCES");
        if (!Expect($"Protect {map} offset {offset} length {asked?.ToString() ?? "rest"} {access}", () => map.Real.Protect(access, offset, asked), expected)) return;
        for (int page = first; page < end; page++) map.Protection[page] = access;
        if (offset == 0 && length == map.Length) map.Access = access;
        if (map.Real.Access != map.Access) Fail($"{map}: Access is {map.Real.Access}, the model says {map.Access}");
        CheckProtections(map);
    }

    private void Advise(Op op, MapModel map)
    {
        var advice = Advices[op.Flags % Advices.Length];
        var (offset, length) = PageRangeOf(op, map);
        long? asked = length;
        string what = $"Advise {advice} {map} offset {offset} length {asked?.ToString() ?? "rest"}";
        var expected = RangeOutcome(map, offset, ref length, out int first, out int end);
        Action? apply = null;
        if (expected.IsOk) (expected, apply) = AdviceOutcome(map, advice, first, end);
        string before = map.Snapshot();
        bool done = Expect(what, () => map.Real.Advise(advice, offset, asked), expected);
        // MADV_POPULATE_WRITE that stops at a page has faulted (and copied) the pages before it.
        if (done || advice == MemoryAdvice.PopulateWrite) apply?.Invoke();
        if (!done) return;
        if (map.Snapshot() != before && !advice.LosesData(map.IsPrivate))
            Fail($"{what}: changed what the map shows, but LosesData({advice}, private: {map.IsPrivate}) is false, so no ShouldProcess would ask");
    }

    /// <summary>What each advice must do to each kind of map, from the kernel's mm/madvise.c.</summary>
    private static (Expected, Action?) AdviceOutcome(MapModel map, MemoryAdvice advice, int first, int end)
    {
        bool privateAnonymous = map.IsPrivate && map.IsAnonymous;
        switch (advice)
        {
            case MemoryAdvice.DontNeed or MemoryAdvice.DontNeedLocked:
                // Private pages are discarded; shared ones live on in the page cache or shmem.
                return (Expected.Ok, () => { for (int p = first; p < end; p++) map.Zap(p); });
            case MemoryAdvice.Free:
                if (!privateAnonymous) return (Expected.SystemCall("EINVAL"), null);
                // The kernel may free the pages lazily: each byte reads as before or as zero.
                return (Expected.Ok, () =>
                {
                    for (int p = first; p < end; p++) map.Backing.Fuzzy.AsSpan(p * PageSize, PageSize).Fill(true);
                });
            case MemoryAdvice.Remove:
                if (privateAnonymous) return (Expected.SystemCall("EINVAL"), null);
                if (map.IsPrivate || !map.FileWritable) return (Expected.SystemCall("EACCES"), null);
                return (Expected.Ok, () =>
                {
                    long start = map.IsAnonymous ? first * (long)PageSize : (map.FirstFilePage + first) * PageSize;
                    map.Backing.PunchHole(start, start + (long)(end - first) * PageSize);
                });
            case MemoryAdvice.WipeOnFork:
                return (privateAnonymous ? Expected.Ok : Expected.SystemCall("EINVAL"), null);
            case MemoryAdvice.GuardInstall:
                return (Expected.Ok, () =>
                {
                    for (int p = first; p < end; p++)
                    {
                        map.Zap(p);
                        map.Guard[p] = true;
                    }
                    map.ReadsThroughFile = false;
                });
            case MemoryAdvice.GuardRemove:
                return (Expected.Ok, () => { for (int p = first; p < end; p++) map.Guard[p] = false; });
            case MemoryAdvice.PopulateRead or MemoryAdvice.PopulateWrite:
            {
                bool write = advice == MemoryAdvice.PopulateWrite;
                int bad = first;
                while (bad < end && (write ? map.CanWrite(bad) : map.CanRead(bad))) bad++;
                // Pages are faulted in order: those before the first that cannot be have been (and copied, for writing).
                Action apply = () => { if (write) for (int p = first; p < bad; p++) map.BreakCopyOnWrite(p); };
                return (bad == end ? Expected.Ok : Expected.AnySystemCall, apply);
            }
            case MemoryAdvice.Collapse:
                // Needs THP for the kind of map and the alignment: success or a refusal, never a change.
                return (Expected.OkOrSystemCall, null);
            default:
                return (Expected.Ok, null);
        }
    }

    // ------------------------------------------------------------ residency

    private void Residency(Op op, MapModel map)
    {
        var (offset, length) = PageRangeOf(op, map);
        var detail = (ResidencyDetail)(op.Flags % 3);
        long? asked = length;
        var expected = RangeOutcome(map, offset, ref length, out int first, out int end);
        PageResidency? residency = null;
        string what = $"GetResidency {map} offset {offset} length {asked?.ToString() ?? "rest"} {detail}";
        if (!Expect(what, () => residency = map.Real.GetResidency(offset, asked, detail), expected)) return;
        CheckResidency(what, residency!, end - first, detail, ResidencySource.Mincore);
        bool fileBacked = !map.IsPrivate && !map.IsAnonymous;
        if (fileBacked != (residency!.DirtyPages is not null))
            Fail($"{what}: dirty pages {residency.DirtyPages?.ToString() ?? "null"}; told for shared file maps only");
        if (residency.Length != length || residency.Offset != offset)
            Fail($"{what}: range [{residency.Offset}, +{residency.Length}), asked [{offset}, +{length}]");
    }

    private void FileResidency(Op op)
    {
        var backing = ObjectFor(op.Target);
        if (backing is null) return;
        long size = backing.Size;
        long offset = op.Position % (size + 1);
        long? length = (op.Flags & 4) != 0 ? null : op.Length % (size - offset + 1);
        var detail = (ResidencyDetail)(op.Flags % 3);
        long start = Math.Min(offset, size), bytes = Math.Min(length ?? long.MaxValue, size - start);
        long pages = bytes == 0 ? 0 : (start + bytes - 1) / PageSize - start / PageSize + 1;
        PageResidency? residency = null;
        string what = $"PageCache.GetResidency {backing} offset {offset} length {length?.ToString() ?? "rest"} {detail}";
        if (!Expect(what, () => residency = PageCache.GetResidency(backing.Path!, offset, length, detail), Expected.Ok)) return;
        CheckResidency(what, residency!, pages, detail, detail == ResidencyDetail.Summary && pages > 0 ? ResidencySource.Cachestat : ResidencySource.Mincore);
    }

    private void CheckResidency(string what, PageResidency r, long pages, ResidencyDetail detail, ResidencySource source)
    {
        Count($"residency.{detail}");
        if (r.TotalPages != pages) Fail($"{what}: {r.TotalPages} pages, expected {pages}");
        if (r.ResidentPages < 0 || r.ResidentPages > r.TotalPages) Fail($"{what}: {r.ResidentPages} of {r.TotalPages} pages resident");
        if (r.Source != source) Fail($"{what}: answered by {r.Source}, expected {source}");
        if (!r.IsTrusted) Fail($"{what}: untrusted ({r.Note}) for a file of this user's own");
        if (r.PageSize != PageSize) Fail($"{what}: page size {r.PageSize}");
        if (detail >= ResidencyDetail.Runs && source == ResidencySource.Mincore)
        {
            var runs = r.ResidentRuns ?? throw new ModelMismatchException($"{what}: no runs");
            long sum = 0, last = -1;
            foreach (var run in runs)
            {
                if (run.PageCount <= 0 || run.FirstPage <= last || run.EndPage > r.TotalPages)
                    Fail($"{what}: runs out of order or range: {string.Join(", ", runs)}");
                last = run.EndPage;
                sum += run.PageCount;
            }
            if (sum != r.ResidentPages) Fail($"{what}: the runs hold {sum} pages, the count says {r.ResidentPages}");
        }
        if (detail == ResidencyDetail.Bitmap && source == ResidencySource.Mincore)
        {
            var bitmap = r.Bitmap ?? throw new ModelMismatchException($"{what}: no bitmap");
            if (bitmap.PageCount != r.TotalPages || bitmap.CountSet() != r.ResidentPages || !bitmap.Runs().SequenceEqual(r.ResidentRuns!))
                Fail($"{what}: the bitmap ({bitmap}) disagrees with the count {r.ResidentPages} or the runs");
        }
        if (detail == ResidencyDetail.Summary && (r.Bitmap is not null || r.ResidentRuns is not null))
            Fail($"{what}: a summary came with runs or a bitmap");
    }

    // ------------------------------------------------------------ another party

    /// <summary>Files first, then the shared memory objects that exist; null when the target names none.</summary>
    private Backing? ObjectFor(int target)
    {
        var objects = _files.Concat(_sharedMemory.Where(s => s.Exists)).ToList();
        return objects[target % objects.Count];
    }

    private void Truncate(Op op)
    {
        var backing = ObjectFor(op.Target)!;
        long size = op.Length % (7 * PageSize);
        Trace($"another party: ftruncate {backing} to {size}");
        using (var stream = new FileStream(backing.Path!, FileMode.Open, FileAccess.Write)) stream.SetLength(size);
        bool shrinks = size < backing.Size;
        backing.Resize(size);
        if (shrinks) foreach (var map in _maps.Where(m => m.Backing == backing)) map.Truncated(size);
        Count(shrinks ? "truncate.shrink" : "truncate.grow");
    }

    private void WriteFile(Op op)
    {
        var backing = ObjectFor(op.Target)!;
        long offset = op.Position % (backing.Size + PageSize);
        var data = new byte[1 + op.Length % (2 * PageSize)];
        new Random(op.Flags).NextBytes(data);
        Trace($"another party: write {data.Length} bytes at {offset} of {backing}");
        using (var handle = File.OpenHandle(backing.Path!, FileMode.Open, FileAccess.Write)) RandomAccess.Write(handle, data, offset);
        backing.WriteThroughFile(offset, data);
        Count("write-file");
    }

    // ------------------------------------------------------------ verification

    /// <summary>Every page of every live map, every file's bytes and size, every map's protections.</summary>
    private void VerifyAll(string when)
    {
        Trace($"verify {when}");
        foreach (var map in _maps.Where(m => !m.Disposed))
        {
            for (int page = 0; page < map.Pages; page++)
            {
                long from = Math.Max(0, (long)page * PageSize - map.Delta);
                long to = Math.Min(map.Length, (long)(page + 1) * PageSize - map.Delta);
                if (to > from) Read(new Op(OpKind.Read, 0, (int)from, (int)(to - from), 0), map);
            }
            CheckProtections(map);
        }
        foreach (var backing in _files.Concat(_sharedMemory.Where(s => s.Exists)))
        {
            long length = new FileInfo(backing.Path!).Length;
            if (length != backing.Size) Fail($"{backing}: the file has {length} bytes, the model {backing.Size}");
            var bytes = File.ReadAllBytes(backing.Path!);
            for (int i = 0; i < bytes.Length; i++)
            {
                if (bytes[i] != backing.Data[i] && !(backing.Fuzzy[i] && bytes[i] == 0))
                    Fail($"{backing}: file byte {i} is {bytes[i]}, the model says {backing.Data[i]}{(backing.Fuzzy[i] ? " or 0" : "")}");
            }
        }
        Count("verify");
    }

    /// <summary>/proc/self/maps must show each page's protection: no Execute unless asked, shared or private as made.</summary>
    private void CheckProtections(MapModel map)
    {
        nint start = map.Real.Address - map.Delta;
        var regions = MapsFile.Read();
        for (int page = 0; page < map.Pages; page++)
        {
            ulong address = (ulong)(start + (nint)page * PageSize);
            var region = regions.FirstOrDefault(r => r.Start <= address && address < r.End);
            if (region.Perms is null) Fail($"{map}: page {page} at 0x{address:x} is in no region of /proc/self/maps");
            var p = map.Protection[page];
            string expected = $"{((p & MapAccess.Read) != 0 ? 'r' : '-')}{((p & MapAccess.Write) != 0 ? 'w' : '-')}{((p & MapAccess.Execute) != 0 ? 'x' : '-')}{(map.IsPrivate ? 'p' : 's')}";
            if (region.Perms != expected) Fail($"{map}: page {page} is {region.Perms} in /proc/self/maps, the model says {expected}");
        }
    }

    // ------------------------------------------------------------ plumbing

    private bool Expect(string what, Action action, Expected expected)
    {
        Exception? thrown = null;
        try
        {
            action();
        }
        catch (Exception e)
        {
            thrown = e;
        }
        string? problem = expected.Check(thrown);
        Trace($"{what}: {(thrown is null ? "ok" : Outcome.Describe(thrown))}");
        var words = what.Split(' ');
        string key = words[0] switch { "Advise" => "Advise " + words[1], "Protect" => "Protect " + words[^1], _ => words[0] };
        Count($"{key}.{(thrown is null ? "ok" : Outcome.Describe(thrown))}");
        if (problem is not null) Fail($"{what}: {problem}", thrown);
        return thrown is null;
    }

    private void Trace(string line)
    {
        _trace.Add($"{_step,3} {line}");
        if (_trace.Count > 400) _trace.RemoveRange(0, 100);
    }

    private static void Count(string key) => Stats.AddOrUpdate(key, 1, (_, n) => n + 1);

    private void Fail(string problem, Exception? inner = null) =>
        throw new ModelMismatchException($"step {_step}: {problem}\nwhat ran:\n{string.Join("\n", _trace)}", inner);

    public void Dispose()
    {
        foreach (var map in _maps) map.Real.Dispose();
        foreach (var shm in _sharedMemory.Where(s => s.Exists))
        {
            try { MemoryMap.RemoveSharedMemory(shm.SharedMemoryName!); } catch (MemoryMapException) { }
        }
        _dir.Dispose();
    }
}

/// <summary>What an operation must do: complete, or throw exactly this.</summary>
internal sealed class Expected
{
    private readonly Func<Exception?, string?> _check;
    private readonly string _text;

    private Expected(string text, Func<Exception?, string?> check, bool isOk = false)
    {
        _text = text;
        _check = check;
        IsOk = isOk;
    }

    public bool IsOk { get; }

    public string? Check(Exception? thrown)
    {
        string? problem = _check(thrown);
        return problem is null ? null : $"expected {_text}, got {(thrown is null ? "success" : thrown.GetType().Name + ": " + thrown.Message)} ({problem})";
    }

    public static readonly Expected Ok = new("success", e => e is null ? null : "it threw", isOk: true);

    public static Expected Throws<T>() where T : Exception =>
        new(typeof(T).Name, e => e?.GetType() == typeof(T) ? null : "another outcome");

    public static Expected Reason(string reason) =>
        new($"MemoryMapException {reason}", e => e is MemoryMapException m && m.Reason == reason ? null : "another outcome");

    public static Expected SystemCall(string errno) =>
        new($"SystemCallException {errno}", e => e is SystemCallException s && s.ErrorName == errno ? null : "another outcome");

    public static readonly Expected AnySystemCall = new("a SystemCallException", e => e is SystemCallException ? null : "another outcome");

    public static readonly Expected OkOrSystemCall = new("success or a SystemCallException", e => e is null or SystemCallException ? null : "another outcome");

    /// <summary>PageUnavailable, from the safe copy, with a message that gives the cause: the truncation, the protection or the guard page.</summary>
    public static Expected PageUnavailable(string cause) =>
        new($"PageUnavailable saying '{cause}'", e =>
            e is not MemoryMapException { Reason: "PageUnavailable" } m || e is SystemCallException ? "another outcome"
            : !m.Message.Contains(cause, StringComparison.Ordinal) ? "the message does not give the cause"
            : cause != "(was it truncated?)" && m.Message.Contains("(was it truncated?)", StringComparison.Ordinal) ? "the message blames a truncation"
            : cause.StartsWith("not ", StringComparison.Ordinal) && m.Message.Contains("guard page (MADV", StringComparison.Ordinal) ? "the message blames a guard page"
            : null);
}

/// <summary>/proc/self/maps, parsed: address range, permissions, and the name column.</summary>
internal static class MapsFile
{
    public readonly record struct Region(ulong Start, ulong End, string Perms, string Name);

    public static List<Region> Read()
    {
        var regions = new List<Region>();
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            int dash = fields[0].IndexOf('-');
            regions.Add(new Region(
                Convert.ToUInt64(fields[0][..dash], 16), Convert.ToUInt64(fields[0][(dash + 1)..], 16),
                fields[1], fields.Length > 5 ? fields[5].Trim() : ""));
        }
        return regions;
    }

    public static string Names(nint address)
    {
        ulong at = (ulong)address;
        return string.Join(", ", Read().Where(r => r.Start <= at && at < r.End).Select(r => r.Name));
    }
}
