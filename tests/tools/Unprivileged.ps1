# Runs as an unprivileged user, nobody (65534), for a run that is root (as CI is): what a user meets
# without root, such as residency of a file it cannot write, which mincore cannot see. Dot-sourced
# by build.ps1 (the cmdlet tests once more as nobody) and tests/tools/Matrix.ps1 (its unprivileged
# cell).
#
# Nobody cannot read /root, so what a run needs is copied into a stage of its own, laid out as in
# the repository so that the tests find the module: the PowerShell tool ($PSHOME, a
# framework-dependent pwsh.dll run by this dotnet host), Pester, artifacts/module/MmapTools, the test
# folders and the runner; with a HOME, TMPDIR (Pester's TestDrive) and results folder of its own. A
# file owned by root, mode 0644, is left in it for the tests (MMAPTOOLS_ROOT_OWNED_FILE).

$script:UnprivilegedId = 65534

# Fills $Stage (made anew under /tmp, 1777: a clone may sit below a directory other users cannot
# enter) with what a run of $TestFolder needs; throws when nobody cannot reach it.
function New-UnprivilegedStage {
    param(
        [Parameter(Mandatory)] [string] $Root,
        [Parameter(Mandatory)] [string] $Stage,
        [Parameter(Mandatory)] [string] $PesterManifest,
        [string[]] $TestFolder = @('tests/pester')
    )
    if (-not (Get-Command setpriv -CommandType Application -ErrorAction Ignore)) { throw 'setpriv (util-linux) is missing' }
    if (Test-Path -LiteralPath $Stage) { Remove-Item -LiteralPath $Stage -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $Stage
    Copy-Item -LiteralPath $PSHOME -Destination (Join-Path $Stage 'pwsh') -Recurse
    Copy-Item -LiteralPath (Split-Path -Parent $PesterManifest) -Destination (Join-Path $Stage 'Pester') -Recurse
    $null = New-Item -ItemType Directory -Path (Join-Path $Stage 'artifacts/module'), (Join-Path $Stage 'tests/tools'), (Join-Path $Stage 'home'), (Join-Path $Stage 'tmp'), (Join-Path $Stage 'results')
    Copy-Item -LiteralPath (Join-Path $Root 'artifacts/module/MmapTools') -Destination (Join-Path $Stage 'artifacts/module') -Recurse
    foreach ($folder in $TestFolder) { Copy-Item -LiteralPath (Join-Path $Root $folder) -Destination (Join-Path $Stage (Split-Path -Parent $folder)) -Recurse }
    Copy-Item -LiteralPath (Join-Path $Root 'tests/tools/Invoke-PesterRun.ps1') -Destination (Join-Path $Stage 'tests/tools')
    $rootOwned = Join-Path $Stage 'root-owned.bin'
    [IO.File]::WriteAllBytes($rootOwned, [byte[]]::new(64KB))
    & chmod 0755 $Stage
    & chmod -R a+rX,go-w $Stage
    & chmod 0644 $rootOwned
    # What the run writes: its HOME, TMPDIR and results; the experiments' results and scratch files.
    $null = New-Item -ItemType Directory -Force -Path (Join-Path $Stage 'artifacts/experiments')
    & chown -R "${script:UnprivilegedId}:$script:UnprivilegedId" (Join-Path $Stage 'home') (Join-Path $Stage 'tmp') (Join-Path $Stage 'results') (Join-Path $Stage 'artifacts/experiments')
    & setpriv --reuid=$script:UnprivilegedId --regid=$script:UnprivilegedId --clear-groups test -r $rootOwned
    if ($LASTEXITCODE -ne 0) { throw "nobody cannot reach ${Stage}: a directory above it is closed to other users" }
}

# The command that runs the staged pwsh as nobody with a cleared environment (and $Environment
# added); the pwsh arguments follow it.
function Get-UnprivilegedPwsh([string] $Stage, [hashtable] $Environment = @{}) {
    $dotnet = [Environment]::ProcessPath
    $variables = [ordered]@{
        PATH = $env:PATH; LANG = 'C.UTF-8'; HOME = "$Stage/home"; TMPDIR = "$Stage/tmp"
        DOTNET_ROOT = Split-Path -Parent $dotnet; DOTNET_CLI_TELEMETRY_OPTOUT = '1'
        MMAPTOOLS_ROOT_OWNED_FILE = Join-Path $Stage 'root-owned.bin'
    }
    foreach ($name in $Environment.Keys) { $variables[$name] = $Environment[$name] }
    @('setpriv', "--reuid=$script:UnprivilegedId", "--regid=$script:UnprivilegedId", '--clear-groups', 'env', '-i') +
        @($variables.Keys | ForEach-Object { "$_=$($variables[$_])" }) + @($dotnet, (Join-Path $Stage 'pwsh/pwsh.dll'))
}
