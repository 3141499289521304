<#
.SYNOPSIS
    Lays out what the cmdlet tests need to run as the unprivileged user nobody (65534), and returns
    how to start PowerShell there as that user.
.DESCRIPTION
    build.ps1 runs tests/pester once more as nobody when it runs as root (as CI does): what a user
    meets without root, such as residency of a file it cannot write, which mincore cannot see
    (PageResidency.Tests.ps1). That user cannot read /root, so what it needs is copied into -Stage,
    laid out as in the repository so that TestSetup.ps1 finds the module: the PowerShell tool
    ($PSHOME, a framework-dependent pwsh.dll run by this dotnet host), Pester,
    artifacts/module/MmapTools, tests/pester and the Pester runner; with a HOME and TMPDIR (Pester's
    TestDrive) of its own there. A file owned by root, mode 0644, is left in it for the test above
    (MMAPTOOLS_ROOT_OWNED_FILE). The environment is cleared.

    The stage belongs under /tmp (1777), not in the repository: a clone may sit below a directory
    that other users cannot enter (mktemp -d makes 0700 ones, /root is 0700).

    Returns Launcher (the command that starts pwsh as nobody, to which pwsh's own arguments are
    added), Runner, PesterManifest, Files and Results (a folder nobody may write).

    tests/tools/Matrix.ps1 stages the experiments and the test child too (-TestFolder), with the folder they write
    their scratch files to (-WritableFolder) and where their results go (-Environment).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Stage,
    [Parameter(Mandatory)] [string] $PesterManifest,
    [Parameter(Mandatory)] [string] $ModuleDirectory,
    # Folders of the repository to copy, at the same place in the stage.
    [string[]] $TestFolder = @('tests/pester'),
    # Folders of the stage that nobody may write, besides its HOME, TMPDIR and results.
    [string[]] $WritableFolder = @(),
    # Environment variables for the runs, besides those every run gets.
    [hashtable] $Environment = @{}
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

if (-not (Get-Command setpriv -CommandType Application -ErrorAction Ignore)) { throw 'setpriv (util-linux) is missing' }
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
$null = New-Item -ItemType Directory -Force -Path $Stage
Copy-Item -LiteralPath $PSHOME -Destination (Join-Path $Stage 'pwsh') -Recurse
Copy-Item -LiteralPath (Split-Path -Parent $PesterManifest) -Destination (Join-Path $Stage 'Pester') -Recurse
$writable = @('home', 'tmp', 'results') + $WritableFolder | ForEach-Object { Join-Path $Stage $_ }
$null = New-Item -ItemType Directory -Force -Path (@((Join-Path $Stage 'artifacts/module'), (Join-Path $Stage 'tests/tools')) + $writable)
Copy-Item -LiteralPath $ModuleDirectory -Destination (Join-Path $Stage 'artifacts/module') -Recurse
foreach ($folder in $TestFolder) {
    $parent = New-Item -ItemType Directory -Force -Path (Join-Path $Stage (Split-Path -Parent $folder))
    Copy-Item -LiteralPath (Join-Path $root $folder) -Destination $parent.FullName -Recurse
}
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'Invoke-PesterRun.ps1') -Destination (Join-Path $Stage 'tests/tools')
$rootOwned = Join-Path $Stage 'root-owned.bin'
[IO.File]::WriteAllBytes($rootOwned, [byte[]]::new(64KB))
& chmod 0755 $Stage
& chmod -R a+rX,go-w $Stage
& chmod 0644 $rootOwned
& chown -R 65534:65534 @writable
& setpriv --reuid=65534 --regid=65534 --clear-groups test -r $rootOwned
if ($LASTEXITCODE -ne 0) { throw "nobody cannot reach ${Stage}: a directory above it is closed to other users" }

$dotnet = [Environment]::ProcessPath
[pscustomobject]@{
    Launcher       = @('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-i', "PATH=$env:PATH", 'LANG=C.UTF-8',
        "HOME=$Stage/home", "TMPDIR=$Stage/tmp", "DOTNET_ROOT=$(Split-Path -Parent $dotnet)", 'DOTNET_CLI_TELEMETRY_OPTOUT=1',
        "MMAPTOOLS_ROOT_OWNED_FILE=$rootOwned") + @($Environment.Keys | ForEach-Object { "$_=$($Environment[$_])" }) + @($dotnet, (Join-Path $Stage 'pwsh/pwsh.dll'))
    Runner         = Join-Path $Stage 'tests/tools/Invoke-PesterRun.ps1'
    PesterManifest = Join-Path $Stage "Pester/$(Split-Path -Leaf $PesterManifest)"
    Files          = @(Get-ChildItem -Path (Join-Path $Stage 'tests/pester/*.Tests.ps1') -File).FullName
    Results        = Join-Path $Stage 'results'
}
