using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using MmapTools.Interop;

namespace MmapTools;

// The items read from what the kernel and this process are configured with: limits, memory and
// swap, the memory cgroup, DAMON, the TLB counters, 32-bit programs and /dev/mem.
public sealed partial class MachineProfile
{
    private unsafe void ReadLimits()
    {
        KnownOrUnknown(nameof(MaxMapCount), "/proc/sys/vm/max_map_count", text => MaxMapCount = long.Parse(text, CultureInfo.InvariantCulture));
        KnownOrUnknown(nameof(OvercommitMemory), "/proc/sys/vm/overcommit_memory", text => OvercommitMemory = int.Parse(text, CultureInfo.InvariantCulture),
            text => text switch { "0" => "0 (heuristic)", "1" => "1 (always)", "2" => "2 (never: strict accounting)", _ => text });
        KnownOrUnknown(nameof(OvercommitRatio), "/proc/sys/vm/overcommit_ratio", text => OvercommitRatio = int.Parse(text, CultureInfo.InvariantCulture));
        foreach (var (name, resource) in new[] { (nameof(MemlockLimit), Libc.RLIMIT_MEMLOCK), (nameof(AddressSpaceLimit), Libc.RLIMIT_AS) })
        {
            Libc.Rlimit limit;
            if (Libc.getrlimit(resource, &limit) != 0) { Unknown(name, $"getrlimit failed: {Errno.Name(Libc.LastError)}"); continue; }
            ulong? value = limit.Current == ulong.MaxValue ? null : limit.Current;
            if (name == nameof(MemlockLimit)) MemlockLimit = value; else AddressSpaceLimit = value;
            Known(name, value is { } v ? ByteSize.Format(v) : "unlimited", $"getrlimit({(resource == Libc.RLIMIT_AS ? "RLIMIT_AS" : "RLIMIT_MEMLOCK")}) soft limit");
        }
    }

