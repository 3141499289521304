using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>
/// Why a call failed and what to do, in plain words: one sentence per call and errno, chosen after
/// the call returned its error (with <see cref="Diagnosis"/> where the errno alone does not say
/// which cause it was). Null where nothing useful can be added to the errno's own description.
/// </summary>
internal static class FailureHints
{
    public static string? Open(string path, bool writable, int errno) => errno switch
    {
        Errno.ENOENT => $"'{path}' does not exist.",
        Errno.EACCES or Errno.EPERM => writable
            ? $"'{path}' cannot be opened for writing by this user; map it read-only or private."
            : $"'{path}' cannot be read by this user.",
        Errno.EROFS => $"'{path}' is on a read-only file system; map it read-only or private.",
        Errno.EISDIR => $"'{path}' is a directory, not a file.",
        Errno.ETXTBSY => $"'{path}' is a program being run; it cannot be opened for writing.",
        Errno.ENOTDIR => $"A part of '{path}' that should be a directory is a file.",
        Errno.ENAMETOOLONG => "The path is too long.",
        Errno.ELOOP => $"'{path}' has too many levels of symbolic links.",
        Errno.EMFILE or Errno.ENFILE => "Too many files are open (see ulimit -n).",
        _ => null,
    };

    /// <summary>statx of a path met during a walk or named by the caller.</summary>
    public static string? Stat(string path, bool follow, int errno) => errno == Errno.ENOENT
        ? (follow ? $"'{path}' does not exist, or is a symbolic link to nothing." : $"'{path}' does not exist.")
        : Open(path, false, errno);

    /// <summary>statx of a directory entry that getdents64 had just listed.</summary>
    public static string? StatEntry(bool follow, int errno) => errno == Errno.ENOENT
        ? (follow ? "It vanished, or it is a symbolic link to nothing." : "It vanished while the directory was read.") : null;

    public static string? ReadDirectory(string directory, int errno) =>
        errno == Errno.ENOTDIR ? $"'{directory}' is no longer a directory." : null;

    public static string? SharedMemoryOpen(string name, string path, int errno) =>
        Open(path, true, errno) ?? (errno == Errno.EINVAL ? $"'{name}' is not a valid shared memory name." : null);

    public static string? SharedMemoryRemove(string name, int errno) =>
        errno == Errno.ENOENT ? $"No shared memory is named '{name}'." : null;

    public static string? MemfdCreate(bool hugePages, int errno) =>
        errno == Errno.EINVAL && hugePages ? "This huge page size is not supported." : null;

    public static string? NameAnonymous(int errno) =>
        errno == Errno.EINVAL ? "This kernel cannot name anonymous maps (it needs Linux 5.17 with CONFIG_ANON_VMA_NAME)." : null;

    public static string FixedAddressIgnored(nint placed, nint wanted) =>
        $"The kernel placed the map at 0x{placed:x}, not at 0x{wanted:x}: this kernel does not honour MAP_FIXED_NOREPLACE.";

    public static string? Fadvise(string path, int errno) => errno == Errno.ESPIPE ? $"'{path}' is a pipe or FIFO." : null;

    public static string? Mincore(int errno) =>
        errno == Errno.ENOMEM ? "Part of the range is not mapped (was the map removed underneath?)." : null;

    /// <summary>mmap of a file window only to ask mincore about it.</summary>
    public static string? MmapForMincore(int errno) =>
        errno == Errno.ENODEV ? "This file system does not support mapping files, so mincore cannot be asked." : null;

    public static string? Mmap(int errno, long mapLength, MapAccess access, MemoryMapOptions options, long hugePageBytes) => errno switch
    {
        Errno.ENOMEM when options.HugePages =>
            $"No free huge pages of {ByteSize.Format(hugePageBytes)} for {ByteSize.Format(mapLength)}: vm.nr_hugepages is {Diagnosis.ReadProc("/proc/sys/vm/nr_hugepages")}. Reserve some (sysctl vm.nr_hugepages=N, as root) or map without huge pages.",
        Errno.ENOMEM => NoMemory(mapLength, options),
        Errno.EACCES when (access & MapAccess.Execute) != 0 =>
            "The file is on a file system mounted noexec, or was not opened for reading.",
        Errno.EACCES =>
            "The file was opened read-only, so a shared writable map is refused: map it private (copy-on-write) or read-only.",
        Errno.EPERM when (access & MapAccess.Execute) != 0 =>
            "Executable memory is refused here (noexec mount or a security policy).",
        Errno.EPERM => "The file is sealed or a security policy refuses this map.",
        Errno.EEXIST =>
            $"Something is already mapped at 0x{options.FixedAddress ?? 0:x}; MAP_FIXED_NOREPLACE refuses to replace it, and the map there is untouched.",
        Errno.EINVAL when options.HugePages => $"Huge pages of {ByteSize.Format(hugePageBytes)} are not supported here.",
        Errno.EINVAL when options.FixedAddress is not null => "The fixed address must be a multiple of the page size.",
        Errno.ENODEV => "This file's file system does not support mmap (/proc and /sys files, pipes and sockets cannot be mapped).",
        Errno.EOVERFLOW => "The offset and length overflow the file system's limits.",
        Errno.ETXTBSY => "The file is open for writing with MAP_DENYWRITE semantics.",
        _ => null,
    };

