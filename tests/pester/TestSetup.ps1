# Dot-sourced by each *.Tests.ps1 in BeforeAll: imports the module under test and gives helpers.
# The module is the one the build assembled (artifacts/module/MmapTools), or MMAPTOOLS_MODULE.
$script:ModuleManifest = if ($env:MMAPTOOLS_MODULE) { $env:MMAPTOOLS_MODULE } else {
    Join-Path $PSScriptRoot '../../artifacts/module/MmapTools/MmapTools.psd1'
}
if (-not (Test-Path -LiteralPath $script:ModuleManifest)) {
    throw "The module is not built: $script:ModuleManifest is missing (run build.ps1 build)."
}
$script:ModuleManifest = (Resolve-Path -LiteralPath $script:ModuleManifest).Path
Import-Module $script:ModuleManifest -Force -ErrorAction Stop
$script:PageSize = [MmapTools.MemoryMap]::PageSize
$script:IsRoot = (& id -u) -eq '0'
# The kernel's own readings (fincore, raw mincore and cachestat, smaps) that the tests compare with.
Import-Module (Join-Path $PSScriptRoot 'KernelOracle.psm1') -Force -ErrorAction Stop

# A file of $Size bytes filled with a pattern (byte i is i % 251), flushed to disk so that it can be evicted.
function New-TestFile([string] $Path, [long] $Size = 64KB) {
    $bytes = [byte[]]::new($Size)
    for ($i = 0; $i -lt $Size; $i++) { $bytes[$i] = $i % 251 }
    $null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $Path)
    $stream = [System.IO.File]::Create($Path)
    try { $stream.Write($bytes, 0, $bytes.Length); $stream.Flush($true) } finally { $stream.Dispose() }
    (Resolve-Path -LiteralPath $Path).ProviderPath
}

# The FullyQualifiedErrorId of the first error the script block writes or throws, or $null.
# Non-terminating errors stop it too ($ErrorActionPreference is seen by the commands it calls).
function Get-ErrorId([scriptblock] $Script) {
    $ErrorActionPreference = 'Stop'
    try {
        $null = & $Script
    } catch {
        return $_.FullyQualifiedErrorId
    }
}

# The error records a script block writes, without stopping it.
function Get-ErrorRecords([scriptblock] $Script) {
    $ErrorActionPreference = 'Continue'
    $records = [System.Collections.Generic.List[object]]::new()
    & $Script 2>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.ErrorRecord]) { $records.Add($_) } }
    , $records.ToArray()
}

function Remove-SessionMaps { Get-MemoryMap | Remove-MemoryMap -Confirm:$false }
