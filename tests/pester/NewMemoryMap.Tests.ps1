# New-MemoryMap: every parameter set, the options, paths through the provider, pipeline input and
# the bad-input table of the Core issue reached through the cmdlet, each with its ErrorId.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Data = New-TestFile (Join-Path $TestDrive 'data.bin') 64KB
    $script:Cmd = 'MmapTools.PowerShell.NewMemoryMapCommand'
}

AfterAll { Remove-SessionMaps }

Describe 'New-MemoryMap file maps' {
    AfterEach { Remove-SessionMaps }

    It 'maps a whole file read-only and shared by default (Path set)' {
        $map = New-MemoryMap -Path $Data
        $map | Should -BeOfType ([MmapTools.MemoryMap])
        $map.Kind | Should -Be 'File'
        $map.Path | Should -Be $Data
        $map.Length | Should -Be 64KB
        $map.Access | Should -Be 'Read'
        $map.IsPrivate | Should -BeFalse
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'r--s'
        (Read-MemoryMap $map -Offset 300 -Length 1)[0] | Should -Be (300 % 251)
    }

    It 'maps a file named literally (LiteralPath set), with wildcard characters in its name' {
        $odd = New-TestFile (Join-Path $TestDrive 'odd[1].bin') 8KB
        $map = New-MemoryMap -LiteralPath $odd
        $map.Path | Should -Be $odd
    }

    It 'expands wildcards in -Path and maps each file' {
        $null = New-TestFile (Join-Path $TestDrive 'glob/a.bin') 4KB
        $null = New-TestFile (Join-Path $TestDrive 'glob/b.bin') 4KB
        $maps = @(New-MemoryMap -Path (Join-Path $TestDrive 'glob/*.bin'))
        $maps.Count | Should -Be 2
        $maps.Path | ForEach-Object { Split-Path -Leaf $_ } | Should -Be @('a.bin', 'b.bin')
    }

    It 'maps exactly the window asked for at offset <Offset>' -TestCases @(
        @{ Offset = 1 }, @{ Offset = 4095 }, @{ Offset = 4096 }, @{ Offset = 4097 }, @{ Offset = 65535 }
    ) {
        $map = New-MemoryMap $Data -Offset $Offset -Length 1
        $map.Offset | Should -Be $Offset
        $map.Length | Should -Be 1
        (Read-MemoryMap $map)[0] | Should -Be ($Offset % 251)
    }

    It 'maps exactly at offset 2^32+2 of a sparse file' {
        $big = Join-Path $TestDrive 'sparse.bin'
        $stream = [System.IO.File]::Create($big)
        try {
            $stream.SetLength(4GB + 8KB)
            $stream.Position = 4GB + 2
            $stream.Write([byte[]] (7, 8, 9), 0, 3)
        } finally { $stream.Dispose() }
        $map = New-MemoryMap $big -Offset (4GB + 2) -Length 3
        $map.Offset | Should -Be (4GB + 2)
        $bytes = Read-MemoryMap $map
        $bytes | Should -Be @(7, 8, 9)
        Remove-MemoryMap $map
        Remove-Item -LiteralPath $big
    }

    It 'maps read-write and shared with -Access ReadWrite: writes reach the file' {
        $file = New-TestFile (Join-Path $TestDrive 'rw.bin') 8KB
        $map = New-MemoryMap $file -Access ReadWrite
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'rw-s'
        Write-MemoryMap $map -Offset 10 -Value ([byte[]] (0xAB))
        [System.IO.File]::ReadAllBytes($file)[10] | Should -Be 0xAB
    }

    It 'maps private (copy-on-write) with -Private: writes stay in the map' {
        $file = New-TestFile (Join-Path $TestDrive 'cow.bin') 8KB
        $map = New-MemoryMap $file -Private -Access ReadWrite
        $map.IsPrivate | Should -BeTrue
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'rw-p'
        Write-MemoryMap $map -Offset 10 -Value ([byte[]] (0xAB))
        (Read-MemoryMap $map -Offset 10 -Length 1)[0] | Should -Be 0xAB
        [System.IO.File]::ReadAllBytes($file)[10] | Should -Be 10
    }

    It 'faults every page in with -Populate' {
        $file = New-TestFile (Join-Path $TestDrive 'populate.bin') 64KB
        Set-MemoryAdvice -Path $file -Evict
        Get-FileMincoreCount $file | Should -Be 0
        $map = New-MemoryMap $file -Populate
        # MAP_POPULATE maps every page in the call: the map's own page tables show them all.
        Get-MincoreCount $map.Address 64KB | Should -Be 16
        (Get-SmapsVma $map.Address).Kb['Rss'] | Should -Be 64
        (Get-PageResidency $map).ResidentPages | Should -Be 16
    }

    It 'takes -NoReserve: the kernel marks the map nr (VM_NORESERVE) unless overcommit is strict' {
        $strict = (Get-Content /proc/sys/vm/overcommit_memory).Trim() -eq '2'
        $map = New-MemoryMap -Anonymous -Size 1MB -NoReserve
        (Get-SmapsVma $map.Address).VmFlags -contains 'nr' | Should -Be (-not $strict)
        (Get-SmapsVma (New-MemoryMap -Anonymous -Size 1MB).Address).VmFlags | Should -Not -Contain 'nr'
    }

    It 'creates a file with -Create -Size (CreatePath set), read-write and shared' {
        $file = Join-Path $TestDrive 'created.bin'
        $map = New-MemoryMap $file -Create -Size 10000
        (Get-Item -LiteralPath $file).Length | Should -Be 10000
        $map.Access | Should -Be 'ReadWrite'
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'rw-s'
        $map.Length | Should -Be 10000
    }

    It 'grows but never shrinks a file with -Create (CreateLiteralPath set)' {
        $file = New-TestFile (Join-Path $TestDrive 'grow[1].bin') 8KB
        $null = New-MemoryMap -LiteralPath $file -Create -Size 16KB
        (Get-Item -LiteralPath $file).Length | Should -Be 16KB
        $map = New-MemoryMap -LiteralPath $file -Create -Size 4KB
        (Get-Item -LiteralPath $file).Length | Should -Be 16KB
        $map.Length | Should -Be 4KB
    }
}

