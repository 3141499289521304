using System.Diagnostics;
using System.Globalization;

namespace MmapTools.Tests;

/// <summary>
/// tests/pester/page-child.py as a running process: a private anonymous region whose pages the test
/// reads, writes and advises by command, so every page's state is known.
/// </summary>
internal sealed class PageChild : IDisposable
{
    private readonly Process _process;

    public PageChild(long bytes)
    {
        string python = Machine.Find("python3") ?? throw new SkipException("python3 is not installed: the page child is a python3 program.");
        var info = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(ScriptPath);
        info.ArgumentList.Add(bytes.ToString(CultureInfo.InvariantCulture));
        _process = Process.Start(info) ?? throw new InvalidOperationException("The page child did not start.");
        string[] ready = Expect("ready");
        Address = ulong.Parse(ready[1], CultureInfo.InvariantCulture);
        Length = long.Parse(ready[2], CultureInfo.InvariantCulture);
        PageSize = int.Parse(ready[3], CultureInfo.InvariantCulture);
    }

    public int Id => _process.Id;
    public ulong Address { get; }
    public long Length { get; }
    public int PageSize { get; }
    public long Pages => Length / PageSize;

    /// <summary>The script, found from the test's folder up to the repository.</summary>
    public static string ScriptPath
    {
        get
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                string candidate = Path.Combine(folder.FullName, "tests", "pester", "page-child.py");
                if (File.Exists(candidate)) return candidate;
            }
            throw new FileNotFoundException("tests/pester/page-child.py is not above " + AppContext.BaseDirectory);
        }
    }

    public void Read(long first, long pages) => Expect($"read {first} {pages}");
    public void Write(long first, long pages, int step = 1) => Expect($"write {first} {pages} {step}");
    public void Advise(long first, long pages, MemoryAdvice advice) => Expect($"advise {first} {pages} {(int)advice}");
    public void Loop(long first, long pages, int milliseconds) => Expect($"loop {first} {pages} {milliseconds}");
    public void Stop() => Expect("stop");

    /// <summary>Maps a file shared and read-only in the child and reads all of it; returns its address.</summary>
    public (ulong Address, long Length) Map(string path)
    {
        string[] reply = Expect($"map {path}");
        return (ulong.Parse(reply[1], CultureInfo.InvariantCulture), long.Parse(reply[2], CultureInfo.InvariantCulture));
    }

    /// <summary>The raw pagemap entries of the child's pages, read here without the core.</summary>
    public ulong[] RawPagemap(ulong address, long pages)
    {
        using var stream = new FileStream($"/proc/{Id}/pagemap", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0);
        var bytes = new byte[pages * 8];
        stream.Position = (long)(address / (ulong)PageSize) * 8;
        stream.ReadExactly(bytes);
        var entries = new ulong[pages];
        Buffer.BlockCopy(bytes, 0, entries, 0, bytes.Length);
        return entries;
    }

    private string[] Expect(string command)
    {
        if (!command.StartsWith("ready", StringComparison.Ordinal)) _process.StandardInput.WriteLine(command);
        string expected = command.StartsWith("ready", StringComparison.Ordinal) ? "ready" : "ok";
        string line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"The page child ended before answering '{command}'.");
        string[] words = line.Split(' ');
        if (words[0] != expected) throw new InvalidOperationException($"The page child answered '{line}' to '{command}'.");
        return words;
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.WriteLine("exit");
            if (!_process.WaitForExit(5000)) _process.Kill();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // The child already ended.
        }
        _process.Dispose();
    }
}
