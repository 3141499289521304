# MmapTools: see and steer mmap on Linux. ModuleVersion is written by the build from the one
# version source, Directory.Build.props <Version>, which is also the assembly version.
# Runs where it is tested: PowerShell 7.5 (the notebooks' pwsh kernel) and 7.6 (the local tool, on
# .NET 10) on Linux, x86_64 and arm64 flag values; the assemblies target net8.0, so PowerShell 7.4
# can be claimed once a test run has used it. Off Linux
# the import fails with one sentence (MmapTools.PowerShell.ModuleInitializer). No ProjectUri: the
# project has no public address yet.
@{
    RootModule           = 'MmapTools.dll'
    ModuleVersion        = '0.0.0'
    GUID                 = 'bd12a3d6-53d2-418d-977f-2af21efcd645'
    Author               = 'MmapTools contributors'
    CompanyName          = 'MmapTools'
    Copyright            = '(c) MmapTools contributors. MIT License.'
    Description          = 'See and steer mmap on Linux: map files, anonymous and shared memory; see which pages are resident (cachestat, mincore) for maps, files and directory trees; write, msync, madvise, mprotect, evict and warm the page cache; measure page faults.'
    PowerShellVersion    = '7.5'
    CompatiblePSEditions = @('Core')
    RequiredAssemblies   = @('MmapTools.Core.dll')
    TypesToProcess       = @('MmapTools.types.ps1xml')
    FormatsToProcess     = @('MmapTools.format.ps1xml')
    CmdletsToExport      = @(
        'New-MemoryMap'
        'Remove-MemoryMap'
        'Remove-SharedMemory'
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
        'Get-MachineMemoryProfile'
        'Get-CachedFile'
        'Get-CgroupPageCache'
        'Save-PageCache'
        'Restore-PageCache'
        'Watch-PageCache'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Linux', 'mmap', 'memory', 'page-cache', 'vmtouch', 'madvise', 'msync', 'mincore', 'cachestat', 'PSEdition_Core')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ReleaseNotes = '0.1.0, the first release: New-MemoryMap, Remove-MemoryMap, Get-MemoryMap, Read-MemoryMap, Write-MemoryMap, Sync-MemoryMap, Set-MemoryAdvice, Set-MemoryProtection, Get-PageResidency, Measure-PageFault, Remove-SharedMemory, Get-MachineMemoryProfile, Get-CachedFile, Get-CgroupPageCache, Save-PageCache, Restore-PageCache, Watch-PageCache, Get-PageState, Measure-WorkingSet, Invoke-MemoryReclaim; remoting over SSH; PowerShell 7.5+ on Linux. Every change is in CHANGELOG.md, shipped in the module.'
        }
    }
}
