namespace MmapTools.Tests;

/// <summary>What a failed call tells: the call, the errno number and name, and a plain hint.</summary>
public sealed class ErrorTests
{
    [Fact]
    public void SystemCallException_CarriesCallErrnoNameAndHint()
    {
        var error = new SystemCallException("mmap", 12, "The kernel would not give 1 GiB.");

        Assert.Equal("mmap", error.Call);
        Assert.Equal(12, error.ErrorNumber);
        Assert.Equal("ENOMEM", error.ErrorName);
        Assert.Equal("ENOMEM", error.Reason);
        Assert.Equal("The kernel would not give 1 GiB.", error.Hint);
        Assert.StartsWith("mmap failed with ENOMEM (12, ", error.Message);
        Assert.EndsWith(" The kernel would not give 1 GiB.", error.Message);
        Assert.IsAssignableFrom<IOException>(error); // a MemoryMapException is an IOException
    }

    [Fact]
    public void SystemCallException_NamesEveryErrnoTheCLibraryKnows()
    {
        Assert.Equal("ENXIO", new SystemCallException("open", 6).ErrorName);
        Assert.Equal("EHWPOISON", new SystemCallException("madvise", 133).ErrorName);
    }

    [Fact]
    public void SystemCallException_WithAnUnknownErrno_NamesItByNumber()
    {
        var error = new SystemCallException("ioctl", 4321);
        Assert.Equal("E4321", error.ErrorName);
        Assert.Null(error.Hint);
        Assert.EndsWith(").", error.Message);
    }

    [Fact]
    public void AFailedOpen_TellsTheCallTheErrnoAndThePath()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"mmaptools-missing-{Guid.NewGuid():N}", "file.bin");

        var error = Assert.Throws<SystemCallException>(() => MemoryMap.OpenFile(missing));

        Assert.Equal("open", error.Call);
        Assert.Equal(2, error.ErrorNumber);
        Assert.Equal("ENOENT", error.ErrorName);
        Assert.Contains(missing, error.Hint);
        Assert.Contains("No such file or directory", error.Message); // strerror's words
    }

    [Fact]
    public void AFailedMadvise_NamesTheAdviceInTheCall()
    {
        using var map = MemoryMap.Anonymous(MemoryMap.PageSize);
        var error = Assert.Throws<SystemCallException>(() => map.Advise(MemoryAdvice.Remove));
        Assert.Equal("madvise(Remove)", error.Call);
        Assert.Equal(22, error.ErrorNumber);
        Assert.Equal("EINVAL", error.ErrorName);
        Assert.NotNull(error.Hint);
    }

    [Fact]
    public void MemoryMapException_CarriesAStableReason()
    {
        var error = new MemoryMapException("PageUnavailable", "a sentence");
        Assert.Equal("PageUnavailable", error.Reason);
        Assert.Equal("a sentence", error.Message);
    }
}
