namespace MmapTools;

/// <summary>What a <see cref="ResidencyWalker"/> met.</summary>
public enum ResidencyWalkItemKind
{
    /// <summary>A regular file, with its residency.</summary>
    File,
    /// <summary>A directory whose entries are about to be read.</summary>
    Directory,
    /// <summary>A file or directory that could not be examined; the walk goes on.</summary>
    Error,
}

/// <summary>One step of a walk: a file and its residency, a directory entered, or an error about a path.</summary>
public readonly record struct ResidencyWalkItem(ResidencyWalkItemKind Kind, string Path, PageResidency? Residency = null, Exception? Error = null);

/// <summary>What a <see cref="ResidencyWalker"/> examines, and how much it finds out about each file.</summary>
public sealed class ResidencyWalkOptions
{
    /// <summary>Walks the directories below each directory named, not only the files directly in it.</summary>
    public bool Recurse { get; init; }

    /// <summary>Follows symbolic links met in a walk, to files and to directories (a directory is walked
    /// once however it is reached, so links cannot loop). Without it links met in a walk are skipped;
    /// a link named directly is always followed. With it every file is remembered, so that a link and
    /// its target count once.</summary>
    public bool FollowSymlinks { get; init; }

    /// <summary>Walks into directories on other file systems (mount points). Without it a walk stays
    /// on the file system of the directory it started from, as vmtouch -F and find -xdev do.</summary>
    public bool CrossFileSystems { get; init; }

    /// <summary>Files larger than this many bytes are skipped, as vmtouch -m does; null: no limit.</summary>
    public long? MaxFileSize { get; init; }

    /// <summary>When set, only files whose name it accepts are examined (directories are walked whatever their name).</summary>
    public Func<string, bool>? Include { get; init; }

    /// <summary>When set, files and directories whose name it accepts are skipped (an excluded directory is not walked).</summary>
    public Func<string, bool>? Exclude { get; init; }

    /// <summary>The byte range examined in each file: from <see cref="Offset"/>, <see cref="Length"/> bytes (null: to the end).</summary>
    public long Offset { get; init; }

    /// <inheritdoc cref="Offset"/>
    public long? Length { get; init; }

    /// <summary>How much to find out for each file; Summary (the default) answers with one cachestat call where the kernel has it.</summary>
    public ResidencyDetail Detail { get; init; } = ResidencyDetail.Summary;

    /// <summary>
    /// How many threads examine a directory's files at once (the thread enumerating the walk among
    /// them); the default is one a processor. 1 walks on the enumerating thread alone, as a walk
    /// always did. Whatever the number, items come in the same order.
    /// </summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
}
