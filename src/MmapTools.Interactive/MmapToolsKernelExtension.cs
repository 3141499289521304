using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;

namespace MmapTools.Interactive;

/// <summary>
/// The .NET Interactive kernel extension: registers the pictures for C# (and F#) output and, when the
/// notebook has a PowerShell kernel, the PowerShell views that route what a pwsh cell writes to the
/// same pictures. The package carries it under interactive-extensions/dotnet, so
/// <c>#r "nuget: MmapTools.Interactive"</c> loads it; <see cref="Load"/> does the same by hand.
/// </summary>
public sealed class MmapToolsKernelExtension : IKernelExtension
{
    public const string FormatFileName = "MmapTools.Interactive.format.ps1xml";

    public Task OnLoadAsync(Kernel kernel)
    {
        Load(kernel);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Registers the formatters and, for the notebook's pwsh kernel, the PowerShell views (run before
    /// its next cell). <paramref name="kernel"/> is the notebook's root kernel, by default the one
    /// running the current cell.
    /// </summary>
    public static void Load(Kernel? kernel = null)
    {
        MmapFormatters.Register();
        kernel ??= KernelInvocationContext.Current?.HandlingKernel?.RootKernel;
        if (kernel?.FindKernelByName("pwsh") is { } pwsh)
            pwsh.DeferCommand(new SubmitCode(PowerShellSetup, pwsh.Name));
    }

    /// <summary>The PowerShell views' file, beside this assembly.</summary>
    public static string FormatFilePath =>
        Path.Combine(Path.GetDirectoryName(typeof(MmapToolsKernelExtension).Assembly.Location) ?? ".", FormatFileName);

    /// <summary>The PowerShell that puts this library's views ahead of any other for the same types.</summary>
    public static string PowerShellSetup => $"Update-FormatData -PrependPath '{FormatFilePath.Replace("'", "''")}'";
}
