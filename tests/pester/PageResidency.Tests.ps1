# Get-PageResidency: maps, ranges, files and directory trees, -Summary, -Detail, pipeline input,
# errors, and the same resident-page totals as vmtouch on a directory tree.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Cmd = 'MmapTools.PowerShell.GetPageResidencyCommand'
    # A tree: 3 files at the top, 2 below, an empty file, a FIFO and a symbolic link (both skipped).
    $script:Tree = Join-Path $TestDrive 'tree'
    $script:Big = New-TestFile (Join-Path $Tree 'big.bin') 1MB
    $null = New-TestFile (Join-Path $Tree 'small.bin') 5000
    $null = New-Item -ItemType File -Path (Join-Path $Tree 'empty.bin')
    $null = New-TestFile (Join-Path $Tree 'sub/a.bin') 64KB
    $null = New-TestFile (Join-Path $Tree 'sub/deeper/b.bin') 12KB
    & mkfifo (Join-Path $Tree 'sub/fifo')
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Tree 'link.bin') -Target $Big
    # Pages of each file: big 256, small 2, empty 0, a 16, b 3.
    $script:TreePages = 256 + 2 + 0 + 16 + 3
}

AfterAll { Remove-SessionMaps }

Describe 'Get-PageResidency of files' {
    It 'returns a PageResidency with counts, runs and the source that answered (Path set)' {
        Set-MemoryAdvice -Path $Big -Warm
        Get-FileMincoreCount $Big | Should -Be 256
        $r = Get-PageResidency -Path $Big
        Assert-KernelAgrees 'resident pages' { Get-FileMincoreCount $Big } { (Get-PageResidency -Path $Big).ResidentPages }
        $r | Should -BeOfType ([MmapTools.PageResidency])
        $r.Path | Should -Be $Big
        $r.TotalPages | Should -Be 256
        $r.ResidentPages | Should -Be 256
        $r.Source | Should -Be 'Mincore'
        $r.IsTrusted | Should -BeTrue
        $r.ResidentRuns.Count | Should -Be 1
    }

    It 'carries dirty, writeback and evicted counts where cachestat answers' {
        if (-not (Test-Cachestat $Big)) { Set-ItResult -Skipped -Because "this kernel ($(Get-KernelVersion)) has no cachestat system call (ENOSYS; Linux 6.5+)"; return }
        $r = Get-PageResidency $Big -Detail Summary
        $r.Source | Should -Be 'Cachestat'
        Assert-KernelAgrees 'dirty pages' { Get-CachestatDirty $Big } { (Get-PageResidency $Big -Detail Summary).DirtyPages }
        $r.DirtyPages | Should -Not -BeNullOrEmpty
        $r.WritebackPages | Should -Not -BeNullOrEmpty
        $r.EvictedPages | Should -Not -BeNullOrEmpty
        $r.RecentlyEvictedPages | Should -Not -BeNullOrEmpty
        $r.ResidentRuns | Should -BeNullOrEmpty
    }

    It 'marks residency of a file this user cannot write as untrusted' {
        if ($IsRoot) { Set-ItResult -Skipped -Because 'runs in the unprivileged pass (build.ps1 reruns these files as nobody)'; return }
        # A file owned by root, mode 0644: the one build.ps1's unprivileged pass leaves, or /etc/passwd.
        $file = if ($env:MMAPTOOLS_ROOT_OWNED_FILE) { $env:MMAPTOOLS_ROOT_OWNED_FILE } else { '/etc/passwd' }
        & test -w $file
        if ($LASTEXITCODE -eq 0 -or (& stat -c %u $file) -ne '0') { Set-ItResult -Skipped -Because "$file is not a root-owned file this user cannot write"; return }
        $null = [IO.File]::ReadAllBytes($file)
        $note = 'mincore does not report the page cache of a file this user neither owns nor may write*'
        # mincore calls every page of such a file resident (Linux 5.0 and later), whatever is cached.
        $runs = Get-PageResidency -LiteralPath $file -Detail Runs
        $runs.Source | Should -Be 'Mincore'
        $runs.IsTrusted | Should -BeFalse
        $runs.Note | Should -BeLike $note
        $runs.ResidentPages | Should -Be $runs.TotalPages
        # cachestat refuses such a file (EPERM), so even the summary detail falls back to mincore.
        $counts = Get-PageResidency -LiteralPath $file
        $counts.Source | Should -Be 'Mincore'
        $counts.IsTrusted | Should -BeFalse
        $counts.Note | Should -BeLike $note
        $counts.DirtyPages | Should -BeNullOrEmpty
        $summary = Get-PageResidency -LiteralPath $file -Summary
        $summary.Sources | Should -Be 'Mincore'
        $summary.UntrustedItems | Should -Be 1
    }

    It 'shows pages leaving and coming back: evict, then read one page through a map' {
        Set-MemoryAdvice -Path $Big -Evict
        Get-FileMincoreCount $Big | Should -Be 0
        (Get-PageResidency $Big).ResidentPages | Should -Be 0
        $map = New-MemoryMap $Big
        Set-MemoryAdvice $map Random
        $null = Read-MemoryMap $map -Offset (10 * $PageSize) -Length 1
        (Get-FileMincore $Big)[10] | Should -BeTrue
        $r = Get-PageResidency $Big -Detail Bitmap
        $r.ResidentPages | Should -BeGreaterOrEqual 1
        $r.Bitmap[10] | Should -BeTrue
        $r.ResidentRuns.FirstPage | Should -Contain 10
        Remove-MemoryMap $map
    }

    It 'takes a literal path and a range (LiteralPath set)' {
        Set-MemoryAdvice -Path $Big -Warm
        $r = Get-PageResidency -LiteralPath $Big -Offset 4096 -Length 8192
        Get-FileMincoreCount $Big 4096 8192 | Should -Be 2
        $r.TotalPages | Should -Be 2
        $r.ResidentPages | Should -Be 2
        $r.Offset | Should -Be 4096
    }

    It 'takes files from Get-ChildItem and strings from the pipeline' {
        @(Get-ChildItem $Tree -File -Filter *.bin | Get-PageResidency).Count | Should -Be 3
        @($Big | Get-PageResidency).Count | Should -Be 1
    }

    It 'takes Get-ChildItem and Get-Item objects by value, a name the provider would read as qualifiers included' {
        # A backslash and a colon are plain characters in a Linux file name; typed as a path, the
        # provider's syntax reads them as a separator and a drive, while the object holds the path itself.
        $dir = Join-Path $TestDrive 'odd'
        $null = New-Item -ItemType Directory -Force -Path $dir
        $odd = "$dir/odd\name:1.bin"
        [IO.File]::WriteAllBytes($odd, [byte[]]::new(8KB))
        $parameter = (Get-Command Get-PageResidency).Parameters['InputObject']
        $parameter.ParameterType | Should -Be ([IO.FileSystemInfo[]])
        $parameter.ParameterSets.Values.ValueFromPipeline | Should -Contain $true
        $file = Get-ChildItem -LiteralPath $dir -File
        ($file | Get-PageResidency).Path | Should -Be $odd
        Assert-KernelAgrees 'resident pages' { Get-FileMincoreCount $odd 0 8KB } { ($file | Get-PageResidency).ResidentPages }
        (Get-Item -LiteralPath $Tree | Get-PageResidency -Recurse -Summary).TotalPages | Should -Be (Get-PageResidency -LiteralPath $Tree -Recurse -Summary).TotalPages
    }

    It 'resolves a FileInfo made with a relative path against the PowerShell location, not the process directory' {
        Push-Location $Tree
        try {
            $relative = [IO.FileInfo]::new('big.bin')
            $relative.FullName | Should -Not -Be $Big -Because 'the process directory is not the PowerShell location here'
            ($relative | Get-PageResidency).Path | Should -Be $Big
        } finally { Pop-Location }
    }

    It 'writes PathNotFound for a piped file gone since it was listed, and answers for the others' {
        $gone = New-TestFile (Join-Path $TestDrive 'gone.bin') 4KB
        $items = @(Get-Item -LiteralPath $gone, $Big)
        Remove-Item -LiteralPath $gone
        $records = Get-ErrorRecords { $script:answers = @($items | Get-PageResidency) }
        $records.Count | Should -Be 1
        $records[0].FullyQualifiedErrorId | Should -Be "PathNotFound,$Cmd"
        $answers.Path | Should -Be $Big
    }

    It 'resolves relative paths and wildcards against the PowerShell location' {
        Push-Location $Tree
        try {
            (Get-PageResidency ./big.bin).Path | Should -Be $Big
            @(Get-PageResidency *.bin).Count | Should -Be 3
        } finally { Pop-Location }
    }

    It 'counts a file once however often it is named, a symbolic link as its target' {
        @(Get-PageResidency $Big, $Big, (Join-Path $Tree '*.bin')).Count | Should -Be 3
        (Get-PageResidency (Join-Path $Tree 'link.bin')).Path | Should -Be $Big
    }

    It 'answers for a /proc file of size 0 with no pages' {
        (Get-PageResidency /proc/self/status).TotalPages | Should -Be 0
    }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a missing path'; ErrorId = 'PathNotFound'; Script = { Get-PageResidency (Join-Path $TestDrive 'missing') } }
        @{ Case = 'a path of another provider'; ErrorId = 'NotAFileSystemPath'; Script = { Get-PageResidency Env:HOME } }
        @{ Case = 'a FIFO named directly'; ErrorId = 'NotMappable'; Script = { Get-PageResidency -LiteralPath (Join-Path $Tree 'sub/fifo') } }
        @{ Case = 'a negative offset'; ErrorId = 'OffsetOutOfRange'; Script = { Get-PageResidency $Big -Offset -1 } }
    ) {
        Get-ErrorId $Script | Should -Be "$ErrorId,$Cmd"
    }

    It 'writes one error for a bad path and answers for the others' {
        $records = Get-ErrorRecords { $script:answers = @(Get-PageResidency (Join-Path $TestDrive 'missing'), $Big) }
        $records.Count | Should -Be 1
        $answers.Count | Should -Be 1
    }
}

