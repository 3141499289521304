# Installing as users install: the module packed as the package task packs it, installed with
# Install-PSResource from a local file repository into a clean module path, imported and run; and a
# C# console program built against the MmapTools.Core package alone. The repository registration,
# the installed module and the NuGet cache all live under TestDrive: a child pwsh gets a HOME and
# XDG folders of its own, where PSResourceGet keeps its repository list and CurrentUser modules.

BeforeDiscovery {
    # The unprivileged pass of the test run copies tests/pester and the module, not the sources.
    $script:CoreProject = Join-Path $PSScriptRoot '../../src/MmapTools.Core/MmapTools.Core.csproj'
    $script:NoSources = if (-not (Test-Path -LiteralPath $CoreProject)) { "$CoreProject is not here: the package cannot be packed" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Repository = Join-Path $TestDrive 'repository'
    $script:PrivateHome = Join-Path $TestDrive 'home'
    $null = New-Item -ItemType Directory -Path $Repository, $PrivateHome
    $script:Manifest = Import-PowerShellDataFile -LiteralPath $ModuleManifest
    $script:File = New-TestFile (Join-Path $TestDrive 'data.bin') 40KB

    # The module's .nupkg, made from the assembled module like `build.ps1 package` makes it.
    Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop
    Compress-PSResource -Path (Split-Path -Parent $ModuleManifest) -DestinationPath $Repository

    # Runs a script in a child pwsh that sees only the private HOME: whatever PSResourceGet
    # registers or installs stays under TestDrive. Returns its output lines and exit code.
    function Invoke-PrivatePwsh([string] $Script) {
        $environment = @{
            HOME = $PrivateHome; XDG_DATA_HOME = "$PrivateHome/.local/share"; XDG_CONFIG_HOME = "$PrivateHome/.config"
            XDG_CACHE_HOME = "$PrivateHome/.cache"; PSModulePath = ''; POWERSHELL_TELEMETRY_OPTOUT = '1'
        }
        # .NET gives an empty folder path for a missing XDG folder, and PSResourceGet would then
        # write its repository list under the current directory.
        $null = New-Item -ItemType Directory -Force -Path $environment.XDG_DATA_HOME, $environment.XDG_CONFIG_HOME, $environment.XDG_CACHE_HOME
        $saved = @{}
        foreach ($name in $environment.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name); [Environment]::SetEnvironmentVariable($name, $environment[$name]) }
        try {
            $output = & ([Environment]::ProcessPath) (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $Script 2>&1
            [pscustomobject]@{ Output = @($output | ForEach-Object { "$_" }); ExitCode = $LASTEXITCODE }
        } finally {
            foreach ($name in $environment.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }
    }
}

Describe 'Install-PSResource from a local repository' {
    BeforeAll {
        $script:Run = Invoke-PrivatePwsh @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name MmapToolsLocal -Uri '$Repository' -Trusted
Install-PSResource -Name MmapTools -Repository MmapToolsLocal -Scope CurrentUser -TrustRepository -Quiet
Import-Module MmapTools
`$module = Get-Module MmapTools
"module=`$(`$module.Version) `$(`$module.ModuleBase)"
"commands=`$((Get-Command -Module MmapTools).Count)"
`$r = Get-PageResidency -LiteralPath '$File'
"pages=`$(`$r.TotalPages) size=`$(`$r.Length)"
"help=`$((Get-Help Get-PageResidency).Synopsis)"
"@
        $script:Lines = @{}
        foreach ($line in $Run.Output) { if ($line -match '^(\w+)=(.*)$') { $Lines[$Matches[1]] = $Matches[2] } }
    }

    It 'installs, imports and runs the module from the private module path' {
        $Run.ExitCode | Should -Be 0 -Because ($Run.Output -join "`n")
        $version, $base = $Lines.module -split ' ', 2
        $version | Should -Be $Manifest.ModuleVersion
        $base | Should -BeLike "$PrivateHome/*"
        [int] $Lines.commands | Should -Be $Manifest.CmdletsToExport.Count
        # 40 KiB in pages of this machine's size, counted here without the module.
        $Lines.pages | Should -Be "$([Math]::Ceiling(40KB / [Environment]::SystemPageSize)) size=$(40KB)"
        $Lines.help | Should -Not -BeNullOrEmpty
        $Lines.help | Should -Not -Match '^\s*Get-PageResidency'
    }

    It 'leaves the repository registration and the module in the private HOME only' {
        Get-ChildItem -LiteralPath $PrivateHome -Recurse -Force -Filter 'PSResourceRepository.xml' | Should -Not -BeNullOrEmpty
        Get-PSResourceRepository -Name MmapToolsLocal -ErrorAction Ignore | Should -BeNullOrEmpty
    }
}

Describe 'A C# program built against the MmapTools.Core package alone' -Skip:([bool] $NoSources) {
    BeforeAll {
        $project = Join-Path $TestDrive 'console'
        $script:NuGetPackages = Join-Path $TestDrive 'nuget'
        $null = New-Item -ItemType Directory -Path $project, $NuGetPackages
        $coreProject = Join-Path $PSScriptRoot '../../src/MmapTools.Core/MmapTools.Core.csproj'
        $version = (& dotnet msbuild $coreProject -getProperty:Version | Select-Object -Last 1).Trim()
        $script:PackOutput = & dotnet pack $coreProject --configuration Release --output $Repository -p:NoBuild=false --nologo 2>&1
        # Only the local folder is a source: the program cannot get MmapTools.Core from anywhere else.
        @"
<configuration>
  <packageSources><clear /><add key="local" value="$Repository" /></packageSources>
</configuration>
"@ | Set-Content -LiteralPath (Join-Path $project 'NuGet.config')
        @"
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net$([Environment]::Version.Major).0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="MmapTools.Core" Version="[$version]" />
  </ItemGroup>
</Project>
"@ | Set-Content -LiteralPath (Join-Path $project 'Console.csproj')
        @'
using MmapTools;
using var map = MemoryMap.OpenFile(args[0]);
var bytes = new byte[8];
map.Read(4096, bytes);
var residency = map.GetResidency();
Console.WriteLine($"bytes={string.Join(',', bytes)}");
Console.WriteLine($"pages={residency.TotalPages}");
'@ | Set-Content -LiteralPath (Join-Path $project 'Program.cs')
        $saved = $env:NUGET_PACKAGES
        $env:NUGET_PACKAGES = $NuGetPackages
        try {
            $script:BuildOutput = & dotnet build $project --configuration Release --nologo 2>&1
            $script:BuildExit = $LASTEXITCODE
            $script:RunOutput = & dotnet run --project $project --configuration Release --no-build -- $File 2>&1
            $script:RunExit = $LASTEXITCODE
        } finally {
            $env:NUGET_PACKAGES = $saved
        }
    }

    It 'restores MmapTools.Core from the package and nothing else of MmapTools' {
        $BuildExit | Should -Be 0 -Because ($BuildOutput -join "`n")
        @(Get-ChildItem -LiteralPath $NuGetPackages -Directory).Name | Should -Be 'mmaptools.core'
    }

    It 'maps a file and reads what is in it' {
        $RunExit | Should -Be 0 -Because ($RunOutput -join "`n")
        $bytes = [IO.File]::ReadAllBytes($File)[4096..4103] -join ','
        $RunOutput | Should -Contain "bytes=$bytes"
        $RunOutput | Should -Contain "pages=$([Math]::Ceiling(40KB / [Environment]::SystemPageSize))"
    }
}
