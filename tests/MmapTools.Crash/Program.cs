using MmapTools;

// Usage: MmapTools.Crash <scenario> [argument]
// Each scenario prints "READY" (flushed) right before the step that should kill the process, so the
// parent can tell "died at the expected step" from "failed earlier". A scenario that survives the
// step it was meant to die of prints "SURVIVED" and exits with 0, which the parent reports as a failure.
// Exit codes: 2 usage, 3 a scenario's set-up failed.

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: MmapTools.Crash <sigbus-span|sigsegv-span|mlock> [directory or bytes]");
    return 2;
}

try
{
    return args[0] switch
    {
        "sigbus-span" => SigbusThroughSpan(args.Length > 1 ? args[1] : Path.GetTempPath()),
        "sigsegv-span" => SigsegvThroughSpan(),
        "mlock" => LockBytes(args.Length > 1 ? long.Parse(args[1]) : 1 << 20),
        _ => Usage(args[0]),
    };
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    Console.Error.WriteLine($"SETUP-FAILED {e.GetType().FullName}: {e.Message}");
    return 3;
}

static int Usage(string scenario)
{
    Console.Error.WriteLine($"unknown scenario '{scenario}'");
    return 2;
}

static void Ready()
{
    Console.Out.WriteLine("READY");
    Console.Out.Flush();
}

// A two-page file mapped whole, then truncated to nothing: the second page no longer exists, and a
// pointer read of it (here through the unsafe span) raises SIGBUS. The process dies before its
// finally runs, so the file is made in a directory the parent passes and removes itself.
static int SigbusThroughSpan(string directory)
{
    string path = Path.Combine(directory, $"sigbus-{Environment.ProcessId}.bin");
    try
    {
        File.WriteAllBytes(path, Enumerable.Repeat((byte)7, 2 * MemoryMap.PageSize).ToArray());
        using var map = MemoryMap.OpenFile(path);
        Span<byte> span = map.AsSpan();
        if (span[MemoryMap.PageSize] != 7) return 3;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) stream.SetLength(0);
        Ready();
        byte value = Volatile.Read(ref span[MemoryMap.PageSize]);
        Console.Out.WriteLine($"SURVIVED read {value}");
        return 0;
    }
    finally
    {
        File.Delete(path);
    }
}

// A guard page: PROT_NONE, then a pointer read of it raises SIGSEGV.
static int SigsegvThroughSpan()
{
    using var map = MemoryMap.Anonymous(2 * MemoryMap.PageSize);
    Span<byte> span = map.AsSpan();
    span[MemoryMap.PageSize] = 1;
    map.Protect(MapAccess.None, MemoryMap.PageSize, MemoryMap.PageSize);
    Ready();
    byte value = Volatile.Read(ref span[MemoryMap.PageSize]);
    Console.Out.WriteLine($"SURVIVED read {value}");
    return 0;
}

// Locks an anonymous map of the given size and reports the outcome on stdout as one line:
// "LOCKED" or "ERROR <ErrorName> <message>". Run under prlimit --memlock to see the limit's error.
static int LockBytes(long bytes)
{
    using var map = MemoryMap.Anonymous(bytes);
    try
    {
        map.Lock();
        Console.Out.WriteLine("LOCKED");
    }
    catch (SystemCallException e)
    {
        Console.Out.WriteLine($"ERROR {e.ErrorName} {e.Call} {e.Message}");
    }
    return 0;
}
