# What every *.Experiments.ps1 shares: the one way to record a claim's measurement and verdict,
# a scratch directory on a disk-backed file system, children (python3, a C compiler) for what must
# happen in another process, the compiled loops of Probe.cs, and readers of /proc.
#
# Each experiments file calls Initialize-ExperimentLog with its name in BeforeAll; each It ends with
# Set-ExperimentResult (or Skip-Experiment), which appends one JSON line to
# <results>/<file>.jsonl. The results directory is $env:MMAPTOOLS_EXPERIMENT_RESULTS, else
# artifacts/experiments/results. Write-ExperimentReport.ps1 renders the lines as report.md/.html.
Set-StrictMode -Version Latest

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
# The raw cachestat probe the cmdlet tests use, so that what the kernel offers is decided without the tool.
Import-Module (Join-Path $PSScriptRoot '../pester/KernelOracle.psm1') -Function Test-Cachestat
$script:LogPath = $null
$script:LogFile = $null
$script:Sequence = 0
$script:Profile = $null

# The sections the claims are grouped in, in the order the report follows.
$script:Sections = @(
    'introduction', 'how it works', 'flags that matter', 'anonymous mappings', 'shared memory',
    'msync and coherence', 'when mmap is good', 'when mmap is bad', 'munmap and cleanup', 'notes'
)

# ---------------------------------------------------------------- results

function Get-ExperimentResultDirectory {
    if ($env:MMAPTOOLS_EXPERIMENT_RESULTS) { return $env:MMAPTOOLS_EXPERIMENT_RESULTS }
    Join-Path $script:RepoRoot 'artifacts/experiments/results'
}

<#
.SYNOPSIS
    Starts the results of one experiments file: <results>/<Name>.jsonl, emptied.
#>
function Initialize-ExperimentLog {
    param([Parameter(Mandatory)] [string] $Name)
    $directory = Get-ExperimentResultDirectory
    $null = New-Item -ItemType Directory -Force -Path $directory
    $script:LogFile = $Name
    $script:LogPath = Join-Path $directory "$Name.jsonl"
    $script:Sequence = 0
    Set-Content -LiteralPath $script:LogPath -Value $null -NoNewline
    $null = Get-ExperimentProfile
}

<#
.SYNOPSIS
    The machine profile (Get-MachineMemoryProfile) of the scratch directory's file system, read once
    a process and written to <results>/profile.json for the report, which opens with it.
#>
function Get-ExperimentProfile {
    if ($script:Profile) { return $script:Profile }
    $scratch = Join-Path $script:RepoRoot 'artifacts/experiments/scratch'
    $null = New-Item -ItemType Directory -Force -Path $scratch
    $script:Profile = Get-MachineMemoryProfile -LiteralPath $scratch -ErrorAction Stop
    $file = Join-Path (Get-ExperimentResultDirectory) 'profile.json'
    $null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $file)
    if (-not (Test-Path -LiteralPath $file) -or (Get-Item -LiteralPath $file).LastWriteTime -lt (Get-Process -Id $PID).StartTime) {
        @($script:Profile.Facts | Select-Object Name, Value, Known, How) | ConvertTo-Json -Depth 3 | Set-Content -LiteralPath $file
    }
    $script:Profile
}

<#
.SYNOPSIS
    "Name = value (how)" of facts of the machine profile: what a verdict names to explain itself.
#>
function Get-ProfileFact {
    param([Parameter(Mandatory)] [string[]] $Name)
    $machine = Get-ExperimentProfile
    ($Name | ForEach-Object { $machine.Explain($_) }) -join '; '
}

<#
.SYNOPSIS
    Records what an experiment measured and its verdict on the claim.
.PARAMETER Claim
    The claim, in words that make sense on their own.
.PARAMETER Section
    The section of $script:Sections it belongs to.
.PARAMETER Measured
    Name -> value: the numbers (and a few facts) measured here, in an ordered dictionary.
