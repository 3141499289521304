# The kernel's own view, read without MmapTools: fincore (util-linux), raw mincore and cachestat
# through a few P/Invoke lines of its own, and /proc/self/smaps parsed here. The cmdlet tests
# compare the cmdlets with these readings, and decide what the kernel offers from them, so that a
# regression of the tool fails instead of turning into a skip.

Set-StrictMode -Version Latest

if (-not ('MmapToolsTests.RawKernel' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;

namespace MmapToolsTests
{
    public static class RawKernel
    {
        [StructLayout(LayoutKind.Sequential)]
        public struct CachestatRange { public ulong Offset; public ulong Length; }

        // struct cachestat of include/uapi/linux/mman.h.
        [StructLayout(LayoutKind.Sequential)]
        public struct Cachestat { public ulong Cache; public ulong Dirty; public ulong Writeback; public ulong Evicted; public ulong RecentlyEvicted; }

        [DllImport("libc", SetLastError = true)]
        private static extern int mincore(IntPtr address, UIntPtr length, byte[] vector);

        [DllImport("libc", SetLastError = true)]
        private static extern IntPtr mmap(IntPtr address, UIntPtr length, int protection, int flags, int fd, long offset);

        [DllImport("libc", SetLastError = true)]
        private static extern int munmap(IntPtr address, UIntPtr length);

        [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
        private static extern long SyscallCachestat(long number, int fd, ref CachestatRange range, out Cachestat counts, uint flags);

        // cachestat is 451 in the generic syscall table, shared by x86_64 and arm64.
        private const long SysCachestat = 451;

        public static bool[] Mincore(IntPtr address, long length)
        {
            long pages = (length + Environment.SystemPageSize - 1) / Environment.SystemPageSize;
            var vector = new byte[pages];
            if (mincore(address, (UIntPtr)(ulong)length, vector) != 0)
                throw new InvalidOperationException("mincore failed with errno " + Marshal.GetLastWin32Error());
            var resident = new bool[pages];
            for (long i = 0; i < pages; i++) resident[i] = (vector[i] & 1) != 0;
            return resident;
        }

        // A page-aligned range of a file, mapped PROT_READ (1), MAP_SHARED (1) here, as fincore does.
        public static bool[] FileMincore(string path, long offset, long length)
        {
            using (var file = System.IO.File.OpenHandle(path))
            {
                IntPtr address = mmap(IntPtr.Zero, (UIntPtr)(ulong)length, 1, 1, (int)file.DangerousGetHandle(), offset);
                if (address == new IntPtr(-1)) throw new InvalidOperationException("mmap of " + path + " failed with errno " + Marshal.GetLastWin32Error());
                try { return Mincore(address, length); }
                finally { munmap(address, (UIntPtr)(ulong)length); }
            }
        }

        // cachestat of a byte range (length 0: to the end); the errno in the out parameter, 0 on success.
        public static Cachestat CachestatOf(string path, long offset, long length, out int errno)
        {
            using (var file = System.IO.File.OpenHandle(path))
            {
                var range = new CachestatRange { Offset = (ulong)offset, Length = (ulong)length };
                Cachestat counts;
                long result = SyscallCachestat(SysCachestat, (int)file.DangerousGetHandle(), ref range, out counts, 0);
                errno = result == 0 ? 0 : Marshal.GetLastWin32Error();
                return counts;
            }
        }
    }
}
'@
}

# Resident pages of a file by fincore, or $null when fincore is not installed (Get-OracleSkipReason says so).
function Get-FincorePages([string] $Path) {
    if (-not (Get-Command fincore -CommandType Application -ErrorAction Ignore)) { return $null }
    $text = & fincore --bytes --noheadings --raw --output PAGES -- $Path
    if ($LASTEXITCODE -ne 0) { throw "fincore $Path exited with code $LASTEXITCODE" }
    [long] $text.Trim()
}

# Why the fincore oracle cannot answer here, or $null when it can.
function Get-OracleSkipReason {
    if (-not (Get-Command fincore -CommandType Application -ErrorAction Ignore)) { return 'fincore (util-linux) is not installed' }
}

# Resident pages of a page-aligned file range, by a raw mmap and mincore of this module's own.
function Get-FileMincore([string] $Path, [long] $Offset = 0, [long] $Length = (Get-Item -LiteralPath $Path).Length) {
    , [MmapToolsTests.RawKernel]::FileMincore($Path, $Offset, $Length)
}

function Get-FileMincoreCount([string] $Path, [long] $Offset = 0, [long] $Length = (Get-Item -LiteralPath $Path).Length) {
    @([MmapToolsTests.RawKernel]::FileMincore($Path, $Offset, $Length) | Where-Object { $_ }).Count
}

# Resident pages of [Address, Address+Length) of this process, by a raw mincore.
function Get-MincoreCount([long] $Address, [long] $Length) {
    @([MmapToolsTests.RawKernel]::Mincore([IntPtr] $Address, $Length) | Where-Object { $_ }).Count
}

# Whether this kernel has cachestat, asked of the kernel on a file of this user's own.
function Test-Cachestat([string] $OwnFile) {
    $errno = 0
    $null = [MmapToolsTests.RawKernel]::CachestatOf($OwnFile, 0, 0, [ref] $errno)
    if ($errno -eq 38) { return $false } # ENOSYS
    if ($errno -ne 0) { throw "cachestat on $OwnFile, a file of this user, failed with errno $errno" }
    $true
}

# Dirty pages of a file by a raw cachestat.
function Get-CachestatDirty([string] $Path, [long] $Offset = 0, [long] $Length = 0) {
    $errno = 0
    $counts = [MmapToolsTests.RawKernel]::CachestatOf($Path, $Offset, $Length, [ref] $errno)
    if ($errno -ne 0) { throw "cachestat of $Path failed with errno $errno" }
    [long] $counts.Dirty
}

# The VMA of this process that holds the address, from /proc/self/smaps read now: its permissions,
# VmFlags (fs/proc/task_mmu.c mnemonics) and sizes in kB.
function Get-SmapsVma([long] $Address) {
    $found = $null
    foreach ($line in [IO.File]::ReadLines("/proc/$PID/smaps")) {
        if ($line -match '^([0-9a-f]+)-([0-9a-f]+) (\S+) ') {
            if ($found) { break }
            $start = [Convert]::ToUInt64($Matches[1], 16)
            $end = [Convert]::ToUInt64($Matches[2], 16)
            if ($start -le [ulong] $Address -and [ulong] $Address -lt $end) {
                $found = [pscustomobject]@{ Start = $start; End = $end; Permissions = $Matches[3]; VmFlags = @(); Kb = @{} }
            }
        } elseif ($found -and $line -match '^VmFlags:\s*(.*)$') {
            $found.VmFlags = @($Matches[1].Trim() -split '\s+')
        } elseif ($found -and $line -match '^(\w+):\s+(\d+) kB$') {
            $found.Kb[$Matches[1]] = [long] $Matches[2]
        }
    }
    if (-not $found) { throw "no VMA of /proc/$PID/smaps holds 0x$('{0:x}' -f $Address)" }
    $found
}

# Asserts that the tool's count equals the kernel's, read just before and just after it. DAMON
# reclaim may take cold pages between two readings: when the kernel's two readings differ the
# comparison is repeated, and after a few tries the tool's count must lie between them.
function Assert-KernelAgrees([string] $What, [scriptblock] $Kernel, [scriptblock] $Tool) {
    for ($attempt = 0; $attempt -lt 5; $attempt++) {
        $before = [long] (& $Kernel)
        $answer = [long] (& $Tool)
        $after = [long] (& $Kernel)
        if ($before -eq $after) { break }
    }
    $low = [Math]::Min($before, $after)
    $high = [Math]::Max($before, $after)
    if ($answer -lt $low -or $answer -gt $high) { throw "${What}: the tool says $answer, the kernel $before before and $after after" }
    $answer
}

# Minor faults of the calling thread so far: field 10 of /proc/thread-self/stat (fields counted
# after the command name, which may hold spaces).
function Get-ThreadMinorFaults {
    $stat = [IO.File]::ReadAllText('/proc/thread-self/stat')
    [long] (($stat.Substring($stat.LastIndexOf(')') + 2) -split ' ')[10 - 3])
}

# The kernel's major.minor version, from /proc/sys/kernel/osrelease.
function Get-KernelVersion {
    $release = (Get-Content /proc/sys/kernel/osrelease -Raw).Trim()
    [version] (($release -split '[.-]')[0..1] -join '.')
}

# Whether the running kernel was built with a CONFIG_ option: $true, $false, or $null when it does
# not publish its config (/proc/config.gz).
function Test-KernelConfig([string] $Option) {
    if (-not (Test-Path /proc/config.gz)) { return $null }
    $stream = [IO.Compression.GZipStream]::new([IO.File]::OpenRead('/proc/config.gz'), [IO.Compression.CompressionMode]::Decompress)
    $reader = [IO.StreamReader]::new($stream)
    try {
        while ($null -ne ($line = $reader.ReadLine())) {
            if ($line.StartsWith("$Option=")) { return $line.EndsWith('=y') -or $line.EndsWith('=m') }
        }
        $false
    } finally { $reader.Dispose() }
}

Export-ModuleMember -Function Get-FincorePages, Get-OracleSkipReason, Get-FileMincore, Get-FileMincoreCount, Get-MincoreCount,
    Test-Cachestat, Get-CachestatDirty, Get-SmapsVma, Get-ThreadMinorFaults, Assert-KernelAgrees, Get-KernelVersion, Test-KernelConfig