    /// <summary>Which limit refused the map: the number of maps, the free address space, RLIMIT_AS or the overcommit charge.</summary>
    private static string NoMemory(long mapLength, MemoryMapOptions options)
    {
        string bytes = ByteSize.Format(mapLength);
        string maxMapCount = Diagnosis.ReadProc("/proc/sys/vm/max_map_count");
        var space = Diagnosis.AddressSpace();
        if (space is { } s && long.TryParse(maxMapCount, out long limit) && s.Maps >= limit - 1)
            return $"This process has {s.Maps} maps, the limit vm.max_map_count ({limit}): remove maps (or raise the limit, sysctl vm.max_map_count=N, as root). " +
                "So close to it, the .NET runtime itself may fail to map memory for its JIT or GC and abort the process.";
        if (space is { } free && (ulong)mapLength > free.LargestGap)
            return $"No free range of {bytes} is left in this process's address space (the largest is {ByteSize.Format(free.LargestGap)}): remove maps or map less.";
        if (Diagnosis.AddressSpaceLimit() is { } rlimit && rlimit.Used + (ulong)mapLength > rlimit.Limit)
            return $"{bytes} more would pass this process's address-space limit RLIMIT_AS ({ByteSize.Format(rlimit.Limit)}, {ByteSize.Format(rlimit.Used)} in use; see ulimit -v).";
        string overcommit = Diagnosis.ReadProc("/proc/sys/vm/overcommit_memory");
        if (!options.NoReserve)
            return $"The overcommit limit refused {bytes}: vm.overcommit_memory is {overcommit} ({(overcommit == "2" ? "strict: the total may not pass CommitLimit in /proc/meminfo" : "heuristic: one map may not exceed free RAM and swap")}). NoReserve skips this charge for maps that may do without it.";
        return $"The kernel would not give {bytes}: the address space, the number of maps (vm.max_map_count = {maxMapCount}) or the overcommit limit (vm.overcommit_memory = {overcommit}) is exhausted.";
    }

    public static string? Ftruncate(long size, int errno) => errno switch
    {
        Errno.EFBIG => $"{ByteSize.Format(size)} is larger than this file system allows.",
        Errno.ENOSPC => "The file system (for shared memory, /dev/shm) is full.",
        Errno.EINVAL => "This file cannot be resized.",
        _ => null,
    };

    public static string? Msync(int errno) => errno switch
    {
        Errno.EBUSY => "Invalidate was asked for a range that holds locked pages.",
        Errno.EIO => "The kernel could not write the pages back: the device reported an I/O error.",
        Errno.ENOSPC => "The file system is full; the dirty pages could not be written.",
        Errno.ENOMEM => "Part of the range is not mapped.",
        _ => null,
    };

    /// <summary>fsync of a map's file, or of the directory that holds its name (<paramref name="directory"/>).</summary>
    public static string? Fsync(string? directory, int errno) => errno switch
    {
        Errno.EIO => $"The kernel could not write {(directory is null ? "the file" : $"the directory '{directory}'")} back: the device reported an I/O error.",
        Errno.ENOSPC => "The file system is full; the file's metadata could not be written.",
        _ => directory is null ? null : $"The directory '{directory}' could not be synced.",
    };

    public static string? Mprotect(MapAccess access, int errno) => errno switch
    {
        Errno.EACCES => $"The file was opened without the rights for {access} (a shared map opened read-only cannot be made writable).",
        Errno.ENOMEM => "Part of the range is not mapped, or the change would split the map past vm.max_map_count.",
        _ => null,
    };

    public static string? Mlock(nuint bytes, int errno) => errno is Errno.ENOMEM or Errno.EPERM or Errno.EAGAIN
        ? $"Locking {ByteSize.Format(bytes)} would pass RLIMIT_MEMLOCK ({ByteSize.Format(Diagnosis.MemlockLimit())} for this process; see ulimit -l), or this user may not lock memory."
        : null;

