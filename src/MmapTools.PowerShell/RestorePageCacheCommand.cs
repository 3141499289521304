using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// Restore-PageCache: reads a snapshot of Save-PageCache and warms the pages it recorded that are
/// not cached now, for files that are still the ones recorded, in file-offset order, at most
/// -BytesPerSecond, with a progress bar. A missing, replaced or changed file is skipped with a
/// warning that names it and says why.
/// </summary>
[Cmdlet(VerbsData.Restore, "PageCache", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
[OutputType(typeof(CacheRestoreResult))]
public sealed class RestorePageCacheCommand : PathsCmdlet
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(250);

    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long BytesPerSecond { get; set; }

    private readonly CancellationTokenSource _stop = new();

    protected override void StopProcessing() => _stop.Cancel();

    protected override void ProcessRecord()
    {
        foreach (string snapshot in ResolvePaths())
        {
            if (!ShouldProcessHarmless(snapshot, "Warm the pages the snapshot recorded")) continue;
            var progress = new ProgressRecord(1, $"Restoring the page cache of {snapshot}", "Starting");
            DateTime next = DateTime.UtcNow + ProgressEvery;
            try
            {
                if (TryItem(snapshot, () => CacheSnapshot.Restore(snapshot, Bound(nameof(BytesPerSecond), BytesPerSecond),
                        skip => WriteWarning($"Skipped '{skip.Path}' ({skip.Kind}): {skip.Reason}."),
                        new Reporter(p =>
                        {
                            if (DateTime.UtcNow < next) return;
                            next = DateTime.UtcNow + ProgressEvery;
                            progress.PercentComplete = (int)(p.Fraction * 100);
                            progress.StatusDescription = $"{p.FilesDone} files, {p.PagesWarmed} pages warmed";
                            progress.CurrentOperation = p.CurrentPath;
                            WriteProgress(progress);
                        }), _stop.Token), out var result))
                    WriteObject(result);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }
        }
    }

    /// <summary>Reports on the pipeline thread, where WriteProgress may be called.</summary>
    private sealed class Reporter(Action<CacheRestoreProgress> report) : IProgress<CacheRestoreProgress>
    {
        public void Report(CacheRestoreProgress value) => report(value);
    }
}
