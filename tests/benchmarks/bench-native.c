/*
 * The native side of tests/benchmarks/Bench.ps1, compiled at bench time when `cc` exists:
 *
 *   bench-native mincore FILE
 *       The raw per-page baseline: open, fstat, one mmap of the whole file, one mincore over it,
 *       count the resident pages, munmap, close. Prints "<resident> <pages> <nanoseconds>", timed
 *       inside the process, so its start-up is not counted.
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
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "mincore") == 0) return raw_mincore(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "time") == 0) return time_program(argv + 2);
    fprintf(stderr, "usage: bench-native mincore FILE | bench-native time PROGRAM [ARGS...]\n");
    return 2;
}
