using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;

namespace MmapTools;

public sealed partial class ResidencyWalker
{
    /// <summary>Files a batch holds: enough that handing one over costs little beside its work, few enough that threads share a small directory.</summary>
    private const int BatchFiles = 32;

    /// <summary>Batches in flight per thread: enough to keep every thread busy while the walking thread reads a directory or its caller is busy.</summary>
    private const int BatchesPerThread = 4;

    /// <summary>NAME_MAX (255 bytes) and its NUL.</summary>
    private const int NameBytes = 256;

    /// <summary>Files of one directory, examined together on one thread.</summary>
    private sealed class FileBatch
    {
        public readonly byte[] Names = new byte[BatchFiles * NameBytes];
        public readonly Entry[] Entries = new Entry[BatchFiles];
        public readonly FileOutcome[] Outcomes = new FileOutcome[BatchFiles];
        public readonly ManualResetEventSlim Done = new(false);
        public SafeFileHandle? Directory;
        public int Count;

        /// <summary>Even while the batch waits (twice its use count), odd once a thread took it: a stale
        /// queue entry of an earlier use cannot take it again.</summary>
        private int _state;

        public int Ticket => Volatile.Read(ref _state);

        /// <summary>True for the one thread that is to examine this use of the batch.</summary>
        public bool Claim(int ticket) => (ticket & 1) == 0 && Interlocked.CompareExchange(ref _state, ticket + 1, ticket) == ticket;

        public bool Claim() => Claim(Ticket);

        /// <summary>Makes the examined batch ready for its next use.</summary>
        public void Reset()
        {
            Array.Clear(Entries, 0, Count);
            Array.Clear(Outcomes, 0, Count);
            Count = 0;
            Directory = null;
            Done.Reset();
            Interlocked.Increment(ref _state);
        }
    }

    /// <summary>
    /// Examines files on several threads and gives the results back in the order they were added. Only
    /// the walking thread calls its methods; the thread pool runs <see cref="Work"/>.
    /// </summary>
    private sealed class FilePool : IDisposable
    {
        private readonly ResidencyWalker _walker;
        private readonly int _window, _maxWorkers;
        private readonly CancellationToken _cancel;
        private readonly CancellationTokenSource _stop;
        private readonly ConcurrentQueue<(FileBatch Batch, int Ticket)> _work = new();
        private readonly Queue<(ResidencyWalkItem Item, FileBatch? Batch)> _ordered = new();
        private readonly Stack<FileBatch> _free = new();
        private FileBatch? _filling;
        private int _inFlight, _workers;

        public FilePool(ResidencyWalker walker, int threads, CancellationToken cancel)
        {
            _walker = walker;
            _cancel = cancel;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            // The walking thread examines a batch itself whenever it would wait, so it counts as one.
            _maxWorkers = Math.Min(threads, 1024) - 1;
            _window = Math.Min(threads, 1024) * BatchesPerThread;
        }

        /// <summary>An item that needs no work (a directory entered, a failure), in its place among the files.</summary>
        public void Add(ResidencyWalkItem item)
        {
            Dispatch();
            _ordered.Enqueue((item, null));
        }

        /// <summary>Adds a file to examine; true when a batch was handed over (then take what is ready).</summary>
        public bool AddFile(SafeFileHandle directory, Entry entry)
        {
            bool dispatched = false;
            if (_filling is { } open && open.Directory != directory)
            {
                Dispatch();
                dispatched = true;
            }
            var batch = _filling ??= Rent(directory);
            int slot = batch.Count++;
            // The walk's buffer is reused for the next entries: the name moves into the batch.
            int start = slot * NameBytes;
            entry.Buffer.AsSpan(entry.NameStart, entry.NameLength + 1).CopyTo(batch.Names.AsSpan(start));
            entry.Buffer = batch.Names;
            entry.NameStart = start;
            batch.Entries[slot] = entry;
            if (batch.Count == BatchFiles)
            {
                Dispatch();
                dispatched = true;
            }
            return dispatched;
        }