    private void ReadMemory()
    {
        var meminfo = ReadText("/proc/meminfo")?.Split('\n') ?? [];
        long? Field(string name) => meminfo.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0] == name)
            .Select(p => (long?)long.Parse(p[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024).FirstOrDefault();
        SwapTotalBytes = Field("SwapTotal");
        SwapFreeBytes = Field("SwapFree");
        if (SwapTotalBytes is { } total)
        {
            int devices = Math.Max(0, (ReadText("/proc/swaps")?.Split('\n').Length ?? 1) - 1);
            Known(nameof(SwapTotalBytes), total == 0 ? "none" : ByteSize.Format(total), $"/proc/meminfo SwapTotal; {devices} device(s) in /proc/swaps");
        }
        else Unknown(nameof(SwapTotalBytes), "/proc/meminfo has no SwapTotal");
        const string online = "/sys/devices/system/node/online";
        if (ReadText(online) is { } nodes)
        {
            NumaNodes = nodes.Split(',').Sum(r => r.Split('-') is [var a, var b] ? int.Parse(b, CultureInfo.InvariantCulture) - int.Parse(a, CultureInfo.InvariantCulture) + 1 : 1);
            Known(nameof(NumaNodes), NumaNodes, $"read {online} ({nodes})");
        }
        else Unknown(nameof(NumaNodes), NotReadable(online) + " (a kernel without NUMA)");
    }

    /// <summary>
    /// The memory cgroup of this process: in v1 the line of /proc/self/cgroup naming "memory", whose
    /// limit is memory.limit_in_bytes; in v2 the "0::" line, whose limit is memory.max, where the v2
    /// hierarchy has the memory controller. Mount points come from /proc/self/mountinfo.
    /// </summary>
    private void ReadCgroup()
    {
        var lines = ReadText("/proc/self/cgroup")?.Split('\n') ?? [];
        var mountinfo = ReadText("/proc/self/mountinfo")?.Split('\n') ?? [];
        string? MountOf(Func<string, string, bool> matches) => mountinfo.Select(l => l.Split(" - ")).Where(p => p.Length == 2)
            .Select(p => (Point: p[0].Split(' ')[4], Fields: p[1].Split(' '))).Where(m => m.Fields.Length >= 3 && matches(m.Fields[0], m.Fields[2]))
            .Select(m => m.Point).FirstOrDefault();
        string? v1 = lines.FirstOrDefault(l => l.Split(':') is [_, var controllers, _] && controllers.Split(',').Contains("memory"));
        string? mount;
        string limitFile;
        if (v1 is not null && (mount = MountOf((type, options) => type == "cgroup" && options.Split(',').Contains("memory"))) is not null)
        {
            CgroupVersion = 1;
            Cgroup = v1.Split(':', 3)[2];
            limitFile = System.IO.Path.Combine(mount, Cgroup.TrimStart('/'), "memory.limit_in_bytes");
        }
        else if (lines.FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal)) is { } v2
            && (mount = MountOf((type, _) => type == "cgroup2")) is not null
            && (ReadText(System.IO.Path.Combine(mount, "cgroup.controllers")) ?? "").Split(' ').Contains("memory"))
        {
            CgroupVersion = 2;
            Cgroup = v2[3..];
            limitFile = System.IO.Path.Combine(mount, Cgroup.TrimStart('/'), "memory.max");
        }
        else
        {
            Unknown(nameof(CgroupVersion), "no memory controller in /proc/self/cgroup and /proc/self/mountinfo (neither v1 nor v2)");
            Unknown(nameof(CgroupMemoryLimit), "no memory cgroup");
            return;
        }
        Known(nameof(CgroupVersion), CgroupVersion, "/proc/self/cgroup and /proc/self/mountinfo");
        Known(nameof(Cgroup), Cgroup, "/proc/self/cgroup");
        string? text = ReadText(limitFile);
        // v1 prints "no limit" as the largest page-aligned long; v2 as "max".
        if (text is null) Unknown(nameof(CgroupMemoryLimit), NotReadable(limitFile) + " (this process's view of the cgroup file system may be another namespace's)");
        else if (text == "max" || (long.TryParse(text, out long v) && v >= long.MaxValue - (1L << 20))) Known(nameof(CgroupMemoryLimit), "unlimited", $"read {limitFile}: {text}");
        else if (long.TryParse(text, out long limit)) { CgroupMemoryLimit = limit; Known(nameof(CgroupMemoryLimit), ByteSize.Format(limit), $"read {limitFile}: {text}"); }
        else Unknown(nameof(CgroupMemoryLimit), $"{limitFile} reads '{text}'");
    }

    /// <summary>
    /// DAMON reclaim: the damon_reclaim module's switch where it is built in, and any DAMON sysfs
    /// kdamond that is on with a pageout scheme (which is what proactive reclaim is).
    /// </summary>
    private void ReadDamon()
    {
        var active = new List<string>();
        if (ReadText("/sys/module/damon_reclaim/parameters/enabled") is "Y") active.Add("damon_reclaim enabled");
        const string kdamonds = "/sys/kernel/mm/damon/admin/kdamonds";
        bool sysfs = Directory.Exists(kdamonds);
        if (sysfs)
        {
            foreach (string kdamond in Directory.GetDirectories(kdamonds))
            {
                if (ReadText(System.IO.Path.Combine(kdamond, "state")) != "on") continue;
                var actions = Directory.Exists(System.IO.Path.Combine(kdamond, "contexts"))
                    ? Directory.GetDirectories(System.IO.Path.Combine(kdamond, "contexts")).SelectMany(c => Directory.Exists(System.IO.Path.Combine(c, "schemes")) ? Directory.GetDirectories(System.IO.Path.Combine(c, "schemes")) : [])
                        .Select(s => ReadText(System.IO.Path.Combine(s, "action"))).Where(a => a is not null).ToList()
                    : [];
                if (actions.Contains("pageout")) active.Add($"kdamond {System.IO.Path.GetFileName(kdamond)} on with a pageout scheme");
            }
        }
        if (!sysfs && !File.Exists("/sys/module/damon_reclaim/parameters/enabled"))
        {
            DamonReclaimActive = false;
            Known(nameof(DamonReclaimActive), false, "neither /sys/module/damon_reclaim nor /sys/kernel/mm/damon exists: no DAMON in this kernel");
            return;
        }
        DamonReclaimActive = active.Count > 0;
        Known(nameof(DamonReclaimActive), DamonReclaimActive, active.Count > 0 ? string.Join("; ", active) + ": cold pages can leave the page cache between two readings" : "read /sys/module/damon_reclaim and /sys/kernel/mm/damon: no reclaim on");
    }

    private void ReadTlb()
    {
        var line = ReadText("/proc/interrupts")?.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith("TLB:", StringComparison.Ordinal));
        TlbShootdownCounter = line is not null;
        if (line is null) { Known(nameof(TlbShootdownCounter), false, "/proc/interrupts has no TLB line (arm64 invalidates by broadcast instructions, with no interrupt to count)"); return; }
        TlbShootdowns = line.TrimStart()[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries).TakeWhile(w => w.All(char.IsAsciiDigit)).Sum(long.Parse);
        Known(nameof(TlbShootdownCounter), true, $"/proc/interrupts has a TLB line; {TlbShootdowns} shootdowns counted so far{(TlbShootdowns == 0 ? " (none: a hypervisor may flush TLBs for its guests without interrupts)" : "")}");
    }

    /// <summary>
    /// The smallest static i386 ELF program: exit(42) through int 0x80. It needs no 32-bit libc, so
    /// whether it runs says only whether this kernel runs 32-bit programs (IA32 emulation on and
    /// permitted); ENOEXEC says it does not.
    /// </summary>
    private static readonly byte[] Exit42I386 = BuildExit42I386();

    private static byte[] BuildExit42I386()
    {
        const uint load = 0x08048000;
        byte[] code = [0xBB, 42, 0, 0, 0, 0xB8, 1, 0, 0, 0, 0xCD, 0x80]; // mov ebx,42; mov eax,1; int 0x80
        var elf = new byte[52 + 32 + code.Length];
        var w = new BinaryWriter(new MemoryStream(elf));
        w.Write([0x7F, (byte)'E', (byte)'L', (byte)'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // ELFCLASS32, little-endian
        w.Write((ushort)2); w.Write((ushort)3); w.Write(1u);                   // ET_EXEC, EM_386, version
        w.Write(load + 84); w.Write(52u); w.Write(0u); w.Write(0u);             // entry, phoff, shoff, flags
        w.Write((ushort)52); w.Write((ushort)32); w.Write((ushort)1);          // ehsize, phentsize, phnum
        w.Write((ushort)0); w.Write((ushort)0); w.Write((ushort)0);            // shentsize, shnum, shstrndx
        w.Write(1u); w.Write(0u); w.Write(load); w.Write(load);                 // PT_LOAD, offset, vaddr, paddr
        w.Write((uint)elf.Length); w.Write((uint)elf.Length); w.Write(5u); w.Write(0x1000u); // filesz, memsz, R+X, align
        w.Write(code);
        return elf;
    }

    private void Probe32Bit()
    {
        if (Architecture is not "x86_64")
        {
            Unknown(nameof(Runs32Bit), $"the probe is an i386 program; none is shipped for {Architecture ?? "this architecture"}");
            return;
        }
        string program = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mmaptools-i386-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(program, Exit42I386);
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
            using var child = Process.Start(new ProcessStartInfo(program) { UseShellExecute = false })!;
            if (!child.WaitForExit(10_000)) { child.Kill(); Unknown(nameof(Runs32Bit), "the 32-bit probe did not end within 10 s"); return; }
            Runs32Bit = child.ExitCode == 42;
            Known(nameof(Runs32Bit), Runs32Bit, $"measured: a static i386 program that exits with 42 exited with {child.ExitCode}");
        }
        catch (Win32Exception e) when (e.NativeErrorCode == 8) // ENOEXEC
        {
            Runs32Bit = false;
            Known(nameof(Runs32Bit), false, "measured: execve of a static i386 program failed with ENOEXEC (Exec format error): this kernel does not run 32-bit programs (no IA32 emulation, or it is switched off)");
        }
        catch (Exception e) when (e is Win32Exception or IOException or UnauthorizedAccessException)
        {
            Unknown(nameof(Runs32Bit), $"the 32-bit probe could not be started: {e.Message}");
        }
        finally { try { File.Delete(program); } catch (IOException) { } }
    }

    private void ProbeDevMem()
    {
        DevMemPresent = File.Exists("/dev/mem");
        if (DevMemPresent != true) { Known(nameof(DevMemPresent), false, "/dev/mem does not exist"); return; }
        int fd = Libc.open("/dev/mem", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        int errno = fd < 0 ? Libc.LastError : 0;
        if (fd >= 0) _ = Libc.close(fd);
        DevMemReadable = fd >= 0;
        Known(nameof(DevMemPresent), true, "/dev/mem exists");
        Known(nameof(DevMemReadable), DevMemReadable, fd >= 0 ? "open(/dev/mem, O_RDONLY) succeeded" : $"open(/dev/mem, O_RDONLY) failed: {Errno.Name(errno)}");
    }
}
