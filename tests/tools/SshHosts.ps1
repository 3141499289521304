<#
.SYNOPSIS
    Private sshd instances on localhost ports that stand in for remote hosts, for PowerShell
    remoting over SSH. Dot-source it, then Start-SshHost / Stop-SshHost.
.DESCRIPTION
    Each host is one /usr/sbin/sshd of its own (Debian's openssh-server, installed when missing, as
    root) on an address of its own in 127.0.0.0/8 (127.0.0.11, .12, ...: Linux answers on the whole
    loopback network, and a host name per host is what tells results apart in PSComputerName), all
    on one port that is free on every address (so `-HostName a,b,c -Port p` reaches them), with a private sshd_config, a generated host key, key-only login
    for the current user and a `powershell` subsystem running the pwsh that runs this script (the
    repository's local tool: `dotnet pwsh` is a framework-dependent pwsh.dll, so the subsystem runs a
    small wrapper that starts it with this dotnet). Everything lives in one private directory under
    /tmp: keys, known_hosts, configs, logs and pid files; nothing is written to /etc/ssh or ~/.ssh,
    and the client is pointed at that directory through ssh -o options. A host can be given a module
    folder (its PSModulePath) or none, so that one host can lack the module.

    Get-SshHostSkipReason says why the hosts cannot run here without asking them.
#>

Set-StrictMode -Version Latest

$script:SshdPath = '/usr/sbin/sshd'
# sshd started as root refuses to run without its privilege separation directory, compiled in.
$script:PrivilegeSeparationDirectory = '/run/sshd'

# Why private sshd hosts cannot run here, or $null when they can: they need root (to install
# openssh-server and for sshd's privilege separation) and a Linux ssh client.
function Get-SshHostSkipReason {
    if (-not $IsLinux) { return 'the sshd fixture runs on Linux only' }
    if ((& id -u) -ne '0') { return 'not root: the private sshd needs root (to install openssh-server and to run sshd with privilege separation)' }
    if (-not (Get-Command ssh -CommandType Application -ErrorAction Ignore)) { return 'the ssh client (openssh-client) is missing' }
    $null
}

# A TCP port that nothing listens on at this moment on any of the addresses.
function Get-FreeTcpPort([string[]] $Address) {
    for ($attempt = 0; $attempt -lt 20; $attempt++) {
        $listeners = @($Address | ForEach-Object { [Net.Sockets.TcpListener]::new([Net.IPAddress]::Parse($_), 0) })
        try {
            $listeners[0].Start()
            $port = $listeners[0].LocalEndpoint.Port
            $free = $true
            foreach ($listener in $listeners | Select-Object -Skip 1) {
                $other = [Net.Sockets.TcpListener]::new($listener.LocalEndpoint.Address, $port)
                try { $other.Start() } catch { $free = $false } finally { $other.Stop() }
            }
            if ($free) { return $port }
        } finally { $listeners[0].Stop() }
    }
    throw "no TCP port is free on all of $($Address -join ', ')"
}

function Test-TcpPort([string] $Address, [int] $Port) {
    $client = [Net.Sockets.TcpClient]::new()
    try { $client.Connect([Net.IPAddress]::Parse($Address), $Port); $true } catch { $false } finally { $client.Dispose() }
}

function New-SshKey([string] $Path) {
    & ssh-keygen -q -t ed25519 -N '' -C 'mmaptools-test' -f $Path
    if ($LASTEXITCODE -ne 0) { throw "ssh-keygen could not make $Path (exit code $LASTEXITCODE)" }
}

# The loopback addresses of the first $Count hosts, in the order Start-SshHost gives them.
function Get-SshHostAddress([int] $Count) {
    @(1..$Count | ForEach-Object { "127.0.0.$(10 + $_)" })
}

