<#
.SYNOPSIS
    Writes a static site to read offline: the executed notebooks, a page a cmdlet, the experiments
    report and the benchmark table, with an index and the same navigation on every page.
.DESCRIPTION
    build.ps1's site task runs this in a child pwsh after the build (and after executing the
    notebooks when their executed copies are missing or older than the notebooks).

    - Notebooks: each executed copy in -NotebookDirectory, rendered by Jupyter's nbconvert with its
      "basic" template (the cells alone, without the require.js and MathJax that its full templates
      load from a CDN), placed in a page of the site. A notebook without an executed copy is
      rendered from notebooks/ without outputs, and its page says so.
    - Cmdlets: Get-Help of each cmdlet of the built module, that is the MAML help that
      src/MmapTools.PowerShell/Help/Build-MamlHelp.ps1 writes from the help sources, plus the
      module's about_MmapTools.
    - The experiments report (artifacts/experiments/report.md when the experiments task wrote one,
      else tests/experiments/LAST-RUN.md) and the benchmark table (artifacts/bench/results.md when
      the bench task wrote one, else the README's Benchmarks section), Markdown converted by
      ConvertFrom-Markdown (Markdig).

    Nothing is loaded from the network: pages link one stylesheet of the site. Links to other
    pages use relative paths, so the site opens from file:// as well as from a web server.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Root,
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [Parameter(Mandatory)] [string] $OutputDirectory,
    # The executed copies of the notebooks (build.ps1 writes them to artifacts/notebooks).
    [string] $NotebookDirectory = (Join-Path $Root 'artifacts/notebooks')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

& (Join-Path $PSScriptRoot 'Install-SystemPackage.ps1') -Command jupyter-nbconvert -Package jupyter-nbconvert
$Root = (Resolve-Path -LiteralPath $Root).ProviderPath
$module = Import-Module (Resolve-Path -LiteralPath $ModuleManifest).ProviderPath -PassThru -Force
if (Test-Path -LiteralPath $OutputDirectory) { Remove-Item -LiteralPath $OutputDirectory -Recurse -Force }
$null = New-Item -ItemType Directory -Path $OutputDirectory, (Join-Path $OutputDirectory 'notebooks'), (Join-Path $OutputDirectory 'cmdlets')
$OutputDirectory = (Resolve-Path -LiteralPath $OutputDirectory).ProviderPath

function Get-Encoded([string] $Text) { [System.Net.WebUtility]::HtmlEncode($Text) }

# One page: the navigation (links relative to the page's folder), a title and the body's HTML.
function Write-Page([string] $RelativePath, [string] $Title, [string] $Body) {
    $up = '../' * ($RelativePath.Split('/').Count - 1)
    $nav = (@(
            @('index.html', 'MmapTools'), @('index.html#notebooks', 'Notebooks'), @('index.html#cmdlets', 'Cmdlets'),
            @('experiments.html', 'Experiments'), @('benchmarks.html', 'Benchmarks')
        ) | ForEach-Object { "<a href=""$up$($_[0])"">$($_[1])</a>" }) -join "`n"
    $path = Join-Path $OutputDirectory $RelativePath
    Set-Content -LiteralPath $path -Encoding utf8NoBOM -Value @"
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$(Get-Encoded $Title) - MmapTools</title>
<link rel="stylesheet" href="${up}site.css">
</head>
<body>
<nav>
$nav
</nav>
<main>
$Body
</main>
</body>
</html>
"@
}

function Get-MarkdownHtml([string] $Markdown) { (ConvertFrom-Markdown -InputObject $Markdown).Html }

# ---------------------------------------------------------------- notebooks

function Get-NotebookTitle([string] $Path) {
    $first = (Get-Content -Raw -LiteralPath $Path | ConvertFrom-Json -AsHashtable)['cells'] | Where-Object { $_['cell_type'] -eq 'markdown' } | Select-Object -First 1
    $heading = if ($first) { ($first['source'] -join '') -split "`n" | Where-Object { $_ -match '^#\s' } | Select-Object -First 1 }
    if ($heading) { $heading -replace '^#\s+', '' } else { [IO.Path]::GetFileNameWithoutExtension($Path) }
}

# The notebook's JSON without <script> elements in its HTML outputs. .NET Interactive's first
# output in a notebook is a script that looks for the kernel on localhost and loads require.js
# from a CDN: on a page without a kernel it can only fail. The pictures are plain SVG.
function Remove-OutputScript([string] $Json) {
    $notebook = $Json | ConvertFrom-Json -AsHashtable -Depth 100
    foreach ($cell in $notebook['cells']) {
        foreach ($output in @(if ($cell.ContainsKey('outputs')) { $cell['outputs'] })) {
            if ($output.ContainsKey('data') -and $output['data'].ContainsKey('text/html')) {
                $html = $output['data']['text/html'] -join ''
                $output['data']['text/html'] = $html -replace '(?s)<script\b.*?</script>', ''
            }
        }
    }
    $notebook | ConvertTo-Json -Depth 100
}

# Each notebook's executed copy (else its source), cleaned into a folder of its own and rendered
# there by one nbconvert (Python's start-up is most of a notebook's time).
$rendered = Join-Path ([IO.Path]::GetTempPath()) "mmaptools-site-$PID"
$null = New-Item -ItemType Directory -Force -Path $rendered
$notebooks = try {
    $sources = @(Get-ChildItem -LiteralPath (Join-Path $Root 'notebooks') -Filter '*.ipynb' -File | Sort-Object Name | ForEach-Object {
            $executed = Join-Path $NotebookDirectory $_.Name
            $isExecuted = Test-Path -LiteralPath $executed
            $notebook = if ($isExecuted) { $executed } else { $_.FullName }
            Set-Content -LiteralPath (Join-Path $rendered $_.Name) -Encoding utf8NoBOM -Value (Remove-OutputScript (Get-Content -Raw -LiteralPath $notebook))
            [pscustomobject]@{ Name = $_.BaseName; Title = Get-NotebookTitle $notebook; Executed = $isExecuted }
        })
    if ($sources.Count) {
        $log = & jupyter nbconvert --to html --template basic --output-dir $rendered @($sources | ForEach-Object { Join-Path $rendered "$($_.Name).ipynb" }) 2>&1
        if ($LASTEXITCODE -ne 0) { throw "jupyter nbconvert --to html exited with code ${LASTEXITCODE}: $($log -join ' ')" }
    }
    foreach ($notebook in $sources) {
        $cells = Get-Content -Raw -LiteralPath (Join-Path $rendered "$($notebook.Name).html")
        $note = if (-not $notebook.Executed) {
            "<p class=""note"">Not executed: there is no executed copy in $(Get-Encoded $NotebookDirectory), so the cells are shown without their outputs (<code>build.ps1 site</code> executes the notebooks first).</p>`n"
        }
        Write-Page "notebooks/$($notebook.Name).html" $notebook.Title "<div class=""notebook"">`n$note$cells`n</div>"
    }
    $sources
} finally {
    Remove-Item -LiteralPath $rendered -Recurse -Force
}

# ---------------------------------------------------------------- cmdlets

# Get-Help's paragraphs (objects with a Text property), each a <p>.
function ConvertTo-Paragraphs($Items) { (@($Items) | Where-Object { $_ } | ForEach-Object { "<p>$(Get-Encoded $_.Text)</p>" }) -join "`n" }

$cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)
$names = @($cmdlets.Name) + 'about_MmapTools'
function ConvertTo-HelpLink([string] $Name) {
    if ($Name -in $names) { "<a href=""$Name.html"">$(Get-Encoded $Name)</a>" } else { Get-Encoded $Name }
}

