@{
    RootModule        = 'EmptyCmdlet.dll'
    ModuleVersion     = '1.0'
    GUID              = '6f1d2c3b-8a4e-4b7f-9c2d-5e6a7b8c9d01'
    CmdletsToExport   = @('Get-Empty')
    FunctionsToExport = @()
    AliasesToExport   = @()
    VariablesToExport = @()
}
