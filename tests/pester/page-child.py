#!/usr/bin/env python3
"""A process whose pages are known, for tests of another process's page state, working set and advice.

Usage: page-child.py <anonymous-bytes>
Maps that much private anonymous memory between two PROT_NONE pages (MADV_NOHUGEPAGE, so that THP cannot turn a touched page
into 512) and prints "ready <address> <length> <page-size>". Then, one command a line on stdin, each
answered with one line on stdout ("ok ..."):
  read <first-page> <pages>           read a byte of each page
  write <first-page> <pages> [step]   write a byte of each page (of every step-th page)
  advise <first-page> <pages> <n>     madvise(n) over the pages
  map <path> [shift]                  map the file shared, read-only, <shift> bytes (default 0) past a
                                      2 MiB boundary, read every page: "ok <address> <length>"
  maps <n>                            make n more one-page mappings, each written (alternately
                                      read-write and read-only, so that none merges with the next)
  loop <first-page> <pages> <ms>      from now on read the pages again every <ms> milliseconds
  stop                                end the loop
  exit
Only libc is used (ctypes), so the process's own pages are the interpreter's and this region's.
"""
import ctypes, os, sys, threading, time

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 1, 2, 1, 2, 0x10, 0x20
MADV_NOHUGEPAGE = 15
PAGE = os.sysconf("SC_PAGE_SIZE")
# What one page table maps (x86_64 and arm64 with 4 KiB pages).
PMD = 2 << 20


def fail(what):
    err = ctypes.get_errno()
    print(f"error {what} {os.strerror(err)}", flush=True)


def view(address, length):
    return memoryview((ctypes.c_ubyte * length).from_address(address)).cast("B")


size = int(sys.argv[1])
# A PROT_NONE page on either side keeps the region a mapping of its own: without them the kernel
# merges it with a neighbour of the same flags, such as a thread stack glibc also made NOHUGEPAGE.
fence = libc.mmap(None, size + 2 * PAGE, 0, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
if fence in (None, ctypes.c_void_p(-1).value):
    fail("mmap")
    sys.exit(3)
base = fence + PAGE
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
if libc.mprotect(base, size, PROT_READ | PROT_WRITE) != 0:
    fail("mprotect")
    sys.exit(3)
if libc.madvise(base, size, MADV_NOHUGEPAGE) != 0:
    fail("madvise")
    sys.exit(3)
region = view(base, size)
loop = None


def touch(first, count, write, step=1):
    total = 0
    for offset in range(first * PAGE, (first + count) * PAGE, step * PAGE):
        if write:
            region[offset] = 1
        else:
            total += region[offset]
    return total


class Loop(threading.Thread):
    def __init__(self, first, count, interval):
        super().__init__(daemon=True)
        self.first, self.count, self.interval, self.stopped = first, count, interval, threading.Event()

    def run(self):
        while not self.stopped.is_set():
            touch(self.first, self.count, False)
            self.stopped.wait(self.interval)


def map_file(fd, length, shift):
    """Maps the file at shift bytes past a 2 MiB boundary, so the test, not ASLR, decides where it lands.

    The page cache may hold the file in large folios (ext4 does since Linux 6.16). MADV_PAGEOUT splits a
    folio whose mapping crosses a page-table boundary, and splitting a file folio unmaps it, so that pass
    reclaims none of it: the pages leave the process but stay cached. Where the mapping lands decides it.
    """
    shift = shift // PAGE * PAGE
    span = length + 2 * PMD
    reserve = libc.mmap(None, span, 0, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if reserve in (None, ctypes.c_void_p(-1).value):
        fail("mmap")
        return None
    start = (reserve + PMD - 1) // PMD * PMD + shift
    address = libc.mmap(start, length, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        fail("mmap")
        libc.munmap(reserve, span)
        return None
    libc.munmap(reserve, start - reserve)
    libc.munmap(start + length, reserve + span - start - length)
    return address


print(f"ready {base} {size} {PAGE}", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    command = words[0]
    if command in ("read", "write"):
        touch(int(words[1]), int(words[2]), command == "write", int(words[3]) if len(words) > 3 else 1)
        print("ok", flush=True)
    elif command == "advise":
        first, count, advice = int(words[1]), int(words[2]), int(words[3])
        if libc.madvise(base + first * PAGE, count * PAGE, advice) != 0:
            fail("madvise")
        else:
            print("ok", flush=True)
    elif command == "map":
        fd = os.open(words[1], os.O_RDONLY)
        length = os.fstat(fd).st_size
        address = map_file(fd, length, int(words[2]) if len(words) > 2 else 0)
        os.close(fd)
        if address is None:
            continue
        pages = view(address, length)
        sum(pages[offset] for offset in range(0, length, PAGE))
        print(f"ok {address} {length}", flush=True)
    elif command == "maps":
        for i in range(int(words[1])):
            page = libc.mmap(None, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            view(page, PAGE)[0] = 1
            if i % 2:
                libc.mprotect(page, PAGE, PROT_READ)
        print("ok", flush=True)
    elif command == "loop":
        loop = Loop(int(words[1]), int(words[2]), int(words[3]) / 1000)
        loop.start()
        print("ok", flush=True)
    elif command == "stop":
        if loop:
            loop.stopped.set()
            loop.join()
        print("ok", flush=True)
    elif command == "exit":
        break
    else:
        print(f"error unknown command {command}", flush=True)
