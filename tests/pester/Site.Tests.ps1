# The site that build.ps1's site task writes (tests/tools/Build-Site.ps1), built here from the
# executed notebooks in artifacts/notebooks (the test run executes them before this suite) and
# loaded page by page in headless Chromium (SiteBrowser.psm1): no console error, every picture
# drawn at a size, every link leads to a file of the site, the navigation on every page. Fixture
# pages with one deliberate fault of each kind prove that each check can fail. Screenshots of three
# pages go to artifacts/site-screenshots.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Import-Module (Join-Path $PSScriptRoot 'SiteBrowser.psm1') -Force
    $script:Builder = Join-Path $PSScriptRoot '../tools/Build-Site.ps1'
    # The unprivileged pass of the test run copies tests/pester and the module, not the sources.
    $script:Unable = if (-not $IsRoot) {
        'not root: Chromium (Debian''s chromium) is installed and run for this test by root only'
    } elseif (-not (Test-Path -LiteralPath $Builder)) {
        "$Builder is not here: the site cannot be built"
    } else {
        & (Join-Path $PSScriptRoot '../tools/Install-SystemPackage.ps1') -Command chromium, jupyter-nbconvert -Optional
        $missing = @('chromium', 'jupyter-nbconvert' | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) })
        if ($missing) { "$($missing -join ' and ') could not be installed (apt-get install chromium jupyter-nbconvert)" }
    }
    $script:Root = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
    $script:Site = Join-Path $TestDrive 'site'
    $script:Browser = $null
    if ($Unable) { return }

    $script:Build = & ([Environment]::ProcessPath) (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File $Builder `
        -Root $Root -ModuleManifest $ModuleManifest -OutputDirectory $Site 2>&1 | ForEach-Object { "$_" }
    if ($LASTEXITCODE -ne 0) { throw "Build-Site.ps1 exited with code ${LASTEXITCODE}: $($Build -join "`n")" }
    Write-Host ($Build | Select-Object -Last 1)
    $script:Pages = @(Get-ChildItem -LiteralPath $Site -Filter '*.html' -File -Recurse | Sort-Object FullName)
    $script:Executed = @(Get-ChildItem -LiteralPath (Join-Path $Root 'artifacts/notebooks') -Filter '*.ipynb' -File -ErrorAction Ignore)

    $script:Browser = Start-HeadlessChromium
    $script:Results = @(foreach ($page in $Pages) { Test-SitePage $Browser $Site $page.FullName })

    # A fixture folder with one page of each kind of fault and one without any.
    $script:Fixtures = Join-Path $TestDrive 'fixtures'
    $null = New-Item -ItemType Directory -Path $Fixtures
    $fixture = { param($Body) "<!DOCTYPE html><html><head><meta charset=""utf-8""><link rel=""stylesheet"" href=""style.css""></head><body><nav><a href=""clean.html"">home</a></nav>$Body</body></html>" }
    Set-Content -LiteralPath (Join-Path $Fixtures 'style.css') -Value 'body { margin: 0 }'
    $fixturePages = [ordered]@{
        'clean.html'           = '<p id="top">text</p><a href="#top">up</a> <a href="clean.html#top">again</a><svg width="40" height="10"><g class="cells"><rect width="8" height="8"/></g></svg>'
        'broken-link.html'     = '<a href="missing.html">gone</a>'
        'broken-anchor.html'   = '<a href="#nowhere">nowhere</a> <a href="clean.html#elsewhere">elsewhere</a>'
        'broken-image.html'    = '<img src="missing.png" alt="">'
        'outside.html'         = '<a href="https://example.org/">out</a> <a href="../secret.html">up</a>'
        'console-error.html'   = '<script>console.error("a deliberate error")</script>'
        'uncaught.html'        = '<script>undefinedFunction()</script>'
        'empty-heat-map.html'  = '<svg width="0" height="0"><g class="cells"></g></svg>'
    }
    foreach ($name in $fixturePages.Keys) { Set-Content -LiteralPath (Join-Path $Fixtures $name) -Value (& $fixture $fixturePages[$name]) }
    $script:FixtureResults = @{}
    foreach ($name in $fixturePages.Keys) { $FixtureResults[$name] = Test-SitePage $Browser $Fixtures (Join-Path $Fixtures $name) }
}

