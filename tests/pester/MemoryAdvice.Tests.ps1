# Set-MemoryAdvice: madvise for maps, evict / warm / posix_fadvise for files, -PassThru residency
# before and after, and ShouldProcess for advice that can lose data.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Cmd = 'MmapTools.PowerShell.SetMemoryAdviceCommand'
    $script:Data = New-TestFile (Join-Path $TestDrive 'data.bin') 256KB
}

AfterAll { Remove-SessionMaps }

Describe 'Set-MemoryAdvice for files' {
    It 'evicts a file like vmtouch -e, and reports before and after with -PassThru (PathEvict set)' {
        Set-MemoryAdvice -Path $Data -Warm
        $result = Set-MemoryAdvice -Path $Data -Evict -PassThru
        $result | Should -BeOfType ([MmapTools.PowerShell.AdviceResult])
        $result.Advice | Should -Be 'Evict'
        $result.Path | Should -Be $Data
        $result.TotalPages | Should -Be 64
        $result.ResidentPagesBefore | Should -Be 64
        $result.ResidentPagesAfter | Should -Be 0
        $result.Before.ResidentPages | Should -Be 64
        $result.After.ResidentPages | Should -Be 0
    }

    It 'warms a file like vmtouch -t (PathWarm set)' {
        Set-MemoryAdvice -Path $Data -Evict
        $result = Set-MemoryAdvice -Path $Data -Warm -PassThru
        $result.ResidentPagesBefore | Should -Be 0
        $result.ResidentPagesAfter | Should -Be 64
    }

    It 'advises a range only' {
        Set-MemoryAdvice -Path $Data -Evict
        $warmed = Set-MemoryAdvice -Path $Data -Warm -Offset 64KB -Length 64KB -PassThru
        $warmed.TotalPages | Should -Be 16
        $warmed.Offset | Should -Be 64KB
        $warmed.ResidentPagesAfter | Should -Be 16
        # Readahead may bring more of the file than the range; the range itself is what is counted.
        $evicted = Set-MemoryAdvice -Path $Data -Evict -Offset 64KB -Length 64KB -PassThru
        $evicted.TotalPages | Should -Be 16
        $evicted.ResidentPagesAfter | Should -BeLessOrEqual $evicted.ResidentPagesBefore
    }

    It 'gives posix_fadvise advice with -FileAdvice (PathFileAdvice set), positionally too' {
        Set-MemoryAdvice -Path $Data -Warm
        Set-MemoryAdvice -Path $Data -FileAdvice DontNeed
        (Get-PageResidency $Data).ResidentPages | Should -Be 0
        { Set-MemoryAdvice $Data Sequential -ErrorAction Stop } | Should -Not -Throw
        (Set-MemoryAdvice $Data WillNeed -PassThru).Advice | Should -Be 'FileAdvice.WillNeed'
    }

    It 'takes literal paths and Get-ChildItem output (LiteralPath sets)' {
        $dir = Join-Path $TestDrive 'piped[x]'
        $null = New-TestFile (Join-Path $dir 'a.bin') 16KB
        $null = New-TestFile (Join-Path $dir 'b.bin') 16KB
        Get-ChildItem -LiteralPath $dir -File | Set-MemoryAdvice -Warm
        (Get-PageResidency -LiteralPath $dir -Summary).ResidentPages | Should -Be 8
        Set-MemoryAdvice -LiteralPath (Join-Path $dir 'a.bin') -Evict
        Set-MemoryAdvice -LiteralPath (Join-Path $dir 'b.bin') -FileAdvice DontNeed
        (Get-PageResidency -LiteralPath $dir -Summary).ResidentPages | Should -Be 0
    }

    It 'resolves a relative path against the PowerShell location' {
        Push-Location (Split-Path -Parent $Data)
        try { (Set-MemoryAdvice ./data.bin -Warm -PassThru).Path | Should -Be $Data } finally { Pop-Location }
    }

    It 'does nothing with -WhatIf' {
        Set-MemoryAdvice -Path $Data -Warm
        Set-MemoryAdvice -Path $Data -Evict -WhatIf
        (Get-PageResidency $Data).ResidentPages | Should -Be 64
    }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a missing file'; ErrorId = 'PathNotFound'; Script = { Set-MemoryAdvice -Path (Join-Path $TestDrive 'missing') -Evict } }
        @{ Case = 'a directory'; ErrorId = 'NotMappable'; Script = { Set-MemoryAdvice -LiteralPath $TestDrive -Warm } }
        @{ Case = 'a path of another provider'; ErrorId = 'NotAFileSystemPath'; Script = { Set-MemoryAdvice -Path Variable:PWD -Evict } }
        @{ Case = 'a negative offset'; ErrorId = 'OffsetOutOfRange'; Script = { Set-MemoryAdvice -Path $Data -Evict -Offset -1 } }
    ) {
        Get-ErrorId $Script | Should -Be "$ErrorId,$Cmd"
    }
}

