# Loads pages in headless Chromium through the DevTools protocol (a websocket from .NET) and reports
# what a reader would meet: console errors, pictures drawn at no size, links to nothing.
# Site.Tests.ps1 runs it over the site that build.ps1's site task writes, and over fixtures that
# prove each check can fail.

Set-StrictMode -Version Latest

# Starts `chromium --headless=new` with a profile of its own in a new session (setsid), so that
# Stop-HeadlessChromium can kill it with every process it started. Returns the browser: its
# process, process group, profile folder and a DevTools connection to one page.
function Start-HeadlessChromium([int] $Width = 1280, [int] $Height = 900) {
    $profileDir = Join-Path ([IO.Path]::GetTempPath()) "mmaptools-chromium-$PID-$([guid]::NewGuid().ToString('N'))"
    $null = New-Item -ItemType Directory -Path $profileDir
    # Chromium makes temporary folders of its own (org.chromium.Chromium.*, holding its singleton's
    # socket) under TMPDIR and leaves them when killed: a folder of this browser's holds them. Its
    # name is short, since a socket's path may not pass 107 bytes.
    $temporary = Join-Path ([IO.Path]::GetTempPath()) "mmc-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $null = New-Item -ItemType Directory -Path $temporary
    $browser = [pscustomobject]@{ Process = $null; ProcessGroup = 0; Profile = $profileDir; Temporary = $temporary; Log = "$profileDir.log"; Socket = $null; NextId = 0; Events = [Collections.Generic.List[object]]::new() }
    try {
        # --no-sandbox: Chromium refuses to run as root with its sandbox.
        $arguments = @('chromium', '--headless=new', '--remote-debugging-port=0', "--user-data-dir=$profileDir", "--window-size=$Width,$Height",
            '--no-sandbox', '--no-first-run', '--no-default-browser-check', '--disable-gpu', '--disable-extensions', '--hide-scrollbars', 'about:blank')
        $browser.Process = Start-Process -FilePath setsid -ArgumentList $arguments -Environment @{ TMPDIR = $temporary } -RedirectStandardError $browser.Log -RedirectStandardOutput "$profileDir.out" -PassThru
        # A child of .NET leads no process group, so setsid makes the new session in place and
        # Chromium keeps the pid: its process group id becomes its pid, once setsid has run. Until
        # then the child is still in this shell's group, which must never be the one killed: the
        # group is only recorded once it is the child's own.
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while (($group = Get-ProcessGroupId $browser.Process.Id) -ne $browser.Process.Id -and -not $browser.Process.HasExited -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 10
        }
        if ($group -ne $browser.Process.Id) { throw "Chromium (pid $($browser.Process.Id)) is in process group $group, not a group of its own" }
        $browser.ProcessGroup = $group

        # With port 0 Chromium picks a free port and writes it, and the browser's path, to DevToolsActivePort.
        $portFile = Join-Path $profileDir 'DevToolsActivePort'
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not ((Test-Path -LiteralPath $portFile) -and @(Get-Content -LiteralPath $portFile).Count -ge 2)) {
            if ($browser.Process.HasExited) { throw "Chromium exited with code $($browser.Process.ExitCode): $(Get-Content -Raw -LiteralPath $browser.Log)" }
            if ([DateTime]::UtcNow -gt $deadline) { throw "Chromium wrote no DevToolsActivePort in 60 s: $(Get-Content -Raw -LiteralPath $browser.Log)" }
            Start-Sleep -Milliseconds 100
        }
        $port = [int] @(Get-Content -LiteralPath $portFile)[0]
        $page = Invoke-RestMethod -Method Put -Uri "http://127.0.0.1:$port/json/new?about:blank"
        $browser.Socket = [Net.WebSockets.ClientWebSocket]::new()
        $browser.Socket.Options.KeepAliveInterval = [TimeSpan]::Zero
        $null = $browser.Socket.ConnectAsync([Uri] $page.webSocketDebuggerUrl, [Threading.CancellationToken]::None).GetAwaiter().GetResult()
        foreach ($domain in 'Page', 'Runtime', 'Log') { $null = Invoke-DevTools $browser "$domain.enable" }
        $browser
    } catch {
        Stop-HeadlessChromium $browser
        throw
    }
}

