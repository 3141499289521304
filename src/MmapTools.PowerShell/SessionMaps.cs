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

/// <summary>One runspace's maps, in order of creation.</summary>
internal sealed class MapList
{
    private readonly List<MemoryMap> _maps = new();

    public void Add(MemoryMap map)
    {
        lock (_maps) _maps.Add(map);
    }

    public void Remove(MemoryMap map)
    {
        lock (_maps) _maps.Remove(map);
    }

    /// <summary>The maps still mapped; maps disposed by other means (e.g. <c>$map.Dispose()</c>) are dropped here.</summary>
    public IReadOnlyList<MemoryMap> Snapshot()
    {
        lock (_maps)
        {
            _maps.RemoveAll(m => m.IsDisposed);
            return _maps.ToArray();
        }
    }

    public MemoryMap? Find(int id)
    {
        lock (_maps) return _maps.Find(m => m.Id == id && !m.IsDisposed);
    }

    public int DisposeAll()
    {
        MemoryMap[] maps;
        lock (_maps)
        {
            maps = _maps.ToArray();
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
