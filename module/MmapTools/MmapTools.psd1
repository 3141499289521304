# MmapTools: see and steer mmap on Linux. ModuleVersion is written by the build from the one
# version source, Directory.Build.props <Version>, which is also the assembly version.
@{
    RootModule           = 'MmapTools.dll'
    ModuleVersion        = '0.0.0'
    GUID                 = 'bd12a3d6-53d2-418d-977f-2af21efcd645'
    Author               = 'MmapTools contributors'
    CompanyName          = 'MmapTools'
    Copyright            = '(c) MmapTools contributors. MIT License.'
    Description          = 'See and steer mmap on Linux: map files, anonymous and shared memory; see which pages are resident (cachestat, mincore) for maps, files and directory trees; write, msync, madvise, mprotect, evict and warm the page cache; measure page faults.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    RequiredAssemblies   = @('MmapTools.Core.dll')
    TypesToProcess       = @('MmapTools.types.ps1xml')
    FormatsToProcess     = @('MmapTools.format.ps1xml')
    # Draws the cmdlets' output as pictures inside a .NET Interactive notebook; does nothing elsewhere.
    NestedModules        = @('MmapTools.Notebook.psm1')
    CmdletsToExport      = @(
        'New-MemoryMap'
        'Remove-MemoryMap'
        'Get-MemoryMap'
        'Read-MemoryMap'
        'Write-MemoryMap'
        'Sync-MemoryMap'
        'Set-MemoryAdvice'
        'Set-MemoryProtection'
        'Get-PageResidency'
        'Measure-PageFault'
        'Get-PageState'
        'Measure-WorkingSet'
        'Invoke-MemoryReclaim'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Linux', 'mmap', 'memory', 'page-cache', 'vmtouch', 'madvise', 'msync', 'mincore', 'cachestat', 'PSEdition_Core')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ReleaseNotes = 'First release: New-MemoryMap, Remove-MemoryMap, Get-MemoryMap, Read-MemoryMap, Write-MemoryMap, Sync-MemoryMap, Set-MemoryAdvice, Set-MemoryProtection, Get-PageResidency, Measure-PageFault.'
        }
    }
}
