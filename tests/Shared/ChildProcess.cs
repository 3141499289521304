using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit;

namespace MmapTools.Testing;

/// <summary>The outcome of a child that ran to its end.</summary>
internal sealed record ChildResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>The JSON object of the child's "result {...}" line.</summary>
    public JsonElement Report
    {
        get
        {
            string? line = StandardOutput.Split('\n').LastOrDefault(l => l.StartsWith("result ", StringComparison.Ordinal));
            Assert.True(line is not null, $"The child printed no result line.\n{this}");
            return JsonDocument.Parse(line["result ".Length..]).RootElement;
        }
    }

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Tail(StandardOutput)}\n--- stderr\n{Tail(StandardError)}";

    private static string Tail(string text) => text.Length <= 6000 ? text : "...\n" + text[^6000..];
}

/// <summary>
/// A child process whose stdout is read line by line as it comes, so that the parent can act on a
/// line ("ready", "synced 7") the moment it is printed, without sleeping.
/// </summary>
internal sealed class RunningChild : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RunningChild(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        // A crashing child must not leave a dump behind or wait for a debugger; nor, killed, its
        // diagnostic socket and debugger pipes in /tmp (the runtime removes them only on a clean exit).
        info.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        info.Environment["DOTNET_EnableDiagnostics"] = "0";
        if (environment is not null) foreach (var (key, value) in environment) info.Environment[key] = value;
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _lines.CompleteAdding();
                _stdoutClosed.TrySetResult();
                return;
            }
            lock (_stdout) _stdout.AppendLine(e.Data);
            _lines.Add(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _stderrClosed.TrySetResult();
                return;
            }
            lock (_stderr) _stderr.AppendLine(e.Data);
        };
        if (!_process.Start()) throw new InvalidOperationException($"{fileName} did not start.");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public StreamWriter StandardInput => _process.StandardInput;

    public bool HasExited => _process.HasExited;

    /// <summary>The next line of stdout, or null once stdout is closed (the child ended).</summary>
    public string? ReadLine(TimeSpan timeout)
    {
        if (_lines.TryTake(out string? line, timeout)) return line;
        if (_lines.IsCompleted) return null;
        throw new TimeoutException($"The child printed nothing for {timeout}.\n{Snapshot()}");
    }

    /// <summary>Reads lines until one starts with <paramref name="prefix"/>; fails if the child ends first.</summary>
    public string WaitForLine(string prefix, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var left = timeout - deadline.Elapsed;
            string? line = ReadLine(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            if (line is null)
            {
                WaitForExit(TimeSpan.FromSeconds(30));
                throw new InvalidOperationException($"The child ended before printing '{prefix}'.\n{Finish()}");
            }
            if (line.StartsWith(prefix, StringComparison.Ordinal)) return line;
        }
    }

    /// <summary>A line already printed without waiting, or null.</summary>
    public bool TryTakeLine(out string? line) => _lines.TryTake(out line);

    /// <summary>SIGKILL, at once.</summary>
    public void Kill() => _process.Kill();

    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return false;
        _process.WaitForExit(); // drains the redirected streams
        Task.WaitAll([_stdoutClosed.Task, _stderrClosed.Task], TimeSpan.FromSeconds(10));
        return true;
    }

    public ChildResult Finish()
    {
        lock (_stdout) lock (_stderr)
            return new ChildResult(_process.HasExited ? _process.ExitCode : -1, _stdout.ToString(), _stderr.ToString());
    }

    private string Snapshot()
    {
        lock (_stdout) lock (_stderr) return $"--- stdout\n{_stdout}\n--- stderr\n{_stderr}";
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _lines.Dispose();
    }
}

/// <summary>
/// Child processes: the test child (tests/MmapTools.Child, copied beside the tests by the project
/// file), whose scenarios may kill a process or need one of their own, and the tools the tests
/// compare with (fincore, ln, mkfifo).
/// </summary>
internal static class Child
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(240);

    public static string Directory => System.IO.Path.Combine(AppContext.BaseDirectory, "child");

    public static string Dll
    {
        get
        {
            string path = System.IO.Path.Combine(Directory, "MmapTools.Child.dll");
            Assert.True(File.Exists(path), $"The test child is missing at {path}; the test project copies it there when it builds.");
            return path;
        }
    }

    /// <summary>The dotnet host that runs this test run (the SDK tells it in DOTNET_HOST_PATH).</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : System.IO.Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath!
        : "dotnet";

    /// <summary>Starts a scenario, optionally behind wrapper programs (prlimit, setpriv, unshare).</summary>
    public static RunningChild Start(string[] wrapper, params string[] arguments) => Start(wrapper, Dll, arguments);

    public static RunningChild Start(string[] wrapper, string dll, string[] arguments) =>
        wrapper.Length == 0
            ? new RunningChild(DotnetHost, [dll, .. arguments])
            : new RunningChild(wrapper[0], [.. wrapper[1..], DotnetHost, dll, .. arguments]);

    /// <summary>Runs a scenario to its end and returns what it printed.</summary>
    public static ChildResult Run(string[] wrapper, params string[] arguments) => Run(wrapper, Dll, arguments);

    public static ChildResult Run(string[] wrapper, string dll, string[] arguments)
    {
        using var child = Start(wrapper, dll, arguments);
        return Finish(child, $"The child ({string.Join(' ', arguments)})");
    }

    /// <summary>Runs any program to its end (closed stdin) and returns what it printed.</summary>
    public static ChildResult RunProgram(string fileName, params string[] arguments)
    {
        using var child = new RunningChild(fileName, arguments);
        return Finish(child, $"{fileName} {string.Join(' ', arguments)}");
    }

    private static ChildResult Finish(RunningChild child, string what)
    {
        child.StandardInput.Close();
        if (!child.WaitForExit(Timeout))
        {
            child.Kill();
            child.WaitForExit(TimeSpan.FromSeconds(10));
            throw new TimeoutException($"{what} ran past {Timeout}.\n{child.Finish()}");
        }
        return child.Finish();
    }
}