# Kills Chromium's whole process group, waits for it, and removes its profile, temporary folder and logs.
function Stop-HeadlessChromium($Browser) {
    if ($Browser.Socket) { $Browser.Socket.Dispose() }
    # Never this shell's own group: that would kill the test run with the browser.
    if ($Browser.ProcessGroup -gt 0 -and $Browser.ProcessGroup -ne (Get-ProcessGroupId $PID)) { & kill -KILL -- "-$($Browser.ProcessGroup)" 2>$null }
    elseif ($Browser.Process -and -not $Browser.Process.HasExited) { $Browser.Process.Kill() }
    if ($Browser.Process) { $null = $Browser.Process.WaitForExit(10000) }
    # The renderers and helpers die with the group; wait until none is left but zombies.
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while ($Browser.ProcessGroup -gt 0 -and (Get-ProcessGroupMember $Browser.ProcessGroup) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
    foreach ($path in $Browser.Profile, $Browser.Temporary, $Browser.Log, "$($Browser.Profile).out") {
        if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Recurse -Force }
    }
}

# The process group of a process, from /proc (0 when it has ended).
function Get-ProcessGroupId([int] $ProcessId) {
    $stat = try { [IO.File]::ReadAllText("/proc/$ProcessId/stat") } catch { return 0 }
    [int] ($stat -replace '^.*\)\s+', '').Split(' ')[2]
}

# The live (not zombie) processes of a process group, from /proc.
function Get-ProcessGroupMember([int] $ProcessGroup) {
    foreach ($directory in [IO.Directory]::GetDirectories('/proc') -match '/[0-9]+$') {
        $stat = try { [IO.File]::ReadAllText("$directory/stat") } catch { continue } # a process that ended meanwhile
        $fields = ($stat -replace '^.*\)\s+', '').Split(' ')
        if ($fields.Count -gt 2 -and $fields[0] -ne 'Z' -and $fields[2] -eq "$ProcessGroup") { [int] (Split-Path -Leaf $directory) }
    }
}

function Receive-DevToolsMessage($Browser, [int] $TimeoutSeconds) {
    $buffer = [byte[]]::new(1MB)
    $message = [IO.MemoryStream]::new()
    $cancel = [Threading.CancellationTokenSource]::new([TimeSpan]::FromSeconds($TimeoutSeconds))
    try {
        do {
            $segment = [ArraySegment[byte]]::new($buffer)
            $result = $Browser.Socket.ReceiveAsync($segment, $cancel.Token).GetAwaiter().GetResult()
            if ($result.MessageType -eq 'Close') { throw 'Chromium closed the DevTools connection' }
            $message.Write($buffer, 0, $result.Count)
        } until ($result.EndOfMessage)
    } finally { $cancel.Dispose() }
    [Text.Encoding]::UTF8.GetString($message.ToArray()) | ConvertFrom-Json -AsHashtable -Depth 100
}

# Sends one DevTools command and returns its result; events that arrive meanwhile are kept in
# $Browser.Events.
function Invoke-DevTools($Browser, [string] $Method, [hashtable] $Params = @{}, [int] $TimeoutSeconds = 60) {
    $id = ++$Browser.NextId
    $json = @{ id = $id; method = $Method; params = $Params } | ConvertTo-Json -Depth 20 -Compress
    $bytes = [ArraySegment[byte]]::new([Text.Encoding]::UTF8.GetBytes($json))
    $null = $Browser.Socket.SendAsync($bytes, 'Text', $true, [Threading.CancellationToken]::None).GetAwaiter().GetResult()
    while ($true) {
        $message = Receive-DevToolsMessage $Browser $TimeoutSeconds
        if ($message.ContainsKey('id') -and $message['id'] -eq $id) {
            if ($message.ContainsKey('error')) { throw "DevTools $Method failed: $($message['error']['message'])" }
            return $message['result']
        }
        if ($message.ContainsKey('method')) { $Browser.Events.Add($message) }
    }
}