<#
.SYNOPSIS
    Starts $Count private sshd hosts and returns a fleet object: its Hosts (Name - the address,
    Process, ModuleFolder), the Port, UserName and KeyFilePath they share, the ssh Options that
    keep the client on the private known_hosts, DownHostName (an address on which nothing listens:
    a host that is down) and its Directory. Connect with
    New-PSSession -HostName $fleet.Hosts.Name -Port $fleet.Port -UserName $fleet.UserName
    -KeyFilePath $fleet.KeyFilePath -Options $fleet.Options.
.PARAMETER ModuleFolder
    One folder per host (cycled), put on that host's PSModulePath; an empty string gives a host
    without it.
#>
function Start-SshHost {
    param(
        [int] $Count = 3,
        [string[]] $ModuleFolder = @(''),
        [string] $PowerShellHome = $PSHOME,
        [string] $DotnetPath = [Environment]::ProcessPath
    )
    $reason = Get-SshHostSkipReason
    if ($reason) { throw $reason }
    if (-not (Test-Path -LiteralPath $script:SshdPath)) { & (Join-Path $PSScriptRoot 'Install-SystemPackage.ps1') -Command sshd -Package openssh-server }
    $addresses = Get-SshHostAddress ($Count + 1)
    $dir = & mktemp -d /tmp/mmaptools-ssh-XXXXXX
    $fleet = [pscustomobject]@{
        Directory = $dir
        Hosts = [Collections.Generic.List[object]]::new()
        Port = Get-FreeTcpPort $addresses
        UserName = (& id -un)
        KeyFilePath = "$dir/client_ed25519"
        Options = @{
            UserKnownHostsFile = "$dir/known_hosts"; GlobalKnownHostsFile = '/dev/null'
            StrictHostKeyChecking = 'yes'; IdentitiesOnly = 'yes'; BatchMode = 'yes'
            PasswordAuthentication = 'no'; GSSAPIAuthentication = 'no'
        }
        DownHostName = $addresses[-1]
        CreatedPrivilegeSeparationDirectory = $false
    }
    try {
        if (-not (Test-Path -LiteralPath $script:PrivilegeSeparationDirectory)) {
            $null = New-Item -ItemType Directory -Path $script:PrivilegeSeparationDirectory
            & chmod 0755 $script:PrivilegeSeparationDirectory
            $fleet.CreatedPrivilegeSeparationDirectory = $true
        }
        New-SshKey "$dir/host_ed25519"
        New-SshKey "$dir/client_ed25519"
        Copy-Item -LiteralPath "$dir/client_ed25519.pub" -Destination "$dir/authorized_keys"
        $hostKey = (Get-Content -Raw -LiteralPath "$dir/host_ed25519.pub").Trim() -replace '\s+\S+$'
        $pwshDll = Join-Path $PowerShellHome 'pwsh.dll'
        if (-not (Test-Path -LiteralPath $pwshDll)) { throw "$pwshDll is missing: the subsystem needs the pwsh of the local tool" }
        if (-not (Test-Path -LiteralPath $DotnetPath -PathType Leaf)) { throw "'$DotnetPath' is not the dotnet executable that runs pwsh.dll" }
        for ($i = 0; $i -lt $Count; $i++) {
            $name = $addresses[$i]
            $port = $fleet.Port
            $modules = $ModuleFolder[$i % $ModuleFolder.Count]
            # The subsystem runs this wrapper with sshd's bare environment: it names dotnet, pwsh.dll
            # and the module path itself.
            $wrapper = "$dir/$name-pwsh"
            @(
                '#!/bin/sh'
                "export DOTNET_ROOT='$(Split-Path -Parent $DotnetPath)' DOTNET_CLI_TELEMETRY_OPTOUT=1 POWERSHELL_TELEMETRY_OPTOUT=1"
                "export PSModulePath='$modules'"
                "exec '$DotnetPath' '$pwshDll' `"`$@`""
            ) -join "`n" | Set-Content -LiteralPath $wrapper -NoNewline
            & chmod 0700 $wrapper
            $config = "$dir/$name.sshd_config"
            @(
                "Port $port"
                "ListenAddress ${name}"
                "HostKey $dir/host_ed25519"
                "PidFile $dir/$name.pid"
                "AuthorizedKeysFile $dir/authorized_keys"
                "AllowUsers $($fleet.UserName)"
                'PubkeyAuthentication yes'
                'PasswordAuthentication no'
                'KbdInteractiveAuthentication no'
                'PermitRootLogin prohibit-password'
                'UsePAM no'
                # The keys sit under /tmp, which is world-writable: sshd's owner checks would refuse them.
                'StrictModes no'
                'LogLevel VERBOSE'
                "Subsystem powershell $wrapper -sshs -NoLogo -NoProfile"
            ) | Set-Content -LiteralPath $config
            # "[address]:port key": the client checks this host key and no other.
            "[${name}]:$port $hostKey" | Add-Content -LiteralPath "$dir/known_hosts"
            $process = Start-Process -FilePath $script:SshdPath -ArgumentList '-D', '-f', $config, '-E', "$dir/$name.log" -PassThru
            $fleet.Hosts.Add([pscustomobject]@{ Name = $name; Process = $process; ModuleFolder = $modules })
        }
        foreach ($h in $fleet.Hosts) {
            $deadline = [DateTime]::UtcNow.AddSeconds(15)
            while (-not (Test-TcpPort $h.Name $fleet.Port)) {
                if ($h.Process.HasExited) { throw "sshd of $($h.Name) exited with code $($h.Process.ExitCode): $(Get-Content -Raw -LiteralPath "$($fleet.Directory)/$($h.Name).log" -ErrorAction Ignore)" }
                if ([DateTime]::UtcNow -gt $deadline) { throw "sshd of $($h.Name) does not listen on port $($fleet.Port) after 15 s" }
                Start-Sleep -Milliseconds 100
            }
        }
        $fleet
    } catch {
        Stop-SshHost $fleet
        throw
    }
}