Describe 'Get-PageResidency of directories' {
    It 'gives the files directly in a directory without -Recurse, in the order the file system lists them' {
        $r = @(Get-PageResidency $Tree)
        $r.Count | Should -Be 3
        ($r.Path | ForEach-Object { Split-Path -Leaf $_ } | Sort-Object) | Should -Be @('big.bin', 'empty.bin', 'small.bin')
    }

    It 'walks the whole tree with -Recurse, skipping the FIFO and the symbolic link' {
        $r = @(Get-PageResidency $Tree -Recurse)
        $r.Count | Should -Be 5
        ($r | Measure-Object TotalPages -Sum).Sum | Should -Be $TreePages
    }

    It 'sums the tree into one ResidencySummary with -Summary' {
        Set-MemoryAdvice -Path $Big -Evict
        Get-ChildItem $Tree -Recurse -File -Exclude big.bin, link.bin, fifo | Set-MemoryAdvice -Warm
        $s = Get-PageResidency $Tree -Recurse -Summary
        $files = Get-ChildItem $Tree -Recurse -File -Exclude link.bin, fifo | Where-Object Length -gt 0
        Assert-KernelAgrees 'resident pages of the tree' { ($files | ForEach-Object { Get-FileMincoreCount $_.FullName } | Measure-Object -Sum).Sum } { (Get-PageResidency $Tree -Recurse -Summary).ResidentPages }
        $s | Should -BeOfType ([MmapTools.PowerShell.ResidencySummary])
        $s.Files | Should -Be 5
        $s.Directories | Should -Be 3
        $s.TotalPages | Should -Be $TreePages
        $s.ResidentPages | Should -Be ($TreePages - 256)
        $s.FailedItems | Should -Be 0
        $s.Sources | Should -Not -BeNullOrEmpty
    }

    It 'gives the same totals from Get-ChildItem -Recurse output as from -Recurse' {
        $fromWalk = Get-PageResidency $Tree -Recurse -Summary
        $fromPipe = Get-ChildItem $Tree -Recurse | Get-PageResidency -Summary
        $fromPipe.Files | Should -Be $fromWalk.Files
        $fromPipe.TotalPages | Should -Be $fromWalk.TotalPages
        $fromPipe.ResidentPages | Should -Be $fromWalk.ResidentPages
    }

    It 'counts hard links to one file once, as vmtouch does' {
        $dir = Join-Path $TestDrive 'hardlinks'
        $file = New-TestFile (Join-Path $dir 'one.bin') 16KB
        $null = New-Item -ItemType HardLink -Path (Join-Path $dir 'two.bin') -Target $file
        $s = Get-PageResidency $dir -Summary
        $s.Files | Should -Be 1
        $s.TotalPages | Should -Be 4
        $r = Get-PageResidency $file
        $r.LinkCount | Should -Be 2
        $r.Inode | Should -BeGreaterThan 0
    }

    It 'answers -Summary with -Detail Runs through mincore with the same totals' {
        $counts = Get-PageResidency $Tree -Recurse -Summary
        $runs = Get-PageResidency $Tree -Recurse -Summary -Detail Runs
        $runs.Sources | Should -Be 'Mincore'
        $runs.ResidentPages | Should -Be $counts.ResidentPages
    }
}

