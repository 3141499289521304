using System.Runtime.CompilerServices;

namespace MmapTools;

/// <summary>
/// The runs of a <see cref="PageStateMap"/>, built in order as a reading goes: one ulong a run (its
/// first page above 16 bits of states; the next run's first page ends it), in chunks of 8,192.
/// A range whose pages alternate makes a run every few pages, and a 4 GiB one over a hundred
/// thousand: a chunk stays below the large-object threshold, so the runs are written once, straight
/// into memory the runtime already has in use, rather than into a growing array copied on each
/// growth and at the end into fresh large-object memory, whose page faults cost more than the
/// reading. The pages of each distinct state are added up as the runs close, so that a count costs
/// nothing afterwards.
/// </summary>
internal sealed class PageRunList
{
    private const int StateBits = 16, ChunkShift = 13, ChunkSize = 1 << ChunkShift;

    private ulong[][] _chunks = new ulong[4][];
    private ulong[] _chunk = [];
    private int _count;
    private long _first = -1, _end;
    private PageStates _states;
    private int _stateIndex;
    // The distinct states met and their pages; a range has a handful.
    private PageStates[] _distinct = new PageStates[8];
    private long[] _pages = new long[8];
    private int _distinctCount;

    /// <summary>The number of runs.</summary>
    public int Count => _count;

    /// <summary>The pages covered: after <see cref="Finish"/>, the range's.</summary>
    public long TotalPages => _end;

    /// <summary>
    /// Pages [<paramref name="first"/>, +<paramref name="count"/>) have <paramref name="states"/>;
    /// pages skipped since the last call are None, and pages given before keep their states.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long first, long count, PageStates states)
    {
        if (first < _end) (first, count) = (_end, count - (_end - first));
        if (count <= 0) return;
        if (first > _end) Set(_end, PageStates.None);
        Set(first, states);
        _end = first + count;
    }

    /// <summary>
    /// From <paramref name="page"/> on, within the pages already added, the pages have
    /// <paramref name="states"/>: a new run unless the last has them already. A reading that has
    /// added a batch of pages as its first page's state marks this way where the state changes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(long page, PageStates states)
    {
        if (states == _states && _count > 0) return;
        Begin(page, states);
    }

    // Compiled optimized at once, as the readings' loops that call them: a process reads a few
    // ranges, too few for tiering, and a range makes a call a run.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Begin(long page, PageStates states)
    {
        if (_count > 0) _pages[_stateIndex] += page - _first;
        int at = _count & (ChunkSize - 1);
        if (at == 0) NewChunk();
        _chunk[at] = (ulong)page << StateBits | (ushort)states;
        _count++;
        (_first, _states, _stateIndex) = (page, states, IndexOf(states));
    }

    private void NewChunk()
    {
        int index = _count >> ChunkShift;
        if (index == _chunks.Length) Array.Resize(ref _chunks, _chunks.Length * 2);
        _chunk = _chunks[index] = GC.AllocateUninitializedArray<ulong>(ChunkSize); // every element read is written first
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int IndexOf(PageStates states)
    {
        for (int i = 0; i < _distinctCount; i++) if (_distinct[i] == states) return i;
        if (_distinctCount == _distinct.Length)
        {
            Array.Resize(ref _distinct, _distinct.Length * 2);
            Array.Resize(ref _pages, _pages.Length * 2);
        }
        _distinct[_distinctCount] = states;
        return _distinctCount++;
    }

    /// <summary>Closes the last run at <paramref name="pages"/>, the end of the range; pages not given are None.</summary>
    public PageRunList Finish(long pages)
    {
        if (_count == 0 || pages > _end) Add(_end, pages - _end, PageStates.None);
        _pages[_stateIndex] += pages - _first;
        _end = pages;
        return this;
    }

    /// <summary>How many pages have every state in <paramref name="states"/>.</summary>
    public long Pages(PageStates states)
    {
        long pages = 0;
        for (int i = 0; i < _distinctCount; i++) if ((_distinct[i] & states) == states) pages += _pages[i];
        return pages;
    }

    private ulong Entry(int index) => _chunks[index >> ChunkShift][index & (ChunkSize - 1)];

    private long FirstPage(int index) => (long)(Entry(index) >> StateBits);

    public PageStateRun this[int index]
    {
        get
        {
            ulong entry = Entry(index);
            long first = (long)(entry >> StateBits);
            return new PageStateRun(first, (index + 1 < _count ? FirstPage(index + 1) : _end) - first, (PageStates)(ushort)entry);
        }
    }

    /// <summary>The state of one page: the last run starting at or before it.</summary>
    public PageStates StatesAt(long page)
    {
        int low = 0, high = _count - 1;
        while (low < high)
        {
            int middle = (low + high + 1) / 2;
            if (FirstPage(middle) <= page) low = middle; else high = middle - 1;
        }
        return (PageStates)(ushort)Entry(low);
    }

    public PageStateRun[] ToArray()
    {
        var runs = new PageStateRun[_count];
        for (int i = 0; i < runs.Length; i++) runs[i] = this[i];
        return runs;
    }
}