.PARAMETER Verdict
    holds | holds with a nuance | does not hold here | cannot be measured here.
.PARAMETER Why
    The reading of the numbers: what really happens here, in plain words.
#>
function Set-ExperimentResult {
    param(
        [Parameter(Mandatory)] [string] $Claim,
        [Parameter(Mandatory)] [string] $Section,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Measured,
        [Parameter(Mandatory)] [ValidateSet('holds', 'holds with a nuance', 'does not hold here', 'cannot be measured here')] [string] $Verdict,
        [Parameter(Mandatory)] [string] $Why,
        # Facts of the machine profile that explain the verdict; named in the record and the report.
        [string[]] $Fact = @()
    )
    if ($Fact) { $Why += " Machine: $(Get-ProfileFact $Fact)." }
    if (-not $script:LogPath) { throw 'Initialize-ExperimentLog was not called in this file''s BeforeAll.' }
    if ($Section -notin $script:Sections) { throw "'$Section' is not a section of the report ($($script:Sections -join ', '))." }
    $values = [ordered]@{}
    foreach ($key in $Measured.Keys) { $values[[string] $key] = ConvertTo-ReportValue $Measured[$key] }
    $script:Sequence++
    $record = [ordered]@{
        file     = $script:LogFile
        sequence = $script:Sequence
        section  = $Section
        claim    = $Claim
        verdict  = $Verdict
        measured = $values
        why      = $Why
        facts    = @($Fact)
        at       = [DateTime]::UtcNow.ToString('o')
    }
    Add-Content -LiteralPath $script:LogPath -Value ($record | ConvertTo-Json -Compress -Depth 4)
}

<#
.SYNOPSIS
    Records that a claim cannot be measured here (with why, and whatever was measured) and skips the It.
#>
function Skip-Experiment {
    param(
        [Parameter(Mandatory)] [string] $Claim,
        [Parameter(Mandatory)] [string] $Section,
        [System.Collections.IDictionary] $Measured = [ordered]@{},
        [Parameter(Mandatory)] [string] $Why,
        [string[]] $Fact = @()
    )
    Set-ExperimentResult -Claim $Claim -Section $Section -Measured $Measured -Verdict 'cannot be measured here' -Why $Why -Fact $Fact
    Set-ItResult -Skipped -Because $Why
}

# Numbers keep up to 3 decimals; booleans and strings pass; lists become "a, b, c".
function ConvertTo-ReportValue($Value) {
    if ($null -eq $Value) { return 'n/a' }
    if ($Value -is [double] -or $Value -is [single] -or $Value -is [decimal]) { return [Math]::Round([double] $Value, 3) }
    if ($Value -is [TimeSpan]) { return [Math]::Round($Value.TotalMilliseconds, 3) }
    if ($Value -is [string] -or $Value -is [bool] -or $Value -is [ValueType]) { return $Value }
    if ($Value -is [System.Collections.IEnumerable]) { return (@($Value) | ForEach-Object { ConvertTo-ReportValue $_ }) -join ', ' }
    [string] $Value
}

# ---------------------------------------------------------------- files

<#
.SYNOPSIS
    A scratch directory for this experiments file on a disk-backed file system (artifacts/experiments/scratch):
    page-cache experiments need pages that can be evicted and read back from a disk, which tmpfs cannot give.
#>
function New-ExperimentDirectory {
    param([Parameter(Mandatory)] [string] $Name)
    $path = Join-Path $script:RepoRoot "artifacts/experiments/scratch/$Name-$PID"
    $null = New-Item -ItemType Directory -Force -Path $path
    (Resolve-Path -LiteralPath $path).ProviderPath
}

function Remove-ExperimentDirectory([string] $Path) {
    if ($Path -and (Test-Path -LiteralPath $Path)) { Remove-Item -LiteralPath $Path -Recurse -Force -ErrorAction Continue }
    $parent = Split-Path -Parent $Path
    if ((Test-Path -LiteralPath $parent) -and -not (Get-ChildItem -LiteralPath $parent -Force)) { Remove-Item -LiteralPath $parent -ErrorAction Ignore }
}