AfterAll {
    if ($Browser) {
        $group = $Browser.ProcessGroup
        Stop-HeadlessChromium $Browser
        $left = @(Get-ProcessGroupMember $group)
        if ($left) { throw "Chromium's processes $($left -join ', ') outlived the kill of their group $group" }
    }
}

Describe 'The site' {
    BeforeEach { if ($Unable) { Set-ItResult -Skipped -Because $Unable } }

    It 'has a page for each notebook, each cmdlet, about_MmapTools, the experiments, the benchmarks and an index' {
        $expected = @('index.html', 'experiments.html', 'benchmarks.html', 'cmdlets/about_MmapTools.html') +
            @(Get-ChildItem -LiteralPath (Join-Path $Root 'notebooks') -Filter '*.ipynb' -File | ForEach-Object { "notebooks/$($_.BaseName).html" }) +
            @(Get-Command -Module MmapTools -CommandType Cmdlet | ForEach-Object { "cmdlets/$($_.Name).html" })
        $actual = @($Pages | ForEach-Object { [IO.Path]::GetRelativePath($Site, $_.FullName) })
        Write-Host "site: $($actual.Count) pages"
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
    }

    It 'writes no error to the console on any page' {
        $errors = @($Results | Where-Object { $_.ConsoleErrors.Count } | ForEach-Object { "$([IO.Path]::GetRelativePath($Site, $_.Page)): $($_.ConsoleErrors -join ' | ')" })
        $errors | Should -BeNullOrEmpty
    }

    It 'leads every link, image and stylesheet to a file of the site, and every anchor to an element' {
        $broken = @($Results | Where-Object { $_.BrokenLinks.Count } | ForEach-Object { "$([IO.Path]::GetRelativePath($Site, $_.Page)): $($_.BrokenLinks -join ' | ')" })
        $broken | Should -BeNullOrEmpty
        ($Results | Measure-Object References -Sum).Sum | Should -BeGreaterThan $Pages.Count
    }

    It 'carries the same navigation on every page' {
        foreach ($result in $Results) {
            $result.Navigation | Should -Be @('index.html', 'index.html', 'index.html', 'experiments.html', 'benchmarks.html') -Because ([IO.Path]::GetRelativePath($Site, $result.Page))
        }
    }

    It 'draws every picture at a size, and the executed notebooks'' heat maps among them' {
        $empty = @($Results | Where-Object { $_.EmptyPictures.Count } | ForEach-Object { "$([IO.Path]::GetRelativePath($Site, $_.Page)): $($_.EmptyPictures -join ' | ')" })
        $empty | Should -BeNullOrEmpty
        if (-not $Executed) { Set-ItResult -Skipped -Because 'artifacts/notebooks holds no executed notebook (build.ps1 notebooks, or the test run, executes them): no page has pictures'; return }
        $heatMaps = ($Results | Measure-Object HeatMaps -Sum).Sum
        Write-Host "site: $heatMaps heat maps, $(($Results | Measure-Object Pictures -Sum).Sum) pictures, on $(@($Results | Where-Object HeatMaps).Count) pages"
        $heatMaps | Should -BeGreaterThan 0
    }

    It 'shows each cmdlet''s synopsis and parameters from the module''s help' {
        foreach ($cmdlet in Get-Command -Module MmapTools -CommandType Cmdlet) {
            $html = Get-Content -Raw -LiteralPath (Join-Path $Site "cmdlets/$($cmdlet.Name).html")
            $help = Get-Help $cmdlet.Name -Full
            $html | Should -BeLike "*$([System.Net.WebUtility]::HtmlEncode($help.Synopsis))*" -Because $cmdlet.Name
            foreach ($parameter in @($help.parameters.parameter)) { $html | Should -BeLike "*>-$($parameter.name) <*" -Because "$($cmdlet.Name) -$($parameter.name)" }
        }
    }

    It 'saves screenshots of the index, a notebook with heat maps and a cmdlet page' {
        $shots = Join-Path $Root 'artifacts/site-screenshots'
        $null = New-Item -ItemType Directory -Force -Path $shots
        # The first notebook with a heat map, scrolled to its first resident page (ResidencyHeatMap.ResidentColor).
        $notebook = $Results | Where-Object { $_.HeatMaps -and $_.Page -like '*/notebooks/*' } | Select-Object -First 1
        $taken = @(
            @{ Page = 'index.html'; Path = 'index.png'; Selector = '' }
            @{ Page = 'cmdlets/Get-PageResidency.html'; Path = 'cmdlet-Get-PageResidency.png'; Selector = '' }
            if ($notebook) { @{ Page = [IO.Path]::GetRelativePath($Site, $notebook.Page); Path = "notebook-$([IO.Path]::GetFileNameWithoutExtension($notebook.Page)).png"; Selector = "svg g.cells rect[fill='#2f9e44']" } }
        ) | ForEach-Object {
            $path = Join-Path $shots $_.Path
            Save-SiteScreenshot $Browser (Join-Path $Site $_.Page) $path $_.Selector
            $bytes = [IO.File]::ReadAllBytes($path)
            $bytes.Length | Should -BeGreaterThan 1000
            $bytes[1..3] | Should -Be ([Text.Encoding]::ASCII.GetBytes('PNG'))
            Write-Host "screenshot: $path ($($_.Page))"
            $path
        }
        if (-not $notebook) { Set-ItResult -Skipped -Because 'no notebook page has a heat map (no executed notebook in artifacts/notebooks): two screenshots of three'; return }
        $taken.Count | Should -Be 3
    }
}