function Wait-DevToolsEvent($Browser, [string] $Method, [int] $TimeoutSeconds = 60) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while (-not ($Browser.Events | Where-Object { $_['method'] -eq $Method })) {
        $left = [int][Math]::Ceiling(($deadline - [DateTime]::UtcNow).TotalSeconds)
        if ($left -le 0) { throw "no $Method within $TimeoutSeconds s" }
        $message = Receive-DevToolsMessage $Browser $left
        if ($message.ContainsKey('method')) { $Browser.Events.Add($message) }
    }
}

# What the page holds, read in the page: every reference to another resource, whether each
# in-page anchor finds its element, the box of each outermost <svg>, and the links of the <nav>. A heat map is an svg
# with the cells (or the summary bar) that MmapTools.Interactive draws.
$PageFacts = @'
(() => {
  const refs = [];
  for (const [selector, attribute] of [['a[href]', 'href'], ['img[src]', 'src'], ['link[href]', 'href'], ['script[src]', 'src'], ['iframe[src]', 'src'], ['source[src]', 'src']]) {
    for (const e of document.querySelectorAll(selector)) {
      const value = e.getAttribute(attribute);
      let found = null;
      if (value.startsWith('#')) {
        const id = decodeURIComponent(value.slice(1));
        found = id === '' || document.getElementById(id) !== null || document.getElementsByName(id).length > 0;
      }
      refs.push({ tag: e.tagName.toLowerCase(), value, found });
    }
  }
  const svgs = [...document.querySelectorAll('svg')].filter(s => !s.parentElement.closest('svg')).map(s => {
    const box = s.getBoundingClientRect();
    const title = s.querySelector('title');
    return { width: box.width, height: box.height, heatMap: s.querySelector('g.cells, g.summary') !== null, title: title ? title.textContent : '' };
  });
  const navigation = [...document.querySelectorAll('nav a[href]')].map(a => a.getAttribute('href'));
  return JSON.stringify({ refs, svgs, navigation });
})()
'@

# Whether a file of the site holds an element with this id (or an <a name>).
function Test-ElementId([string] $Path, [string] $Id) {
    $html = Get-Content -Raw -LiteralPath $Path
    $html -match "\s(id|name)\s*=\s*[`"']?$([regex]::Escape($Id))[`"'\s>]"
}

# Where a reference of a page leads: $null when it resolves to a file inside the site (and to an
# element with the anchor's id, if it has one), else the reason.
function Get-BrokenReason([string] $SiteRoot, [string] $Page, $Reference) {
    $value = $Reference.value
    if ($value.StartsWith('#')) { return $(if (-not $Reference.found) { "no element with id '$($value.Substring(1))' on the page" }) }
    if ($value -match '^data:') { return $null }
    if ($value -match '^[a-zA-Z][a-zA-Z0-9+.-]*:') { return 'not a file of the site (the site loads and links nothing outside itself)' }
    $path, $fragment = $value.Split('#', 2)
    $path = [Uri]::UnescapeDataString($path.Split('?')[0])
    $target = if ($path) { [IO.Path]::GetFullPath((Join-Path (Split-Path -Parent $Page) $path)) } else { $Page }
    $root = [IO.Path]::GetFullPath($SiteRoot).TrimEnd('/') + '/'
    if (-not $target.StartsWith($root)) { return 'outside the site' }
    if (-not (Test-Path -LiteralPath $target -PathType Leaf)) { return 'no such file in the site' }
    if ($fragment -and -not (Test-ElementId $target ([Uri]::UnescapeDataString($fragment)))) { return "no element with id '$fragment' in $([IO.Path]::GetRelativePath($SiteRoot, $target))" }
}

