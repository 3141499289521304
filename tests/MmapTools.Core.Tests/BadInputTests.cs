using Microsoft.Win32.SafeHandles;

namespace MmapTools.Tests;

/// <summary>The files the bad-input table works on: made once for the class.</summary>
public sealed class BadInputFiles : IDisposable
{
    public BadInputFiles()
    {
        Small = Dir.WritePattern("small.bin", SmallSize);
        Empty = Dir.Write("empty.bin", []);
        Folder = Directory.CreateDirectory(Dir["folder"]).FullName;
        Fifo = Dir["fifo"];
        TestLibc.Mkfifo(Fifo);
        Socket = Dir["socket"];
        _listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(Socket));
    }

    // A real UNIX socket, bound (and so present in the directory) while the fixture lives.
    private readonly System.Net.Sockets.Socket _listener = new(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);

    public static readonly long SmallSize = 3 * MemoryMap.PageSize + 100;

    internal TempDir Dir { get; } = new();
    public string Small { get; }
    public string Empty { get; }
    public string Folder { get; }
    public string Fifo { get; }
    public string Socket { get; }
    public string Missing => Dir["missing.bin"];

    public void Dispose()
    {
        _listener.Dispose();
        Dir.Dispose();
    }
}

/// <summary>
/// The table of bad inputs: each row is a call that must fail with one documented exception (type,
/// parameter name, reason or errno name, words of the message), before or instead of a syscall
/// that could hurt. Then the cases that need more than one call: valid unaligned offsets, the FIFO
/// that must not hang, read-only files, dispose, and a fixed address over a live map.
/// </summary>
public sealed class BadInputTests(BadInputFiles files) : IClassFixture<BadInputFiles>
{
    private static readonly int Page = MemoryMap.PageSize;

    private sealed record BadInput(Func<BadInputFiles, object?> Act, Type Exception, string? ParamName = null, string? Reason = null, string? MessagePart = null);

    private static Func<BadInputFiles, object?> OnMap(Func<MemoryMap, object?> act) => f =>
    {
        using var map = MemoryMap.OpenFile(f.Small, options: new() { Access = MapAccess.ReadWrite });
        return act(map);
    };