# The file system type of a path (ext4 appears as ext2/ext3 to stat -f).
function Get-FileSystemType([string] $Path) {
    $type = & stat -f -c '%T' $Path 2>$null
    if ($LASTEXITCODE -eq 0) { $type } else { 'unknown' }
}

<#
.SYNOPSIS
    Writes a file of Size random bytes (seeded) and flushes it to the disk, so that it can be evicted.
#>
function New-ExperimentFile {
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [long] $Size, [int] $Seed = 1)
    $chunk = [byte[]]::new([Math]::Min($Size, 4MB))
    $random = [Random]::new($Seed)
    $stream = [IO.File]::Create($Path)
    try {
        for ($done = 0L; $done -lt $Size; $done += $chunk.Length) {
            $random.NextBytes($chunk)
            $stream.Write($chunk, 0, [int] [Math]::Min($chunk.Length, $Size - $done))
        }
        $stream.Flush($true)
    } finally { $stream.Dispose() }
    $Path
}

<#
.SYNOPSIS
    Whether the kernel counts a file's dirty pages (cachestat, Linux 6.5+), asked of the kernel by a
    raw cachestat call; where it does, Get-PageResidency must report dirty counts, or this throws.
#>
function Test-DirtyCounts {
    param([Parameter(Mandatory)] [string] $Directory)
    $probe = New-ExperimentFile (Join-Path $Directory 'dirty-probe.bin') 4096
    try {
        if (-not (Test-Cachestat $probe)) { return $false }
        if ($null -eq (Get-PageResidency $probe -Summary).DirtyPages) {
            throw "The kernel answers cachestat on $probe, but Get-PageResidency reports no dirty pages for it."
        }
        $true
    } finally { Remove-Item -LiteralPath $probe }
}

<#
.SYNOPSIS
    A file's dirty and under-write-back pages as the kernel counts them, by a raw cachestat call of
    the test oracle (not through MmapTools); throws when the call fails.
#>
function Get-KernelDirtyCount {
    param([Parameter(Mandatory)] [string] $Path)
    $errno = 0
    $counts = [MmapToolsTests.RawKernel]::CachestatOf($Path, 0, 0, [ref] $errno)
    if ($errno -ne 0) { throw "cachestat of $Path failed with errno $errno" }
    [pscustomobject]@{ Dirty = [long] $counts.Dirty; Writeback = [long] $counts.Writeback }
}

<#
.SYNOPSIS
    The tool's dirty count of a file (Get-PageResidency) between two raw cachestat readings. No one
    writes the file meanwhile, so its dirty count can only fall: Low is the kernel's later reading,
    High its earlier one.
#>
function Get-BracketedDirty {
    param([Parameter(Mandatory)] [string] $Path)
    $before = Get-KernelDirtyCount $Path
    $tool = (Get-PageResidency -LiteralPath $Path -Summary).DirtyPages
    $after = Get-KernelDirtyCount $Path
    [pscustomobject]@{ Tool = $tool; Low = $after.Dirty; High = $before.Dirty }
}

# A count of the tool lies within the kernel's readings taken around it.
function Assert-Within([long] $Tool, [long] $Low, [long] $High, [string] $What) {
    $Tool | Should -BeGreaterOrEqual $Low -Because "$What by the tool must not be below the kernel's later reading ($Low)"
    $Tool | Should -BeLessOrEqual $High -Because "$What by the tool must not be above the kernel's earlier reading ($High)"
}

$script:NoDirtyCountsReason = 'This kernel has no cachestat system call (ENOSYS; it came in Linux 6.5), so it counts no dirty pages, and this claim is about them.'
function Get-NoDirtyCountsReason { $script:NoDirtyCountsReason }