Describe 'Get-PageResidency walking options' {
    BeforeAll {
        # A tree of its own: two files, a link to a file inside, a link to a folder outside, a link
        # back up (a loop), a link to /dev/shm (another file system) and a dangling link.
        $script:Walk = Join-Path $TestDrive 'walk'
        $script:Outside = Join-Path $TestDrive 'outside'
        $null = New-TestFile (Join-Path $Walk 'keep.bin') 8KB
        $null = New-TestFile (Join-Path $Walk 'skip.tmp') 4KB
        $null = New-TestFile (Join-Path $Walk 'logs/big.log') 64KB
        $null = New-TestFile (Join-Path $Outside 'far.bin') 12KB
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Walk 'to-keep') -Target (Join-Path $Walk 'keep.bin')
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Walk 'to-outside') -Target $Outside
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Walk 'logs/up') -Target $Walk
        $script:Shm = "/dev/shm/mmaptools-pester-$PID"
        $null = New-Item -ItemType Directory -Force $Shm
        [IO.File]::WriteAllBytes("$Shm/in-shm.bin", [byte[]]::new(8KB))
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Walk 'to-shm') -Target $Shm
        function Get-Names($Results) { @($Results | ForEach-Object { Split-Path -Leaf $_.Path } | Sort-Object) }
    }

    AfterAll { Remove-Item -LiteralPath $Shm -Recurse -Force -ErrorAction Ignore }

    It 'follows no symbolic links in a walk by default' {
        Get-Names (Get-PageResidency $Walk -Recurse) | Should -Be @('big.log', 'keep.bin', 'skip.tmp')
    }

    It 'follows them with -FollowSymlink, counting each file once and cutting the loop' {
        $s = Get-PageResidency $Walk -Recurse -FollowSymlink -Summary
        # keep.bin counts once, by the path met first: its own or the link's.
        $names = Get-Names (Get-PageResidency $Walk -Recurse -FollowSymlink)
        $names.Count | Should -Be 4
        $names | Should -Contain 'far.bin'
        @($names | Where-Object { $_ -in 'keep.bin', 'to-keep' }).Count | Should -Be 1
        $s.Files | Should -Be 4
        $s.TotalPages | Should -Be (2 + 1 + 16 + 3)
        $s.Directories | Should -Be 3 # walk, logs, outside: the loop back to walk is not walked again
    }

    It 'stays on one file system unless -CrossFileSystem is given' {
        if ((& stat -c %d $Shm) -eq (& stat -c %d $Walk)) { Set-ItResult -Skipped -Because '/dev/shm is on the same file system as TestDrive'; return }
        Get-Names (Get-PageResidency $Walk -Recurse -FollowSymlink) | Should -Not -Contain 'in-shm.bin'
        Get-Names (Get-PageResidency $Walk -Recurse -FollowSymlink -CrossFileSystem) | Should -Contain 'in-shm.bin'
    }

    It 'selects files by name with -Include and -Exclude, case-insensitively like Get-ChildItem' {
        Get-Names (Get-PageResidency $Walk -Recurse -Include *.BIN, *.log) | Should -Be @('big.log', 'keep.bin')
        Get-Names (Get-PageResidency $Walk -Recurse -Exclude *.tmp) | Should -Be @('big.log', 'keep.bin')
        # An excluded directory is not walked.
        Get-Names (Get-PageResidency $Walk -Recurse -Exclude logs) | Should -Be @('keep.bin', 'skip.tmp')
        # Files named directly and piped obey them too.
        @(Get-ChildItem $Walk -File | Get-PageResidency -Exclude *.tmp).Count | Should -Be 1
    }

    It 'skips files larger than -MaxFileSize, like vmtouch -m' {
        Get-Names (Get-PageResidency $Walk -Recurse -MaxFileSize 8KB) | Should -Be @('keep.bin', 'skip.tmp')
        (Get-PageResidency $Walk -Recurse -MaxFileSize 0 -Summary).Files | Should -Be 0
    }

    It 'turns files that vanish mid-walk into errors and goes on' {
        $dir = Join-Path $TestDrive 'vanish'
        foreach ($i in 1..6) { $null = New-TestFile (Join-Path $dir "f$i.bin") 4KB }
        $script:first = $null
        # One thread: more would have examined the other files before the first reached the pipeline.
        $records = Get-ErrorRecords {
            $script:seen = @(Get-PageResidency $dir -ThrottleLimit 1 | ForEach-Object {
                if (-not $script:first) {
                    $script:first = $_.Path
                    Get-ChildItem $dir -File | Where-Object FullName -ne $_.Path | Remove-Item
                }
                $_
            })
        }
        $seen.Count | Should -Be 1
        $records.Count | Should -Be 5
        $records | ForEach-Object { $_.FullyQualifiedErrorId | Should -Be "PathNotFound,$Cmd" }
    }

    It 'shows a progress bar on a walk that takes longer than a second, and none on a shorter one' {
        # The walk's clock is one the test advances by $Step at each file it receives, so the walk
        # takes as long as the test says without sleeping.
        if (-not ('MmapToolsTests.ManualClock' -as [type])) {
            Add-Type -TypeDefinition @'
using System;

namespace MmapToolsTests
{
    public sealed class ManualClock : TimeProvider
    {
        private long _now;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _now;
        public void Advance(TimeSpan by) => _now += by.Ticks;
    }
}
'@
        }
        $clockProperty = [MmapTools.PowerShell.GetPageResidencyCommand].GetProperty('Clock', [Reflection.BindingFlags] 'NonPublic, Static')
        $walkProgress = {
            param([TimeSpan] $Step)
            $clock = [MmapToolsTests.ManualClock]::new()
            $clockProperty.SetValue($null, $clock)
            $ps = [powershell]::Create()
            try {
                $null = $ps.AddScript({
                        param($Manifest, $Dir, $Clock, $Step)
                        Import-Module $Manifest
                        $ProgressPreference = 'Continue'
                        Get-PageResidency $Dir -Recurse | ForEach-Object { $Clock.Advance($Step) }
                    }).AddArgument($ModuleManifest).AddArgument($Walk).AddArgument($clock).AddArgument($Step)
                $null = $ps.Invoke()
                $ps.HadErrors | Should -BeFalse
                , @($ps.Streams.Progress | Where-Object Activity -eq 'Get-PageResidency')
            } finally {
                $ps.Dispose()
                $clockProperty.SetValue($null, [TimeProvider]::System)
            }
        }
        $files = @(Get-PageResidency $Walk -Recurse).Count
        $files | Should -BeGreaterThan 2

        $progress = & $walkProgress ([TimeSpan]::FromSeconds(1))
        $progress.Count | Should -BeGreaterThan 1
        $progress[0].StatusDescription | Should -Match '\d+ files in \d+ directories'
        $progress[-1].RecordType | Should -Be 'Completed'

        # The whole walk within a second: no bar, and so no Completed record either.
        & $walkProgress ([TimeSpan]::FromSeconds(1) / ($files + 1)) | Should -BeNullOrEmpty
    }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a negative -MaxFileSize'; ErrorId = 'ParameterArgumentValidationError'; Script = { Get-PageResidency $Walk -MaxFileSize -1 } }
        @{ Case = 'an empty -Include'; ErrorId = 'ParameterArgumentValidationError'; Script = { Get-PageResidency $Walk -Include @() } }
        @{ Case = 'a dangling link named directly'; ErrorId = 'PathNotFound'; Script = {
                $null = New-Item -ItemType SymbolicLink -Path (Join-Path $TestDrive 'dangling') -Target (Join-Path $TestDrive 'nothing') -Force
                Get-PageResidency -LiteralPath (Join-Path $TestDrive 'dangling') } }
        @{ Case = 'a walk option with a map'; ErrorId = 'AmbiguousParameterSet'; Script = { Get-PageResidency -Map (New-MemoryMap -Anonymous -Size 4KB) -Recurse } }
    ) {
        Get-ErrorId $Script | Should -BeLike "$ErrorId,*"
    }
}