        /// <summary>The items at the head of the order that are ready; waits (or works) only while more than the window of batches is in flight.</summary>
        public IEnumerable<ResidencyWalkItem> TakeReady() => Take(all: false);

        /// <summary>Every item still to come, in order.</summary>
        public IEnumerable<ResidencyWalkItem> TakeAll()
        {
            Dispatch();
            return Take(all: true);
        }

        private IEnumerable<ResidencyWalkItem> Take(bool all)
        {
            while (_ordered.TryPeek(out var head))
            {
                if (head.Batch is not { } batch)
                {
                    _ordered.Dequeue();
                    yield return head.Item;
                    continue;
                }
                if (!batch.Done.IsSet)
                {
                    if (!all && _inFlight <= _window) yield break;
                    // Rather than wait for another thread's batch, examine one that no thread took yet.
                    if (batch.Claim()) Examine(batch);
                    else if (HelpWithLaterBatch()) continue;
                    else batch.Done.Wait(_cancel);
                }
                _cancel.ThrowIfCancellationRequested();
                _ordered.Dequeue();
                _inFlight--;
                for (int i = 0; i < batch.Count; i++)
                {
                    if (_walker.Admit(batch.Outcomes[i]) is { } item) yield return item;
                }
                batch.Reset();
                _free.Push(batch);
            }
        }

        /// <summary>Examines the first batch in flight that no thread took; false when every one is taken.</summary>
        private bool HelpWithLaterBatch()
        {
            foreach (var (_, batch) in _ordered)
            {
                if (batch is null || !batch.Claim()) continue;
                Examine(batch);
                return true;
            }
            return false;
        }

        private FileBatch Rent(SafeFileHandle directory)
        {
            var batch = _free.Count > 0 ? _free.Pop() : new FileBatch();
            bool added = false;
            directory.DangerousAddRef(ref added);
            batch.Directory = directory;
            return batch;
        }

        private void Dispatch()
        {
            if (_filling is not { } batch) return;
            _filling = null;
            _ordered.Enqueue((default, batch));
            _inFlight++;
            _work.Enqueue((batch, batch.Ticket));
            StartWorker();
        }

        private void StartWorker()
        {
            for (int workers = Volatile.Read(ref _workers); workers < _maxWorkers; workers = Volatile.Read(ref _workers))
            {
                if (Interlocked.CompareExchange(ref _workers, workers + 1, workers) != workers) continue;
                ThreadPool.UnsafeQueueUserWorkItem(static pool => pool.Work(), this, preferLocal: false);
                return;
            }
        }

        private void Work()
        {
            while (!_stop.IsCancellationRequested && _work.TryDequeue(out var work))
            {
                if (work.Batch.Claim(work.Ticket)) Examine(work.Batch);
            }
            Interlocked.Decrement(ref _workers);
            // A batch queued while this worker was leaving would otherwise wait for the walking thread.
            if (!_work.IsEmpty && !_stop.IsCancellationRequested) StartWorker();
        }

        /// <summary>Examines the batch's files (on whichever thread claimed it), stopping early once the walk is stopped.</summary>
        private void Examine(FileBatch batch)
        {
            var directory = batch.Directory!;
            try
            {
                int fd = (int)directory.DangerousGetHandle();
                for (int i = 0; i < batch.Count && !_stop.IsCancellationRequested; i++)
                    batch.Outcomes[i] = _walker.ExamineFile(fd, batch.Entries[i]);
            }
            finally
            {
                directory.DangerousRelease();
                batch.Done.Set();
            }
        }

        /// <summary>Stops the workers and waits for the batches they are examining, so nothing of the walk runs after it.</summary>
        public void Dispose()
        {
            _stop.Cancel();
            if (_filling is { } open)
            {
                open.Directory!.DangerousRelease();
                _filling = null;
            }
            foreach (var (_, batch) in _ordered)
            {
                if (batch is null) continue;
                if (batch.Claim())
                {
                    batch.Directory!.DangerousRelease();
                    batch.Done.Set();
                }
                else
                {
                    batch.Done.Wait();
                }
            }
            _ordered.Clear();
            _stop.Dispose();
        }
    }
}
