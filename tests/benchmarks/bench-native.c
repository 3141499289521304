/*
 * The native side of tests/benchmarks/Bench.ps1, compiled at bench time when `cc` exists:
 *
 *   bench-native mincore FILE
 *       The raw per-page baseline: open, fstat, one mmap of the whole file, one mincore over it,
 *       count the resident pages, munmap, close. Prints "<resident> <pages> <nanoseconds>", timed
 *       inside the process, so its start-up is not counted.
 *
 *   bench-native pagemap PID ADDRESS LENGTH
 *       The raw per-page state baseline: pread of the range's 64-bit entries from /proc/PID/pagemap,
 *       1 MiB a call, counting the present pages. Prints "<present> <pages> <nanoseconds>".
 *
 *   bench-native pagemap-scan PID ADDRESS LENGTH
 *       The same through the PAGEMAP_SCAN ioctl (Linux 6.7+), 4096 regions a call.
 *
 *   bench-native summary FILE CALLS
 *       The raw system calls of one file's residency summary, CALLS times: open, statx, cachestat
 *       (from offset 0 to the file's size), close. Prints "<cached pages> <pages> <nanoseconds for
 *       all calls>"; exits 2 where the kernel has no cachestat (before Linux 6.5).
 *
 *   bench-native read FILE
 *       Reads the file to its end, 64 KiB a call (for /proc/PID/smaps). Prints "<bytes> 0 <nanoseconds>".
 *
 *   bench-native working-set PID
 *       A working-set sample in C, the same work as WorkingSet.Begin + Read: writes 1 to
 *       /proc/PID/clear_refs, reads /proc/PID/smaps to its end, 64 KiB a call, and sums each
 *       mapping's Rss and Referenced. Prints "<mappings> <referenced kB> <nanoseconds> <rss kB>".
 *
 *   bench-native walk DIRECTORY THREADS
 *       The system calls of a tree's residency summary, on THREADS threads: each takes a directory
 *       from a shared stack, reads it with getdents64, pushes its subdirectories and examines its
 *       regular files itself: openat relative to the directory, statx, cachestat, close. Prints
 *       "<files> <cached pages> <pages> <nanoseconds>": what the kernel's side of a walk costs on
 *       that many processors, with none of a walker's bookkeeping.
 *
 * Each buffer is touched before the clock starts: the .NET side reuses pooled buffers already in
 * memory, so neither side's time holds the page faults of a first touch.
 *
 *   bench-native time PROGRAM ARGS...
 *       Runs the program (posix_spawn, stdout and stderr passed through) and prints
 *       "elapsed_ns=<wall nanoseconds from spawn to exit> maxrss_kb=<its peak resident set>" on
 *       stderr, so that another tool's time includes its own start-up but not the cost of the .NET
 *       process API that launches it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#ifndef PAGEMAP_SCAN
/* <linux/fs.h> of Linux 6.7+, for C libraries whose kernel headers are older than the kernel. */
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* cachestat(2) (Linux 6.5+) has no glibc wrapper; its number is the same on every architecture. */
#define NR_CACHESTAT 451
struct bench_cachestat_range { uint64_t off, len; };
struct bench_cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int raw_mincore(const char *path)
{
    long long start = now_ns();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    struct stat st;
    if (fstat(fd, &st) != 0) { perror("fstat"); return 1; }
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = (st.st_size + page - 1) / page;
    unsigned char *vector = malloc(pages ? pages : 1);
    long long resident = 0;
    if (pages > 0) {
        void *map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) { perror("mmap"); return 1; }
        if (mincore(map, st.st_size, vector) != 0) { perror("mincore"); return 1; }
        for (size_t i = 0; i < pages; i++) resident += vector[i] & 1;
        munmap(map, st.st_size);
    }
    close(fd);
    free(vector);
    long long elapsed = now_ns() - start;
    printf("%lld %zu %lld\n", resident, pages, elapsed);
    return 0;
}

