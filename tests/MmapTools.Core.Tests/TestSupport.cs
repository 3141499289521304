using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using MmapTools.Interop;

// mmap, /proc and the libc calls here are Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace MmapTools.Tests;

/// <summary>What this kernel and machine offer, for Skip decisions and for choosing the expected branch.</summary>
internal static class Kernel
{
    /// <summary>y, m or n for a CONFIG_ option, from /proc/config.gz; null when the kernel does not publish its config.</summary>
    public static bool? HasConfig(string option)
    {
        if (!File.Exists("/proc/config.gz")) return null;
        using var gzip = new GZipStream(File.OpenRead("/proc/config.gz"), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            if (line.StartsWith(option + "=", StringComparison.Ordinal)) return line.EndsWith("=y", StringComparison.Ordinal);
            if (line == $"# {option} is not set") return false;
        }
        return false;
    }

    public static long ReadProcNumber(string path) => long.Parse(File.ReadAllText(path).Trim());
}

/// <summary>Lookups in /proc/self/smaps through the core's own parser.</summary>
internal static class Regions
{
    /// <summary>The region of this process that holds the address.</summary>
    public static MemoryRegion At(nint address)
    {
        ulong at = (ulong)address;
        var region = ProcessMemory.GetRegions().SingleOrDefault(r => r.Start <= at && at < r.End);
        Assert.True(region is not null, $"No region of this process holds 0x{at:x}.");
        return region;
    }
}

internal static partial class TestLibc
{
    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkfifoNative(string path, uint mode);

    public static void Mkfifo(string path)
    {
        if (MkfifoNative(path, 0b110_000_000) != 0)
            throw new IOException($"mkfifo {path} failed with errno {Marshal.GetLastPInvokeError()}.");
    }
}
