#!/usr/bin/env python3
"""An independent reading of the machine facts that MachineProfile reports, for the tests to
compare with: python3's own system calls and its own reading of /proc and /sys, with methods of
its own where the profile measures (smaps Rss for the zero page, not pagemap). Prints one JSON
object. Usage: machine-oracle.py PATH [FILE_FOR_CACHESTAT]"""
import ctypes, errno, json, mmap, os, resource, struct, subprocess, sys, tempfile

path = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir())
cachestat_file = sys.argv[2] if len(sys.argv) > 2 else None
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
PAGE = os.sysconf('SC_PAGE_SIZE')
out = {}


def text(p):
    try:
        with open(p) as f:
            return f.read().strip()
    except OSError:
        return None


def bracket(s):
    return s[s.index('[') + 1:s.index(']')] if s and '[' in s else s


uname = os.uname()
out['KernelRelease'] = uname.release
out['Architecture'] = uname.machine
out['PageSize'] = PAGE

# cachestat(2): number 451 everywhere; ENOSYS where the kernel lacks it.
class Range(ctypes.Structure):
    _fields_ = [('off', ctypes.c_uint64), ('len', ctypes.c_uint64)]
stat = (ctypes.c_uint64 * 5)()
rc = libc.syscall(451, -1, ctypes.byref(Range(0, 0)), stat, 0)
out['CachestatPresent'] = ctypes.get_errno() != errno.ENOSYS
if cachestat_file and out['CachestatPresent']:
    fd = os.open(cachestat_file, os.O_RDONLY)
    rc = libc.syscall(451, fd, ctypes.byref(Range(0, 0)), stat, 0)
    out['CachestatPermitted'] = rc == 0
    os.close(fd)

# The zero page: the Rss of a fresh read-only anonymous map after a read of each page (a read-only
# map merges with no writable neighbour, so its smaps entry is its own).
m = mmap.mmap(-1, 64 * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=mmap.PROT_READ)
if hasattr(mmap, 'MADV_NOHUGEPAGE'):
    m.madvise(mmap.MADV_NOHUGEPAGE)
total = sum(m[i * PAGE] for i in range(64))
rss = None
with open('/proc/self/smaps') as f:
    lines = f.read().split('\n')
start = None
for i, line in enumerate(lines):
    fields = line.split()
    if fields and '-' in fields[0] and len(fields) >= 5 and fields[1].startswith('r--p'):
        lo, hi = (int(x, 16) for x in fields[0].split('-'))
        if hi - lo == 64 * PAGE and len(fields) == 5:
            for follow in lines[i + 1:i + 30]:
                if follow.startswith('Rss:'):
                    rss = int(follow.split()[1]) * 1024
                    break
out['ZeroPageRss'] = rss
out['ZeroPageInUse'] = None if rss is None else (rss == 0 if rss in (0, 64 * PAGE) else None)
m.close()

thp = '/sys/kernel/mm/transparent_hugepage/'
out['ThpEnabled'] = bracket(text(thp + 'enabled'))
out['ThpDefrag'] = bracket(text(thp + 'defrag'))
out['ThpShmemEnabled'] = bracket(text(thp + 'shmem_enabled'))
pools = '/sys/kernel/mm/hugepages'
sizes = sorted(int(d[len('hugepages-'):-2]) * 1024 for d in os.listdir(pools)) if os.path.isdir(pools) else []
out['HugePageSizes'] = sizes
out['HugePagesReserved'] = [int(text(f'{pools}/hugepages-{s // 1024}kB/nr_hugepages')) for s in sizes]

# Read-ahead of the path's device, the bdi sysfs file under its major:minor.
st = os.stat(path)
ra = text(f'/sys/class/bdi/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/read_ahead_kb')
out['ReadAheadBytes'] = int(ra) * 1024 if ra else None