Describe 'New-MemoryMap memory maps' {
    AfterEach { Remove-SessionMaps }

    It 'maps anonymous memory, private and read-write by default (Anonymous set)' {
        $map = New-MemoryMap -Anonymous -Size 1MB
        $map.Kind | Should -Be 'Anonymous'
        $map.IsPrivate | Should -BeTrue
        $map.Access | Should -Be 'ReadWrite'
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'rw-p'
        $bytes = Read-MemoryMap $map -Length 4
        $bytes | Should -Be @(0, 0, 0, 0)
    }

    It 'maps shared anonymous memory with -Shared' {
        $map = New-MemoryMap -Anonymous -Size 4KB -Shared
        $map.IsPrivate | Should -BeFalse
        (Get-SmapsVma $map.Address).Permissions | Should -Be 'rw-s'
    }

    It 'names an anonymous map with -Name, or says the kernel cannot' {
        # Whether the kernel names maps comes from its config (CONFIG_ANON_VMA_NAME, Linux 5.17+), not from the tool.
        $kernelNames = Test-KernelConfig CONFIG_ANON_VMA_NAME
        $id = Get-ErrorId { $script:named = New-MemoryMap -Anonymous -Size 4KB -Name 'pester-named' }
        if ($null -eq $kernelNames) { Write-Host "this kernel publishes no config: either answer is right ($(if ($id) { $id } else { 'named' }))" }
        if ($kernelNames -eq $false -or ($null -eq $kernelNames -and $id)) {
            $id | Should -Be "NotSupported,$Cmd"
        } else {
            $id | Should -BeNullOrEmpty
            (Get-Content "/proc/$PID/maps" | Where-Object { $_ -match '\[anon:pester-named\]' }) | Should -Not -BeNullOrEmpty
        }
    }

    It 'maps named shared memory (SharedMemory set) that another map of the name sees' {
        $name = "mmaptools-pester-$PID"
        try {
            $a = New-MemoryMap -SharedMemoryName $name -Size 8KB
            $b = New-MemoryMap -SharedMemoryName $name -Size 8KB
            $a.Kind | Should -Be 'SharedMemory'
            $a.Path | Should -Be "/dev/shm/$name"
            Write-MemoryMap $a -Offset 5 -Text 'shm'
            Read-MemoryMap $b -Offset 5 -Length 3 -AsText | Should -Be 'shm'
        } finally {
            Remove-SessionMaps
            Remove-Item -LiteralPath "/dev/shm/$name" -ErrorAction Ignore
        }
    }

    It 'maps a memfd (Memfd set) with a descriptor path another process could open' {
        $map = New-MemoryMap -Memfd -Name 'pester-memfd' -Size 8KB
        $map.Kind | Should -Be 'Memfd'
        $map.Name | Should -Be 'pester-memfd'
        Write-MemoryMap $map -Offset 0 -Text 'memfd'
        [System.IO.File]::ReadAllText($map.DescriptorPath).Substring(0, 5) | Should -Be 'memfd'
    }

    It 'maps at a free -FixedAddress' {
        $probe = New-MemoryMap -Anonymous -Size 64KB
        $address = $probe.Address.ToInt64()
        Remove-MemoryMap $probe
        $map = New-MemoryMap -Anonymous -Size 4KB -FixedAddress $address
        $map.Address.ToInt64() | Should -Be $address
    }

    It 'reports HugePagesUnavailable when no huge pages are reserved (-HugePages, -HugePageSize)' {
        $reserved = [int] (Get-Content /proc/sys/vm/nr_hugepages)
        if ($reserved -gt 0) { Set-ItResult -Skipped -Because "vm.nr_hugepages is $reserved here, so huge pages can be had" }
        Get-ErrorId { New-MemoryMap -Anonymous -Size 2MB -HugePages } | Should -Be "HugePagesUnavailable,$Cmd"
        Get-ErrorId { New-MemoryMap -Memfd -Name huge -Size 2MB -HugePages -HugePageSize 2MB } | Should -Be "HugePagesUnavailable,$Cmd"
    }

    It 'tracks each map in the session' {
        $map = New-MemoryMap -Anonymous -Size 4KB
        @(Get-MemoryMap | ForEach-Object Id) | Should -Contain $map.Id
    }
}

