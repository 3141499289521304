# Nested in the MmapTools module beside MmapTools.Interactive.dll: inside a .NET Interactive notebook
# (Jupyter, Polyglot Notebooks) it makes what the cmdlets write appear as pictures, with no extra call.
# The pwsh kernel prints a cell's output through PowerShell's format system, which never asks .NET
# Interactive's formatters; MmapTools.Interactive.format.ps1xml puts views first that hand each object
# to [MmapTools.Interactive.NotebookDisplay]::Show. Outside a notebook this file does nothing, and the
# module's own text views apply.
if ('Microsoft.DotNet.Interactive.KernelInvocationContext' -as [type]) {
    Add-Type -LiteralPath (Join-Path $PSScriptRoot 'MmapTools.Interactive.dll')
    [MmapTools.Interactive.MmapFormatters]::Register()
    Update-FormatData -PrependPath (Join-Path $PSScriptRoot 'MmapTools.Interactive.format.ps1xml')
}