Describe 'The checker' {
    BeforeEach { if ($Unable) { Set-ItResult -Skipped -Because $Unable } }

    It 'finds nothing wrong with a clean page' {
        $clean = $FixtureResults['clean.html']
        $clean.ConsoleErrors + $clean.BrokenLinks + $clean.EmptyPictures | Should -BeNullOrEmpty
        $clean.HeatMaps | Should -Be 1
        $clean.Navigation | Should -Be @('clean.html')
    }

    It 'finds <Fault> in <Page>' -TestCases @(
        @{ Page = 'broken-link.html'; Property = 'BrokenLinks'; Fault = 'a link to a missing page'; Like = '*missing.html: no such file*' }
        @{ Page = 'broken-anchor.html'; Property = 'BrokenLinks'; Fault = 'an anchor to no element on the page'; Like = "*#nowhere: no element with id 'nowhere'*" }
        @{ Page = 'broken-anchor.html'; Property = 'BrokenLinks'; Fault = 'an anchor to no element on another page'; Like = "*clean.html#elsewhere: no element with id 'elsewhere'*" }
        @{ Page = 'broken-image.html'; Property = 'BrokenLinks'; Fault = 'a missing image'; Like = '<img> missing.png: no such file*' }
        @{ Page = 'broken-image.html'; Property = 'ConsoleErrors'; Fault = 'the failed load of the image'; Like = '*missing.png*' }
        @{ Page = 'outside.html'; Property = 'BrokenLinks'; Fault = 'a link off the site'; Like = '*https://example.org/: not a file of the site*' }
        @{ Page = 'outside.html'; Property = 'BrokenLinks'; Fault = 'a link above the site''s folder'; Like = '*../secret.html: outside the site*' }
        @{ Page = 'console-error.html'; Property = 'ConsoleErrors'; Fault = 'a console.error'; Like = 'console.error: a deliberate error' }
        @{ Page = 'uncaught.html'; Property = 'ConsoleErrors'; Fault = 'an uncaught exception'; Like = 'uncaught: ReferenceError: undefinedFunction*' }
        @{ Page = 'empty-heat-map.html'; Property = 'EmptyPictures'; Fault = 'a heat map of no size'; Like = '*is 0 x 0' }
    ) {
        param($Page, $Property, $Fault, $Like)
        @($FixtureResults[$Page].$Property | Where-Object { $_ -like $Like }).Count | Should -Be 1 -Because "$Page has $Fault; found: $($FixtureResults[$Page].$Property -join ' | ')"
    }
}