Describe 'New-MemoryMap paths' {
    AfterEach { Remove-SessionMaps }

    It 'resolves a relative path against the PowerShell location, not the process directory' {
        $dir = Join-Path $TestDrive 'relative'
        $file = New-TestFile (Join-Path $dir 'here.bin') 4KB
        Push-Location $dir
        try {
            [System.Environment]::CurrentDirectory | Should -Not -Be $dir
            (New-MemoryMap ./here.bin).Path | Should -Be $file
            (New-MemoryMap -LiteralPath here.bin).Path | Should -Be $file
            (New-MemoryMap ./made.bin -Create -Size 4KB).Path | Should -Be (Join-Path $dir 'made.bin')
        } finally { Pop-Location }
    }

    It 'resolves ".." and "." segments, a drive of its own, "~" and a provider-qualified path alike' {
        $dir = Join-Path $TestDrive 'forms'
        $file = New-TestFile (Join-Path $dir 'sub/f.bin') 4KB
        Push-Location (Join-Path $dir 'sub')
        try {
            (New-MemoryMap -LiteralPath ../sub/./f.bin).Path | Should -Be $file
            (New-MemoryMap -LiteralPath "$dir/sub/../sub/f.bin").Path | Should -Be $file
            (New-MemoryMap "Microsoft.PowerShell.Core\FileSystem::$file").Path | Should -Be $file
        } finally { Pop-Location }
        $null = New-PSDrive -Name MmapForms -PSProvider FileSystem -Root $dir
        try {
            Push-Location MmapForms:/sub
            try { (New-MemoryMap -LiteralPath f.bin).Path | Should -Be $file } finally { Pop-Location }
            (New-MemoryMap MmapForms:/sub/f.bin).Path | Should -Be $file
        } finally { Remove-PSDrive MmapForms }
        $profileDir = [Environment]::GetFolderPath('UserProfile')
        $inHome = Get-ChildItem -LiteralPath $profileDir -File -ErrorAction Ignore | Where-Object Length -gt 0 | Select-Object -First 1
        if ($inHome) { (New-MemoryMap -LiteralPath "~/$($inHome.Name)").Path | Should -Be $inHome.FullName }
    }

    It 'takes paths from the pipeline: strings by value and Get-ChildItem output by PSPath' {
        $dir = Join-Path $TestDrive 'piped'
        $null = New-TestFile (Join-Path $dir 'one.bin') 4KB
        $null = New-TestFile (Join-Path $dir 'two.bin') 4KB
        @(Get-ChildItem $dir -File | New-MemoryMap).Count | Should -Be 2
        @((Join-Path $dir 'one.bin') | New-MemoryMap).Count | Should -Be 1
    }

    It 'refuses a path of another provider (<Path>)' -TestCases @(
        @{ Path = 'Env:PATH' }, @{ Path = 'Variable:PWD' }, @{ Path = 'Function:prompt' }
    ) {
        Get-ErrorId { New-MemoryMap -Path $Path } | Should -Be "NotAFileSystemPath,$Cmd"
        Get-ErrorId { New-MemoryMap -LiteralPath $Path } | Should -Be "NotAFileSystemPath,$Cmd"
    }

    It 'refuses a relative path while the location is in another provider' {
        Push-Location Env:
        try { Get-ErrorId { New-MemoryMap data.bin } | Should -Be "NotAFileSystemPath,$Cmd" } finally { Pop-Location }
    }

    It 'writes one error for a bad path and maps the good ones' {
        $records = Get-ErrorRecords { $script:got = @(New-MemoryMap -Path '/nonexistent/x.bin', $Data) }
        $records.Count | Should -Be 1
        $records[0].FullyQualifiedErrorId | Should -Be "PathNotFound,$Cmd"
        $got.Count | Should -Be 1
    }
}

