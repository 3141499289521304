using System.Collections.Concurrent;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace MmapTools.PowerShell;

/// <summary>
/// The maps made by New-MemoryMap, one list per runspace (a session, a ForEach-Object -Parallel
/// runspace or a thread job each have their own). A list is unmapped when its runspace closes,
/// and when the module is removed (<see cref="ModuleCleanup"/>).
/// </summary>
internal static class SessionMaps
{
    private static readonly ConcurrentDictionary<Guid, MapList> Lists = new();

    /// <summary>The current runspace's maps.</summary>
    public static MapList Current
    {
        get
        {
            var runspace = Runspace.DefaultRunspace;
            if (runspace is null) return Lists.GetOrAdd(Guid.Empty, _ => new MapList());
            return Lists.GetOrAdd(runspace.InstanceId, _ =>
            {
                runspace.StateChanged += OnStateChanged;
                return new MapList();
            });
        }
    }

    /// <summary>Unmaps the current runspace's maps; returns how many were still mapped.</summary>
    public static int RemoveCurrent()
    {
        var runspace = Runspace.DefaultRunspace;
        return Lists.TryRemove(runspace?.InstanceId ?? Guid.Empty, out var list) ? list.DisposeAll() : 0;
    }

    private static void OnStateChanged(object? sender, RunspaceStateEventArgs e)
    {
        if (sender is not Runspace runspace || e.RunspaceStateInfo.State is not (RunspaceState.Closed or RunspaceState.Broken)) return;
        runspace.StateChanged -= OnStateChanged;
        if (Lists.TryRemove(runspace.InstanceId, out var list)) list.DisposeAll();
    }
}

/// <summary>
/// One runspace's maps, keyed by id (ids grow with each map made, so their order is the order of
/// creation). A map disposed by other means (<c>$map.Dispose()</c>) stays until the next listing or
/// until the list has grown to twice its live maps, so a loop that makes and disposes maps neither
/// grows the list without bound nor slows each call down.
/// </summary>
internal sealed class MapList
{
    private const int MinPruneCount = 64;
    private readonly Dictionary<int, MemoryMap> _maps = new();
    private int _pruneAt = MinPruneCount;

    public void Add(MemoryMap map)
    {
        lock (_maps)
        {
            _maps.Add(map.Id, map);
            if (_maps.Count >= _pruneAt) PruneDisposed();
        }
    }

    public void Remove(MemoryMap map)
    {
        lock (_maps) _maps.Remove(map.Id);
    }

    /// <summary>The maps still mapped, in order of creation.</summary>
    public IReadOnlyList<MemoryMap> Snapshot()
    {
        lock (_maps)
        {
            PruneDisposed();
            var maps = _maps.Values.ToArray();
            Array.Sort(maps, static (a, b) => a.Id.CompareTo(b.Id));
            return maps;
        }
    }

    public MemoryMap? Find(int id)
    {
        lock (_maps) return _maps.TryGetValue(id, out var map) && !map.IsDisposed ? map : null;
    }

    private void PruneDisposed()
    {
        foreach (var (id, map) in _maps)
            if (map.IsDisposed) _maps.Remove(id);
        _pruneAt = Math.Max(MinPruneCount, 2 * _maps.Count);
    }

    public int DisposeAll()
    {
        MemoryMap[] maps;
        lock (_maps)
        {
            maps = _maps.Values.ToArray();
            _maps.Clear();
        }
        int live = 0;
        foreach (var map in maps)
        {
            if (!map.IsDisposed) live++;
            map.Dispose();
        }
        return live;
    }
}

/// <summary>
/// Remove-Module MmapTools unmaps the session's maps. PowerShell calls
/// <see cref="IModuleAssemblyCleanup.OnRemove"/> for the module's assembly when the module is
/// removed, in the runspace that removes it (PowerShell Standard 5.1.1 declares the interface).
/// </summary>
public sealed class ModuleCleanup : IModuleAssemblyCleanup
{
    public void OnRemove(PSModuleInfo psModuleInfo) => SessionMaps.RemoveCurrent();
}
