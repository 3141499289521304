using Microsoft.Win32.SafeHandles;

namespace MmapTools.PowerCut;

/// <summary>
/// The writer the fixture cuts power under: performs a <see cref="PowerCutPlan"/> on a file through
/// the core, prints "point" where the plan says and, at a waiting point or its end, waits on stdin
/// (the fixture stops it with SIGSTOP there, then kills it). Usage: power-cut-writer path plan...
/// For shm and memfd it prints "tmpfs PATH" first, a path through which the fixture can ask the
/// file system that holds the memory.
/// </summary>
public static class PowerCutWriter
{
    public static int Run(string path, PowerCutPlan plan)
    {
        int pageSize = MemoryMap.PageSize;
        long size = (long)plan.MappedPages * pageSize;
        MemoryMap? map = plan.Kind switch
        {
            "shm" => MemoryMap.SharedMemory(Path.GetFileName(path), size),
            "memfd" => MemoryMap.Memfd(Path.GetFileName(path), size),
            "private" => MemoryMap.OpenFile(path, 0, size, new MemoryMapOptions { Access = MapAccess.ReadWrite, Private = true }),
            _ => MemoryMap.CreateFile(path, size),
        };
        if (plan.Kind == "shm") Line($"tmpfs /dev/shm/{Path.GetFileName(path)}");
        if (plan.Kind == "memfd") Line($"tmpfs {map.DescriptorPath}");
        var page = new byte[pageSize];
        try
        {
            for (int i = 0; i < plan.Steps.Count; i++)
            {
                var (op, first, end) = plan.Step(i);
                long offset = (long)first * pageSize, length = (long)(end - first) * pageSize;
                switch (op)
                {
                    case "w":
                        PowerCutPlan.Fill(page, offset, PowerCutPlan.VersionOf(i));
                        map!.Write(offset, page);
                        break;
                    case "msync": map!.Sync(offset, length); break;
                    case "msync-async": map!.Sync(offset, length, async: true); break;
                    case "msync-invalidate": map!.Sync(offset, length, invalidate: true); break;
                    case "msync-durable": map!.Sync(offset, length, durable: true); break;
                    case "fsync": Flush(path, data: false); break;
                    case "fdatasync": Flush(path, data: true); break;
                    case "evict": PageCache.Evict(path); break;
                    case "munmap": map!.Dispose(); map = null; break;
                    case "point": Line("point"); Console.In.ReadLine(); return 0;
                    case "point-go": Line("point"); break;
                    case "exit": Line("exit"); Environment.Exit(0); break;
                    default: throw new ArgumentException($"unknown step '{plan.Steps[i]}'");
                }
            }
            Line("end");
            Console.In.ReadLine();
            return 0;
        }
        finally
        {
            map?.Dispose();
            if (plan.Kind == "shm") MemoryMap.RemoveSharedMemory(Path.GetFileName(path));
        }
    }

    /// <summary>fsync or fdatasync of a descriptor of the file of its own, the writer's map untouched.</summary>
    private static void Flush(string path, bool data)
    {
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        if ((data ? PowerCutNative.fdatasync(file) : PowerCutNative.fsync(file)) != 0)
            throw new IOException($"{(data ? "fdatasync" : "fsync")} of {path} failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    private static void Line(string text)
    {
        Console.Out.WriteLine(text);
        Console.Out.Flush();
    }
}