# The ssh client's arguments that reach one host of the fleet as PowerShell does.
function Get-SshArgument($Fleet, [string] $HostName) {
    @('-p', $Fleet.Port, '-i', $Fleet.KeyFilePath, '-l', $Fleet.UserName) + @($Fleet.Options.GetEnumerator() | ForEach-Object { '-o'; "$($_.Key)=$($_.Value)" }) + $HostName
}

# The parameters of New-PSSession that reach the fleet's hosts (or the given ones).
function Get-SshSessionParameter($Fleet, [string[]] $HostName = $Fleet.Hosts.Name) {
    @{ HostName = $HostName; Port = $Fleet.Port; UserName = $Fleet.UserName; KeyFilePath = $Fleet.KeyFilePath; Options = $Fleet.Options }
}

# Stops every sshd of the fleet (and the sessions they run), then removes its directory and the
# privilege separation directory when Start-SshHost made it. Safe to call on a half-started fleet.
function Stop-SshHost($Fleet) {
    if (-not $Fleet) { return }
    foreach ($h in $Fleet.Hosts) {
        # Each connection is a child sshd (the subsystem's pwsh below it): they are ended too, since
        # a killed listener leaves them running.
        $children = @(& pgrep -P $h.Process.Id 2>$null)
        if (-not $h.Process.HasExited) { $h.Process.Kill(); $h.Process.WaitForExit(5000) | Out-Null }
        foreach ($child in $children) { & kill -TERM $child 2>$null }
    }
    if ($Fleet.Directory -and (Test-Path -LiteralPath $Fleet.Directory)) { Remove-Item -LiteralPath $Fleet.Directory -Recurse -Force }
    if ($Fleet.CreatedPrivilegeSeparationDirectory) { Remove-Item -LiteralPath $script:PrivilegeSeparationDirectory -Recurse -Force -ErrorAction Ignore }
}
