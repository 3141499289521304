namespace MmapTools.Hardening;

/// <summary>
/// At the core's level: no executable mapping unless asked for explicitly, and the
/// advice that loses data flagged as such (so that the cmdlets ask ShouldProcess). The model-based
/// run checks both on every map it makes; these pin the defaults of every factory.
/// </summary>
public sealed class SecurityTests
{
    private static readonly int PageSize = Machine.PageSize;

    private static string PermissionsOf(MemoryMap map)
    {
        ulong at = (ulong)map.Address;
        var region = MapsFile.Read().Single(r => r.Start <= at && at < r.End);
        return region.Perms;
    }

    [Fact]
    public void NoFactory_GrantsExecute_UnlessAskedFor()
    {
        using var dir = new TempDir();
        string path = dir["file.bin"];
        File.WriteAllBytes(path, new byte[3 * PageSize]);
        string shm = $"mmaptools-sec-{Environment.ProcessId}";
        try
        {
            var maps = new (string What, Func<MemoryMap> Make)[]
            {
                ("file, defaults", () => MemoryMap.OpenFile(path)),
                ("file, read-write", () => MemoryMap.OpenFile(path, 1, 5000, new MemoryMapOptions { Access = MapAccess.ReadWrite })),
                ("file, private", () => MemoryMap.OpenFile(path, options: new MemoryMapOptions { Private = true, Access = MapAccess.ReadWrite })),
                ("created file", () => MemoryMap.CreateFile(dir["created.bin"], 3 * PageSize)),
                ("anonymous, defaults", () => MemoryMap.Anonymous(PageSize)),
                ("anonymous, shared", () => MemoryMap.Anonymous(PageSize, new MemoryMapOptions { Private = false })),
                ("anonymous, populate, noreserve", () => MemoryMap.Anonymous(PageSize, new MemoryMapOptions { Populate = true, NoReserve = true })),
                ("shared memory", () => MemoryMap.SharedMemory(shm, PageSize)),
                ("memfd", () => MemoryMap.Memfd("mmaptools-sec", PageSize)),
            };
            foreach (var (what, make) in maps)
            {
                using var map = make();
                Assert.False(map.Access.HasFlag(MapAccess.Execute), what);
                Assert.True(PermissionsOf(map)[2] == '-', $"{what}: {PermissionsOf(map)} in /proc/self/maps");
                map.Protect(MapAccess.ReadWrite & map.Access | MapAccess.Read);
                Assert.True(PermissionsOf(map)[2] == '-', $"{what} after Protect without Execute: {PermissionsOf(map)}");
            }
            using var asked = MemoryMap.Anonymous(PageSize, new MemoryMapOptions { Access = MapAccess.ReadExecute });
            Assert.Equal("r-xp", PermissionsOf(asked));
        }
        finally
        {
            MemoryMap.RemoveSharedMemory(shm);
        }
    }

    [Fact]
    public void DontNeed_OnAPrivateAnonymousMap_ReallyLosesTheData_OnASharedFileMapItDoesNot()
    {
        using var anonymous = MemoryMap.Anonymous(PageSize);
        anonymous.Write(0, [1, 2, 3]);
        anonymous.Advise(MemoryAdvice.DontNeed);
        Assert.Equal(new byte[3], anonymous.Read(0, 3));

        using var dir = new TempDir();
        using var file = MemoryMap.CreateFile(dir["kept.bin"], PageSize);
        file.Write(0, [1, 2, 3]);
        file.Advise(MemoryAdvice.DontNeed);
        Assert.Equal(new byte[] { 1, 2, 3 }, file.Read(0, 3));
    }
}