# ---------------------------------------------------------------- children

<#
.SYNOPSIS
    The python3 that children run with (Debian's /usr/bin/python3 first), or $null.
#>
function Get-Python {
    foreach ($candidate in '/usr/bin/python3', 'python3') {
        $command = Get-Command $candidate -CommandType Application -ErrorAction Ignore | Select-Object -First 1
        if ($command) { return $command.Source }
    }
    $null
}

# The C compiler (cc or gcc), or $null: CI's fresh machine may have none.
function Get-CCompiler {
    foreach ($candidate in 'cc', 'gcc') {
        $command = Get-Command $candidate -CommandType Application -ErrorAction Ignore | Select-Object -First 1
        if ($command) { return $command.Source }
    }
    $null
}

$script:SignalNames = @{ 6 = 'SIGABRT'; 7 = 'SIGBUS'; 9 = 'SIGKILL'; 11 = 'SIGSEGV'; 15 = 'SIGTERM' }

<#
.SYNOPSIS
    Runs a program to its end and returns its exit code, the signal that killed it (if one did),
    its output and its error output. .NET reports a child killed by signal N as exit code 128 + N.
#>
function Invoke-Child {
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [string] $InputText,
        [int] $TimeoutSeconds = 60
    )
    $info = [Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($argument in $ArgumentList) { $info.ArgumentList.Add($argument) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.RedirectStandardInput = $true
    $info.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($info)
    try {
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if ($InputText) { $process.StandardInput.Write($InputText) }
        $process.StandardInput.Close()
        if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
            $process.Kill($true)
            throw "$FilePath did not finish within $TimeoutSeconds s"
        }
        $process.WaitForExit()
        $code = $process.ExitCode
        $signal = if ($code -gt 128 -and $code -lt 160) { $code - 128 } else { 0 }
        [pscustomobject]@{
            ExitCode   = $code
            Signal     = $signal
            SignalName = if ($signal) { $script:SignalNames[$signal] ?? "signal $signal" } else { '' }
            StdOut     = $stdout.Result
            StdErr     = $stderr.Result
        }
    } finally { $process.Dispose() }
}

# What every python child starts with: libc through ctypes with the kernel's constants, no core
# dumps when it is killed on purpose, and out(**values) to report one JSON line.
$script:PythonPrelude = @'
import ctypes, ctypes.util, json, mmap, os, resource, signal, sys, time
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
if hasattr(libc, 'malloc_trim'):  # glibc
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.sbrk.restype = ctypes.c_void_p
    libc.sbrk.argtypes = [ctypes.c_long]
PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_NORESERVE, MAP_POPULATE, MAP_FIXED_NOREPLACE = 0x4000, 0x8000, 0x100000
MAP_FAILED = ctypes.c_void_p(-1).value
PAGE = os.sysconf('SC_PAGE_SIZE')
def out(**values):
    print(json.dumps(values), flush=True)
def peek(address):
    return ctypes.c_ubyte.from_address(address).value
def poke(address, value):
    ctypes.c_ubyte.from_address(address).value = value
def region_of(address):
    for line in open('/proc/self/maps'):
        span = line.split()[0].split('-')
        if int(span[0], 16) <= address < int(span[1], 16):
            return line.split()
    return None
'@

<#
.SYNOPSIS
    Runs python3 -c Code with arguments (Invoke-Child), after a prelude that binds libc with
    ctypes (see $PythonPrelude); the last line of output that is JSON is parsed into Data.
#>
function Invoke-Python {
    param([Parameter(Mandatory)] [string] $Code, [string[]] $ArgumentList = @(), [int] $TimeoutSeconds = 60)
    $python = Get-Python
    if (-not $python) { throw 'python3 is not available' }
    $result = Invoke-Child -FilePath $python -ArgumentList (@('-c', ($script:PythonPrelude + "`n" + $Code)) + $ArgumentList) -TimeoutSeconds $TimeoutSeconds
    $last = ($result.StdOut -split '\r?\n' | Where-Object { $_ -match '^\s*[\[{]' } | Select-Object -Last 1)
    $data = if ($last) { try { $last | ConvertFrom-Json } catch { $null } }
    $result | Add-Member -NotePropertyName Data -NotePropertyValue $data -PassThru
}

<#
.SYNOPSIS
    Starts python3 -c Code as a long-lived child that talks through lines on stdin/stdout; read with
    Read-ChildLine, end with Stop-Child.
#>
function Start-PythonChild {
    param([Parameter(Mandatory)] [string] $Code, [string[]] $ArgumentList = @())
    $python = Get-Python
    if (-not $python) { throw 'python3 is not available' }
    $info = [Diagnostics.ProcessStartInfo]::new($python)
    foreach ($argument in @('-u', '-c', ($script:PythonPrelude + "`n" + $Code)) + $ArgumentList) { $info.ArgumentList.Add($argument) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardInput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    [Diagnostics.Process]::Start($info)
}

# The next line the child writes, or a throw after TimeoutSeconds (with what it wrote to stderr).
function Read-ChildLine {
    param([Parameter(Mandatory)] [Diagnostics.Process] $Process, [int] $TimeoutSeconds = 30)
    $task = $Process.StandardOutput.ReadLineAsync()
    if (-not $task.Wait($TimeoutSeconds * 1000)) { throw "the child $($Process.Id) wrote nothing within $TimeoutSeconds s" }
    if ($null -eq $task.Result) { throw "the child $($Process.Id) ended: $($Process.StandardError.ReadToEnd())" }
    $task.Result
}

function Send-ChildLine([Diagnostics.Process] $Process, [string] $Line) {
    $Process.StandardInput.WriteLine($Line)
    $Process.StandardInput.Flush()
}

# Closes the child's stdin (the children here exit on end of input) and waits; kills it if it lingers.
function Stop-Child([Diagnostics.Process[]] $Process) {
    foreach ($p in $Process) {
        if (-not $p) { continue }
        try { $p.StandardInput.Close() } catch { }
        if (-not $p.WaitForExit(10000)) { $p.Kill($true) }
        $p.Dispose()
    }
}

# ---------------------------------------------------------------- compiled loops

<#
.SYNOPSIS
    Compiles Probe.cs once per process (Add-Type): [MmapExperiments.Probe] and [MmapExperiments.Toucher].
#>
function Initialize-Probe {
    if ('MmapExperiments.Probe' -as [type]) { return }
    Add-Type -Path (Join-Path $PSScriptRoot 'Probe.cs') -CompilerOptions '/unsafe'
    # The first calls pay for P/Invoke stubs and the clock: pay them here, not in a measurement.
    $buffer = [Runtime.InteropServices.Marshal]::AllocHGlobal(64KB)
    try {
        $offsets = [MmapExperiments.Probe]::Offsets(64KB, 4KB)
        $null = [MmapExperiments.Probe]::Touch($buffer, $offsets, $true)
        $null = [MmapExperiments.Probe]::Touch($buffer, $offsets, $false)
        $null = [MmapExperiments.Probe]::Scan($buffer, 64KB)
    } finally { [Runtime.InteropServices.Marshal]::FreeHGlobal($buffer) }
}

# ---------------------------------------------------------------- /proc

# Fields of /proc/PID/status in bytes (VmRSS, VmSize, RssAnon, ...) or counts (Threads).
function Get-ProcessStatus([int] $ProcessId = $PID) {
    $status = @{}
    foreach ($line in [IO.File]::ReadAllLines("/proc/$ProcessId/status")) {
        if ($line -match '^(\w+):\s+(\d+)( kB)?$') { $status[$Matches[1]] = [long] $Matches[2] * ($Matches[3] ? 1024 : 1) }
    }
    $status
}

# /proc/meminfo in bytes (HugePages_* as counts).
function Get-MemInfo {
    $info = @{}
    foreach ($line in [IO.File]::ReadAllLines('/proc/meminfo')) {
        if ($line -match '^(\w+(?:\(\w+\))?):\s+(\d+)( kB)?$') { $info[$Matches[1]] = [long] $Matches[2] * ($Matches[3] ? 1024 : 1) }
    }
    $info
}

# The calling thread's I/O counters (/proc/thread-self/io): syscr and syscw count read-type and
# write-type system calls. Read with exactly one pread, so that reading them costs one syscr.
function Get-ThreadIo {
    # An unbuffered FileStream: one Read is one pread.
    $stream = [IO.FileStream]::new('/proc/thread-self/io', 'Open', 'Read', 'ReadWrite', 0)
    try {
        $buffer = [byte[]]::new(4096)
        $count = $stream.Read($buffer, 0, $buffer.Length)
    } finally { $stream.Dispose() }
    $io = @{}
    foreach ($line in [Text.Encoding]::ASCII.GetString($buffer, 0, $count) -split '\n') {
        if ($line -match '^(\w+):\s+(\d+)$') { $io[$Matches[1]] = [long] $Matches[2] }
    }
    $io
}

<#
.SYNOPSIS
    The kernel's own view of Pages pages of this process from Address, read straight from
    /proc/self/pagemap (not through MmapTools): how many are mapped (present) and how many of those
    are this process's own (mapped exclusively: allocated, not the shared zero page or a page
    another process maps too).
#>
function Get-PagemapCount {
    param([Parameter(Mandatory)] [long] $Address, [Parameter(Mandatory)] [long] $Pages)
    $stream = [IO.FileStream]::new('/proc/self/pagemap', 'Open', 'Read', 'ReadWrite', 0)
    try {
        $present = 0L; $exclusive = 0L
        $buffer = [byte[]]::new(8 * [Math]::Min($Pages, 65536))
        for ($done = 0L; $done -lt $Pages; $done += $buffer.Length / 8) {
            $stream.Position = ([uint64] $Address / [uint64] [Environment]::SystemPageSize + $done) * 8
            $want = [int] [Math]::Min($buffer.Length, ($Pages - $done) * 8)
            $stream.ReadExactly($buffer, 0, $want)
            for ($i = 0; $i -lt $want; $i += 8) {
                $entry = [BitConverter]::ToUInt64($buffer, $i)
                if ($entry -band (1UL -shl 63)) { $present++; if ($entry -band (1UL -shl 56)) { $exclusive++ } }
            }
        }
        [pscustomobject]@{ Present = $present; Exclusive = $exclusive }
    } finally { $stream.Dispose() }
}

<#
.SYNOPSIS
    A file's cached pages as util-linux fincore counts them (its own mmap and mincore), or $null
    where fincore is missing.
#>
function Get-FincorePages([string] $Path) {
    if (-not (Get-Command fincore -CommandType Application -ErrorAction Ignore)) { return $null }
    $line = & fincore --noheadings --raw --output PAGES -- $Path
    if ($LASTEXITCODE -ne 0) { throw "fincore $Path failed: $line" }
    [long] "$line".Trim()
}

<#
.SYNOPSIS
    The tool's resident-page count of a file (Get-PageResidency -Summary) bracketed by fincore's
    counts right before and right after it: DAMON reclaim or other work may take cold pages at any
    moment, so the tool is right when its count lies between the two. Low/High are fincore's.
#>
function Get-BracketedResidency([string] $Path) {
    $before = Get-FincorePages $Path
    $tool = (Get-PageResidency -LiteralPath $Path -Summary).ResidentPages
    $after = Get-FincorePages $Path
    [pscustomobject]@{
        Tool = $tool
        Low  = if ($null -ne $before) { [Math]::Min($before, $after) } else { $null }
        High = if ($null -ne $before) { [Math]::Max($before, $after) } else { $null }
    }
}

<#
.SYNOPSIS
    The regions of a process as /proc/PID/smaps lists them, read here (not through MmapTools):
    Start, End, Path ('' for none) and Rss in bytes.
#>
function Read-SmapsRegions {
    param([int] $ProcessId = $PID)
    $regions = [Collections.Generic.List[object]]::new()
    $current = $null
    foreach ($line in [IO.File]::ReadAllLines("/proc/$ProcessId/smaps")) {
        if ($line -match '^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$') {
            $current = [pscustomobject]@{ Start = [Convert]::ToUInt64($Matches[1], 16); End = [Convert]::ToUInt64($Matches[2], 16); Path = $Matches[3].Trim(); Rss = 0L }
            $regions.Add($current)
        } elseif ($current -and $line -match '^Rss:\s+(\d+) kB$') { $current.Rss = [long] $Matches[1] * 1KB }
    }
    $regions.ToArray()
}

<#
.SYNOPSIS
    The region of a process that holds Address as the tool gives it (Get-MemoryMap -ProcessId), held
    against /proc/PID/smaps read here just before and just after it: bounds, path and Rss must be
    the kernel's (the process is waiting, so only reclaim could move its Rss; then the kernel's two
    readings differ, and the reading is taken again). Where the kernel maps nothing at the address,
    the tool must list no region either. Returns the tool's region, or $null.