Describe 'Get-PageResidency of maps' {
    It 'answers for a map and a range of it (Map set), from the pipeline' {
        $heap = New-MemoryMap -Anonymous -Size 64KB
        Write-MemoryMap $heap -Offset 0 -Value ([byte[]]::new(8KB))
        $r = $heap | Get-PageResidency
        Get-MincoreCount $heap.Address 64KB | Should -Be $r.ResidentPages
        $r.TotalPages | Should -Be 16
        $r.ResidentPages | Should -Be 2
        $r.ResidentRuns[0].PageCount | Should -Be 2
        (Get-PageResidency -Map $heap -Offset 4096 -Length 4096).TotalPages | Should -Be 1
        Remove-MemoryMap $heap
    }

    It 'sums maps with -Summary' {
        $a = New-MemoryMap -Anonymous -Size 8KB
        $b = New-MemoryMap -Anonymous -Size 8KB
        $s = Get-PageResidency $a, $b -Summary
        $s.Maps | Should -Be 2
        $s.TotalPages | Should -Be 4
        Remove-SessionMaps
    }

    It 'length 0 gives LengthOutOfRange' {
        $heap = New-MemoryMap -Anonymous -Size 8KB
        Get-ErrorId { Get-PageResidency $heap -Length 0 } | Should -Be "LengthOutOfRange,$Cmd"
        Remove-MemoryMap $heap
    }
}

