using System.Management.Automation;
using System.Runtime.InteropServices;

namespace MmapTools.PowerShell;

/// <summary>
/// Refuses the import off Linux with one sentence, before any cmdlet is reached: a manifest cannot
/// name an operating system, and every call would otherwise fail on a libc that is not there.
/// In a notebook it loads the pictures (<see cref="NotebookViews"/>).
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    public void OnImport()
    {
        var reason = GetUnsupportedReason(OperatingSystem.IsLinux(), RuntimeInformation.OSDescription);
        if (reason is not null)
            throw new PlatformNotSupportedException(reason);
        NotebookViews.LoadIfInNotebook();
    }

    /// <summary>Why MmapTools cannot run on the system described, or null where it can.</summary>
    public static string? GetUnsupportedReason(bool isLinux, string osDescription) =>
        isLinux ? null : $"MmapTools works on Linux only (it calls the Linux kernel's mmap, madvise and mincore); this is {osDescription}.";
}