Describe 'New-MemoryMap bad input' {
    BeforeAll {
        $script:Fifo = Join-Path $TestDrive 'fifo'
        & mkfifo $Fifo
        $script:ReadOnly = New-TestFile (Join-Path $TestDrive 'readonly.bin') 8KB
        # Root may write any file whatever its mode, so as root the file is made immutable instead.
        if ($IsRoot) { & chattr +i $ReadOnly 2>$null; $script:Immutable = $LASTEXITCODE -eq 0 } else { & chmod 444 $ReadOnly }
    }
    AfterAll {
        if ($IsRoot) { & chattr -i $ReadOnly 2>$null }
        Remove-SessionMaps
    }
    AfterEach { Remove-SessionMaps }

    It '<Case> gives <ErrorId>' -TestCases @(
        @{ Case = 'a negative offset'; ErrorId = 'OffsetOutOfRange'; Script = { New-MemoryMap $Data -Offset -1 } }
        @{ Case = 'an offset at the end of the file'; ErrorId = 'OffsetOutOfRange'; Script = { New-MemoryMap $Data -Offset 64KB } }
        @{ Case = 'a huge offset'; ErrorId = 'OffsetOutOfRange'; Script = { New-MemoryMap $Data -Offset ([long]::MaxValue) } }
        @{ Case = 'a huge offset past 2^40'; ErrorId = 'OffsetOutOfRange'; Script = { New-MemoryMap $Data -Offset (1TB + 1) -Length 1 } }
        @{ Case = 'length 0'; ErrorId = 'LengthOutOfRange'; Script = { New-MemoryMap $Data -Length 0 } }
        @{ Case = 'a negative length'; ErrorId = 'LengthOutOfRange'; Script = { New-MemoryMap $Data -Length -5 } }
        @{ Case = 'a read-only length past the end of the file'; ErrorId = 'LengthOutOfRange'; Script = { New-MemoryMap $Data -Offset 4097 -Length 64KB } }
        @{ Case = 'a huge length'; ErrorId = 'LengthOutOfRange'; Script = { New-MemoryMap $Data -Length ([long]::MaxValue) } }
        @{ Case = 'a missing path'; ErrorId = 'PathNotFound'; Script = { New-MemoryMap (Join-Path $TestDrive 'missing.bin') } }
        @{ Case = 'a missing literal path'; ErrorId = 'PathNotFound'; Script = { New-MemoryMap -LiteralPath (Join-Path $TestDrive 'missing.bin') } }
        @{ Case = 'a missing drive'; ErrorId = 'PathNotFound'; Script = { New-MemoryMap 'NoSuchDrive:/x.bin' } }
        @{ Case = 'a directory'; ErrorId = 'NotMappable'; Script = { New-MemoryMap $TestDrive } }
        @{ Case = 'a directory with -Create'; ErrorId = 'NotMappable'; Script = { New-MemoryMap $TestDrive -Create -Size 4KB } }
        @{ Case = 'a FIFO'; ErrorId = 'NotMappable'; Script = { New-MemoryMap -LiteralPath $Fifo } }
        @{ Case = 'a /proc file of size 0'; ErrorId = 'EmptyFile'; Script = { New-MemoryMap /proc/self/status } }
        @{ Case = 'an empty file'; ErrorId = 'EmptyFile'; Script = { New-MemoryMap (New-Item -ItemType File -Force (Join-Path $TestDrive 'empty.bin')).FullName } }
        @{ Case = 'size 0 with -Create'; ErrorId = 'SizeOutOfRange'; Script = { New-MemoryMap (Join-Path $TestDrive 'zero.bin') -Create -Size 0 } }
        @{ Case = 'size 0 anonymous'; ErrorId = 'SizeOutOfRange'; Script = { New-MemoryMap -Anonymous -Size 0 } }
        @{ Case = 'a negative size of shared memory'; ErrorId = 'SizeOutOfRange'; Script = { New-MemoryMap -SharedMemoryName pester-neg -Size -1 } }
        @{ Case = 'a shared memory name with a slash'; ErrorId = 'InvalidArgument'; Script = { New-MemoryMap -SharedMemoryName 'a/b' -Size 4KB } }
        @{ Case = 'an unaligned fixed address'; ErrorId = 'InvalidArgument'; Script = { New-MemoryMap -Anonymous -Size 4KB -FixedAddress 0x7f0000000001 } }
        @{ Case = 'a name for shared anonymous memory'; ErrorId = 'InvalidArgument'; Script = { New-MemoryMap -Anonymous -Shared -Size 4KB -Name x } }
    ) {
        Get-ErrorId $Script | Should -Be "$ErrorId,$Cmd"
    }

    It 'a writable shared map of a read-only file gives AccessDenied' {
        if ($IsRoot -and -not $Immutable) { Set-ItResult -Skipped -Because 'as root only an immutable file (chattr +i) is read-only, and chattr failed here' }
        Get-ErrorId { New-MemoryMap $ReadOnly -Access ReadWrite } | Should -Be "AccessDenied,$Cmd"
        Get-ErrorId { New-MemoryMap $ReadOnly -Create -Size 4KB } | Should -Be "AccessDenied,$Cmd"
    }

    It 'a private writable map of the same read-only file is allowed' {
        $map = New-MemoryMap $ReadOnly -Access ReadWrite -Private
        Write-MemoryMap $map -Offset 0 -Text 'mine'
        Read-MemoryMap $map -Length 4 -AsText | Should -Be 'mine'
    }

    It 'a fixed address over a live map gives AddressInUse and leaves that map alone' {
        $live = New-MemoryMap -Anonymous -Size 8KB
        Write-MemoryMap $live -Offset 0 -Text 'still here'
        Get-ErrorId { New-MemoryMap -Anonymous -Size 4KB -FixedAddress $live.Address } | Should -Be "AddressInUse,$Cmd"
        Read-MemoryMap $live -Length 10 -AsText | Should -Be 'still here'
    }

    It 'a failed map is not tracked' {
        $before = @(Get-MemoryMap).Count
        $null = Get-ErrorId { New-MemoryMap $Data -Offset -1 }
        @(Get-MemoryMap).Count | Should -Be $before
    }

    It 'gives each error a message that names the problem, and no stack trace' {
        $e = { New-MemoryMap $Data -Offset 4097 -Length 64KB -ErrorAction Stop } | Should -Throw -PassThru
        $e.Exception.Message | Should -Match 'past the end'
        $e.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $e.TargetObject | Should -Be $Data
    }
}
