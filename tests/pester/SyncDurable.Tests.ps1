# Sync-MemoryMap's forms and what each says is on the disk (SyncResult.Guarantee, -Durable). The
# power-cut images (tests/MmapTools.Hardening.Tests/PowerCutTests.cs, tests/experiments/
# PowerCut.Experiments.ps1) check the promises themselves on a copy of the disk.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Dir = Join-Path $TestDrive 'durable'
    $null = New-Item -ItemType Directory -Force -Path $Dir
}

AfterAll { Get-MemoryMap | Remove-MemoryMap }

Describe 'Sync-MemoryMap -Durable' {
    It 'syncs a new file durably and says its size and name are on the disk' {
        $path = Join-Path $Dir 'new.bin'
        $map = New-MemoryMap $path -Create -Size (4 * $PageSize)
        Write-MemoryMap $map -Offset 0 -Value ([byte[]]::new(4 * $PageSize) | ForEach-Object { 7 })
        $result = Sync-MemoryMap $map -Durable -PassThru
        Remove-MemoryMap $map
        $result.Durable | Should -BeTrue
        $result.Guarantee | Should -Match 'size and metadata \(fsync\) and its name'
        if ($null -ne $result.DirtyPagesAfter) { $result.DirtyPagesAfter | Should -Be 0 }
        [IO.File]::ReadAllBytes($path)[0] | Should -Be 7
    }

    It 'promises nothing on the disk for -Async, only the range for a range, and nothing for a private map' {
        $path = New-TestFile (Join-Path $Dir 'forms.bin') (8 * $PageSize)
        $map = New-MemoryMap $path -Access ReadWrite
        (Sync-MemoryMap $map -Async -PassThru).Guarantee | Should -Match '^Nothing yet: MS_ASYNC starts no write-back'
        (Sync-MemoryMap $map -Offset $PageSize -Length 10 -PassThru).Guarantee | Should -Match "^The bytes of the file's pages 1 to 1 "
        (Sync-MemoryMap $map -Invalidate -PassThru).Guarantee | Should -Match 'MS_INVALIDATE writes nothing more'
        Remove-MemoryMap $map
        $private = New-MemoryMap $path -Access ReadWrite -Private
        (Sync-MemoryMap $private -PassThru).Guarantee | Should -Match 'never reach the file'
        Remove-MemoryMap $private
    }

    It 'refuses -Async with -Durable with InvalidArgument' {
        $path = New-TestFile (Join-Path $Dir 'both.bin') $PageSize
        $map = New-MemoryMap $path -Access ReadWrite
        Get-ErrorId { Sync-MemoryMap $map -Async -Durable } | Should -Be 'InvalidArgument,MmapTools.PowerShell.SyncMemoryMapCommand'
        Remove-MemoryMap $map
    }
}
