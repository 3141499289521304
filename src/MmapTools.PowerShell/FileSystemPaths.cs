using System.Management.Automation;
using Microsoft.PowerShell.Commands;

namespace MmapTools.PowerShell;

/// <summary>
/// Turns -Path (wildcards) and -LiteralPath arguments into file system paths through the
/// PowerShell provider, so that relative paths follow the current PowerShell location
/// (Set-Location), never the process's directory. Each argument that cannot be resolved gets an
/// error of its own (PathNotFound, NotAFileSystemPath) and the others go on.
/// </summary>
internal static class FileSystemPaths
{
    /// <summary>The file system paths the arguments name. With <paramref name="mustExist"/> false (a path about to be
    /// created) a path is neither checked nor expanded as a wildcard. With <paramref name="callerStats"/> the caller
    /// stats or opens each path it is given and reports a missing one itself, so a path that names no wildcard
    /// is not looked up here first (a system call of its own).</summary>
    public static IEnumerable<string> Resolve(PSCmdlet cmdlet, IEnumerable<string> paths, bool literal, bool mustExist = true, bool callerStats = false)
    {
        foreach (string path in paths)
        {
            foreach (string resolved in ResolveOne(cmdlet, path, literal || !mustExist, mustExist && !callerStats))
                yield return resolved;
        }
    }

    // checkExists: whether a path that names no wildcard must be found to exist here.
    private static List<string> ResolveOne(PSCmdlet cmdlet, string path, bool literal, bool checkExists)
    {
        var found = new List<string>();
        if (TryPlainPath(cmdlet, path, literal) is { } plain)
        {
            // Without wildcards -Path names one item that must exist, as -LiteralPath does.
            if (checkExists && !Exists(plain)) NotFound(cmdlet, path, null);
            else found.Add(plain);
            return found;
        }
        try
        {
            // The provider first: a path of another provider, or a relative path while the current
            // location is in one, is refused as such rather than as a missing file.
            string unresolved = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
            if (!IsFileSystem(provider)) { NotFileSystem(cmdlet, path, provider); return found; }
            if (literal)
            {
                if (checkExists && !Exists(unresolved)) { NotFound(cmdlet, path, null); return found; }
                found.Add(unresolved);
            }
            else
            {
                // A wildcard that matches nothing is no error, as with Get-ChildItem.
                found.AddRange(cmdlet.SessionState.Path.GetResolvedProviderPathFromPSPath(path, out _));
            }
        }
        catch (ItemNotFoundException e) { NotFound(cmdlet, path, e); }
        catch (System.Management.Automation.DriveNotFoundException e) { NotFound(cmdlet, path, e); }
        catch (ProviderNotFoundException e)
        {
            cmdlet.WriteError(ErrorMapping.Create(ErrorMapping.NotAFileSystemPath, ErrorCategory.InvalidArgument,
                $"'{path}' names no PowerShell provider that is known here ({e.Message}); give a file system path.", path, e));
        }
        catch (PSNotSupportedException e)
        {
            cmdlet.WriteError(ErrorMapping.Create(ErrorMapping.NotAFileSystemPath, ErrorCategory.InvalidArgument,
                $"'{path}' cannot be resolved to a file: {e.Message}", path, e));
        }
        return found;
    }

    /// <summary>The FileSystem provider's qualifier, module and all, as PSPath properties begin.</summary>
    private const string FileSystemQualifier = @"Microsoft.PowerShell.Core\FileSystem::";

    private static bool IsFileSystem(ProviderInfo provider) => provider.ImplementingType == typeof(FileSystemProvider);

    /// <summary>
    /// The file system path of a plain path, without asking the provider, where that gives the same
    /// answer: a literal absolute path qualified by the FileSystem provider (a PSPath), or, while the
    /// current location is in the FileSystem provider, a path with no drive or provider qualifier
    /// (':'), no home ('~'), no backslash and, unless literal, no wildcard. The
    /// provider's resolution validates the drive on every call (reading the mount table), which
    /// costs several times more than mapping a small file. Null: ask the provider.
    /// </summary>
    private static string? TryPlainPath(PSCmdlet cmdlet, string path, bool literal)
    {
        if (literal && path.StartsWith(FileSystemQualifier, StringComparison.Ordinal))
        {
            // What Get-ChildItem's objects bind to -LiteralPath (their PSPath): the provider is named
            // in full, and an absolute path after it is the file system path itself.
            string rest = path[FileSystemQualifier.Length..];
            return rest.StartsWith('/') && rest.AsSpan().IndexOfAny(':', '\\') < 0 ? System.IO.Path.GetFullPath(rest) : null;
        }
        if (path.Length == 0 || path[0] == '~' || path.AsSpan().IndexOfAny(':', '\\') >= 0) return null;
        if (!literal && WildcardPattern.ContainsWildcardCharacters(path)) return null;
        // The location's PowerShell path is its file system path on the root drive ("/..."); its
        // ProviderPath would validate the drive again, and another drive's path has a ':'.
        var location = cmdlet.SessionState.Path.CurrentLocation;
        if (!IsFileSystem(location.Provider) || !location.Path.StartsWith('/') || location.Path.Contains(':')) return null;
        return System.IO.Path.GetFullPath(path, location.Path);
    }

    // A broken symbolic link and a FIFO both count as existing: opening them gives the precise error.
    private static bool Exists(string path) => Path.Exists(path) || new FileInfo(path).LinkTarget is not null;

    private static void NotFound(PSCmdlet cmdlet, string path, Exception? inner) =>
        cmdlet.WriteError(ErrorMapping.Create(ErrorMapping.PathNotFound, ErrorCategory.ObjectNotFound,
            $"Cannot find path '{path}' because it does not exist.", path, inner));

    private static void NotFileSystem(PSCmdlet cmdlet, string path, ProviderInfo provider) =>
        cmdlet.WriteError(ErrorMapping.Create(ErrorMapping.NotAFileSystemPath, ErrorCategory.InvalidArgument,
            $"'{path}' is a path of the {provider.Name} provider{(System.IO.Path.IsPathRooted(path) || path.Contains(':') ? "" : $" (the current location, {cmdlet.SessionState.Path.CurrentLocation}, is there)")}; MmapTools maps and examines files only: give a file system path.", path));
}
