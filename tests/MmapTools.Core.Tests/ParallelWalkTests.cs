using System.Net.Sockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace MmapTools.Tests;

/// <summary>
/// A walk on several threads gives what a walk on one thread gives, item for item and in the same
/// order (errors included), with the counts fincore reads; and a cancelled walk stops at once and
/// leaves nothing open.
/// </summary>
public sealed class ParallelWalkTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int Page = MemoryMap.PageSize;
    private readonly TempDir _dir = new("mmaptools-parallel-walk-");

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Directories of many files (more than a batch, so several threads share a directory), nested
    /// directories, a hard link, links to files and to a directory, a dangling link, a link loop, a
    /// socket, a FIFO and empty files; every third file cached.
    /// </summary>
    private string MakeTree()
    {
        string root = _dir["tree"];
        for (int d = 0; d < 4; d++)
        {
            string dir = Path.Combine(root, $"d{d}", d % 2 == 0 ? "inner" : "");
            Directory.CreateDirectory(dir);
            for (int f = 0; f < 90; f++)
            {
                string file = Path.Combine(dir, $"f{f}.bin");
                File.WriteAllBytes(file, new byte[(f % 7) * Page + f]);
                if (f % 3 != 0) PageCache.Evict(file);
            }
        }
        Assert.Equal(0, Child.RunProgram("ln", Path.Combine(root, "d0", "inner", "f5.bin"), Path.Combine(root, "d1", "hard.bin")).ExitCode);
        File.CreateSymbolicLink(Path.Combine(root, "d1", "to-f6"), Path.Combine(root, "d2", "inner", "f6.bin"));
        Directory.CreateSymbolicLink(Path.Combine(root, "d3", "to-d2"), Path.Combine(root, "d2"));
        File.CreateSymbolicLink(Path.Combine(root, "d3", "dangling"), Path.Combine(root, "nothing-here"));
        File.CreateSymbolicLink(Path.Combine(root, "d3", "loop"), Path.Combine(root, "d3", "loop"));
        Assert.Equal(0, Child.RunProgram("mkfifo", Path.Combine(root, "d1", "fifo")).ExitCode);
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(root, "d2", "socket")));
        return root;
    }

    private static List<string> Walk(string root, int threads, bool follow) =>
        new ResidencyWalker(new() { Recurse = true, FollowSymlinks = follow, MaxDegreeOfParallelism = threads })
            .Examine(root).Select(Describe).ToList();

    private static string Describe(ResidencyWalkItem i) =>
        $"{i.Kind} {i.Path} {(i.Error as MemoryMapException)?.Reason ?? i.Error?.GetType().Name} {i.Residency?.ResidentPages}/{i.Residency?.TotalPages}";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OnSeveralThreads_AWalkGivesTheItemsOfOneThread_InTheSameOrder_ErrorsIncluded(bool follow)
    {
        string root = MakeTree();

        // DAMON may take cold pages between two walks: walk again once if the counts moved.
        List<string> one = [], two = [], four = [];
        for (int attempt = 0; attempt < 2; attempt++)
        {
            one = Walk(root, 1, follow);
            two = Walk(root, 2, follow);
            four = Walk(root, 4, follow);
            if (one.SequenceEqual(two) && one.SequenceEqual(four)) break;
        }

        Assert.Equal(one, two);
        Assert.Equal(one, four);
        int files = one.Count(i => i.StartsWith("File ", StringComparison.Ordinal));
        // 360 files, the hard link counted once; followed, the link to f6 and to d2 add nothing new.
        Assert.Equal(360, files);
        if (follow)
        {
            Assert.Contains(one, i => i.StartsWith($"Error {Path.Combine(root, "d3", "dangling")} ENOENT", StringComparison.Ordinal));
            Assert.Contains(one, i => i.StartsWith($"Error {Path.Combine(root, "d3", "loop")} ELOOP", StringComparison.Ordinal));
        }
        else
        {
            Assert.DoesNotContain(one, i => i.StartsWith("Error", StringComparison.Ordinal));
        }
    }

    [SkippableFact]
    public void OnSeveralThreads_EachFileHasTheCountsFincoreReads()
    {
        string? fincore = Machine.Find("fincore");
        Skip.If(fincore is null, "fincore (util-linux) is not installed.");
        string root = MakeTree();

        Dictionary<string, string> Ours() => new ResidencyWalker(new() { Recurse = true, MaxDegreeOfParallelism = 4 })
            .Examine(root).Where(i => i.Kind == ResidencyWalkItemKind.File)
            .ToDictionary(i => i.Path, i => $"{i.Residency!.ResidentPages}/{i.Residency.TotalPages}");
        Dictionary<string, string> Fincore(IEnumerable<string> paths)
        {
            var result = Child.RunProgram(fincore!, ["--bytes", "--noheadings", "--raw", "--output", "PAGES,SIZE,FILE", .. paths]);
            Assert.Equal(0, result.ExitCode);
            return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', 3))
                .ToDictionary(p => p[2], p => $"{p[0]}/{(long.Parse(p[1]) + Page - 1) / Page}");
        }

        var ours = Ours();
        var theirs = Fincore(ours.Keys);
        if (!ours.SequenceEqual(theirs.OrderBy(p => ours.Keys.ToList().IndexOf(p.Key))))
        {
            ours = Ours();
            theirs = Fincore(ours.Keys);
        }

        Assert.Equal(360, ours.Count);
        foreach (var (path, counts) in ours) Assert.Equal(theirs[path], counts);
        Assert.Contains(ours.Values, c => !c.StartsWith("0/", StringComparison.Ordinal));
    }

    /// <summary>
    /// As nobody (setpriv), in a child: a file and a directory only root may read give EACCES items in
    /// their place, the same on one thread and on four.
    /// </summary>
    [SkippableFact]
    public void AsAnotherUser_UnreadableFilesAndDirectories_AreTheSameErrorsInTheSamePlaces_OnOneThreadOrFour()
    {
        Skip.IfNot(Machine.IsRoot, "Switching to another user needs root (CI runs as root).");
        Skip.If(Machine.Find("setpriv") is null, "setpriv (util-linux) is not installed.");
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_101_101);
        string root = MakeTree();
        // The build output may sit where nobody cannot go (under /root): run a copy of the child.
        string childCopy = _dir["child"];
        Directory.CreateDirectory(childCopy);
        foreach (string file in Directory.GetFiles(Child.Directory)) File.Copy(file, Path.Combine(childCopy, Path.GetFileName(file)));
        File.SetUnixFileMode(Path.Combine(root, "d1", "f10.bin"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetUnixFileMode(Path.Combine(root, "d2", "inner"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        List<string> AsNobody(int threads)
        {
            var result = Child.Run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
                Path.Combine(childCopy, "MmapTools.Child.dll"), ["walk", root, threads.ToString(), "follow"]);
            Assert.True(result.ExitCode == 0, result.ToString());
            return result.Report.GetProperty("items").EnumerateArray()
                .Select(i => $"{i.GetProperty("kind")} {i.GetProperty("path")} {i.GetProperty("reason")}" +
                    $" {(i.GetProperty("kind").GetString() == "File" ? i.GetProperty("total").GetInt64() : "")}").ToList();
        }

        var one = AsNobody(1);
        var four = AsNobody(4);

        output.WriteLine(string.Join('\n', one.Where(i => !i.StartsWith("File", StringComparison.Ordinal))));
        Assert.Equal(one, four);
        Assert.Contains($"Error {Path.Combine(root, "d1", "f10.bin")} EACCES ", one);
        Assert.Contains($"Error {Path.Combine(root, "d2", "inner")} EACCES ", one);
        Assert.Contains(one, i => i.StartsWith($"Error {Path.Combine(root, "d3", "dangling")} ENOENT", StringComparison.Ordinal));
        // Files in d2/inner are not reached; d1/f10.bin is an error, not a file.
        Assert.Equal(360 - 90 - 1, one.Count(i => i.StartsWith("File ", StringComparison.Ordinal)));
    }

    [Fact]
    public void ACancelledWalk_StopsAtOnce_AndLeavesNoDirectoryOpen()
    {
        string root = MakeTree();
        using var cancel = new CancellationTokenSource();
        int before = OpenInside(root);
        var walker = new ResidencyWalker(new() { Recurse = true, MaxDegreeOfParallelism = 4 });
        int files = 0;

        var stopped = Record.Exception(() =>
        {
            foreach (var item in walker.Examine(root, cancel.Token))
            {
                if (item.Kind == ResidencyWalkItemKind.File && ++files == 1) cancel.Cancel();
            }
        });

        Assert.IsAssignableFrom<OperationCanceledException>(stopped);
        // Items already examined may still come out of the batch that was being handed over, no more.
        Assert.InRange(files, 1, 32);
        Assert.Equal(before, OpenInside(root));
        // The walker can walk again afterwards (the directories it met stay counted).
        Assert.DoesNotContain(walker.Examine(root), i => i.Kind == ResidencyWalkItemKind.File);
    }

    [Fact]
    public void AnEnumerationLeftEarly_StopsTheWalksThreads_AndLeavesNoDirectoryOpen()
    {
        string root = MakeTree();
        int before = OpenInside(root);

        var first = new ResidencyWalker(new() { Recurse = true, MaxDegreeOfParallelism = 4 })
            .Examine(root).First(i => i.Kind == ResidencyWalkItemKind.File);

        Assert.StartsWith(root, first.Path, StringComparison.Ordinal);
        Assert.Equal(before, OpenInside(root));
    }

    [Fact]
    public void NoThreads_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>("maxDegreeOfParallelism", () => new ResidencyWalker(new() { MaxDegreeOfParallelism = 0 }));
    }

    /// <summary>This process's descriptors open on anything under <paramref name="root"/>.</summary>
    private static int OpenInside(string root) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
            .Count(fd => { try { return fd.LinkTarget?.StartsWith(root, StringComparison.Ordinal) == true; } catch (IOException) { return false; } });
}
