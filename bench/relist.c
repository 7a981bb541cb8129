/* relist: what typing N new files costs, by an lstat() each against one
 * listing of their directory (src/lib/typecache.c chooses between them).
 *
 * usage: relist DIR N [ROUNDS]
 * Makes DIR/dN holding N empty files, then times ROUNDS rounds of each
 * way, with warm caches: fstatat() of every name relative to an O_PATH fd
 * on the directory, and open + getdents64 to the end + close. Prints the
 * microseconds per round and per entry. Build: cc -O2 -o relist relist.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void name_of(char *out, size_t size, int i)
{
    snprintf(out, size, "file_number_%d.c", i);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: relist DIR N [ROUNDS]\n");
        return 2;
    }
    int n = atoi(argv[2]), rounds = argc > 3 ? atoi(argv[3]) : 2000;
    if (n <= 0 || rounds <= 0) {
        fprintf(stderr, "relist: N and ROUNDS must be positive\n");
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/d%d", argv[1], n);
    if (mkdir(dir, 0755) < 0 && access(dir, F_OK) < 0) {
        perror(dir);
        return 1;
    }
    int dfd = open(dir, O_PATH | O_DIRECTORY);
    if (dfd < 0) {
        perror(dir);
        return 1;
    }
    char name[64];
    for (int i = 0; i < n; i++) {
        name_of(name, sizeof name, i);
        int fd = openat(dfd, name, O_CREAT | O_WRONLY, 0644);
        if (fd >= 0)
            close(fd);
    }
    struct stat st;
    double t0 = now_us();
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) {
            name_of(name, sizeof name, i);
            fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
        }
    }
    double t1 = now_us();
    char buf[32768];
    for (int r = 0; r < rounds; r++) {
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        while (getdents64(fd, buf, sizeof buf) > 0)
            ;
        close(fd);
    }
    double t2 = now_us();
    double stat_us = (t1 - t0) / rounds, list_us = (t2 - t1) / rounds;
    printf("%d entries: lstat each %.1f us (%.2f per entry), one listing %.1f us (%.2f per entry)\n",
           n, stat_us, stat_us / n, list_us, list_us / n);
    close(dfd);
    return 0;
}
