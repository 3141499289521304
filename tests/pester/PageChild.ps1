# The python3 page child (page-child.py beside this file): started, told what to do a line at a
# time, and stopped. Dot-sourced by the Pester files that need another process whose pages are
# known, and by tests/benchmarks/ProcessPages.Bench.ps1. A reply other than "ok" throws, naming the
# command, so that a test fails where the child did.

# Starts the child with an anonymous region of $Pages pages; returns the process, its id and the region's address.
function Start-PageChild([long] $Pages) {
    $info = [System.Diagnostics.ProcessStartInfo]::new('python3')
    $info.ArgumentList.Add((Join-Path $PSScriptRoot 'page-child.py'))
    $info.ArgumentList.Add([string]($Pages * [Environment]::SystemPageSize))
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($info)
    $ready = $process.StandardOutput.ReadLine()
    if ($ready -notlike 'ready *') {
        if (-not $process.WaitForExit(5000)) { $process.Kill() }
        throw "the page child did not start: it answered '$ready'"
    }
    [pscustomobject]@{ Process = $process; Id = $process.Id; Address = [ulong]($ready -split ' ')[1] }
}

function Send-PageChild($Child, [string] $Command) {
    $Child.Process.StandardInput.WriteLine($Command)
    $reply = $Child.Process.StandardOutput.ReadLine()
    if ($reply -notlike 'ok*') { throw "the page child answered '$reply' to '$Command'" }
}

function Stop-PageChild($Child) {
    if ($Child -and -not $Child.Process.HasExited) {
        $Child.Process.StandardInput.WriteLine('exit')
        if (-not $Child.Process.WaitForExit(5000)) { $Child.Process.Kill() }
    }
}
