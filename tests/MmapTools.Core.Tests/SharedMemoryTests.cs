namespace MmapTools.Tests;

/// <summary>Named POSIX shared memory (shm_open, shm_unlink) and memfd maps.</summary>
public sealed class SharedMemoryTests : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly string _name = $"mmaptools-test-{Environment.ProcessId}-{Guid.NewGuid():N}";

    public void Dispose()
    {
        if (File.Exists("/dev/shm/" + _name)) MemoryMap.RemoveSharedMemory(_name);
    }

    [Fact]
    public void TwoMapsOfTheSameName_SeeEachOthersWrites()
    {
        using var first = MemoryMap.SharedMemory(_name, 2 * Page);
        using var second = MemoryMap.SharedMemory("/" + _name, 2 * Page); // a leading slash is the same name

        first.Write(Page - 2, [1, 2, 3, 4]);
        second.Write(10, [9]);

        Assert.Equal(new byte[] { 1, 2, 3, 4 }, second.Read(Page - 2, 4));
        Assert.Equal(9, first.Read(10, 1)[0]);
        Assert.NotEqual(first.Address, second.Address);
        Assert.Equal(MapKind.SharedMemory, first.Kind);
        Assert.Equal(_name, first.Name);
        Assert.Equal("/dev/shm/" + _name, first.Path);
        Assert.False(first.IsPrivate);
        Assert.Equal(MapAccess.ReadWrite, first.Access);
        Assert.Equal(2 * Page, new FileInfo("/dev/shm/" + _name).Length);
    }

    [Fact]
    public void SharedMemory_GrowsButNeverShrinks_AndOutlivesItsMaps()
    {
        using (var map = MemoryMap.SharedMemory(_name, 4 * Page)) map.Write(3 * Page, [42]);
        Assert.True(File.Exists("/dev/shm/" + _name));

        using (var smaller = MemoryMap.SharedMemory(_name, Page))
            Assert.Equal(Page, smaller.Length);
        Assert.Equal(4 * Page, new FileInfo("/dev/shm/" + _name).Length);

        using var again = MemoryMap.SharedMemory(_name, 4 * Page);
        Assert.Equal(42, again.Read(3 * Page, 1)[0]);
    }

    [Fact]
    public void RemoveSharedMemory_RemovesTheName_ButLiveMapsKeepTheirPages()
    {
        using var map = MemoryMap.SharedMemory(_name, Page);
        map.Write(0, [7]);

        MemoryMap.RemoveSharedMemory(_name);

        Assert.False(File.Exists("/dev/shm/" + _name));
        Assert.Equal(7, map.Read(0, 1)[0]);
        var again = Assert.Throws<SystemCallException>(() => MemoryMap.RemoveSharedMemory(_name));
        Assert.Equal("shm_unlink", again.Call);
        Assert.Equal("ENOENT", again.ErrorName);
        Assert.Contains(_name, again.Hint);
    }

    [Fact]
    public void SharedMemory_MappedPrivately_DoesNotShareWrites()
    {
        using var shared = MemoryMap.SharedMemory(_name, 2 * Page);
        using var copy = MemoryMap.SharedMemory(_name, 2 * Page, new() { Private = true });
        copy.Write(0, [5]);
        Assert.Equal(0, shared.Read(0, 1)[0]);
        shared.Write(1, [6]);
        Assert.Equal(0, copy.Read(1, 1)[0]); // page 0 of the copy is its own since it wrote there
        shared.Write(Page, [7]);
        Assert.Equal(7, copy.Read(Page, 1)[0]); // a page the copy never wrote still shows the shared one
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("a/b")]
    [InlineData("/a/b")]
    [InlineData(".")]
    [InlineData("..")]
    public void BadNames_ThrowArgumentException(string name)
    {
        var create = Assert.ThrowsAny<ArgumentException>(() => MemoryMap.SharedMemory(name, Page));
        Assert.Equal("name", create.ParamName);
        var remove = Assert.ThrowsAny<ArgumentException>(() => MemoryMap.RemoveSharedMemory(name));
        Assert.Equal("name", remove.ParamName);
    }

    [Fact]
    public void TooLongAndNullNames_ThrowArgumentException()
    {
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => MemoryMap.SharedMemory(new string('n', 256), Page)).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => MemoryMap.SharedMemory(null!, Page)).ParamName);
    }

    [Fact]
    public void Memfd_DescriptorPath_CanBeOpenedAgain_AndSeesTheMapsBytes()
    {
        using var map = MemoryMap.Memfd("mmaptools-memfd", 2 * Page);
        byte[] data = Content.Random(2 * Page, seed: 12);
        map.Write(0, data);

        string path = map.DescriptorPath!;

        Assert.Equal(MapKind.Memfd, map.Kind);
        Assert.Equal("mmaptools-memfd", map.Name);
        Assert.StartsWith($"/proc/{Environment.ProcessId}/fd/", path);
        Assert.Equal(data, File.ReadAllBytes(path));
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) stream.Write([0xCC]);
        Assert.Equal(0xCC, map.Read(0, 1)[0]);
        // The same file mapped a second time through the path shares the pages.
        using var again = MemoryMap.OpenFile(path, options: new() { Access = MapAccess.ReadWrite });
        again.Write(Page, [0xDD]);
        Assert.Equal(0xDD, map.Read(Page, 1)[0]);
        Assert.Equal("/memfd:mmaptools-memfd (deleted)", Regions.At(map.Address).Path);

        map.Dispose();
        Assert.Null(map.DescriptorPath);
    }

    [SkippableFact]
    public void Memfd_WithHugePagesButNoneReserved_FailsWithEnomem_AndClosesItsDescriptor()
    {
        Skip.If(Kernel.ReadProcNumber("/proc/sys/vm/nr_hugepages") > 0, "vm.nr_hugepages is above 0 here, so a huge page memfd may succeed.");
        string name = $"mmaptools-huge-{Guid.NewGuid():N}";

        var error = Assert.Throws<SystemCallException>(() => MemoryMap.Memfd(name, 2 << 20, new() { HugePages = true }));

        Assert.Equal("mmap", error.Call);
        Assert.Equal("ENOMEM", error.ErrorName);
        Assert.Contains("vm.nr_hugepages", error.Hint);
        // The memfd was made before the map failed; it must be closed, not left to the finalizer.
        Assert.DoesNotContain(OpenDescriptorTargets(), target => target.Contains(name));
    }

    private static List<string> OpenDescriptorTargets()
    {
        var targets = new List<string>();
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target) targets.Add(target);
            }
            catch (IOException)
            {
                // Closed meanwhile by another test.
            }
        }
        return targets;
    }

    [Fact]
    public void DescriptorPath_IsNullForOtherKinds()
    {
        using var map = MemoryMap.Anonymous(Page);
        Assert.Null(map.DescriptorPath);
    }

    [Fact]
    public void Memfd_BadNames_ThrowArgumentException()
    {
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => MemoryMap.Memfd("", Page)).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => MemoryMap.Memfd(null!, Page)).ParamName);
    }
}