function Get-ConsoleError($Message) {
    $params = $Message['params']
    switch ($Message['method']) {
        'Runtime.consoleAPICalled' {
            if ($params['type'] -in 'error', 'assert') {
                "console.$($params['type']): " + (($params['args'] | ForEach-Object { if ($_.ContainsKey('value')) { "$($_['value'])" } else { "$($_['description'])" } }) -join ' ')
            }
        }
        'Runtime.exceptionThrown' {
            $details = $params['exceptionDetails']
            'uncaught: ' + $(if ($details.ContainsKey('exception') -and $details['exception'].ContainsKey('description')) { $details['exception']['description'] } else { $details['text'] })
        }
        'Log.entryAdded' {
            $entry = $params['entry']
            if ($entry['level'] -eq 'error') { "$($entry['source']): $($entry['text'])$(if ($entry.ContainsKey('url')) { " ($($entry['url']))" })" }
        }
    }
}

# Loads one page from file:// and waits until it is laid out and late console messages are in.
function Open-SitePage($Browser, [string] $Page) {
    $Browser.Events.Clear()
    $null = Invoke-DevTools $Browser 'Page.navigate' @{ url = [UriBuilder]::new('file', '', 0, $Page).Uri.AbsoluteUri }
    Wait-DevToolsEvent $Browser 'Page.loadEventFired'
    $null = Invoke-DevTools $Browser 'Runtime.evaluate' @{ expression = 'new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 200))))'; awaitPromise = $true }
}

# Loads one page of the site and returns what is wrong with it: ConsoleErrors, BrokenLinks
# (reference and reason), EmptyPictures (svgs with no width or height); and what it holds: the
# counts of References, Pictures and HeatMaps, and the files its Navigation leads to.
function Test-SitePage($Browser, [string] $SiteRoot, [string] $Page) {
    Open-SitePage $Browser $Page
    $facts = (Invoke-DevTools $Browser 'Runtime.evaluate' @{ expression = $PageFacts; returnByValue = $true })['result']['value'] | ConvertFrom-Json
    $refs = @($facts.refs)
    $svgs = @($facts.svgs)
    [pscustomobject]@{
        Page          = $Page
        ConsoleErrors = @($Browser.Events | ForEach-Object { Get-ConsoleError $_ } | Where-Object { $_ })
        BrokenLinks   = @(foreach ($ref in $refs) { $reason = Get-BrokenReason $SiteRoot $Page $ref; if ($reason) { "<$($ref.tag)> $($ref.value): $reason" } })
        EmptyPictures = @($svgs | Where-Object { $_.width -le 0 -or $_.height -le 0 } | ForEach-Object { "svg '$($_.title)' is $($_.width) x $($_.height)" })
        References    = $refs.Count
        Pictures      = $svgs.Count
        HeatMaps      = @($svgs | Where-Object heatMap).Count
        Navigation    = @($facts.navigation | ForEach-Object { [IO.Path]::GetRelativePath($SiteRoot, [IO.Path]::GetFullPath((Join-Path (Split-Path -Parent $Page) ($_ -replace '#.*$', '')))) })
    }
}

# Saves a PNG of the browser's window over a page; with -Selector, scrolled so that the first
# element it matches is in the middle.
function Save-SiteScreenshot($Browser, [string] $Page, [string] $Path, [string] $Selector) {
    Open-SitePage $Browser $Page
    if ($Selector) {
        $found = Invoke-DevTools $Browser 'Runtime.evaluate' @{ returnByValue = $true
            expression = "(() => { const e = document.querySelector($(ConvertTo-Json $Selector)); if (e) e.scrollIntoView({ block: 'center' }); return e !== null; })()" }
        if (-not $found['result']['value']) { throw "$Page has no element that matches $Selector" }
    }
    $shot = Invoke-DevTools $Browser 'Page.captureScreenshot' @{ format = 'png' }
    [IO.File]::WriteAllBytes($Path, [Convert]::FromBase64String($shot['data']))
}

Export-ModuleMember -Function Start-HeadlessChromium, Stop-HeadlessChromium, Get-ProcessGroupMember, Test-SitePage, Save-SiteScreenshot
