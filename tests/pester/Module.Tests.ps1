# The module as a whole: manifest and layout, exports, [OutputType], help checked against the real
# signatures (and its examples run), format views, tab completion, and cleanup when the module is
# removed or the runspace closes.

# The test cases are made from the module's commands, so it is imported for discovery too.
BeforeDiscovery { . (Join-Path $PSScriptRoot 'TestSetup.ps1') }

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:ModuleDir = Split-Path -Parent $ModuleManifest
    $script:Manifest = Import-PowerShellDataFile -LiteralPath $ModuleManifest
    $script:Cmdlets = @(Get-Command -Module MmapTools -CommandType Cmdlet)
    $script:Common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
}

AfterAll { Remove-SessionMaps }

Describe 'Manifest and layout' {
    It 'exports its cmdlets explicitly and nothing else' {
        # Every cmdlet class the dll defines, and no other name.
        $defined = @([MmapTools.PowerShell.MmapCmdlet].Assembly.GetExportedTypes() | Where-Object { $_.IsSubclassOf([System.Management.Automation.Cmdlet]) -and -not $_.IsAbstract })
        $Manifest.CmdletsToExport.Count | Should -Be $defined.Count
        $Manifest.FunctionsToExport | Should -BeNullOrEmpty
        $Manifest.AliasesToExport | Should -BeNullOrEmpty
        $Manifest.VariablesToExport | Should -BeNullOrEmpty
        ($Cmdlets.Name | Sort-Object) | Should -Be ($Manifest.CmdletsToExport | Sort-Object)
        (Get-Module MmapTools).ExportedFunctions.Count | Should -Be 0
    }

    It 'is for PowerShell 7.5+ Core on Linux, the lowest version tested' {
        $Manifest.CompatiblePSEditions | Should -Be @('Core')
        $Manifest.PowerShellVersion | Should -Be '7.5'
        $Manifest.PrivateData.PSData.Tags | Should -Contain 'Linux'
    }

    It 'takes its version from the assembly, the one version source' {
        $assembly = [System.Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModuleDir 'MmapTools.dll')).Version
        $Manifest.ModuleVersion | Should -Be ('{0}.{1}.{2}' -f $assembly.Major, $assembly.Minor, $assembly.Build)
        $Manifest.ModuleVersion | Should -Not -Be '0.0.0'
    }

    It 'ships the files the manifest names, and not System.Management.Automation' {
        foreach ($file in @($Manifest.RootModule) + $Manifest.RequiredAssemblies + $Manifest.FormatsToProcess + $Manifest.TypesToProcess) {
            Join-Path $ModuleDir $file | Should -Exist
        }
        Join-Path $ModuleDir 'en-US/MmapTools.dll-Help.xml' | Should -Exist
        Join-Path $ModuleDir 'en-US/about_MmapTools.help.txt' | Should -Exist
        Join-Path $ModuleDir 'System.Management.Automation.dll' | Should -Not -Exist
        Test-ModuleManifest -Path $ModuleManifest | Should -Not -BeNullOrEmpty
    }

    It '<Name> is a <Verb><Noun>Command class with [OutputType] and uses an approved verb' -TestCases @(
        (Get-Command -Module MmapTools -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name; Verb = $_.Verb; Noun = $_.Noun; Type = $_.ImplementingType } })
    ) {
        $Type.FullName | Should -Be "MmapTools.PowerShell.$Verb$($Noun)Command"
        $Verb | Should -BeIn (Get-Verb).Verb
        (Get-Command $Name).OutputType | Should -Not -BeNullOrEmpty
    }
}

