<#
.SYNOPSIS
    Writes MmapTools.dll-Help.xml (MAML) from the help sources beside this script and the real cmdlets.
.DESCRIPTION
    Each cmdlet has a <Verb>-<Noun>.help.psd1 here with its synopsis, description, a description of
    each parameter, the defaults that are not plain values (Defaults), inputs, outputs, examples,
    notes and links. The syntax - parameter sets, types,
    positions, mandatory parameters, pipeline input, aliases - is read from the built module with
    Get-Command, so the help cannot drift from the signatures. A parameter without a description is
    written with an empty one and reported as a warning; the Pester help test fails on it.
    build.ps1 runs this in a child pwsh after the build.
.PARAMETER ModuleManifest
    The built module's MmapTools.psd1 (artifacts/module/MmapTools/MmapTools.psd1).
.PARAMETER OutputPath
    The MAML file to write; by default en-US/MmapTools.dll-Help.xml beside the manifest.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [string] $OutputPath = (Join-Path (Split-Path -Parent $ModuleManifest) 'en-US/MmapTools.dll-Help.xml')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$maml = 'http://schemas.microsoft.com/maml/2004/10'
$command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
$shouldProcess = @{
    WhatIf  = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'
    Confirm = 'Prompts you for confirmation before running the cmdlet.'
}

$module = Import-Module $ModuleManifest -PassThru -Force
$null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $OutputPath)
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$w = [System.Xml.XmlWriter]::Create($OutputPath, $settings)

function Write-Paragraphs([string] $Text) {
    $w.WriteStartElement('maml', 'description', $maml)
    foreach ($para in ($Text.Trim() -split '\r?\n\s*\r?\n')) {
        $w.WriteElementString('maml', 'para', $maml, ($para -replace '\s*\r?\n\s*', ' '))
    }
    $w.WriteEndElement()
}

function Get-PipelineInput($Parameter) {
    $how = @(if ($Parameter.ValueFromPipeline) { 'ByValue' }; if ($Parameter.ValueFromPipelineByPropertyName) { 'ByPropertyName' })
    if ($how) { "True ($($how -join ', '))" } else { 'False' }
}