# Large folios (root: page frames are hidden from others) and fault-around, on a probe file of its own.
directory = path if os.path.isdir(path) else os.path.dirname(path)
try:
    fd, probe = tempfile.mkstemp(dir=directory, prefix='.oracle-')
    os.unlink(probe)
    size = 512 * PAGE
    os.write(fd, os.urandom(size))
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    for offset in range(0, size, 65536):
        os.pread(fd, 65536, offset)
    fm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    base = None
    for line in open('/proc/self/maps'):
        fields = line.split()
        lo, hi = (int(x, 16) for x in fields[0].split('-'))
        if hi - lo == size and len(fields) >= 5 and fields[4] == str(os.fstat(fd).st_ino):
            base = lo
    for i in range(0, size, PAGE):
        fm[i]
    with open('/proc/self/pagemap', 'rb') as pm:
        pm.seek(base // PAGE * 8)
        entries = struct.unpack(f'{size // PAGE}Q', pm.read(size // PAGE * 8))
    frames = [e & ((1 << 55) - 1) for e in entries if e >> 63]
    if frames and any(frames):
        with open('/proc/kpageflags', 'rb') as kf:
            compound = 0
            for frame in frames:
                kf.seek(frame * 8)
                if struct.unpack('Q', kf.read(8))[0] & (3 << 15):
                    compound += 1
        out['LargeFolios'] = compound > 0
    fm.close()
    debugfs = text('/sys/kernel/debug/fault_around_bytes')
    if debugfs:
        out['FaultAroundBytes'] = int(debugfs)
    else:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        for offset in range(0, size, PAGE):
            os.pread(fd, PAGE, offset)
        fm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        for line in open('/proc/self/maps'):
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split('-'))
            if hi - lo == size and len(fields) >= 5 and fields[4] == str(os.fstat(fd).st_ino):
                base = lo
        fm[size // 2]
        with open('/proc/self/pagemap', 'rb') as pm:
            pm.seek(base // PAGE * 8)
            entries = struct.unpack(f'{size // PAGE}Q', pm.read(size // PAGE * 8))
        out['FaultAroundBytes'] = sum(1 for e in entries if e >> 63) * PAGE
        fm.close()
    os.close(fd)
except OSError as e:
    out['ProbeError'] = str(e)

out['MaxMapCount'] = int(text('/proc/sys/vm/max_map_count'))
out['OvercommitMemory'] = int(text('/proc/sys/vm/overcommit_memory'))
out['OvercommitRatio'] = int(text('/proc/sys/vm/overcommit_ratio'))
soft = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
out['MemlockLimit'] = None if soft == resource.RLIM_INFINITY else soft
soft = resource.getrlimit(resource.RLIMIT_AS)[0]
out['AddressSpaceLimit'] = None if soft == resource.RLIM_INFINITY else soft
swaps = text('/proc/swaps').split('\n')[1:]
out['SwapTotalBytes'] = sum(int(line.split()[2]) * 1024 for line in swaps if line.strip())
out['NumaNodes'] = len([d for d in os.listdir('/sys/devices/system/node') if d.startswith('node') and d[4:].isdigit()]) if os.path.isdir('/sys/devices/system/node') else None

# The memory cgroup: v1 where a cgroup1 mount carries the memory controller, else v2.
cgroups = text('/proc/self/cgroup').split('\n')
v1 = [l.split(':', 2)[2] for l in cgroups if 'memory' in l.split(':')[1].split(',')]
if v1:
    out['CgroupVersion'] = 1
    out['Cgroup'] = v1[0]
    limit = text(f'/sys/fs/cgroup/memory{v1[0]}/memory.limit_in_bytes')
else:
    v2 = [l[3:] for l in cgroups if l.startswith('0::')]
    out['CgroupVersion'] = 2 if v2 and 'memory' in (text('/sys/fs/cgroup/cgroup.controllers') or '') else None
    out['Cgroup'] = v2[0] if v2 else None
    limit = text(f'/sys/fs/cgroup{v2[0]}/memory.max') if v2 else None
out['CgroupMemoryLimit'] = None if limit in (None, 'max') or int(limit) >= 2**63 - 2**20 else int(limit)

damon = text('/sys/module/damon_reclaim/parameters/enabled') == 'Y'
root = '/sys/kernel/mm/damon/admin/kdamonds'
if os.path.isdir(root):
    for k in os.listdir(root):
        if text(f'{root}/{k}/state') == 'on':
            for dirpath, _, files in os.walk(f'{root}/{k}/contexts'):
                if 'action' in files and text(f'{dirpath}/action') == 'pageout':
                    damon = True
out['DamonReclaimActive'] = damon
out['TlbShootdownCounter'] = any(l.split(':')[0].strip() == 'TLB' for l in text('/proc/interrupts').split('\n'))
out['DevMemPresent'] = os.path.exists('/dev/mem')

# A 32-bit program: the i386 exit(7) below, laid out by hand (ELF header, one PT_LOAD), run by exec.
if uname.machine == 'x86_64':
    code = bytes([0xB8, 1, 0, 0, 0, 0xBB, 7, 0, 0, 0, 0xCD, 0x80])  # mov eax,1; mov ebx,7; int 0x80
    base = 0x10000
    header = b'\x7fELF' + bytes([1, 1, 1]) + bytes(9) + struct.pack('<HHIIIIIHHHHHH', 2, 3, 1, base + 84, 52, 0, 0, 52, 32, 1, 0, 0, 0)
    program = struct.pack('<IIIIIIII', 1, 0, base, base, 84 + len(code), 84 + len(code), 5, 0x1000)
    fd, exe = tempfile.mkstemp(prefix='oracle-i386-')
    os.write(fd, header + program + code)
    os.close(fd)
    os.chmod(exe, 0o700)
    try:
        out['Runs32Bit'] = subprocess.run([exe]).returncode == 7
    except OSError as e:
        out['Runs32Bit'] = False if e.errno == errno.ENOEXEC else None
        out['Runs32BitError'] = errno.errorcode.get(e.errno)
    finally:
        os.unlink(exe)
print(json.dumps(out))
