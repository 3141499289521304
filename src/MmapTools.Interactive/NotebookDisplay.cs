using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Formatting;

namespace MmapTools.Interactive;

/// <summary>
/// The bridge from PowerShell's formatting to .NET Interactive's. The pwsh kernel prints what a cell
/// writes through PowerShell's own format system (Out-Default), which never asks .NET Interactive's
/// <see cref="Formatter"/>; the views in MmapTools.Interactive.format.ps1xml call <see cref="Show"/>
/// from their script block, which displays the object as HTML in the running cell.
/// </summary>
public static class NotebookDisplay
{
    /// <summary>
    /// Displays <paramref name="value"/> in the cell being run, as HTML and plain text, and returns
    /// an empty string (the text PowerShell's view prints). Outside a notebook (no cell is running)
    /// it displays nothing and returns the value's text.
    /// </summary>
    public static string Show(object? value)
    {
        if (value is null) return "";
        if (KernelInvocationContext.Current is not { } context) return value.ToString() ?? "";
        context.Display(value, HtmlFormatter.MimeType, PlainTextFormatter.MimeType);
        return "";
    }
}
