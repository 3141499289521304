# What runs where: off Linux the import fails with one sentence. This machine is Linux, so the
# refusal is checked through the check itself, with the descriptions other systems give.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
}

Describe 'The import check' {
    It 'lets the module load on this Linux' {
        [MmapTools.PowerShell.ModuleInitializer]::GetUnsupportedReason($IsLinux, [Runtime.InteropServices.RuntimeInformation]::OSDescription) | Should -BeNullOrEmpty
        { [MmapTools.PowerShell.ModuleInitializer]::new().OnImport() } | Should -Not -Throw
    }

    It 'refuses <Os> in one sentence that names it' -ForEach @(
        @{ Os = 'Microsoft Windows 10.0.22631' }, @{ Os = 'Darwin 23.4.0 Darwin Kernel Version 23.4.0' }, @{ Os = 'FreeBSD 14.0-RELEASE' }
    ) {
        $reason = [MmapTools.PowerShell.ModuleInitializer]::GetUnsupportedReason($false, $Os)
        $reason | Should -Match '^MmapTools works on Linux only\b'
        $reason | Should -BeLike "*this is $Os."
        # One sentence: a single full stop, at the end (the version numbers aside).
        ($reason -replace [regex]::Escape($Os)) -split '\.\s' | Should -HaveCount 1
    }

    It 'runs at import: PowerShell calls it for the module assembly' {
        [MmapTools.PowerShell.ModuleInitializer].GetInterfaces() | Should -Contain ([System.Management.Automation.IModuleAssemblyInitializer])
        [MmapTools.PowerShell.ModuleInitializer].Assembly.Location | Should -Be (Get-Module MmapTools).ImplementingAssembly.Location
    }
}