#>
function Assert-RegionAgrees {
    param([Parameter(Mandatory)] [long] $Address, [int] $ProcessId = $PID, [string] $What = 'the region')
    for ($attempt = 0; $attempt -lt 5; $attempt++) {
        $before = Read-SmapsRegions $ProcessId | Where-Object { $_.Start -le [ulong] $Address -and [ulong] $Address -lt $_.End } | Select-Object -First 1
        $tool = Get-MemoryMap -ProcessId $ProcessId | Where-Object { $_.Start -le [ulong] $Address -and [ulong] $Address -lt $_.End } | Select-Object -First 1
        $after = Read-SmapsRegions $ProcessId | Where-Object { $_.Start -le [ulong] $Address -and [ulong] $Address -lt $_.End } | Select-Object -First 1
        if (($before | ConvertTo-Json -Compress) -eq ($after | ConvertTo-Json -Compress)) { break }
    }
    $where = "${What} of process $ProcessId at 0x{0:x}" -f $Address
    if (-not $after) {
        $tool | Should -BeNullOrEmpty -Because "/proc/$ProcessId/smaps maps nothing at the address ($where)"
        return $null
    }
    $tool | Should -Not -BeNullOrEmpty -Because "/proc/$ProcessId/smaps maps 0x$('{0:x}' -f $after.Start)-0x$('{0:x}' -f $after.End) there ($where)"
    "$($tool.Start)-$($tool.End)" | Should -Be "$($after.Start)-$($after.End)" -Because "the tool's bounds must be smaps' ($where)"
    [string] $tool.Path | Should -Be $after.Path -Because "the tool's path must be smaps' ($where)"
    $tool.Rss | Should -BeGreaterOrEqual ([Math]::Min($before.Rss, $after.Rss)) -Because "the tool's Rss must lie within smaps' readings around it ($where)"
    $tool.Rss | Should -BeLessOrEqual ([Math]::Max($before.Rss, $after.Rss)) -Because "the tool's Rss must lie within smaps' readings around it ($where)"
    $tool
}

