/* writer_cost.c: the cost per record of three ways to append to a log:
 * plain write(2) on a fd kept open (fast, and blind to rotation), a stat of
 * the path before each write (Python's WatchedFileHandler strategy), and
 * inowatch_writer (a non-blocking read of its inotify fd before each
 * write). Each appends N 100-byte records to a file on the filesystem of
 * DIR; prints ns per record, best of 5 rounds.
 *
 *   cc -O2 -Iinclude bench/writer_cost.c build/libinowatch.a -o /tmp/writer_cost
 *   /tmp/writer_cost /tmp 1000000 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inowatch.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const char record[100] = "a log record of one hundred bytes, padded .....................................................\n";

static double plain(const char *path, long n)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
    double t = now_ns();
    for (long i = 0; i < n; i++)
        if (write(fd, record, sizeof(record)) < 0)
            abort();
    t = now_ns() - t;
    close(fd);
    return t / n;
}

static double stat_each(const char *path, long n)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
    struct stat ours, at;
    fstat(fd, &ours);
    double t = now_ns();
    for (long i = 0; i < n; i++) {
        if (stat(path, &at) < 0 || at.st_ino != ours.st_ino || at.st_dev != ours.st_dev) {
            close(fd);
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
            fstat(fd, &ours);
        }
        if (write(fd, record, sizeof(record)) < 0)
            abort();
    }
    t = now_ns() - t;
    close(fd);
    return t / n;
}

static double with_writer(const char *path, long n)
{
    unlink(path);
    inowatch_writer *wr;
    if (inowatch_writer_open(&wr, path, 0644) < 0)
        abort();
    double t = now_ns();
    for (long i = 0; i < n; i++)
        if (inowatch_writer_write(wr, record, sizeof(record)) < 0)
            abort();
    t = now_ns() - t;
    inowatch_writer_close(wr);
    return t / n;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    long n = argc > 2 ? atol(argv[2]) : 200000;
    char path[4096];
    snprintf(path, sizeof(path), "%s/inowatch-writer-cost.log", dir);
    double best[3] = {1e18, 1e18, 1e18};
    for (int round = 0; round < 5; round++) { /* interleaved */
        double r[3] = {plain(path, n), stat_each(path, n), with_writer(path, n)};
        for (int k = 0; k < 3; k++)
            best[k] = r[k] < best[k] ? r[k] : best[k];
    }
    unlink(path);
    printf("ns per 100-byte record, best of 5 rounds of %ld:\n", n);
    printf("  plain write        %7.0f\n", best[0]);
    printf("  stat + write       %7.0f  (%.2fx plain)\n", best[1], best[1] / best[0]);
    printf("  inowatch_writer    %7.0f  (%.2fx plain)\n", best[2], best[2] / best[0]);
    return 0;
}