Describe 'Help' {
    It '<Name> has a synopsis, a description and at least two examples' -TestCases @(
        (Get-Command -Module MmapTools -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    ) {
        $help = Get-Help $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$Name "
        ($help.Description.Text -join ' ').Length | Should -BeGreaterThan 100
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        $help.Examples.Example | ForEach-Object { $_.Code | Should -Not -BeNullOrEmpty; ($_.Remarks.Text -join '') | Should -Not -BeNullOrEmpty }
        @($help.relatedLinks.navigationLink.linkText) | Should -Contain 'about_MmapTools'
    }

    It '<Name> -<Parameter> is described in the help' -TestCases @(
        foreach ($cmd in Get-Command -Module MmapTools -CommandType Cmdlet) {
            foreach ($p in $cmd.Parameters.Values) {
                if ($p.Name -notin ([System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters) -or $p.Name -in 'WhatIf', 'Confirm') {
                    @{ Name = $cmd.Name; Parameter = $p.Name; Type = $p.ParameterType }
                }
            }
        }
    ) {
        $described = (Get-Help $Name -Parameter $Parameter -ErrorAction Stop)
        ($described.Description.Text -join ' ').Trim() | Should -Not -BeNullOrEmpty -Because "-$Parameter of $Name needs a description"
        if ($Type -ne [switch]) { $described.Type.Name | Should -Be $Type.FullName }
    }

    It '<Name> documents no parameter it lacks, and the same parameter sets it has' -TestCases @(
        (Get-Command -Module MmapTools -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    ) {
        $cmd = Get-Command $Name
        $help = Get-Help $Name -Full
        foreach ($documented in $help.Parameters.Parameter.Name) { $cmd.Parameters.Keys | Should -Contain $documented }
        @($help.Syntax.SyntaxItem).Count | Should -Be $cmd.ParameterSets.Count
    }

    It 'has an about_MmapTools topic that lists every ErrorId' {
        $about = Get-Help about_MmapTools | Out-String
        $about | Should -Match 'about_MmapTools'
        foreach ($id in 'PathNotFound', 'NotAFileSystemPath', 'NotMappable', 'EmptyFile', 'OffsetOutOfRange', 'LengthOutOfRange',
            'SizeOutOfRange', 'MapRemoved', 'MapNotFound', 'AddressInUse', 'AccessDenied', 'PageUnavailable', 'HugePagesUnavailable', 'ProcessNotFound',
            'NoMemoryCgroup', 'InvalidSnapshot') {
            $about | Should -Match $id
        }
    }

    It 'runs the examples of <Name> without an error' -TestCases @(
        (Get-Command -Module MmapTools -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    ) {
        # Examples use ./data.bin (1 MiB) and ./logs, in a folder of their own.
        $folder = Join-Path $TestDrive "examples-$Name"
        $null = New-TestFile (Join-Path $folder 'data.bin') 1MB
        $null = New-TestFile (Join-Path $folder 'logs/app.log') 20KB
        $null = New-TestFile (Join-Path $folder 'logs/old/2024.log') 40KB
        Push-Location $folder
        try {
            foreach ($example in (Get-Help $Name -Full).Examples.Example) {
                $code = [scriptblock]::Create($example.Code)
                $ErrorActionPreference = 'Stop'
                { $null = . $code } | Should -Not -Throw -Because "example '$($example.Title)' of $Name runs"
            }
        } finally {
            Pop-Location
            Remove-SessionMaps
        }
    }
}

Describe 'Views' {
    BeforeAll {
        $script:File = New-TestFile (Join-Path $TestDrive 'view.bin') 256KB
        # The first half resident and locked there, so that reclaim (DAMON) cannot take a page while
        # the views are drawn: faulted in through a map of that half without readahead (Random).
        Set-MemoryAdvice -Path $File -Evict
        $script:HalfLock = New-MemoryMap $File -Length 128KB
        Set-MemoryAdvice $HalfLock Random
        $HalfLock.Lock()
    }
    AfterAll { Remove-MemoryMap $HalfLock }

    It 'shows maps as a table: id, kind, size, access, private or shared, path' {
        $map = New-MemoryMap $File
        $text = $map | Out-String -Width 160
        $text | Should -Match 'Id\s+Kind\s+Offset\s+Size\s+Access\s+Sharing\s+State\s+Path or name'
        $text | Should -Match "\s$($map.Id)\s+File\s+0\s+256 KiB\s+Read\s+shared\s+mapped\s+.*view\.bin"
        ($map | Format-List | Out-String) | Should -Match 'Address\s+: 0x[0-9a-f]+'
        Remove-MemoryMap $map
    }

    It 'shows residency as a table with a bar per file' {
        $text = Get-PageResidency $File | Out-String -Width 160
        Get-FileMincoreCount $File | Should -Be 32
        $text | Should -Match 'Resident\s+%\s+Residency'
        $text | Should -Match '32/64'
        $text | Should -Match '\[#{12}\.{12}\]'
    }

    It 'shows everything in the list view' {
        $text = Get-PageResidency $File | Format-List | Out-String -Width 160
        foreach ($label in 'TotalPages', 'ResidentPages', 'DirtyPages', 'EvictedPages', 'Source', 'IsTrusted', 'ResidentRuns', 'Residency') {
            $text | Should -Match "$label\s+:"
        }
    }

    It 'shows a vmtouch-like summary' {
        $text = Get-PageResidency (Split-Path -Parent $File) -Summary | Out-String -Width 160
        $text | Should -Match 'Files\s+: \d+'
        $text | Should -Match 'Resident Pages\s+: \d+/\d+'
    }

    It 'has a view for each output type, live and deserialized' {
        $views = [xml] (Get-Content -Raw -LiteralPath (Join-Path $ModuleDir 'MmapTools.format.ps1xml'))
        $types = $views.Configuration.ViewDefinitions.View.ViewSelectedBy.TypeName
        foreach ($type in 'MmapTools.MemoryMap', 'MmapTools.PageResidency', 'MmapTools.PowerShell.ResidencySummary', 'MmapTools.SyncResult',
            'MmapTools.MemoryRegion', 'MmapTools.FaultMeasurement', 'MmapTools.PowerShell.AdviceResult',
            'MmapTools.CachedFile', 'MmapTools.CgroupPageCache', 'MmapTools.CacheSnapshotSummary', 'MmapTools.CacheRestoreResult', 'MmapTools.PageCacheSample') {
            $types | Should -Contain $type
            $types | Should -Contain "Deserialized.$type"
        }
    }
}

Describe 'Tab completion' {
    It 'completes <Parameter> of <Command>' -TestCases @(
        @{ Command = 'New-MemoryMap -Access'; Parameter = 'Access'; Word = 'Read'; Expected = 'ReadWrite' }
        @{ Command = 'Set-MemoryAdvice -Advice'; Parameter = 'Advice'; Word = 'Dont'; Expected = 'DontNeed' }
        @{ Command = 'Set-MemoryProtection -Access'; Parameter = 'Access'; Word = 'N'; Expected = 'None' }
        @{ Command = 'Get-PageResidency -Detail'; Parameter = 'Detail'; Word = 'B'; Expected = 'Bitmap' }
        @{ Command = 'Measure-PageFault -Scope'; Parameter = 'Scope'; Word = 'P'; Expected = 'Process' }
        @{ Command = 'Read-MemoryMap -AsText -Encoding'; Parameter = 'Encoding'; Word = 'uni'; Expected = 'unicode' }
    ) {
        (TabExpansion2 "$Command $Word").CompletionMatches.CompletionText | Should -Contain $Expected
    }

    It 'completes map ids and shared memory names' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        (TabExpansion2 'Remove-MemoryMap -Id ').CompletionMatches.CompletionText | Should -Contain "$($map.Id)"
        $name = "mmaptools-complete-$PID"
        $shm = New-MemoryMap -SharedMemoryName $name -Size 4KB
        try {
            (TabExpansion2 "New-MemoryMap -Size 1 -SharedMemoryName mmaptools-complete-").CompletionMatches.CompletionText | Should -Contain $name
        } finally {
            Remove-SessionMaps
            Remove-Item "/dev/shm/$name"
        }
    }
}

Describe 'Cleanup' {
    It 'unmaps the session''s maps when the module is removed' {
        $file = New-TestFile (Join-Path $TestDrive 'cleanup.bin') 8KB
        $map = New-MemoryMap $file
        (Get-Content "/proc/$PID/maps") -match [regex]::Escape($file) | Should -Not -BeNullOrEmpty
        Remove-Module MmapTools
        try {
            $map.IsDisposed | Should -BeTrue
            (Get-Content "/proc/$PID/maps") -match [regex]::Escape($file) | Should -BeNullOrEmpty
        } finally {
            Import-Module $ModuleManifest -Force
        }
    }

    It 'unmaps a runspace''s maps when the runspace closes, and leaves other runspaces'' maps alone' {
        $mine = New-MemoryMap -Anonymous -Size 4KB
        $ps = [powershell]::Create()
        $map = $ps.AddScript({ param($Manifest) Import-Module $Manifest; New-MemoryMap -Anonymous -Size 4KB }).AddArgument($ModuleManifest).Invoke()[0]
        $map.IsDisposed | Should -BeFalse
        @(Get-MemoryMap | ForEach-Object Id) | Should -Not -Contain $map.Id
        $ps.Runspace.Close()
        $ps.Dispose()
        $map.IsDisposed | Should -BeTrue
        $mine.IsDisposed | Should -BeFalse
        Remove-MemoryMap $mine
    }
}
