// The experiments' compiled loops, built by Experiment.psm1 with Add-Type. A PowerShell loop
// costs microseconds an iteration and faults pages of its own, which would hide what one memory
// access, one fault or one syscall costs; here the loops are plain C# over raw pointers and raw
// libc calls, and each one counts the faults of its own thread (getrusage RUSAGE_THREAD) around
// exactly the work measured. Nothing here reaches the cmdlets' safe copies: a pointer access to a
// page that is gone kills the process, so the experiments touch only pages that exist.
using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace MmapExperiments
{
    /// <summary>What a loop did: accesses, the faults of its thread, time, and the slowest access.</summary>
    public sealed class Work
    {
        public long Accesses { get; set; }
        public long MinorFaults { get; set; }
        public long MajorFaults { get; set; }
        public double Milliseconds { get; set; }
        public double SlowestMicroseconds { get; set; }
        public long Syscalls { get; set; }
        public long Checksum { get; set; }

        public double MicrosecondsEach { get { return Accesses == 0 ? 0 : Milliseconds * 1000.0 / Accesses; } }

        public override string ToString()
        {
            return string.Format("{0} accesses, {1} minor + {2} major faults, {3:0.###} ms ({4:0.###} us each, slowest {5:0.#} us)",
                Accesses, MinorFaults, MajorFaults, Milliseconds, MicrosecondsEach, SlowestMicroseconds);
        }
    }

    public delegate int IntFunction();

    public static unsafe class Probe
    {
        [StructLayout(LayoutKind.Sequential)]
        private struct Rusage
        {
            public long UserSec, UserUsec, SysSec, SysUsec, MaxRss, Ixrss, Idrss, Isrss, MinFlt, MajFlt;
            public long Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals, Nvcsw, Nivcsw;
        }

        private const int RUSAGE_THREAD = 1;
        public const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2;
        public const int O_RDONLY = 0, O_RDWR = 2, O_CREAT = 0x40, O_TRUNC = 0x200, O_CLOEXEC = 0x80000;
        public const int MADV_PAGEOUT = 21, SEEK_END = 2;

        [DllImport("libc", SetLastError = true)] private static extern int getrusage(int who, out Rusage usage);
        [DllImport("libc", SetLastError = true)] private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);
        [DllImport("libc", SetLastError = true)] private static extern IntPtr read(int fd, byte* buffer, IntPtr count);
        [DllImport("libc", SetLastError = true)] private static extern IntPtr write(int fd, byte* buffer, IntPtr count);
        [DllImport("libc", SetLastError = true)] private static extern IntPtr pread(int fd, byte* buffer, IntPtr count, long offset);
        [DllImport("libc", SetLastError = true)] private static extern long lseek(int fd, long offset, int whence);
        [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
        [DllImport("libc", SetLastError = true)] private static extern int ftruncate(int fd, long length);
        [DllImport("libc", SetLastError = true)] private static extern IntPtr mmap(IntPtr address, UIntPtr length, int prot, int flags, int fd, long offset);
        [DllImport("libc", SetLastError = true)] private static extern int munmap(IntPtr address, UIntPtr length);
        [DllImport("libc", SetLastError = true)] private static extern int madvise(IntPtr address, UIntPtr length, int advice);

        /// <summary>The calling thread's minor and major fault counters.</summary>
        public static long[] Faults()
        {
            Rusage usage;
            if (getrusage(RUSAGE_THREAD, out usage) != 0) throw new InvalidOperationException("getrusage failed: errno " + Marshal.GetLastWin32Error());
            return new long[] { usage.MinFlt, usage.MajFlt };
        }

        /// <summary>Offsets start, start + stride, start + 2*stride, ... below start + length.</summary>
        public static long[] Offsets(long length, long stride, long start = 0)
        {
            long count = (length + stride - 1) / stride;
            var offsets = new long[count];
            for (long i = 0; i < count; i++) offsets[i] = start + i * stride;
            return offsets;
        }

        /// <summary>Count distinct random pages of the range, in random order (one offset inside each).</summary>
        public static long[] RandomPages(long length, int count, int seed, int pageSize = 4096)
        {
            long pages = length / pageSize;
            if (count > pages) throw new ArgumentOutOfRangeException("count");
            var random = new Random(seed);
            var all = new long[pages];
            for (long i = 0; i < pages; i++) all[i] = i;
            for (int i = 0; i < count; i++)
            {
                long j = i + (long)(random.NextDouble() * (pages - i));
                long t = all[i]; all[i] = all[j]; all[j] = t;
            }
            var offsets = new long[count];
            for (int i = 0; i < count; i++) offsets[i] = all[i] * pageSize + random.Next(pageSize / 8) * 8;
            return offsets;
        }

        private static Work Finish(long[] faults, long started, long accesses, long slowest, long checksum)
        {
            long ended = Stopwatch.GetTimestamp();
            long[] now = Faults();
            return new Work
            {
                Accesses = accesses,
                MinorFaults = now[0] - faults[0],
                MajorFaults = now[1] - faults[1],
                Milliseconds = (ended - started) * 1000.0 / Stopwatch.Frequency,
                SlowestMicroseconds = slowest * 1e6 / Stopwatch.Frequency,
                Checksum = checksum,
            };
        }

        /// <summary>Reads (or writes) one byte at each offset through the pointer: the real access a program makes.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work Touch(IntPtr address, long[] offsets, bool write = false)
        {
            byte* b = (byte*)address;
            long checksum = 0, slowest = 0;
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            long last = started;
            for (long i = 0; i < offsets.LongLength; i++)
            {
                if (write) b[offsets[i]] = (byte)(i | 1);
                else checksum += b[offsets[i]];
                long now = Stopwatch.GetTimestamp();
                if (now - last > slowest) slowest = now - last;
                last = now;
            }
            return Finish(faults, started, offsets.LongLength, slowest, checksum);
        }

        /// <summary>Reads one byte at each offset with pread(2): one system call an access.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work Pread(SafeFileHandle file, long[] offsets)
        {
            int fd = (int)file.DangerousGetHandle();
            byte one;
            long checksum = 0, slowest = 0;
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            long last = started;
            for (long i = 0; i < offsets.LongLength; i++)
            {
                if ((long)pread(fd, &one, (IntPtr)1, offsets[i]) != 1) throw new IOException("pread failed: errno " + Marshal.GetLastWin32Error());
                checksum += one;
                long now = Stopwatch.GetTimestamp();
                if (now - last > slowest) slowest = now - last;
                last = now;
            }
            Work work = Finish(faults, started, offsets.LongLength, slowest, checksum);
            work.Syscalls = offsets.LongLength;
            return work;
        }

        /// <summary>Sums the range 8 bytes at a time through the pointer (a sequential scan of mapped memory).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work Scan(IntPtr address, long length)
        {
            long* p = (long*)address;
            long words = length / 8, checksum = 0;
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            for (long i = 0; i < words; i++) checksum += p[i];
            return Finish(faults, started, words, 0, checksum);
        }

        /// <summary>Reads the whole file with read(2) into one buffer of bufferSize bytes, summing it as Scan does.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work ReadScan(string path, int bufferSize)
        {
            byte[] buffer = new byte[bufferSize];
            long checksum = 0, calls = 0;
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            int fd = open(path, O_RDONLY | O_CLOEXEC, 0);
            if (fd < 0) throw new IOException("open failed: errno " + Marshal.GetLastWin32Error());
            try
            {
                fixed (byte* b = buffer)
                {
                    for (;;)
                    {
                        long got = (long)read(fd, b, (IntPtr)bufferSize);
                        calls++;
                        if (got < 0) throw new IOException("read failed: errno " + Marshal.GetLastWin32Error());
                        if (got == 0) break;
                        long* w = (long*)b;
                        for (long i = 0; i < got / 8; i++) checksum += w[i];
                    }
                }
            }
            finally { close(fd); }
            Work work = Finish(faults, started, calls, 0, checksum);
            work.Syscalls = calls;
            return work;
        }

        /// <summary>Writes size bytes to a new file with write(2), chunk bytes a call (buffered, no fsync).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work WriteFile(string path, long size, int chunk)
        {
            byte[] buffer = new byte[chunk];
            new Random(7).NextBytes(buffer);
            long calls = 0;
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 420);
            if (fd < 0) throw new IOException("open failed: errno " + Marshal.GetLastWin32Error());
            try
            {
                fixed (byte* b = buffer)
                {
                    for (long done = 0; done < size; done += chunk, calls++)
                        if ((long)write(fd, b, (IntPtr)Math.Min(chunk, size - done)) <= 0) throw new IOException("write failed: errno " + Marshal.GetLastWin32Error());
                }
            }
            finally { close(fd); }
            Work work = Finish(faults, started, calls, 0, 0);
            work.Syscalls = calls + 2;
            return work;
        }

        /// <summary>Writes size bytes to a new file through a shared map: ftruncate to the size first
        /// (a map cannot grow a file), then copy chunk bytes at a time into the map, then munmap (buffered, no msync).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work MmapWriteFile(string path, long size, int chunk)
        {
            byte[] buffer = new byte[chunk];
            new Random(7).NextBytes(buffer);
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 420);
            if (fd < 0) throw new IOException("open failed: errno " + Marshal.GetLastWin32Error());
            try
            {
                if (ftruncate(fd, size) != 0) throw new IOException("ftruncate failed: errno " + Marshal.GetLastWin32Error());
                IntPtr map = mmap(IntPtr.Zero, (UIntPtr)(ulong)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (map == new IntPtr(-1)) throw new IOException("mmap failed: errno " + Marshal.GetLastWin32Error());
                fixed (byte* b = buffer)
                {
                    for (long done = 0; done < size; done += chunk)
                    {
                        long n = Math.Min(chunk, size - done);
                        Buffer.MemoryCopy(b, (byte*)map + done, n, n);
                    }
                }
                munmap(map, (UIntPtr)(ulong)size);
            }
            finally { close(fd); }
            Work work = Finish(faults, started, size / chunk, 0, 0);
            work.Syscalls = 5;
            return work;
        }

        /// <summary>Reads each small file whole with open + read + close, summing its bytes; rounds times over the list.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work ReadSmallFiles(string[] paths, int size, int rounds)
        {
            byte[] buffer = new byte[Math.Max(size, 4096)];
            long checksum = 0, count = 0;
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            fixed (byte* b = buffer)
            {
                for (int r = 0; r < rounds; r++)
                {
                    foreach (string path in paths)
                    {
                        int fd = open(path, O_RDONLY | O_CLOEXEC, 0);
                        if (fd < 0) throw new IOException("open failed: errno " + Marshal.GetLastWin32Error());
                        long got = (long)read(fd, b, (IntPtr)buffer.Length);
                        close(fd);
                        long* w = (long*)b;
                        for (long i = 0; i < got / 8; i++) checksum += w[i];
                        count++;
                    }
                }
            }
            Work work = Finish(faults, started, count, 0, checksum);
            work.Syscalls = count * 3;
            return work;
        }

        /// <summary>Reads each small file whole through a map: open, lseek for the size (what fstat gives),
        /// mmap, sum the bytes, munmap, close; rounds times over the list.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work MmapSmallFiles(string[] paths, int rounds)
        {
            long checksum = 0, count = 0;
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            for (int r = 0; r < rounds; r++)
            {
                foreach (string path in paths)
                {
                    int fd = open(path, O_RDONLY | O_CLOEXEC, 0);
                    if (fd < 0) throw new IOException("open failed: errno " + Marshal.GetLastWin32Error());
                    long size = lseek(fd, 0, SEEK_END);
                    IntPtr map = mmap(IntPtr.Zero, (UIntPtr)(ulong)size, PROT_READ, MAP_PRIVATE, fd, 0);
                    if (map == new IntPtr(-1)) throw new IOException("mmap failed: errno " + Marshal.GetLastWin32Error());
                    long* w = (long*)map;
                    for (long i = 0; i < size / 8; i++) checksum += w[i];
                    munmap(map, (UIntPtr)(ulong)size);
                    close(fd);
                    count++;
                }
            }
            Work work = Finish(faults, started, count, 0, checksum);
            work.Syscalls = count * 5;
            return work;
        }

        /// <summary>MADV_PAGEOUT over the range, rounds times with a pause between: forced eviction of its pages.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work PageOut(IntPtr address, long length, int rounds, int pauseMilliseconds)
        {
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            for (int r = 0; r < rounds; r++)
            {
                if (madvise(address, (UIntPtr)(ulong)length, MADV_PAGEOUT) != 0) throw new IOException("madvise(MADV_PAGEOUT) failed: errno " + Marshal.GetLastWin32Error());
                if (pauseMilliseconds > 0) Thread.Sleep(pauseMilliseconds);
            }
            Work work = Finish(faults, started, rounds, 0, 0);
            work.Syscalls = rounds;
            return work;
        }

        /// <summary>
        /// Pointer chasing: links every page of the range into one random cycle (a pointer at the
        /// start of each page to the next), then follows it for the given steps. Each load waits
        /// for the one before, so the time a step is the latency of a load that misses the caches
        /// and, with small pages over a large range, the TLB: what huge pages save.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Work Chase(IntPtr address, long length, long steps, int seed, int pageSize = 4096)
        {
            long pages = length / pageSize;
            var order = new long[pages];
            for (long i = 0; i < pages; i++) order[i] = i;
            var random = new Random(seed);
            for (long i = pages - 1; i > 0; i--)
            {
                long j = (long)(random.NextDouble() * (i + 1));
                long t = order[i]; order[i] = order[j]; order[j] = t;
            }
            // The pointer of each page sits at a random cache line of it, so that the lines spread over
            // the cache sets instead of all falling into the few that page offset 0 indexes.
            var line = new long[pages];
            for (long i = 0; i < pages; i++) line[i] = random.Next(pageSize / 64) * 64;
            byte* b = (byte*)address;
            for (long i = 0; i < pages; i++)
            {
                long here = order[i], next = order[(i + 1) % pages];
                *(long*)(b + here * pageSize + line[here]) = (long)(b + next * pageSize + line[next]);
            }
            long p = (long)(b + order[0] * pageSize + line[order[0]]);
            for (long i = 0; i < Math.Min(steps, pages); i++) p = *(long*)p;   // warm the caches that can be warmed
            long[] faults = Faults();
            long started = Stopwatch.GetTimestamp();
            for (long i = 0; i < steps; i++) p = *(long*)p;
            return Finish(faults, started, steps, 0, p);
        }

        /// <summary>Calls machine code at the address as a function that returns an int.</summary>
        public static int Call(IntPtr code)
        {
            return Marshal.GetDelegateForFunctionPointer<IntFunction>(code)();
        }
    }

    /// <summary>A thread that reads one byte of every page of a range, over and over, until stopped.</summary>
    public sealed class Toucher
    {
        private readonly IntPtr _address;
        private readonly long _length;
        private volatile bool _stop;
        private long _pages;
        private Thread _thread;
        private long[] _faultsAtEnd = new long[2];

        public Toucher(IntPtr address, long length) { _address = address; _length = length; }

        public long PagesTouched { get { return Interlocked.Read(ref _pages); } }
        public long MajorFaults { get { return _faultsAtEnd[1]; } }
        public long MinorFaults { get { return _faultsAtEnd[0]; } }

        public void Start()
        {
            _thread = new Thread(Run) { IsBackground = true, Name = "mmap-experiment-toucher" };
            _thread.Start();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private unsafe void Run()
        {
            byte* b = (byte*)_address;
            long sum = 0, count = 0;
            long[] before = Probe.Faults();
            while (!_stop)
            {
                for (long offset = 0; offset < _length && !_stop; offset += 4096) { sum += b[offset]; count++; }
                Interlocked.Exchange(ref _pages, count);
            }
            long[] after = Probe.Faults();
            _faultsAtEnd = new long[] { after[0] - before[0], after[1] - before[1] };
            GC.KeepAlive(sum);
        }

        /// <summary>Stops the thread and returns the pages it touched.</summary>
        public long Stop()
        {
            _stop = true;
            _thread.Join();
            return PagesTouched;
        }
    }
}
