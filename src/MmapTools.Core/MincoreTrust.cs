using Microsoft.Win32.SafeHandles;
using MmapTools.Interop;

namespace MmapTools;

/// <summary>Whether mincore tells the truth about a file's page cache to this process.</summary>
internal static class MincoreTrust
{
    /// <summary>
    /// Whether mincore reports the page cache for this file. Since Linux 5.0 it does only for files
    /// the caller owns or may write (or as a capable root); for others it hides the cache by calling
    /// every page resident (can_do_mincore in mm/mincore.c: the vector is filled with 1s), which
    /// over-counts. Root is trusted through CAP_FOWNER.
    /// </summary>
    public static bool SeesPageCache(SafeFileHandle file, in Libc.Statx st) => SeesPageCache((int)file.DangerousGetHandle(), st);

    public static bool SeesPageCache(int fd, in Libc.Statx st)
    {
        uint euid = Libc.geteuid();
        if (euid == 0 || st.Uid == euid) return true;
        return Libc.faccessat(Libc.AT_FDCWD, $"/proc/self/fd/{fd}", Libc.W_OK, 0) == 0;
    }

    public const string UntrustedNote =
        "mincore does not report the page cache of a file this user neither owns nor may write: the kernel calls every page of it resident, so the count means nothing.";
}