    public static string? Madvise(MemoryMap map, MemoryAdvice advice, int errno) => errno switch
    {
        Errno.EINVAL when advice is MemoryAdvice.Free && (!map.IsPrivate || map.Kind != MapKind.Anonymous) =>
            "Free applies only to private anonymous memory.",
        Errno.EINVAL when advice is MemoryAdvice.Remove && map.IsPrivate =>
            "Remove applies only to shared maps of files or shared memory whose file system can punch holes.",
        Errno.EINVAL when advice is MemoryAdvice.DontNeed or MemoryAdvice.DontNeedLocked && (map.Options.HugePages) =>
            "The range must be aligned to the huge page size.",
        Errno.EINVAL when advice is MemoryAdvice.Collapse =>
            "Collapse needs whole huge-page-aligned ranges whose pages were touched, in a map THP may back (see /sys/kernel/mm/transparent_hugepage/enabled).",
        Errno.EINVAL when advice is MemoryAdvice.HugePage or MemoryAdvice.NoHugePage =>
            "Transparent huge pages are not available for this map or kernel (see /sys/kernel/mm/transparent_hugepage/enabled).",
        Errno.EINVAL when advice is MemoryAdvice.Mergeable or MemoryAdvice.Unmergeable => "This kernel has no KSM (CONFIG_KSM).",
        Errno.EINVAL => $"This kernel or this kind of map does not accept {advice}.",
        Errno.EFAULT when advice is MemoryAdvice.PopulateRead or MemoryAdvice.PopulateWrite =>
            "A page could not be populated: it lies beyond the end of the file or its protection forbids the access.",
        Errno.EPERM => $"{advice} needs a capability this process lacks, or the pages are locked.",
        Errno.EAGAIN => "The kernel was short of a resource; try again.",
        Errno.ENOMEM => "Part of the range is not mapped, or the kernel ran out of memory.",
        Errno.EBUSY when advice is MemoryAdvice.Collapse => "The pages could not be collapsed right now.",
        _ => null,
    };

    /// <summary>process_vm_readv/writev of this process failing with other than EFAULT.</summary>
    public static string? SafeCopy(int errno) => errno is Errno.EPERM or Errno.ENOSYS
        ? "A security policy (seccomp or ptrace restrictions) forbids the safe copy; only AsSpan can reach this map here." : null;

    /// <summary>
    /// Says why the safe copy met a page it could not touch (EFAULT): the file is shorter now, the
    /// page's protection forbids the access (as /proc/self/maps shows it), the file system could not
    /// give the page (full), or, with a protection that allows it, a guard page or a file that was cut
    /// and grown again between the copy and this check.
    /// </summary>
    public static MemoryMapException PageUnavailable(MemoryMap map, SafeFileHandle? file, long offset, nint address, bool writing)
    {
        string verb = writing ? "write" : "read";
        string cannot = $"Cannot {verb} offset {offset} of the map";
        string what = map.Path ?? map.Name ?? "the file";
        bool fileBacked = file is not null && map.Kind != MapKind.Anonymous;
        if (fileBacked)
        {
            long size = (long)PosixFile.Stat(file!).Size;
            long fileOffset = map.Offset + offset;
            if (fileOffset >= MemoryMap.RoundUp(size, MemoryMap.PageSize))
                return new MemoryMapException("PageUnavailable",
                    $"{cannot}: {what} is now {size} bytes long (was it truncated?), so file offset {fileOffset} has no page. Through a pointer this access would have raised SIGBUS.");
        }
        string? permissions = Diagnosis.PermissionsAt(address);
        if (permissions is null || permissions[writing ? 1 : 0] == '-')
            return new MemoryMapException("PageUnavailable", writing
                ? $"{cannot}: the page is not writable{(permissions is null ? "" : $" ({permissions})")}; see Access and Protect."
                : $"{cannot}: the page is not readable{(permissions is null ? "" : $" ({permissions})")} (PROT_NONE or write-only); see Access and Protect.");
        if (fileBacked && Diagnosis.IsFull(file!))
            return new MemoryMapException("PageUnavailable",
                $"{cannot}: the file system that holds {what} is full, so the kernel could not give the page (through a pointer this access would have raised SIGBUS). Free space there{(map.Kind == MapKind.SharedMemory ? " (/dev/shm)" : "")} or make the file smaller.");
        return new MemoryMapException("PageUnavailable", fileBacked
            ? $"{cannot}: its protection ({permissions}) allows the {verb}, but the page was missing: {what} was probably truncated and grown again while the copy ran (through a pointer this would have raised SIGBUS), or the page is a guard page (MADV_GUARD_INSTALL)."
            : $"{cannot}: its protection ({permissions}) allows the {verb}, but the page is a guard page (MADV_GUARD_INSTALL).");
    }
}