# The TLB shootdown interrupts of every CPU together (/proc/interrupts, x86), or $null where the kernel counts none.
function Get-TlbShootdowns {
    $line = [IO.File]::ReadAllLines('/proc/interrupts') | Where-Object { $_ -match '^\s*TLB:' } | Select-Object -First 1
    if (-not $line) { return $null }
    [long] (($line -replace '^\s*TLB:', '' -split '\s+' | Where-Object { $_ -match '^\d+$' } | Measure-Object -Sum).Sum)
}

# The region of this process (Get-MemoryMap -ProcessId) that holds the address.
function Get-RegionOf {
    param([Parameter(Mandatory)] [long] $Address, [int] $ProcessId = $PID)
    Get-MemoryMap -ProcessId $ProcessId | Where-Object { [decimal] $_.Start -le $Address -and $Address -lt [decimal] $_.End } | Select-Object -First 1
}

# A value of /proc/sys (vm/max_map_count ...) as text.
function Get-Sysctl([string] $Name) { (Get-Content -Raw -LiteralPath "/proc/sys/$Name").Trim() }

<#
.SYNOPSIS
    Runs the script block with /proc/sys/Name set to Value (root only), and puts the old value back
    whatever happens. Returns the script block's output.
#>
function Use-Sysctl {
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Value, [Parameter(Mandatory)] [scriptblock] $ScriptBlock)
    $path = "/proc/sys/$Name"
    $old = Get-Sysctl $Name
    [IO.File]::WriteAllText($path, $Value)
    try { & $ScriptBlock } finally { [IO.File]::WriteAllText($path, $old) }
}

