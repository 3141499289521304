# Remove-SharedMemory: the name of shared memory goes from /dev/shm (read apart from the tool, with
# stat and a listing of the directory), maps of it keep their pages, and mistakes have ErrorIds.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Cmd = 'MmapTools.PowerShell.RemoveSharedMemoryCommand'
    # Whether /dev/shm holds the name, by the directory listing and by stat, which must agree.
    function Test-ShmName([string] $Name) {
        $listed = [System.IO.Directory]::GetFiles('/dev/shm') -contains "/dev/shm/$Name"
        & stat "/dev/shm/$Name" *> $null
        $stat = $LASTEXITCODE -eq 0
        if ($listed -ne $stat) { throw "the listing of /dev/shm and stat disagree about $Name" }
        $listed
    }
    $script:Prefix = "mmaptools-pester-rm-$PID"
}

Describe 'Remove-SharedMemory' {
    AfterEach {
        Remove-SessionMaps
        Get-ChildItem /dev/shm -Filter "$Prefix*" | Remove-Item -Force
    }

    It 'removes the name: its file in /dev/shm is gone, and the map keeps its pages' {
        $name = "$Prefix-a"
        $map = New-MemoryMap -SharedMemoryName $name -Size 8KB
        Write-MemoryMap $map -Offset 0 -Text 'kept'
        Test-ShmName $name | Should -BeTrue
        Remove-SharedMemory $name
        Test-ShmName $name | Should -BeFalse
        Read-MemoryMap $map -Length 4 -AsText | Should -Be 'kept'
        # A new map of the name is a new object: zeros, not the old bytes.
        $fresh = New-MemoryMap -SharedMemoryName $name -Size 8KB
        (Read-MemoryMap $fresh -Length 4) | Should -Be @(0, 0, 0, 0)
    }

    It 'takes a leading slash, as shm_open does' {
        $null = New-MemoryMap -SharedMemoryName "$Prefix-slash" -Size 4KB
        Remove-SharedMemory "/$Prefix-slash"
        Test-ShmName "$Prefix-slash" | Should -BeFalse
    }

    It 'takes maps from the pipeline (Map set) and names from Get-ChildItem (Name by property)' {
        $a = New-MemoryMap -SharedMemoryName "$Prefix-b" -Size 4KB
        $null = New-MemoryMap -SharedMemoryName "$Prefix-c" -Size 4KB
        $a | Remove-SharedMemory
        Test-ShmName "$Prefix-b" | Should -BeFalse
        Get-ChildItem /dev/shm -Filter "$Prefix-c" | Remove-SharedMemory
        Test-ShmName "$Prefix-c" | Should -BeFalse
    }

    It 'removes nothing with -WhatIf' {
        $null = New-MemoryMap -SharedMemoryName "$Prefix-d" -Size 4KB
        Remove-SharedMemory "$Prefix-d" -WhatIf
        Test-ShmName "$Prefix-d" | Should -BeTrue
    }

    It 'declares ShouldProcess with ConfirmImpact Medium' {
        $attribute = [MmapTools.PowerShell.RemoveSharedMemoryCommand].GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attribute.SupportsShouldProcess | Should -BeTrue
        $attribute.ConfirmImpact | Should -Be 'Medium'
    }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a name that does not exist'; ErrorId = 'SharedMemoryNotFound'; Script = { Remove-SharedMemory "$Prefix-missing" } }
        @{ Case = 'a name with a slash'; ErrorId = 'InvalidArgument'; Script = { Remove-SharedMemory 'a/b' } }
        @{ Case = 'the name ..'; ErrorId = 'InvalidArgument'; Script = { Remove-SharedMemory '..' } }
        @{ Case = 'a name of 256 characters'; ErrorId = 'InvalidArgument'; Script = { Remove-SharedMemory ('n' * 256) } }
        @{ Case = 'an empty name'; ErrorId = 'ParameterArgumentValidationError'; Script = { Remove-SharedMemory '' } }
        @{ Case = 'an anonymous map'; ErrorId = 'NotSharedMemory'; Script = { New-MemoryMap -Anonymous -Size 4KB | Remove-SharedMemory } }
        @{ Case = 'a memfd, whose name is no shared memory name'; ErrorId = 'NotSharedMemory'; Script = { New-MemoryMap -Memfd -Name "$Prefix-memfd" -Size 4KB | Remove-SharedMemory } }
    ) {
        Get-ErrorId $Script | Should -Be "$ErrorId,$Cmd"
    }

    It 'a memfd named like shared memory leaves that shared memory alone' {
        $null = New-MemoryMap -SharedMemoryName "$Prefix-twin" -Size 4KB
        $records = Get-ErrorRecords { New-MemoryMap -Memfd -Name "$Prefix-twin" -Size 4KB | Remove-SharedMemory }
        $records.Count | Should -Be 1
        Test-ShmName "$Prefix-twin" | Should -BeTrue
    }

    It 'one bad name is one error, and the other names are still removed' {
        $null = New-MemoryMap -SharedMemoryName "$Prefix-e" -Size 4KB
        $null = New-MemoryMap -SharedMemoryName "$Prefix-f" -Size 4KB
        $records = Get-ErrorRecords { Remove-SharedMemory "$Prefix-e", "$Prefix-missing", "$Prefix-f" }
        $records.Count | Should -Be 1
        $records[0].FullyQualifiedErrorId | Should -Be "SharedMemoryNotFound,$Cmd"
        "$($records[0])" | Should -Match "No shared memory is named '$Prefix-missing'"
        Test-ShmName "$Prefix-e" | Should -BeFalse
        Test-ShmName "$Prefix-f" | Should -BeFalse
    }
}
