using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// Advice to another process's memory: pidfd_open, then process_madvise (Linux 5.10+) over a range of
/// its address space. The kernel takes only advice that does not lose the target's data from another
/// process: Cold, PageOut, WillNeed and Collapse. It asks for two permissions: ptrace read access to
/// the target (PTRACE_MODE_READ: the same user and a dumpable process, or CAP_SYS_PTRACE) and
/// CAP_SYS_NICE, because the advice changes how the target runs.
/// </summary>
public static unsafe class ProcessAdvice
{
    /// <summary>Whether process_madvise takes this advice for another process.</summary>
    public static bool IsSupported(MemoryAdvice advice) =>
        advice is MemoryAdvice.Cold or MemoryAdvice.PageOut or MemoryAdvice.WillNeed or MemoryAdvice.Collapse;

    /// <summary>
    /// Gives the advice over [<paramref name="address"/>, +<paramref name="length"/>) of process
    /// <paramref name="processId"/>, widened to whole pages; returns the bytes the kernel advised.
    /// </summary>
    public static long Advise(int processId, ulong address, long length, MemoryAdvice advice)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (!IsSupported(advice))
            throw new ArgumentException($"process_madvise takes Cold, PageOut, WillNeed or Collapse for another process, not {advice}.", nameof(advice));
        ulong pageSize = (ulong)MemoryMap.PageSize;
        ulong start = address & ~(pageSize - 1);
        ulong end = checked(address + (ulong)length + pageSize - 1) & ~(pageSize - 1);

        long pidfd = Libc.pidfd_open(Libc.SYS_pidfd_open, processId, 0);
        if (pidfd < 0)
        {
            if (Libc.LastError == Errno.ESRCH) throw new ArgumentException($"No process has id {processId}.", nameof(processId));
            throw SystemCallException.FromLastError("pidfd_open", errno => errno == Errno.ENOSYS ? "This kernel has no pidfd_open (Linux 5.3+)." : null);
        }
        try
        {
            var iovec = new Libc.Iovec { Base = (nint)start, Length = (nuint)(end - start) };
            long done = Libc.process_madvise(Libc.SYS_process_madvise, (int)pidfd, &iovec, 1, (int)advice, 0);
            if (done < 0) throw SystemCallException.FromLastError($"process_madvise({advice})", errno => Hint(errno, processId, advice));
            return done;
        }
        finally
        {
            Libc.close((int)pidfd);
        }
    }

    /// <summary>Advice over one mapping of a process (from <see cref="ProcessMemory.GetRegions"/>), or the part of it from <paramref name="offset"/>.</summary>
    public static long Advise(MemoryRegion region, MemoryAdvice advice, long offset = 0, long? length = null)
    {
        ArgumentNullException.ThrowIfNull(region);
        if (offset < 0 || offset >= region.Size) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The mapping is {region.Size} bytes long.");
        long count = length ?? region.Size - offset;
        if (count <= 0 || count > region.Size - offset)
            throw new ArgumentOutOfRangeException(nameof(length), count, $"From offset {offset} the mapping has {region.Size - offset} bytes.");
        return Advise(region.ProcessId, region.Start + (ulong)offset, count, advice);
    }

    private static string? Hint(int errno, int processId, MemoryAdvice advice) => errno switch
    {
        Errno.EPERM when !Capabilities.Has(Libc.CAP_SYS_NICE) =>
            $"Advising another process needs CAP_SYS_NICE, which this process lacks (run as root, or grant it: setcap cap_sys_nice+ep).",
        Errno.EPERM or Errno.EACCES =>
            $"Advising process {processId} needs ptrace read access to it (PTRACE_MODE_READ: the same user and a dumpable process, or CAP_SYS_PTRACE; Yama's ptrace_scope is {Diagnosis.ReadProc("/proc/sys/kernel/yama/ptrace_scope")}).",
        Errno.ESRCH => $"Process {processId} exited.",
        Errno.ENOMEM => $"Part of the range is not mapped in process {processId}.",
        Errno.EINVAL when advice == MemoryAdvice.Collapse => "Collapse needs a kernel with MADV_COLLAPSE (6.1+), transparent huge pages, and a range where they are allowed.",
        Errno.EINVAL => $"This kernel does not take {advice} from another process, or the range is not valid there.",
        Errno.ENOSYS => "This kernel has no process_madvise (Linux 5.10+).",
        _ => null,
    };
}
