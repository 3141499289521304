using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using MmapTools.Interop;

// mmap, /proc and the libc calls here are Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace MmapTools.Tests;

/// <summary>A private folder under the temp path, removed with everything in it on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("mmaptools-coretests-").FullName;

    public string Path { get; }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>Writes the bytes and fsyncs them, so the file's cached pages are clean (evictable).</summary>
    public string Write(string name, ReadOnlySpan<byte> content)
    {
        string path = this[name];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        stream.Write(content);
        stream.Flush(flushToDisk: true);
        return path;
    }

    /// <summary>A file of <paramref name="length"/> bytes of <see cref="Content.Pattern"/>, fsynced.</summary>
    public string WritePattern(string name, long length)
    {
        string path = this[name];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        var chunk = new byte[1 << 20];
        for (long at = 0; at < length; at += chunk.Length)
        {
            int count = (int)Math.Min(chunk.Length, length - at);
            Content.Fill(at, chunk.AsSpan(0, count));
            stream.Write(chunk, 0, count);
        }
        stream.Flush(flushToDisk: true);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A FIFO or a file still open elsewhere must not fail the test that made it.
        }
    }
}

/// <summary>Test content whose every byte depends on its file offset, so a window at the wrong offset shows.</summary>
internal static class Content
{
    public static byte At(long offset) => (byte)(((ulong)offset * 0x9E3779B97F4A7C15UL) >> 56);

    public static void Fill(long offset, Span<byte> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = At(offset + i);
    }

    public static byte[] Pattern(long offset, int count)
    {
        var bytes = new byte[count];
        Fill(offset, bytes);
        return bytes;
    }

    public static byte[] Random(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Reads a file's bytes at an offset without mapping it.</summary>
    public static byte[] ReadFile(string path, long offset, int count)
    {
        using var handle = File.OpenHandle(path);
        var bytes = new byte[count];
        int done = 0;
        while (done < count)
        {
            int read = RandomAccess.Read(handle, bytes.AsSpan(done), offset + done);
            if (read == 0) throw new EndOfStreamException($"{path} ends before {offset + count}.");
            done += read;
        }
        return bytes;
    }
}

internal readonly record struct ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";
}

/// <summary>Child processes: tools (fincore, prlimit) and the crash child.</summary>
internal static class Child
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static ProcessResult Run(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        // A crashing child must not leave a dump behind or wait for a debugger.
        info.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{fileName} did not start.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} ran past {Timeout}.");
        }
        process.WaitForExit();
        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Whether a program is on PATH (for tools such as prlimit that a machine may lack).</summary>
    public static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => System.IO.Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);

    /// <summary>The dotnet host that runs this test run (the SDK tells it in DOTNET_HOST_PATH).</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : System.IO.Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath!
        : "dotnet";

    /// <summary>The crash child (tests/MmapTools.Crash), copied beside the tests by the project file.</summary>
    public static string CrashChildPath
    {
        get
        {
            string path = System.IO.Path.Combine(AppContext.BaseDirectory, "crash", "MmapTools.Crash.dll");
            Assert.True(File.Exists(path), $"The crash child is missing at {path}; the test project copies it there when it builds.");
            return path;
        }
    }

    /// <summary>Runs a scenario of the crash child, optionally behind a wrapper such as prlimit.</summary>
    public static ProcessResult RunCrashChild(string[] wrapper, params string[] arguments) =>
        wrapper.Length == 0
            ? Run(DotnetHost, [CrashChildPath, .. arguments])
            : Run(wrapper[0], [.. wrapper[1..], DotnetHost, CrashChildPath, .. arguments]);
}

/// <summary>What this kernel and machine offer, for Skip decisions and for choosing the expected branch.</summary>
internal static class Kernel
{
    public static bool IsRoot => Libc.geteuid() == 0;

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