static int time_program(char **argv)
{
    pid_t pid;
    long long start = now_ns();
    int error = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (error != 0) { fprintf(stderr, "posix_spawnp %s: %s\n", argv[0], strerror(error)); return 127; }
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) { perror("wait4"); return 1; }
    long long elapsed = now_ns() - start;
    fflush(stdout);
    fprintf(stderr, "elapsed_ns=%lld maxrss_kb=%ld\n", elapsed, usage.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int raw_pagemap(const char *pid, const char *address, const char *length, int scan)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/pagemap", pid);
    uint64_t start = strtoull(address, NULL, 0), size = strtoull(length, NULL, 0);
    long page = sysconf(_SC_PAGESIZE);
    uint64_t pages = size / page, present = 0;
    static struct page_region regions[4096];
    static uint64_t entries[131072];
    memset(scan ? (void *)regions : (void *)entries, 0, scan ? sizeof regions : sizeof entries);
    long long begun = now_ns();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    if (scan) {
        struct pm_scan_arg arg = {
            .size = sizeof arg, .start = start, .end = start + size, .vec = (uintptr_t)regions, .vec_len = 4096,
            .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_SOFT_DIRTY | PAGE_IS_HUGE | PAGE_IS_PFNZERO,
        };
        for (;;) {
            int count = ioctl(fd, PAGEMAP_SCAN, &arg);
            if (count < 0) { perror("ioctl(PAGEMAP_SCAN)"); return 1; }
            for (int i = 0; i < count; i++)
                if (regions[i].categories & PAGE_IS_PRESENT) present += (regions[i].end - regions[i].start) / page;
            /* Only a full vector stops the kernel short, and it goes on from the last region's end.
             * After a flush of its own 512-region buffer, walk_end keeps where that flush stopped
             * (Linux 6.18), which would read the tail twice. */
            uint64_t next = count > 0 && regions[count - 1].end > arg.walk_end ? regions[count - 1].end : arg.walk_end;
            if (count < 4096 || next >= arg.end) break;
            arg.start = next;
        }
    } else {
        for (uint64_t done = 0; done < pages;) {
            uint64_t want = pages - done < 131072 ? pages - done : 131072;
            ssize_t got = pread(fd, entries, want * 8, (off_t)((start / page + done) * 8));
            if (got <= 0) { perror("pread"); return 1; }
            for (ssize_t i = 0; i < got / 8; i++) present += entries[i] >> 63;
            done += got / 8;
        }
    }
    close(fd);
    printf("%llu %llu %lld\n", (unsigned long long)present, (unsigned long long)pages, now_ns() - begun);
    return 0;
}

static int raw_summary(const char *path, const char *calls)
{
    long count = strtol(calls, NULL, 10), page = sysconf(_SC_PAGESIZE);
    struct statx st;
    struct bench_cachestat cs = { 0 };
    long long begun = now_ns();
    for (long i = 0; i < count; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { perror("open"); return 1; }
        if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE | STATX_INO, &st) != 0) { perror("statx"); return 1; }
        struct bench_cachestat_range range = { 0, st.stx_size };
        if (syscall(NR_CACHESTAT, fd, &range, &cs, 0) != 0) { perror("cachestat"); return 2; }
        close(fd);
    }
    long long elapsed = now_ns() - begun;
    printf("%llu %llu %lld\n", (unsigned long long)cs.nr_cache, (unsigned long long)((st.stx_size + page - 1) / page), elapsed);
    return 0;
}

static int raw_read(const char *path)
{
    static char buffer[65536];
    memset(buffer, 0, sizeof buffer);
    long long begun = now_ns(), total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    for (ssize_t got; (got = read(fd, buffer, sizeof buffer)) > 0;) total += got;
    close(fd);
    printf("%lld 0 %lld\n", total, now_ns() - begun);
    return 0;
}

/* Adds up one smaps line: a mapping line (its first word holds the '-' of start-end) counts a
 * mapping; "Rss:" and "Referenced:" lines add their kB. */
static void sum_smaps_line(const char *line, size_t length, long long *mappings, long long *rss, long long *referenced)
{
    const char *colon = memchr(line, ':', length), *space = memchr(line, ' ', length);
    if (!colon || (space && space < colon)) { (*mappings)++; return; }
    long long *into = colon - line == 3 && memcmp(line, "Rss", 3) == 0 ? rss
        : colon - line == 10 && memcmp(line, "Referenced", 10) == 0 ? referenced : NULL;
    if (into) *into += strtoll(colon + 1, NULL, 10);
}

static int raw_working_set(const char *pid)
{
    static char buffer[65536 + 4096];
    memset(buffer, 0, sizeof buffer);
    char path[64];
    long long begun = now_ns(), mappings = 0, rss = 0, referenced = 0;
    snprintf(path, sizeof path, "/proc/%s/clear_refs", pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "1", 1) != 1) { perror("clear_refs"); return 1; }
    close(fd);
    snprintf(path, sizeof path, "/proc/%s/smaps", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    size_t kept = 0; /* a line cut by the end of a read waits at the buffer's start for the next */
    for (ssize_t got; (got = read(fd, buffer + kept, 65536)) > 0;) {
        size_t end = kept + got, start = 0;
        for (char *newline; (newline = memchr(buffer + start, '\n', end - start)); start = newline - buffer + 1)
            sum_smaps_line(buffer + start, newline - buffer - start, &mappings, &rss, &referenced);
        kept = end - start;
        memmove(buffer, buffer + start, kept);
        if (kept > 4096) { fprintf(stderr, "an smaps line longer than 4 KiB\n"); return 1; }
    }
    if (kept) sum_smaps_line(buffer, kept, &mappings, &rss, &referenced);
    close(fd);
    long long elapsed = now_ns() - begun;
    printf("%lld %lld %lld %lld\n", mappings, referenced, elapsed, rss);
    return 0;
}

