<#
.SYNOPSIS
    Executes notebooks through Jupyter with the .NET Interactive kernel, as build.ps1's notebooks
    suite and task do; returns one result a notebook (Name, Seconds, Pictures, Problem).
.DESCRIPTION
    Runs on Jupyter's nbconvert with nbclient (Debian packages, installed when missing) and the .NET
    Interactive kernels of the local tool (dotnet-tools.json), registered for this user at every run
    (about a second), so that a fresh HOME works. The kernels run `dotnet interactive`, which finds
    the local tool from the notebook's folder inside the repository. The executed copies go to
    -OutputDirectory; with -Html, their HTML renderings too.

    A notebook passes when no cell failed and both a C# and a PowerShell cell drew a picture (an
    <svg>): the pictures of pwsh output come through the module's views, which only a real kernel
    exercises.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [IO.FileInfo[]] $Notebook,
    [Parameter(Mandatory)] [string] $OutputDirectory,
    [switch] $Html
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# jupyter-nbconvert, jupyter-kernel and jupyter-execute come with the three packages.
& (Join-Path $PSScriptRoot 'Install-SystemPackage.ps1') -Command jupyter-nbconvert, jupyter-kernel, jupyter-execute `
    -Package jupyter-nbconvert, jupyter-client, python3-nbclient
& dotnet dotnet-interactive jupyter install | Out-Host
if ($LASTEXITCODE -ne 0) { throw "dotnet dotnet-interactive jupyter install exited with code $LASTEXITCODE" }

function Invoke-Notebook([IO.FileInfo] $Notebook) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    # --allow-errors: the executed copy keeps every cell's output, the failing one included; the
    # failure is found below in the outputs.
    $log = & jupyter nbconvert --to notebook --execute --allow-errors --ExecutePreprocessor.timeout=600 `
        --output-dir $OutputDirectory $Notebook.FullName 2>&1
    $exitCode = $LASTEXITCODE
    $executed = Join-Path $OutputDirectory $Notebook.Name
    $problem = ''
    $pictures = @{ csharp = 0; pwsh = 0 }
    if ($exitCode -ne 0 -or -not (Test-Path -LiteralPath $executed)) {
        $last = @($log | ForEach-Object { "$_" } | Where-Object { $_ -match 'Error|error|died|timed out' } | Select-Object -Last 3)
        $problem = "jupyter nbconvert exited with code ${exitCode}: $($last -join ' | ')"
    } else {
        $cells = (Get-Content -Raw -LiteralPath $executed | ConvertFrom-Json -AsHashtable)['cells'] | Where-Object { $_['cell_type'] -eq 'code' }
        foreach ($cell in $cells) {
            $interactive = $cell['metadata']['dotnet_interactive']
            $language = if ($interactive -and $interactive['language']) { $interactive['language'] } else { 'csharp' }
            foreach ($output in $cell['outputs']) {
                # The PowerShell kernel reports a cell that does not parse, and every non-terminating
                # error, as text on stderr with no error output: a notebook writes nothing there otherwise.
                $failure = if ($output['output_type'] -eq 'error') { "failed: $($output['evalue'] -replace '\s+', ' ')" }
                elseif ($output['output_type'] -eq 'stream' -and $output['name'] -eq 'stderr') {
                    "wrote to stderr: $((($output['text'] -join '') -split "`n" | Where-Object { $_.Trim() } | Select-Object -First 3) -join ' | ')"
                }
                if ($failure -and -not $problem) {
                    $source = ($cell['source'] -join '') -split "`n" | Where-Object { $_ -and $_ -notmatch '^#!' } | Select-Object -First 1
                    $problem = "the cell that starts '$source' $failure"
                }
                $data = $output['data']
                if ($data -and $data['text/html'] -and ($data['text/html'] -join '') -match '<svg') { $pictures[$language]++ }
            }
        }
        if (-not $problem -and ($pictures.csharp -eq 0 -or $pictures.pwsh -eq 0)) {
            $problem = "a picture is missing: $($pictures.csharp) from C# cells, $($pictures.pwsh) from PowerShell cells"
        }
    }
    [pscustomobject]@{ Name = $Notebook.BaseName; Seconds = $watch.Elapsed.TotalSeconds; Pictures = $pictures; Problem = $problem }
}

foreach ($file in $Notebook) {
    $result = Invoke-Notebook $file
    $verdict = if ($result.Problem) { 'FAILED' } else { 'passed' }
    Write-Host ('notebook {0}: {1} in {2:0.0} s ({3} pictures from C#, {4} from PowerShell)' -f $result.Name, $verdict, $result.Seconds, $result.Pictures.csharp, $result.Pictures.pwsh)
    if ($result.Problem) { Write-Host "    $($result.Problem)" }
    $result
}

if ($Html) {
    $executed = @(Get-ChildItem -LiteralPath $OutputDirectory -Filter '*.ipynb' -File -ErrorAction Ignore)
    if ($executed.Count -gt 0) {
        & jupyter nbconvert --to html --output-dir $OutputDirectory $executed.FullName 2>&1 | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "jupyter nbconvert --to html exited with code $LASTEXITCODE" }
    }
}