    private static readonly Dictionary<string, BadInput> Cases = new()
    {
        // Negative offsets.
        ["OpenFile at offset -1"] = new(f => MemoryMap.OpenFile(f.Small, -1), typeof(ArgumentOutOfRangeException), "offset"),
        ["OpenFile(handle) at offset -1"] = new(f => { using var h = File.OpenHandle(f.Small); return MemoryMap.OpenFile(h, -1); }, typeof(ArgumentOutOfRangeException), "offset"),
        ["Read at offset -1"] = new(OnMap(m => m.Read(-1, 1)), typeof(ArgumentOutOfRangeException), "offset"),
        ["Write at offset -1"] = new(OnMap(m => { m.Write(-1, [1]); return null; }), typeof(ArgumentOutOfRangeException), "offset"),
        ["AsSpan at offset -1"] = new(OnMap(m => m.AsSpan(-1, 1).Length), typeof(ArgumentOutOfRangeException), "offset"),
        ["Advise at offset -1"] = new(OnMap(m => { m.Advise(MemoryAdvice.Normal, -1); return null; }), typeof(ArgumentOutOfRangeException), "offset"),
        ["PageCache.GetResidency at offset -1"] = new(f => PageCache.GetResidency(f.Small, -1), typeof(ArgumentOutOfRangeException), "offset"),
        ["PageCache.Evict at offset -1"] = new(f => { PageCache.Evict(f.Small, -1); return null; }, typeof(ArgumentOutOfRangeException), "offset"),
        ["PageCache.Warm with length -1"] = new(f => { PageCache.Warm(f.Small, 0, -1); return null; }, typeof(ArgumentOutOfRangeException), "length"),

        // Huge offsets and lengths.
        ["OpenFile at offset long.MaxValue"] = new(f => MemoryMap.OpenFile(f.Small, long.MaxValue), typeof(ArgumentOutOfRangeException), "offset", MessagePart: "past the end"),
        ["OpenFile at offset 2^40"] = new(f => MemoryMap.OpenFile(f.Small, 1L << 40, 10), typeof(ArgumentOutOfRangeException), "offset"),
        ["OpenFile at the file's size"] = new(f => MemoryMap.OpenFile(f.Small, BadInputFiles.SmallSize), typeof(ArgumentOutOfRangeException), "offset"),
        ["OpenFile with length long.MaxValue"] = new(f => MemoryMap.OpenFile(f.Small, 1, long.MaxValue), typeof(ArgumentOutOfRangeException), "length"),
        ["Read at offset long.MaxValue"] = new(OnMap(m => m.Read(long.MaxValue, 1)), typeof(ArgumentOutOfRangeException), "offset"),
        ["Read of int.MaxValue bytes"] = new(OnMap(m => m.Read(0, int.MaxValue)), typeof(ArgumentOutOfRangeException), "count"),
        ["Read into a buffer longer than the map"] = new(OnMap(m => { m.Read(0, new byte[m.Length + 1]); return null; }), typeof(ArgumentOutOfRangeException), "destination"),
        ["Write past the end of the map"] = new(OnMap(m => { m.Write(m.Length - 1, [1, 2]); return null; }), typeof(ArgumentOutOfRangeException), "source"),
        ["AsSpan past the end of the map"] = new(OnMap(m => m.AsSpan(1, (int)m.Length).Length), typeof(ArgumentOutOfRangeException), "length"),
        ["Advise at offset long.MaxValue"] = new(OnMap(m => { m.Advise(MemoryAdvice.Normal, long.MaxValue); return null; }), typeof(ArgumentOutOfRangeException), "offset"),
        ["Sync with length long.MaxValue"] = new(OnMap(m => m.Sync(0, long.MaxValue)), typeof(ArgumentOutOfRangeException), "length"),
        ["Lock past the end of the map"] = new(OnMap(m => { m.Lock(Page, m.Length); return null; }), typeof(ArgumentOutOfRangeException), "length"),
        ["GetResidency at offset past the end"] = new(OnMap(m => m.GetResidency(m.Length + 1)), typeof(ArgumentOutOfRangeException), "offset"),

        // The offset at the end of the map and no length: the range would run from the end to the end.
        ["Advise at the end of the map"] = new(OnMap(m => { m.Advise(MemoryAdvice.Normal, m.Length); return null; }), typeof(ArgumentOutOfRangeException), "offset", MessagePart: "end of the map"),
        ["Sync at the end of the map"] = new(OnMap(m => m.Sync(m.Length)), typeof(ArgumentOutOfRangeException), "offset", MessagePart: "end of the map"),
        ["Protect at the end of the map"] = new(OnMap(m => { m.Protect(MapAccess.Read, m.Length); return null; }), typeof(ArgumentOutOfRangeException), "offset", MessagePart: "end of the map"),
        ["GetResidency at the end of the map"] = new(OnMap(m => m.GetResidency(m.Length)), typeof(ArgumentOutOfRangeException), "offset", MessagePart: "end of the map"),
        ["Lock at the end of the map"] = new(OnMap(m => { m.Lock(m.Length); return null; }), typeof(ArgumentOutOfRangeException), "offset", MessagePart: "end of the map"),
        ["Unlock at the end of the map"] = new(OnMap(m => { m.Unlock(m.Length); return null; }), typeof(ArgumentOutOfRangeException), "offset", MessagePart: "end of the map"),
        ["Advise at the end of the map, length 0"] = new(OnMap(m => { m.Advise(MemoryAdvice.Normal, m.Length, 0); return null; }), typeof(ArgumentOutOfRangeException), "length", MessagePart: "empty"),
        ["Anonymous of long.MaxValue bytes"] = new(_ => MemoryMap.Anonymous(long.MaxValue), typeof(ArgumentOutOfRangeException), "length"),

        // Length 0.
        ["OpenFile with length 0"] = new(f => MemoryMap.OpenFile(f.Small, 0, 0), typeof(ArgumentOutOfRangeException), "length"),
        ["Anonymous of 0 bytes"] = new(_ => MemoryMap.Anonymous(0), typeof(ArgumentOutOfRangeException), "length"),
        ["CreateFile of 0 bytes"] = new(f => MemoryMap.CreateFile(f.Dir["zero.bin"], 0), typeof(ArgumentOutOfRangeException), "size"),
        ["Memfd of 0 bytes"] = new(_ => MemoryMap.Memfd("zero", 0), typeof(ArgumentOutOfRangeException), "size"),
        ["SharedMemory of 0 bytes"] = new(_ => MemoryMap.SharedMemory("mmaptools-zero", 0), typeof(ArgumentOutOfRangeException), "size"),
        ["Advise of 0 bytes"] = new(OnMap(m => { m.Advise(MemoryAdvice.Normal, 0, 0); return null; }), typeof(ArgumentOutOfRangeException), "length"),
        ["Protect of 0 bytes"] = new(OnMap(m => { m.Protect(MapAccess.Read, 0, 0); return null; }), typeof(ArgumentOutOfRangeException), "length"),
        ["Read of -1 bytes"] = new(OnMap(m => m.Read(0, -1)), typeof(ArgumentOutOfRangeException), "count"),

        // A read-only window that runs past the end of the file.
        ["OpenFile one byte past the end"] = new(f => MemoryMap.OpenFile(f.Small, 0, BadInputFiles.SmallSize + 1), typeof(ArgumentOutOfRangeException), "length", MessagePart: "SIGBUS"),
        ["OpenFile at 4097, one byte past the end"] = new(f => MemoryMap.OpenFile(f.Small, 4097, BadInputFiles.SmallSize - 4096), typeof(ArgumentOutOfRangeException), "length"),

        // Paths that are not mappable files.
        ["OpenFile of a missing path"] = new(f => MemoryMap.OpenFile(f.Missing), typeof(SystemCallException), Reason: "ENOENT", MessagePart: "does not exist"),
        ["PageCache.GetResidency of a missing path"] = new(f => PageCache.GetResidency(f.Missing), typeof(SystemCallException), Reason: "ENOENT"),
        ["PageCache.Warm of a missing path"] = new(f => { PageCache.Warm(f.Missing); return null; }, typeof(SystemCallException), Reason: "ENOENT"),
        ["OpenFile of a directory"] = new(f => MemoryMap.OpenFile(f.Folder), typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "a directory"),
        ["OpenFile of a directory for writing"] = new(f => MemoryMap.OpenFile(f.Folder, options: new() { Access = MapAccess.ReadWrite }), typeof(SystemCallException), Reason: "EISDIR", MessagePart: "is a directory"),
        ["PageCache.GetResidency of a directory"] = new(f => PageCache.GetResidency(f.Folder), typeof(MemoryMapException), Reason: "NotMappable"),
        ["PageCache.Evict of a FIFO"] = new(f => { PageCache.Evict(f.Fifo); return null; }, typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "FIFO"),
        ["PageCache.GetResidency of a FIFO"] = new(f => PageCache.GetResidency(f.Fifo), typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "FIFO"),
        ["OpenFile of a socket"] = new(f => MemoryMap.OpenFile(f.Socket), typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "a socket"),
        ["OpenFile of a socket for writing"] = new(f => MemoryMap.OpenFile(f.Socket, options: new() { Access = MapAccess.ReadWrite }), typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "a socket"),
        ["PageCache.GetResidency of a socket"] = new(f => PageCache.GetResidency(f.Socket), typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "a socket"),
        ["PageCache.Evict of a socket"] = new(f => { PageCache.Evict(f.Socket); return null; }, typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "a socket"),
        ["PageCache.Warm of a socket"] = new(f => { PageCache.Warm(f.Socket); return null; }, typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "a socket"),
        ["PageCache.Advise of a socket"] = new(f => { PageCache.Advise(f.Socket, FileAdvice.WillNeed); return null; }, typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "a socket"),
        ["CreateFile over a socket"] = new(f => MemoryMap.CreateFile(f.Socket, Page), typeof(MemoryMapException), Reason: "NotMappable", MessagePart: "a socket"),
        ["OpenFile of an empty file"] = new(f => MemoryMap.OpenFile(f.Empty), typeof(MemoryMapException), Reason: "EmptyFile"),
        ["OpenFile of /proc/self/status (size 0)"] = new(_ => MemoryMap.OpenFile("/proc/self/status"), typeof(MemoryMapException), Reason: "EmptyFile", MessagePart: "/proc"),
        ["OpenFile of /dev/zero without a length"] = new(_ => MemoryMap.OpenFile("/dev/zero"), typeof(ArgumentException), "length", MessagePart: "character device"),
        ["OpenFile of a null path"] = new(_ => MemoryMap.OpenFile((string)null!), typeof(ArgumentNullException), "path"),
        ["OpenFile of an empty path"] = new(_ => MemoryMap.OpenFile(""), typeof(ArgumentException), "path"),
        ["OpenFile of a null handle"] = new(_ => MemoryMap.OpenFile((SafeFileHandle)null!), typeof(ArgumentNullException), "file"),
        ["OpenFile of a closed handle"] = new(f => { var h = File.OpenHandle(f.Small); h.Dispose(); return MemoryMap.OpenFile(h); }, typeof(ObjectDisposedException)),
        ["PageCache.GetResidency of a closed handle"] = new(f => { var h = File.OpenHandle(f.Small); h.Dispose(); return PageCache.GetResidency(h); }, typeof(ObjectDisposedException)),
        ["PageCache.GetResidency of a null handle"] = new(_ => PageCache.GetResidency((SafeFileHandle)null!), typeof(ArgumentNullException), "file"),

        // Options that make no sense.
        ["Access with an unknown bit"] = new(_ => MemoryMap.Anonymous(Page, new() { Access = (MapAccess)8 }), typeof(ArgumentOutOfRangeException), "options"),
        ["A fixed address not on a page boundary"] = new(_ => MemoryMap.Anonymous(Page, new() { FixedAddress = 0x10001 }), typeof(ArgumentOutOfRangeException), "options"),
        ["A fixed address of 0"] = new(_ => MemoryMap.Anonymous(Page, new() { FixedAddress = 0 }), typeof(ArgumentOutOfRangeException), "options"),
        ["HugePageSize without HugePages"] = new(_ => MemoryMap.Anonymous(Page, new() { HugePageSize = 2 << 20 }), typeof(ArgumentOutOfRangeException), "options"),
        ["HugePageSize not a power of two"] = new(_ => MemoryMap.Anonymous(Page, new() { HugePages = true, HugePageSize = 3 << 20 }), typeof(ArgumentOutOfRangeException), "options"),
        ["HugePages for a file"] = new(f => MemoryMap.OpenFile(f.Small, options: new() { HugePages = true }), typeof(ArgumentException), "options"),
        ["A name for a file map"] = new(f => MemoryMap.OpenFile(f.Small, options: new() { Name = "x" }), typeof(ArgumentException), "options"),
        ["A name for shared anonymous memory"] = new(_ => MemoryMap.Anonymous(Page, new() { Name = "x", Private = false }), typeof(ArgumentException), "options"),
        ["A name with a bracket"] = new(_ => MemoryMap.Anonymous(Page, new() { Name = "a]b" }), typeof(ArgumentException), "options"),
        ["A name of 80 characters"] = new(_ => MemoryMap.Anonymous(Page, new() { Name = new string('n', 80) }), typeof(ArgumentException), "options"),
        ["Protect with an unknown bit"] = new(OnMap(m => { m.Protect((MapAccess)16); return null; }), typeof(ArgumentOutOfRangeException), "access"),
        ["Advise with an unknown advice"] = new(OnMap(m => { m.Advise((MemoryAdvice)99); return null; }), typeof(ArgumentOutOfRangeException), "advice"),
        ["PageCache.Advise with an unknown advice"] = new(f => { PageCache.Advise(f.Small, (FileAdvice)99); return null; }, typeof(ArgumentOutOfRangeException), "advice"),
        ["Memfd with a 250-character name"] = new(_ => MemoryMap.Memfd(new string('m', 250), Page), typeof(ArgumentException), "name"),
        ["GetRegions of process 0"] = new(_ => ProcessMemory.GetRegions(0), typeof(ArgumentOutOfRangeException), "processId"),
        ["GetRegions of a process that does not exist"] = new(_ => ProcessMemory.GetRegions(int.MaxValue), typeof(ArgumentException), "processId"),
        ["Measure of no work"] = new(_ => ProcessMemory.Measure(null!), typeof(ArgumentNullException), "work"),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void BadInput_ThrowsTheDocumentedException(string name)
    {
        var row = Cases[name];
        object? result = null;
        var error = Record.Exception(() => result = row.Act(files));
        (result as IDisposable)?.Dispose();

        Assert.NotNull(error);
        Assert.IsType(row.Exception, error);
        if (row.ParamName is not null) Assert.Equal(row.ParamName, ((ArgumentException)error).ParamName);
        if (row.Reason is not null) Assert.Equal(row.Reason, ((MemoryMapException)error).Reason);
        if (row.MessagePart is not null) Assert.Contains(row.MessagePart, error.Message);
        if (error is SystemCallException call) Assert.False(string.IsNullOrEmpty(call.Hint), $"{call.Call} failed without a hint: {call.Message}");
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(4095L)]
    [InlineData(4097L)]
    [InlineData((1L << 32) + 2)]
    public void UnalignedOffset_ExposesExactlyTheWindowAsked(long offset)
    {
        using var dir = new TempDir();
        int length = 2 * Page + 5; // crosses two page boundaries
        string path = dir["window.bin"];
        if (offset < 1L << 32)
        {
            dir.WritePattern("window.bin", 4 * Page);
        }
        else
        {
            // A sparse file a bit over 4 GiB: only the pages around the window hold data.
            using var stream = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
            stream.SetLength((1L << 32) + 4 * Page);
            stream.Position = (1L << 32) - Page;
            stream.Write(Content.Pattern(stream.Position, 5 * Page));
        }
        byte[] expected = Content.ReadFile(path, offset, length);
        Assert.Equal(Content.Pattern(offset, length), expected); // the file holds the pattern there

        using (var map = MemoryMap.OpenFile(path, offset, length))
        {
            Assert.Equal(offset, map.Offset);
            Assert.Equal(length, map.Length);
            Assert.Equal(offset % Page, map.Address % Page);
            Assert.Equal(expected, map.Read(0, length));
            Assert.Equal(expected, map.AsSpan().ToArray());
            Assert.Equal(expected[^7..], map.Read(length - 7, 7));
            long delta = offset % Page;
            Assert.Equal((delta + length + Page - 1) / Page, map.GetResidency().TotalPages); // the pages the window touches
        }

        using (var writable = MemoryMap.OpenFile(path, offset, length, new() { Access = MapAccess.ReadWrite }))
        {
            writable.Write(0, [0xA1, 0xA2]);
            writable.Write(length - 1, [0xA3]);
        }
        Assert.Equal(new byte[] { Content.At(offset - 1), 0xA1, 0xA2 }, Content.ReadFile(path, offset - 1, 3));
        Assert.Equal(new byte[] { 0xA3, Content.At(offset + length) }, Content.ReadFile(path, offset + length - 1, 2));
    }

    [Fact]
    public void OpenFile_WithoutALength_MapsToTheEndOfTheFile()
    {
        using var map = MemoryMap.OpenFile(files.Small, 4097);
        Assert.Equal(BadInputFiles.SmallSize - 4097, map.Length);
        Assert.Equal(Content.Pattern(BadInputFiles.SmallSize - 10, 10), map.Read(map.Length - 10, 10));
    }

    [Fact]
    public void ReadOfZeroBytes_IsAnEmptyCopy()
    {
        using var map = MemoryMap.OpenFile(files.Small);
        Assert.Empty(map.Read(0, 0));
        Assert.Empty(map.Read(map.Length, 0));
        map.Write(map.Length, ReadOnlySpan<byte>.Empty);
    }

    [Fact]
    public async Task OpenFile_OfAFifo_FailsWithoutHanging()
    {
        // PosixFile opens with O_NONBLOCK: a blocking open of a FIFO would wait for a writer forever.
        var attempt = Task.Run(() => Record.Exception(() => MemoryMap.OpenFile(files.Fifo).Dispose()));
        if (await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(20))) != attempt)
        {
            // Free the stuck thread by opening the other end, then fail.
            using var writer = File.OpenHandle(files.Fifo, FileMode.Open, FileAccess.ReadWrite);
            Assert.Fail("Opening a FIFO to map it hung.");
        }