function Test-Root { (& id -u) -eq '0' }

# Whether the running kernel was built with CONFIG_NAME (y or m); $null when /proc/config.gz is missing.
function Test-KernelConfig([string] $Name) {
    if (-not (Test-Path -LiteralPath '/proc/config.gz')) { return $null }
    $stream = [IO.Compression.GZipStream]::new([IO.File]::OpenRead('/proc/config.gz'), [IO.Compression.CompressionMode]::Decompress)
    try {
        $text = [IO.StreamReader]::new($stream).ReadToEnd()
    } finally { $stream.Dispose() }
    $text -match "(?m)^CONFIG_$Name=[ym]$"
}

# Waits until the condition holds or the timeout passes; returns the seconds it took, or $null.
function Wait-Until {
    param([Parameter(Mandatory)] [scriptblock] $Condition, [double] $TimeoutSeconds = 10, [int] $PollMilliseconds = 50)
    $watch = [Diagnostics.Stopwatch]::StartNew()
    while ($watch.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
        if (& $Condition) { return [Math]::Round($watch.Elapsed.TotalSeconds, 3) }
        Start-Sleep -Milliseconds $PollMilliseconds
    }
    $null
}

# A ratio rounded for the report (b/a), safe against zero.
function Get-Ratio([double] $Numerator, [double] $Denominator) {
    if ($Denominator -le 0) { return [double]::PositiveInfinity }
    [Math]::Round($Numerator / $Denominator, 2)
}

Export-ModuleMember -Function @(
    'Initialize-ExperimentLog', 'Set-ExperimentResult', 'Skip-Experiment', 'Get-ExperimentResultDirectory', 'Get-ExperimentProfile', 'Get-ProfileFact', 'Get-PagemapCount', 'Get-FincorePages', 'Get-BracketedResidency'
    'New-ExperimentDirectory', 'Remove-ExperimentDirectory', 'Get-FileSystemType', 'New-ExperimentFile', 'Test-DirtyCounts', 'Get-KernelDirtyCount', 'Get-BracketedDirty', 'Assert-Within', 'Get-NoDirtyCountsReason'
    'Get-Python', 'Get-CCompiler', 'Invoke-Child', 'Invoke-Python', 'Start-PythonChild', 'Read-ChildLine', 'Send-ChildLine', 'Stop-Child'
    'Initialize-Probe', 'Get-ProcessStatus', 'Get-MemInfo', 'Get-ThreadIo', 'Get-TlbShootdowns', 'Get-RegionOf', 'Read-SmapsRegions', 'Assert-RegionAgrees'
    'Get-Sysctl', 'Use-Sysctl', 'Test-Root', 'Test-KernelConfig', 'Wait-Until', 'Get-Ratio'
)
