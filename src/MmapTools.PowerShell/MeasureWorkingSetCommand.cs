using System.Diagnostics;
using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Measure-WorkingSet: how much memory processes touch in an interval (their working set, as
/// opposed to their Rss), per mapping and in total, as one sample or a series: -Count samples, or
/// as many as fit in -Duration, each -Interval seconds long, back to back. Shows a progress bar
/// while it waits. Needs to write /proc/PID/clear_refs: the process's owner or root.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "WorkingSet", DefaultParameterSetName = CountSet)]
[OutputType(typeof(WorkingSetSample))]
public sealed class MeasureWorkingSetCommand : MmapCmdlet
{
    private const string CountSet = "Count", DurationSet = "Duration";
    private readonly List<int> _processIds = [];
    private readonly CancellationTokenSource _stop = new();

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "Pid")]
    [ValidateRange(1, int.MaxValue)]
    public int[] ProcessId { get; set; } = [];

    /// <summary>Seconds each sample lasts.</summary>
    [Parameter]
    [ValidateRange(0.01, 86400.0)]
    public double Interval { get; set; } = 1;

    [Parameter(ParameterSetName = CountSet)]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; } = 1;

    /// <summary>Seconds to sample for, in samples of -Interval.</summary>
    [Parameter(Mandatory = true, ParameterSetName = DurationSet)]
    [ValidateRange(0.01, 31_536_000.0)]
    public double Duration { get; set; }

    [Parameter]
    public SwitchParameter IncludeWritten { get; set; }

    protected override void ProcessRecord() => _processIds.AddRange(ProcessId);

    /// <summary>All processes are sampled together, over the same intervals.</summary>
    protected override void EndProcessing()
    {
        int samples = ParameterSetName == DurationSet ? Math.Max(1, (int)Math.Round(Duration / Interval)) : Count;
        var interval = TimeSpan.FromSeconds(Interval);
        var begun = new Dictionary<int, long>();
        foreach (int pid in _processIds.Distinct())
            if (TryItem(pid, () => WorkingSet.Begin(pid, IncludeWritten), out long started)) begun[pid] = started;
        var progress = new ProgressRecord(1, "Measure-WorkingSet", $"Sampling {begun.Count} process(es) every {Interval} s");
        for (int sample = 1; sample <= samples && begun.Count > 0; sample++)
        {
            Wait(interval, progress, sample, samples);
            foreach (int pid in begun.Keys.ToArray())
            {
                if (!TryItem(pid, () => WorkingSet.Read(pid, begun[pid], IncludeWritten), out var result))
                {
                    begun.Remove(pid);
                    continue;
                }
                WriteObject(result);
                if (sample < samples && TryItem(pid, () => WorkingSet.Begin(pid, IncludeWritten), out long again)) begun[pid] = again;
                else if (sample < samples) begun.Remove(pid);
            }
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
    }

    /// <summary>Waits out one interval, moving the progress bar a few times a second; Ctrl+C ends it at once.</summary>
    private void Wait(TimeSpan interval, ProgressRecord progress, int sample, int samples)
    {
        long started = Stopwatch.GetTimestamp();
        for (TimeSpan elapsed; (elapsed = Stopwatch.GetElapsedTime(started)) < interval;)
        {
            double done = ((sample - 1) + elapsed / interval) / samples;
            progress.PercentComplete = (int)(100 * done);
            progress.StatusDescription = $"Sample {sample} of {samples}";
            progress.SecondsRemaining = (int)((samples - sample + 1) * interval.TotalSeconds - elapsed.TotalSeconds);
            WriteProgress(progress);
            if (_stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Min(250, Math.Max(1, (interval - elapsed).TotalMilliseconds))))) throw new PipelineStoppedException();
        }
    }

    protected override void StopProcessing() => _stop.Cancel();
}
