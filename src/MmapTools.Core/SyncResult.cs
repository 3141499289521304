namespace MmapTools;

/// <summary>What an msync did: how long it took and, for file-backed maps, the dirty pages before and after.</summary>
public sealed class SyncResult
{
    public long Offset { get; init; }
    public long Length { get; init; }
    public bool Async { get; init; }
    public bool Invalidate { get; init; }

    /// <summary>Whether the file and its directory were fsync'ed after the msync (size, metadata and name).</summary>
    public bool Durable { get; init; }
    public TimeSpan Elapsed { get; init; }

    /// <summary>Dirty pages of the file range before the call, where cachestat tells; otherwise null.</summary>
    public long? DirtyPagesBefore { get; init; }

    /// <summary>Dirty pages right after the call: zero after a synchronous sync.</summary>
    public long? DirtyPagesAfter { get; init; }

    /// <summary>Pages under writeback right after the call, where cachestat tells. Since Linux
    /// 2.6.19 MS_ASYNC starts no writeback at all: after an asynchronous sync the pages simply stay
    /// dirty until the kernel's own writeback takes them.</summary>
    public long? WritebackPagesAfter { get; init; }

    /// <summary>What this form of sync promises is on the device when it returned, in words: the
    /// pages of the range (a synchronous sync), also the size and name (durable), or nothing
    /// (asynchronous; private, anonymous and tmpfs maps). Power-cut images of ext4, xfs and btrfs
    /// check each promise.</summary>
    public string Guarantee { get; init; } = "";
}
