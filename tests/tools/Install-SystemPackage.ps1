<#
.SYNOPSIS
    Installs the Debian packages that bring the given commands, when a command is missing.
.DESCRIPTION
    Only root installs (apt-get; the lists are updated when an install fails, as on a fresh
    machine). With -Optional, a command that stays missing is reported and the caller goes on (the
    tests that need it skip with the reason); without it, this throws.
.EXAMPLE
    ./Install-SystemPackage.ps1 -Command vmtouch -Optional
.EXAMPLE
    ./Install-SystemPackage.ps1 -Command jupyter-nbconvert, jupyter-kernel, jupyter-execute -Package jupyter-nbconvert, jupyter-client, python3-nbclient
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string[]] $Command,
    # The packages that bring the commands; by default, packages named as the commands.
    [string[]] $Package = $Command,
    [switch] $Optional
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$missing = @($Command | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) })
if ($missing.Count -eq 0) { return }
$names = $Package -join ', '
$problem = if ((& id -u) -ne '0') {
    "$($missing -join ', ') missing, and this user is not root to install $names (apt-get install $($Package -join ' '))"
} else {
    Write-Host "installing $names"
    & apt-get install -y -q @Package 2>&1 | Out-Null
    if ($LASTEXITCODE -ne 0) {
        & apt-get update -q 2>&1 | Out-Null
        & apt-get install -y -q @Package 2>&1 | Out-Null
    }
    if ($LASTEXITCODE -ne 0) { "apt-get could not install $names (exit code $LASTEXITCODE)" }
}
if (-not $problem) { return }
if ($Optional) { Write-Host "${problem}: the tests that need it skip" } else { throw $problem }