function Write-Parameter($Parameter, [string] $Description, $Default, [bool] $Required, [string] $Position) {
    $type = $Parameter.ParameterType
    $w.WriteStartElement('command', 'parameter', $command)
    $w.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $w.WriteAttributeString('variableLength', $type.IsArray.ToString().ToLowerInvariant())
    $w.WriteAttributeString('globbing', ($Parameter.Name -eq 'Path').ToString().ToLowerInvariant())
    $w.WriteAttributeString('pipelineInput', (Get-PipelineInput $Parameter))
    $w.WriteAttributeString('position', $Position)
    $aliases = @($Parameter.Aliases)
    $w.WriteAttributeString('aliases', $(if ($aliases.Count) { $aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('maml', 'name', $maml, $Parameter.Name)
    Write-Paragraphs $Description
    if ($type -ne [System.Management.Automation.SwitchParameter]) {
        $w.WriteStartElement('command', 'parameterValue', $command)
        $w.WriteAttributeString('required', 'true')
        $w.WriteAttributeString('variableLength', $type.IsArray.ToString().ToLowerInvariant())
        $w.WriteString($type.Name)
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $dev)
    $w.WriteElementString('maml', 'name', $maml, $type.FullName)
    $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $dev, $(if ($null -ne $Default) { "$Default" } elseif ($type -eq [System.Management.Automation.SwitchParameter]) { 'False' } else { 'None' }))
    $w.WriteEndElement()
}

function Get-Position($Parameter) { if ($Parameter.Position -ge 0) { "$($Parameter.Position)" } else { 'named' } }

$w.WriteStartDocument()
$w.WriteStartElement('helpItems', 'http://msh')
$w.WriteAttributeString('schema', 'maml')
$missing = 0
foreach ($cmd in Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name) {
    $sourcePath = Join-Path $PSScriptRoot "$($cmd.Name).help.psd1"
    if (-not (Test-Path -LiteralPath $sourcePath)) { throw "$($cmd.Name) has no help source $sourcePath" }
    $source = Import-PowerShellDataFile -LiteralPath $sourcePath
    $descriptions = $source.Parameters + $shouldProcess
    $defaults = if ($source.ContainsKey('Defaults')) { $source.Defaults } else { @{} }
    $instance = New-Object $cmd.ImplementingType
    $parameters = @($cmd.Parameters.Values | Where-Object { $_.Name -notin $common -or $shouldProcess.ContainsKey($_.Name) } | Sort-Object Name)
    foreach ($p in $parameters) {
        if (-not $descriptions.ContainsKey($p.Name)) { Write-Warning "$($cmd.Name) -$($p.Name) has no description in $sourcePath"; $missing++ }
    }
    foreach ($name in $source.Parameters.Keys) {
        if (-not $cmd.Parameters.ContainsKey($name)) { throw "$sourcePath describes -$name, which $($cmd.Name) does not have" }
    }

    $w.WriteStartElement('command', 'command', $command)
    $w.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $w.WriteAttributeString('xmlns', 'command', $null, $command)
    $w.WriteAttributeString('xmlns', 'dev', $null, $dev)
    $w.WriteStartElement('command', 'details', $command)
    $w.WriteElementString('command', 'name', $command, $cmd.Name)
    $w.WriteElementString('command', 'verb', $command, $cmd.Verb)
    $w.WriteElementString('command', 'noun', $command, $cmd.Noun)
    Write-Paragraphs $source.Synopsis
    $w.WriteEndElement()
    Write-Paragraphs $source.Description

    $w.WriteStartElement('command', 'syntax', $command)
    foreach ($set in $cmd.ParameterSets) {
        $w.WriteStartElement('command', 'syntaxItem', $command)
        $w.WriteElementString('maml', 'name', $maml, $cmd.Name)
        $inSet = @($set.Parameters | Where-Object { $_.Name -notin $common -or $shouldProcess.ContainsKey($_.Name) } |
            Sort-Object @{ Expression = { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } } }, @{ Expression = { -not $_.IsMandatory } },
                @{ Expression = { $shouldProcess.ContainsKey($_.Name) } }, Name)
        foreach ($p in $inSet) {
            Write-Parameter $p $descriptions[$p.Name] $null $p.IsMandatory (Get-Position $p)
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $command)
    foreach ($p in $parameters) {
        # Attributes that differ between parameter sets are described by the set where the parameter is mandatory, if any.
        $inSets = @($cmd.ParameterSets | ForEach-Object { $_.Parameters | Where-Object Name -eq $p.Name })
        $first = $inSets | Sort-Object { -not $_.IsMandatory } | Select-Object -First 1
        $mandatory = [bool] ($inSets | Where-Object IsMandatory)
        $default = if ($defaults.ContainsKey($p.Name)) { $defaults[$p.Name] }
            elseif ($mandatory) { $null }
            elseif ($p.ParameterType.IsValueType -and $p.ParameterType -ne [System.Management.Automation.SwitchParameter] -and -not $p.ParameterType.IsArray) { $instance.($p.Name) }
        Write-Parameter $first $descriptions[$p.Name] $default $mandatory (Get-Position $first)
    }
    $w.WriteEndElement()

    foreach ($kind in @(@('inputTypes', 'inputType', 'Inputs'), @('returnValues', 'returnValue', 'Outputs'))) {
        $w.WriteStartElement('command', $kind[0], $command)
        foreach ($item in $source[$kind[2]]) {
            $w.WriteStartElement('command', $kind[1], $command)
            $w.WriteStartElement('dev', 'type', $dev)
            $w.WriteElementString('maml', 'name', $maml, $item.Type)
            $w.WriteEndElement()
            Write-Paragraphs $item.Description
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }

    $w.WriteStartElement('maml', 'alertSet', $maml)
    $w.WriteStartElement('maml', 'alert', $maml)
    foreach ($para in ($source.Notes.Trim() -split '\r?\n\s*\r?\n')) { $w.WriteElementString('maml', 'para', $maml, $para) }
    $w.WriteEndElement()
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'examples', $command)
    $number = 0
    foreach ($example in $source.Examples) {
        $number++
        $w.WriteStartElement('command', 'example', $command)
        $w.WriteElementString('maml', 'title', $maml, "---------- Example $($number): $($example.Title) ----------")
        $w.WriteElementString('dev', 'code', $dev, $example.Code.Trim())
        $w.WriteStartElement('dev', 'remarks', $dev)
        $w.WriteElementString('maml', 'para', $maml, $example.Remarks)
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'relatedLinks', $command)
    foreach ($link in $source.Links) {
        $w.WriteStartElement('maml', 'navigationLink', $maml)
        $w.WriteElementString('maml', 'linkText', $maml, $link)
        $w.WriteElementString('maml', 'uri', $maml, '')
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteEndElement()
}
$w.WriteEndElement()
$w.WriteEndDocument()
$w.Dispose()
Write-Verbose "wrote $OutputPath$(if ($missing) { " ($missing parameter(s) without a description)" })"