Describe 'Set-MemoryAdvice for maps' {
    AfterEach { Remove-SessionMaps }

    It 'gives harmless advice without asking (Map set), positionally and from the pipeline' {
        $map = New-MemoryMap $Data
        { Set-MemoryAdvice -Map $map -Advice Random -ErrorAction Stop } | Should -Not -Throw
        { $map | Set-MemoryAdvice -Advice Sequential -ErrorAction Stop } | Should -Not -Throw
        { Set-MemoryAdvice $map Normal -ErrorAction Stop } | Should -Not -Throw
    }

    It 'populates a map with PopulateRead and reports it with -PassThru' {
        Set-MemoryAdvice -Path $Data -Evict
        $map = New-MemoryMap $Data
        $result = Set-MemoryAdvice $map PopulateRead -PassThru
        $result.MapId | Should -Be $map.Id
        $result.Advice | Should -Be 'PopulateRead'
        $result.ResidentPagesBefore | Should -Be 0
        $result.ResidentPagesAfter | Should -Be 64
    }

    It 'DontNeed on a shared file map is harmless: no prompt, the pages stay cached' {
        Set-MemoryAdvice -Path $Data -Warm
        $map = New-MemoryMap $Data
        Set-MemoryAdvice $map DontNeed
        (Get-PageResidency $Data -Detail Summary).ResidentPages | Should -Be 64
    }

    It 'DontNeed on private memory is skipped with -WhatIf and done with -Confirm:$false' {
        $heap = New-MemoryMap -Anonymous -Size 8KB
        Write-MemoryMap $heap -Offset 0 -Text 'keep?'
        Set-MemoryAdvice $heap DontNeed -WhatIf
        Read-MemoryMap $heap -Length 5 -AsText | Should -Be 'keep?'
        Set-MemoryAdvice $heap DontNeed -Confirm:$false
        $bytes = Read-MemoryMap $heap -Length 5
        $bytes | Should -Be @(0, 0, 0, 0, 0)
    }

    It 'asks before advice that can lose data (ConfirmImpact High), and keeps the data when it cannot ask' {
        (Get-Command Set-MemoryAdvice).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false).ConfirmImpact | Should -Be 'High'
        # A runspace without a user interface cannot answer the question, so the advice is not given.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                param($Manifest)
                Import-Module $Manifest
                $heap = New-MemoryMap -Anonymous -Size 8KB
                Write-MemoryMap $heap -Offset 0 -Text 'keep'
                try { Set-MemoryAdvice $heap Free -ErrorAction Stop; 'advised' } catch { 'refused' }
                Read-MemoryMap $heap -Length 4 -AsText
            }).AddArgument($ModuleManifest)
            $ps.Invoke() | Should -Be @('refused', 'keep')
        } finally { $ps.Dispose() }
    }

    It 'does not ask for harmless advice even when $ConfirmPreference is High' {
        $map = New-MemoryMap $Data
        $ConfirmPreference = 'High'
        { Set-MemoryAdvice $map WillNeed -ErrorAction Stop } | Should -Not -Throw
    }

    It 'advice the kernel refuses gives an errno-named error: <Advice> on <Kind>' -TestCases @(
        @{ Advice = 'Free'; Kind = 'a shared file map'; ErrorId = 'EINVAL' }
        @{ Advice = 'Remove'; Kind = 'a private map'; ErrorId = 'EINVAL' }
    ) {
        $map = if ($Kind -eq 'a shared file map') { New-MemoryMap $Data } else { New-MemoryMap -Anonymous -Size 8KB }
        Get-ErrorId { Set-MemoryAdvice $map $Advice -Confirm:$false } | Should -Be "$ErrorId,$Cmd"
    }

    It 'completes the advice names with Tab' {
        (TabExpansion2 'Set-MemoryAdvice -Advice Populate').CompletionMatches.CompletionText | Should -Be @('PopulateRead', 'PopulateWrite')
        (TabExpansion2 'Set-MemoryAdvice -Path x -FileAdvice No').CompletionMatches.CompletionText | Should -Contain 'NoReuse'
    }
}