        var error = Assert.IsType<MemoryMapException>(await attempt);
        Assert.Equal("NotMappable", error.Reason);
        Assert.Contains("FIFO", error.Message);

        var forWriting = Record.Exception(() => MemoryMap.OpenFile(files.Fifo, options: new() { Access = MapAccess.ReadWrite }).Dispose());
        Assert.Equal("NotMappable", Assert.IsType<MemoryMapException>(forWriting).Reason);
    }

    [Fact]
    public void OpenFile_OfADevice_WithALength_Maps()
    {
        using var map = MemoryMap.OpenFile("/dev/zero", 0, 2 * Page, new() { Private = true, Access = MapAccess.ReadWrite });
        Assert.All(map.Read(0, 2 * Page), b => Assert.Equal(0, b));
    }

    [Fact]
    public void PageCache_OfAProcFileOfSizeZero_HasNoPages()
    {
        var residency = PageCache.GetResidency("/proc/self/status");
        Assert.Equal(0, residency.TotalPages);
        Assert.Equal(0, residency.ResidentPages);
    }

    [Fact]
    public void WritableSharedMap_OfAFileOpenedReadOnly_FailsWithEacces()
    {
        using var handle = File.OpenHandle(files.Small, FileMode.Open, FileAccess.Read);

        var error = Assert.Throws<SystemCallException>(() => MemoryMap.OpenFile(handle, options: new() { Access = MapAccess.ReadWrite, Private = false }));

        Assert.Equal("mmap", error.Call);
        Assert.Equal("EACCES", error.ErrorName);
        Assert.Equal(13, error.ErrorNumber);
        Assert.Contains("read-only", error.Hint);
        Assert.False(handle.IsClosed); // the caller's handle is the caller's

        // Private (copy-on-write) needs only a readable file.
        using var copy = MemoryMap.OpenFile(handle, options: new() { Access = MapAccess.ReadWrite, Private = true });
        copy.Write(0, [1]);
        Assert.Equal(Content.At(0), Content.ReadFile(files.Small, 0, 1)[0]);
    }

    [Fact]
    public void WritableSharedMap_OfAChmod0444File_IsRefusedUnlessRoot()
    {
        using var dir = new TempDir();
        string path = dir.WritePattern("readonly.bin", Page);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var options = new MemoryMapOptions { Access = MapAccess.ReadWrite, Private = false };

        if (Machine.IsRoot)
        {
            // Root passes the permission check (CAP_DAC_OVERRIDE): open(O_RDWR) of a 0444 file succeeds,
            // so the shared writable map does too. The handle-based test above shows the EACCES path.
            using var map = MemoryMap.OpenFile(path, options: options);
            map.Write(0, [0x5A]);
            Assert.Equal(0x5A, File.ReadAllBytes(path)[0]);
        }
        else
        {
            var error = Assert.Throws<SystemCallException>(() => MemoryMap.OpenFile(path, options: options));
            Assert.Equal("open", error.Call);
            Assert.Equal("EACCES", error.ErrorName);
            Assert.Contains("read-only or private", error.Hint);
        }
    }

    [Fact]
    public void Dispose_Twice_IsHarmless()
    {
        var map = MemoryMap.OpenFile(files.Small);
        map.Dispose();
        map.Dispose();
        Assert.True(map.IsDisposed);
    }

    [Fact]
    public void MapOfAHandle_DoesNotCloseTheCallersHandle()
    {
        using var handle = File.OpenHandle(files.Small);
        MemoryMap.OpenFile(handle).Dispose();
        Assert.False(handle.IsClosed);
        Assert.Equal(Content.Pattern(0, 4), Content.ReadFile(files.Small, 0, 4));
        var buffer = new byte[4];
        Assert.Equal(4, RandomAccess.Read(handle, buffer, 0));
    }

    public static TheoryData<string> Operations => new(UseAfterDispose.Keys);

    private static readonly Dictionary<string, Action<MemoryMap>> UseAfterDispose = new()
    {
        ["Read"] = m => m.Read(0, 1),
        ["Read(Span)"] = m => m.Read(0, new byte[1]),
        ["Write"] = m => m.Write(0, [1]),
        ["AsSpan"] = m => m.AsSpan(0, 1),
        ["Address"] = m => _ = m.Address,
        ["Sync"] = m => m.Sync(),
        ["Advise"] = m => m.Advise(MemoryAdvice.Normal),
        ["Protect"] = m => m.Protect(MapAccess.Read),
        ["Lock"] = m => m.Lock(),
        ["Unlock"] = m => m.Unlock(),
        ["GetResidency"] = m => m.GetResidency(),
    };

    [Theory]
    [MemberData(nameof(Operations))]
    public void UseAfterDispose_ThrowsObjectDisposedException(string operation)
    {
        var map = MemoryMap.OpenFile(files.Small, options: new() { Access = MapAccess.ReadWrite });
        map.Dispose();

        var error = Assert.Throws<ObjectDisposedException>(() => UseAfterDispose[operation](map));
        Assert.Contains("removed", error.Message);
    }

    [Fact]
    public void FixedAddress_OverALiveMap_FailsWithEexist_AndTheLiveMapIsUntouched()
    {
        using var live = MemoryMap.Anonymous(4 * Page);
        byte[] data = Content.Random(4 * Page, seed: 11);
        live.Write(0, data);

        var error = Assert.Throws<SystemCallException>(() => MemoryMap.Anonymous(2 * Page, new() { FixedAddress = live.Address + Page }));

        Assert.Equal("mmap", error.Call);
        Assert.Equal("EEXIST", error.ErrorName);
        Assert.Contains("untouched", error.Hint);
        Assert.Equal(data, live.Read(0, 4 * Page));
        Assert.Equal("rw-p", Regions.At(live.Address + Page).Permissions);

        // The same for a file map placed over it.
        var fileError = Assert.Throws<SystemCallException>(() => MemoryMap.OpenFile(files.Small, options: new() { FixedAddress = live.Address }));
        Assert.Equal("EEXIST", fileError.ErrorName);
        Assert.Equal(data, live.Read(0, 4 * Page));
    }
}
