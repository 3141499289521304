using System.Management.Automation;
using System.Reflection;

namespace MmapTools.PowerShell;

/// <summary>
/// Inside a .NET Interactive notebook (Jupyter, Polyglot Notebooks) makes what the cmdlets write
/// appear as pictures after Import-Module alone. The pwsh kernel prints a cell's output through
/// PowerShell's format system, which never asks .NET Interactive's formatters;
/// MmapTools.Interactive.format.ps1xml, beside this assembly, puts views first that hand each object
/// to MmapTools.Interactive's display. Elsewhere nothing is loaded, so a plain shell's import pays
/// nothing for it (a nested script module, compiled at every import, did this before).
/// </summary>
internal static class NotebookViews
{
    /// <summary>The kernel's assembly: loaded in the process only when a notebook kernel runs it.</summary>
    private const string KernelAssembly = "Microsoft.DotNet.Interactive";

    private const string LibraryFileName = "MmapTools.Interactive.dll", FormatFileName = "MmapTools.Interactive.format.ps1xml";

    private static bool InNotebook() => AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == KernelAssembly);

    /// <summary>Registers the pictures and prepends their views, in a notebook only; the module's own text views apply elsewhere.</summary>
    public static void LoadIfInNotebook()
    {
        if (!InNotebook()) return;
        string directory = Path.GetDirectoryName(typeof(NotebookViews).Assembly.Location) ?? ".";
        // The library is not referenced: it compiles against .NET Interactive, which only a notebook has.
        // A notebook that loaded the package (#r "nuget: MmapTools.Interactive") has it already: that
        // copy serves, so that C# and PowerShell cells share its types.
        var library = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == Path.GetFileNameWithoutExtension(LibraryFileName))
            ?? Assembly.LoadFrom(Path.Combine(directory, LibraryFileName));
        library.GetType("MmapTools.Interactive.MmapFormatters", throwOnError: true)!.GetMethod("Register")!.Invoke(null, null);
        using var shell = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        shell.AddCommand("Update-FormatData").AddParameter("PrependPath", Path.Combine(directory, FormatFileName)).Invoke();
    }
}
