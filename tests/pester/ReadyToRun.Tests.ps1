# The module's assemblies ship precompiled (ReadyToRun) code beside their IL, in the assembled
# module and in its package, and the runtime uses it: the import and a first call JIT-compile none
# of our methods, by the runtime's own list of what its JIT compiled (DOTNET_JitStdOutFile with
# DOTNET_JitDisasmSummary). The images are for the runtime the SDK carries and the processor that
# built them; elsewhere (PowerShell 7.5 on .NET 9, another processor) the IL runs, and the use of
# the code is skipped with the reason.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:ModuleDir = Split-Path -Parent $ModuleManifest
    $script:Assemblies = 'MmapTools.dll', 'MmapTools.Core.dll'

    # The ReadyToRun header of a PE image: its format's major version and the image's machine, or
    # $null for IL alone.
    function Get-ReadyToRunHeader([IO.Stream] $Stream) {
        $pe = [Reflection.PortableExecutable.PEReader]::new($Stream, [Reflection.PortableExecutable.PEStreamOptions]::LeaveOpen)
        try {
            $directory = $pe.PEHeaders.CorHeader.ManagedNativeHeaderDirectory
            if ($directory.Size -eq 0) { return $null }
            $offset = 0
            if (-not $pe.PEHeaders.TryGetDirectoryOffset($directory, [ref] $offset)) { throw 'the ReadyToRun header lies outside the image' }
            $Stream.Position = $offset
            $bytes = [byte[]]::new(8); $null = $Stream.Read($bytes, 0, 8)
            # 'RTR' signature, then the format's major and minor version (the runtime's readytorun.h).
            if ([BitConverter]::ToUInt32($bytes, 0) -ne 0x00525452) { throw 'the managed native header is not a ReadyToRun header' }
            [pscustomobject]@{ Major = [BitConverter]::ToUInt16($bytes, 4); Machine = $pe.PEHeaders.CoffHeader.Machine }
        } finally { $pe.Dispose() }
    }
    function Get-ReadyToRunFile([string] $Path) {
        $stream = [IO.File]::OpenRead($Path)
        try { Get-ReadyToRunHeader $stream } finally { $stream.Dispose() }
    }
    # The runtime's own format and processor: those of its core library, precompiled by Microsoft.
    $script:Runtime = Get-ReadyToRunFile ([object].Assembly.Location)
}

Describe 'ReadyToRun images' {
    It 'ships <_> precompiled for this runtime''s format, with its IL' -ForEach @('MmapTools.dll', 'MmapTools.Core.dll') {
        $path = Join-Path $ModuleDir $_
        $header = Get-ReadyToRunFile $path
        $header | Should -Not -BeNullOrEmpty -Because "$path should carry ReadyToRun code"
        if ($null -eq $Runtime) { Set-ItResult -Skipped -Because "this runtime's core library carries no ReadyToRun code to compare the format with"; return }
        $header.Major | Should -Be $Runtime.Major -Because 'a runtime refuses images of another ReadyToRun format whole'
        # The IL stays for the runtimes that refuse the code: its metadata reads like any assembly's.
        [Reflection.AssemblyName]::GetAssemblyName($path).Name | Should -Be ([IO.Path]::GetFileNameWithoutExtension($path))
    }

    It 'packs the images into the module''s package' {
        Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop
        $repository = Join-Path $TestDrive 'package'
        $null = New-Item -ItemType Directory -Path $repository
        Compress-PSResource -Path $ModuleDir -DestinationPath $repository
        $package = @(Get-ChildItem -LiteralPath $repository -Filter 'MmapTools.*.nupkg')
        $package.Count | Should -Be 1
        $zip = [IO.Compression.ZipFile]::OpenRead($package[0].FullName)
        try {
            foreach ($name in $Assemblies) {
                $entry = $zip.Entries | Where-Object FullName -EQ $name
                $entry | Should -Not -BeNullOrEmpty -Because "the package should carry $name"
                $copy = [IO.MemoryStream]::new()
                $stream = $entry.Open(); try { $stream.CopyTo($copy) } finally { $stream.Dispose() }
                $copy.Position = 0 # a PE image is read from the stream's position
                $packed = Get-ReadyToRunHeader $copy
                $packed | Should -Not -BeNullOrEmpty -Because "the packed $name should carry ReadyToRun code"
                $packed.Major | Should -Be (Get-ReadyToRunFile (Join-Path $ModuleDir $name)).Major
            }
        } finally { $zip.Dispose() }
    }

    It 'JIT-compiles none of its own methods for the import and a first call' {
        $image = Get-ReadyToRunFile (Join-Path $ModuleDir 'MmapTools.dll')
        if ($null -eq $Runtime -or $image.Major -ne $Runtime.Major -or $image.Machine -ne $Runtime.Machine) {
            Set-ItResult -Skipped -Because "the images are for ReadyToRun format $($image.Major) on $($image.Machine), this runtime reads format $($Runtime.Major) on $($Runtime.Machine): it runs the IL"
            return
        }
        $file = New-TestFile (Join-Path $TestDrive 'first.bin') 8KB
        $list = Join-Path $TestDrive 'jitted.txt'
        $command = "Import-Module '$($ModuleManifest.Replace("'", "''"))'; `$null = Get-PageResidency -LiteralPath '$($file.Replace("'", "''"))' -Summary; `$null = Get-MemoryMap"
        $saved = @{ DOTNET_JitStdOutFile = $env:DOTNET_JitStdOutFile; DOTNET_JitDisasmSummary = $env:DOTNET_JitDisasmSummary }
        $env:DOTNET_JitStdOutFile = $list; $env:DOTNET_JitDisasmSummary = '1'
        try { $null = & ([Environment]::ProcessPath) (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $command }
        finally { foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) } }
        $jitted = @(Get-Content -LiteralPath $list)
        # The list names every method the JIT compiled, PowerShell's own among them.
        @($jitted | Where-Object { $_ -match 'JIT compiled System\.Management\.Automation\.' }).Count | Should -BeGreaterThan 0
        @($jitted | Where-Object { $_ -match 'JIT compiled MmapTools\.' }) | Should -BeNullOrEmpty
    }
}
