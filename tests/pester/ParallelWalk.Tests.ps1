# Get-PageResidency -Recurse on several threads: the same objects and errors, in the same order, as on
# one; Ctrl+C (Stop) ends a walk; -ThrottleLimit out of range is refused; a file whose cached pages
# alternate gives its counts, no runs, and a warning naming -Detail Bitmap and -Summary.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Cmd = 'MmapTools.PowerShell.GetPageResidencyCommand'
    # Three directories of 80 files (more than a batch of 32), a dangling link, a link loop, a socket.
    $script:Tree = Join-Path $TestDrive 'walk'
    foreach ($d in 'a', 'b/c', 'd') {
        $dir = New-Item -ItemType Directory -Force -Path (Join-Path $Tree $d)
        for ($i = 0; $i -lt 80; $i++) { [IO.File]::WriteAllBytes((Join-Path $dir "f$i.bin"), [byte[]]::new($i * 97)) }
    }
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Tree 'a/dangling') -Target (Join-Path $Tree 'nothing-here')
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Tree 'd/loop') -Target (Join-Path $Tree 'd/loop')
    $socket = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
    $socket.Bind([Net.Sockets.UnixDomainSocketEndPoint]::new((Join-Path $Tree 'b/socket')))
    $socket.Dispose()

    # Each object and error of a walk as one line, in order.
    function Get-WalkLines([int] $ThrottleLimit) {
        $ErrorActionPreference = 'Continue' # the runner's Stop would end the walk at its first error
        Get-PageResidency -LiteralPath $Tree -Recurse -FollowSymlink -ThrottleLimit $ThrottleLimit 2>&1 | ForEach-Object {
            if ($_ -is [Management.Automation.ErrorRecord]) { "error $($_.TargetObject) $($_.FullyQualifiedErrorId)" }
            else { "file $($_.Path) $($_.ResidentPages)/$($_.TotalPages)" }
        }
    }
}

Describe 'Get-PageResidency -Recurse on several threads' {
    It 'gives the objects and errors of one thread, in the same order' {
        $one = @(Get-WalkLines 1)
        $four = @(Get-WalkLines 4)
        if (Compare-Object $one $four -SyncWindow 0) {
            # Proactive reclaim may take cold pages between two walks: walk again once.
            $one = @(Get-WalkLines 1)
            $four = @(Get-WalkLines 4)
        }
        $four | Should -Be $one
        @($one | Where-Object { $_ -like 'file *' }).Count | Should -Be 240
        @($one -like "error $(Join-Path $Tree 'a/dangling') *,$Cmd").Count | Should -Be 1
        @($one -like "error $(Join-Path $Tree 'd/loop') *,$Cmd").Count | Should -Be 1
    }

    It 'totals the same with -Summary whatever the number of threads, and as fincore counts' {
        $one = Get-PageResidency -LiteralPath $Tree -Recurse -Summary -ThrottleLimit 1
        $many = Get-PageResidency -LiteralPath $Tree -Recurse -Summary
        $many.Files | Should -Be $one.Files
        $many.TotalPages | Should -Be $one.TotalPages
        Assert-KernelAgrees 'resident pages of the tree' {
            $files = @(Get-ChildItem -LiteralPath $Tree -Recurse -File -Filter *.bin).FullName
            (& fincore --bytes --noheadings --raw --output PAGES $files | Measure-Object -Sum).Sum
        } { (Get-PageResidency -LiteralPath $Tree -Recurse -Summary).ResidentPages }
    }

    It 'refuses -ThrottleLimit <Limit>' -TestCases @(@{ Limit = 0 }, @{ Limit = 1025 }) {
        Get-ErrorId { Get-PageResidency -LiteralPath $Tree -Recurse -ThrottleLimit $Limit } | Should -Be "ParameterArgumentValidationError,$Cmd"
    }

    It 'stops when the pipeline is stopped (Ctrl+C), before the walk ends' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript('param($Module, $Tree) Import-Module $Module; Get-PageResidency -LiteralPath $Tree -Recurse -ThrottleLimit 4 | ForEach-Object { $_; Start-Sleep -Milliseconds 20 }')
            $null = $ps.AddParameter('Module', $ModuleManifest).AddParameter('Tree', $Tree)
            $output = [Management.Automation.PSDataCollection[object]]::new()
            $async = $ps.BeginInvoke([Management.Automation.PSDataCollection[object]]::new(), $output)
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ($output.Count -lt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 10 }
            $output.Count | Should -BeGreaterThan 0
            $ps.Stop()
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $output.Count | Should -BeLessThan 240
            $async.IsCompleted | Should -BeTrue
        } finally {
            $ps.Dispose()
        }
    }
}

Describe 'Get-PageResidency of a file whose cached pages alternate' {
    BeforeAll {
        # 64 GiB, sparse; every other page of a prefix cached, one page a read with readahead off.
        $script:Sparse = Join-Path $TestDrive 'alternating-64g.bin'
        $script:Prefix = 2 * ([MmapTools.PageResidency]::MaxRuns + 4096)
        & python3 -c @"
import os, sys
path, prefix, page = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 64 << 30)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
for p in range(0, prefix, 2): os.pread(fd, 1, p * page)
os.close(fd)
"@ $Sparse $Prefix $PageSize
        if ($LASTEXITCODE -ne 0) { throw 'python3 could not make the sparse file' }
    }

    AfterAll {
        Set-MemoryAdvice -LiteralPath $Sparse -Evict
        Remove-Item -LiteralPath $Sparse
    }

    It 'gives whole counts and no runs, with a warning naming -Detail Bitmap and -Summary' {
        $summary = Get-PageResidency -LiteralPath $Sparse -Detail Summary
        if ($summary.ResidentPages -le [MmapTools.PageResidency]::MaxRuns) {
            Set-ItResult -Skipped -Because "only $($summary.ResidentPages) pages stayed cached: memory pressure or proactive reclaim took them"
            return
        }
        $r = Get-PageResidency -LiteralPath $Sparse -WarningVariable warned -WarningAction SilentlyContinue
        $r.RunsOmitted | Should -BeTrue
        $r.ResidentRuns | Should -BeNullOrEmpty
        $r.TotalPages | Should -Be ((64GB) / $PageSize)
        Assert-KernelAgrees 'resident pages' { & fincore --bytes --noheadings --raw --output PAGES $Sparse } { (Get-PageResidency -LiteralPath $Sparse -Detail Summary).ResidentPages }
        $warned.Count | Should -Be 1
        "$($warned[0])" | Should -Match '-Detail Bitmap'
        "$($warned[0])" | Should -Match '-Summary'
        $b = Get-PageResidency -LiteralPath $Sparse -Detail Bitmap -WarningAction SilentlyContinue
        [Linq.Enumerable]::Count([Collections.Generic.IEnumerable[MmapTools.PageRun]] $b.Bitmap.Runs()) | Should -BeGreaterThan ([MmapTools.PageResidency]::MaxRuns)
    }
}