Describe 'Get-PageResidency against vmtouch' {
    BeforeAll {
        $script:Vmtouch = Get-Command vmtouch -CommandType Application -ErrorAction Ignore | Select-Object -First 1
        # vmtouch prints "Resident Pages: 123/456  1M/2M  27%".
        function Get-VmtouchCounts([string] $Path) {
            $text = & $Vmtouch.Source -f $Path 2>$null | Out-String
            if ($text -notmatch 'Resident Pages:\s*(\d+)/(\d+)') { throw "vmtouch printed no page counts: $text" }
            [pscustomobject]@{ Resident = [long] $Matches[1]; Total = [long] $Matches[2]; Files = [long] ($text -replace '(?s).*Files:\s*(\d+).*', '$1') }
        }
    }

    It 'gives the same resident-page totals as vmtouch on a directory tree' {
        if (-not $Vmtouch) {
            $why = if ($IsRoot) { 'vmtouch is not installed (build.ps1 installs it for the test task when run as root)' } else { 'vmtouch is not installed and this user is not root, so it cannot be installed' }
            Set-ItResult -Skipped -Because $why
            return
        }
        # A tree without symbolic links (vmtouch -f follows them; Get-PageResidency never does) and
        # with a mix of resident and evicted files and a half-resident one.
        $root = Join-Path $TestDrive 'vmtouch'
        foreach ($i in 1..6) { $null = New-TestFile (Join-Path $root "d$($i % 3)/f$i.bin") ((17 + $i * 13) * 4KB + $i) }
        Get-ChildItem $root -Recurse -File | Set-MemoryAdvice -Evict
        Get-ChildItem $root -Recurse -File | Select-Object -First 3 | Set-MemoryAdvice -Warm
        $half = Get-ChildItem $root -Recurse -File | Select-Object -Last 1
        Set-MemoryAdvice -LiteralPath $half.FullName -Warm -Length ($half.Length / 2)
        $ours = Get-PageResidency $root -Recurse -Summary
        $theirs = Get-VmtouchCounts $root
        $ours.ResidentPages | Should -Be $theirs.Resident
        $ours.TotalPages | Should -Be $theirs.Total
        $ours.Files | Should -Be $theirs.Files
        $ours.ResidentPages | Should -BeGreaterThan 0
        $ours.ResidentPages | Should -BeLessThan $ours.TotalPages
    }

    It 'agrees with vmtouch on a system directory' {
        if (-not $Vmtouch) { Set-ItResult -Skipped -Because 'vmtouch is not installed'; return }
        $dir = '/usr/share/dotnet/shared'
        if (-not (Test-Path $dir)) { Set-ItResult -Skipped -Because "$dir is missing"; return }
        $ours = Get-PageResidency $dir -Recurse -Summary
        $theirs = Get-VmtouchCounts $dir
        $ours.TotalPages | Should -Be $theirs.Total
        # Pages may come and go between the two calls on a live system: allow a small drift.
        [Math]::Abs($ours.ResidentPages - $theirs.Resident) | Should -BeLessOrEqual ([Math]::Max(16, $theirs.Total / 1000))
    }
}