/* The shared state of a walk: directories still to read, and how many threads are reading one
 * (the walk ends when the stack is empty and none is, since a reading thread may push more). */
struct walk {
    pthread_mutex_t lock;
    pthread_cond_t more;
    char **stack;
    size_t count, capacity;
    int busy;
    long page;
    unsigned long long files, cached, pages;
};

static void walk_push(struct walk *w, char *path)
{
    if (w->count == w->capacity) {
        w->capacity = w->capacity ? w->capacity * 2 : 1024;
        w->stack = realloc(w->stack, w->capacity * sizeof *w->stack);
        if (!w->stack) { perror("realloc"); exit(1); }
    }
    w->stack[w->count++] = path;
    pthread_cond_signal(&w->more);
}

struct linux_dirent64 { uint64_t d_ino; int64_t d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; };

static void *walk_thread(void *arg)
{
    struct walk *w = arg;
    static __thread char entries[65536];
    unsigned long long files = 0, cached = 0, pages = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->count == 0 && w->busy > 0) pthread_cond_wait(&w->more, &w->lock);
        if (w->count == 0) break;
        char *path = w->stack[--w->count];
        w->busy++;
        pthread_mutex_unlock(&w->lock);
        int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) { perror(path); exit(1); }
        for (long got; (got = syscall(SYS_getdents64, dir, entries, sizeof entries)) > 0;) {
            for (long at = 0; at < got;) {
                struct linux_dirent64 *e = (struct linux_dirent64 *)(entries + at);
                at += e->d_reclen;
                if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                    size_t length = strlen(path) + strlen(e->d_name) + 2;
                    char *child = malloc(length);
                    snprintf(child, length, "%s/%s", path, e->d_name);
                    pthread_mutex_lock(&w->lock);
                    walk_push(w, child);
                    pthread_mutex_unlock(&w->lock);
                } else if (e->d_type == DT_REG) {
                    int fd = openat(dir, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                    if (fd < 0) { perror(e->d_name); exit(1); }
                    struct statx st;
                    if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE | STATX_INO, &st) != 0) { perror("statx"); exit(1); }
                    struct bench_cachestat_range range = { 0, st.stx_size };
                    struct bench_cachestat cs = { 0 };
                    if (syscall(NR_CACHESTAT, fd, &range, &cs, 0) != 0) { perror("cachestat"); exit(2); }
                    close(fd);
                    files++;
                    cached += cs.nr_cache;
                    pages += (st.stx_size + w->page - 1) / w->page;
                }
            }
        }
        close(dir);
        free(path);
        pthread_mutex_lock(&w->lock);
        if (--w->busy == 0 && w->count == 0) pthread_cond_broadcast(&w->more);
    }
    w->files += files;
    w->cached += cached;
    w->pages += pages;
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int raw_walk(const char *root, const char *threads)
{
    int count = (int)strtol(threads, NULL, 10);
    if (count < 1 || count > 1024) { fprintf(stderr, "THREADS must be 1 to 1024\n"); return 2; }
    struct walk w = { .lock = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER, .page = sysconf(_SC_PAGESIZE) };
    pthread_t ids[1024];
    long long begun = now_ns();
    walk_push(&w, strdup(root));
    for (int i = 1; i < count; i++) pthread_create(&ids[i], NULL, walk_thread, &w);
    walk_thread(&w);
    for (int i = 1; i < count; i++) pthread_join(ids[i], NULL);
    long long elapsed = now_ns() - begun;
    free(w.stack);
    printf("%llu %llu %llu %lld\n", w.files, w.cached, w.pages, elapsed);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "pagemap") == 0) return raw_pagemap(argv[2], argv[3], argv[4], 0);
    if (argc == 5 && strcmp(argv[1], "pagemap-scan") == 0) return raw_pagemap(argv[2], argv[3], argv[4], 1);
    if (argc == 4 && strcmp(argv[1], "summary") == 0) return raw_summary(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "read") == 0) return raw_read(argv[2]);
    if (argc == 3 && strcmp(argv[1], "working-set") == 0) return raw_working_set(argv[2]);
    if (argc == 4 && strcmp(argv[1], "walk") == 0) return raw_walk(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "mincore") == 0) return raw_mincore(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "time") == 0) return time_program(argv + 2);
    fprintf(stderr, "usage: bench-native mincore FILE | bench-native time PROGRAM [ARGS...]\n");
    return 2;
}