foreach ($cmdlet in $cmdlets) {
    $help = Get-Help $cmdlet.Name -Full
    $body = [Text.StringBuilder]::new()
    $null = $body.AppendLine("<h1>$($cmdlet.Name)</h1>").AppendLine("<p class=""synopsis"">$(Get-Encoded $help.Synopsis)</p>")
    # One line a parameter set, which the page wraps between words.
    $null = $body.AppendLine('<h2 id="syntax">Syntax</h2>').AppendLine("<pre class=""syntax"">$(Get-Encoded (($help.syntax | Out-String -Width 4096).Trim()))</pre>")
    $null = $body.AppendLine('<h2 id="description">Description</h2>').AppendLine((ConvertTo-Paragraphs $help.description))
    $null = $body.AppendLine('<h2 id="parameters">Parameters</h2>')
    foreach ($parameter in @($help.parameters.parameter)) {
        $null = $body.AppendLine("<h3 id=""parameter-$($parameter.name.ToLowerInvariant())"">-$($parameter.name) <span class=""type"">&lt;$(Get-Encoded $parameter.type.name)&gt;</span></h3>")
        $null = $body.AppendLine((ConvertTo-Paragraphs $parameter.description))
        $null = $body.AppendLine("<table class=""attributes""><tr><th>Required</th><td>$($parameter.required)</td><th>Position</th><td>$($parameter.position)</td>" +
            "<th>Default</th><td>$(Get-Encoded $parameter.defaultValue)</td><th>Pipeline input</th><td>$(Get-Encoded $parameter.pipelineInput)</td>" +
            "<th>Aliases</th><td>$(Get-Encoded $parameter.aliases)</td></tr></table>")
    }
    foreach ($kind in @(@('Inputs', 'inputTypes', 'inputType'), @('Outputs', 'returnValues', 'returnValue'))) {
        $null = $body.AppendLine("<h2 id=""$($kind[0].ToLowerInvariant())"">$($kind[0])</h2>")
        foreach ($item in @($help.($kind[1]).($kind[2]))) {
            $null = $body.AppendLine("<h3>$(Get-Encoded $item.type.name)</h3>").AppendLine((ConvertTo-Paragraphs $item.description))
        }
    }
    $null = $body.AppendLine('<h2 id="notes">Notes</h2>').AppendLine((ConvertTo-Paragraphs $help.alertSet.alert))
    $null = $body.AppendLine('<h2 id="examples">Examples</h2>')
    foreach ($example in @($help.examples.example)) {
        $null = $body.AppendLine("<h3>$(Get-Encoded ($example.title.Trim(' -')))</h3>").AppendLine("<pre><code>$(Get-Encoded $example.code)</code></pre>").AppendLine((ConvertTo-Paragraphs $example.remarks))
    }
    $links = @($help.relatedLinks.navigationLink | ForEach-Object { "<li>$(ConvertTo-HelpLink $_.linkText)</li>" })
    $null = $body.AppendLine('<h2 id="related-links">Related links</h2>').AppendLine("<ul>$($links -join '')</ul>")
    Write-Page "cmdlets/$($cmdlet.Name).html" $cmdlet.Name $body.ToString()
}
$about = Get-Content -Raw -LiteralPath (Join-Path $module.ModuleBase 'en-US/about_MmapTools.help.txt')
Write-Page 'cmdlets/about_MmapTools.html' 'about_MmapTools' "<h1>about_MmapTools</h1>`n<pre>$(Get-Encoded $about)</pre>"

# ---------------------------------------------------------------- reports

# A Markdown section of a file: from its heading to the next heading of the same level.
function Get-MarkdownSection([string] $Path, [string] $Heading) {
    $lines = Get-Content -LiteralPath $Path
    $start = [Array]::IndexOf($lines, $Heading)
    if ($start -lt 0) { throw "$Path has no line '$Heading'" }
    $level = ($Heading -replace '^(#+).*', '$1') + ' '
    $end = $start + 1
    while ($end -lt $lines.Count -and -not $lines[$end].StartsWith($level)) { $end++ }
    $lines[$start..($end - 1)] -join "`n"
}

$experiments = Join-Path $Root 'artifacts/experiments/report.md'
if (-not (Test-Path -LiteralPath $experiments)) { $experiments = Join-Path $Root 'tests/experiments/LAST-RUN.md' }
Write-Page 'experiments.html' 'Experiments' "<p class=""source"">From $(Get-Encoded ([IO.Path]::GetRelativePath($Root, $experiments))).</p>`n$(Get-MarkdownHtml (Get-Content -Raw -LiteralPath $experiments))"

$bench = Join-Path $Root 'artifacts/bench/results.md'
$benchMarkdown = if (Test-Path -LiteralPath $bench) { Get-Content -Raw -LiteralPath $bench } else {
    $bench = Join-Path $Root 'README.md'
    Get-MarkdownSection $bench '## Benchmarks'
}
Write-Page 'benchmarks.html' 'Benchmarks' "<p class=""source"">From $(Get-Encoded ([IO.Path]::GetRelativePath($Root, $bench))).</p>`n$(Get-MarkdownHtml $benchMarkdown)"

# ---------------------------------------------------------------- index and style

Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'site.css') -Destination (Join-Path $OutputDirectory 'site.css')
# The README's first paragraph says what MmapTools is.
$intro = Get-MarkdownHtml ((Get-Content -Raw -LiteralPath (Join-Path $Root 'README.md')) -split '\r?\n\s*\r?\n' | Where-Object { $_ -notmatch '^#' } | Select-Object -First 1)
$notebookList = ($notebooks | ForEach-Object {
        "<li><a href=""notebooks/$($_.Name).html"">$(Get-Encoded $_.Title)</a>$(if (-not $_.Executed) { ' (not executed)' })</li>" }) -join "`n"
$cmdletList = ($cmdlets | ForEach-Object { "<li><a href=""cmdlets/$($_.Name).html"">$($_.Name)</a>: $(Get-Encoded (Get-Help $_.Name).Synopsis)</li>" }) -join "`n"
Write-Page 'index.html' 'MmapTools' @"
<h1>MmapTools</h1>
$intro
<h2 id="notebooks">Notebooks</h2>
<ul>
$notebookList
</ul>
<h2 id="cmdlets">Cmdlets</h2>
<ul>
$cmdletList
<li><a href="cmdlets/about_MmapTools.html">about_MmapTools</a>: the module's concepts, error ids and environment</li>
</ul>
<h2 id="reports">Reports</h2>
<ul>
<li><a href="experiments.html">Experiments</a>: each claim about mmap, measured on this machine, with its verdict</li>
<li><a href="benchmarks.html">Benchmarks</a>: the cmdlets against the tools a user would otherwise use</li>
</ul>
"@
$pages = @(Get-ChildItem -LiteralPath $OutputDirectory -Filter '*.html' -File -Recurse).Count
$unexecuted = @($notebooks | Where-Object { -not $_.Executed }).Count
Write-Host "site: $pages pages ($($notebooks.Count) notebooks$(if ($unexecuted) { ", $unexecuted of them not executed" }), $($cmdlets.Count) cmdlets and about_MmapTools, experiments, benchmarks, index); open $(Join-Path $OutputDirectory 'index.html')"
