/* load: the benchmark's workload generators, in C so that the writer is
 * never the bottleneck.
 *
 *   load churn DIR FILES APPENDS DIRS
 *       build-like churn: FILES files spread over DIRS new directories
 *       (DIR/dNN/fNNNN.o); APPENDS rounds, each round appending 64 bytes to
 *       every file in turn (open O_APPEND, write, close). Round 0 creates them.
 *   load flood DIR SECONDS PERDIR MAXFILES [WRITES]
 *       creates files as fast as it can for SECONDS (or MAXFILES files),
 *       PERDIR to a new directory (DIR/dNNNNN/fNNNN); after each create,
 *       WRITES one-byte writes spread over the last 64 files created.
 *   load mktree LIST DEST COPIES [DATA]
 *       LIST holds one relative path a line, directories ending in '/', in
 *       an order where parents come first (tar -t order). Makes COPIES copies
 *       of that shape under DEST/cNNN/ (just DEST/ when COPIES is 0). Files
 *       are empty, or with DATA=1 hold 1-32 KiB of bytes derived from their
 *       path (for a generated stand-in of the kernel tarball).
 *
 * Each prints one line of counts on stdout when done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path) {
    fprintf(stderr, "load: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static int churn(const char *dir, int files, int appends, int dirs) {
    char p[4096];
    static const char chunk[64] = "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n";
    for (int d = 0; d < dirs; d++) {
        snprintf(p, sizeof p, "%s/d%02d", dir, d);
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            die("mkdir", p);
    }
    double t0 = now();
    long writes = 0;
    for (int r = 0; r < appends; r++) {
        for (int f = 0; f < files; f++) {
            snprintf(p, sizeof p, "%s/d%02d/f%04d.o", dir, f % dirs, f);
            int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC | (r == 0 ? O_CREAT : 0), 0644);
            if (fd < 0)
                die("open", p);
            if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
                die("write", p);
            close(fd);
            writes++;
        }
    }
    printf("files %d dirs %d writes %ld seconds %.3f\n", files, dirs, writes, now() - t0);
    return 0;
}

/* Each new file stays open (the last RING of them); after each create,
 * WRITES one-byte writes go round-robin to the open files, so the queue gets
 * modify events of distinct files that the kernel cannot merge. */
#define RING 64
static int flood(const char *dir, double seconds, int perdir, long maxfiles, int writes) {
    char p[4096];
    int ring[RING];
    for (int i = 0; i < RING; i++)
        ring[i] = -1;
    double t0 = now(), t = t0;
    long n = 0, nw = 0;
    int d = -1, next = 0;
    while (n < maxfiles) {
        if (n % perdir == 0) {
            d++;
            snprintf(p, sizeof p, "%s/d%05d", dir, d);
            if (mkdir(p, 0755) < 0)
                die("mkdir", p);
        }
        if ((n & 255) == 0 && (t = now()) - t0 >= seconds)
            break;
        snprintf(p, sizeof p, "%s/d%05d/f%04ld", dir, d, n % perdir);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            die("open", p);
        n++;
        if (!writes) {
            close(fd);
            continue;
        }
        int slot = (int)(n % RING);
        if (ring[slot] >= 0)
            close(ring[slot]);
        ring[slot] = fd;
        for (int i = 0; i < writes; i++) {
            int w = ring[next];
            next = (next + 1) % RING;
            if (w >= 0 && write(w, "x", 1) == 1)
                nw++;
        }
    }
    t = now();
    for (int i = 0; i < RING; i++)
        if (ring[i] >= 0)
            close(ring[i]);
    printf("files %ld dirs %d perdir %d writes %ld seconds %.3f rate %.0f\n", n, d + 1, perdir, nw,
           t - t0, n / (t - t0));
    return 0;
}

static unsigned hash(const char *s) {
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int mktree(const char *list, const char *dest, int copies, int data) {
    FILE *f = fopen(list, "r");
    if (!f)
        die("open", list);
    static char buf[64 * 1024];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = "abcdefghijklmnopqrstuvwxyz \n{};()"[(i * 7 + i / 13) % 34];
    char line[4096], p[8192];
    long dirs = 0, files = 0;
    if (mkdir(dest, 0755) < 0 && errno != EEXIST)
        die("mkdir", dest);
    for (int c = 0; c < (copies ? copies : 1); c++) {
        char base[4096];
        if (copies)
            snprintf(base, sizeof base, "%s/c%03d", dest, c);
        else
            snprintf(base, sizeof base, "%s", dest);
        if (copies && mkdir(base, 0755) < 0 && errno != EEXIST)
            die("mkdir", base);
        rewind(f);
        while (fgets(line, sizeof line, f)) {
            size_t l = strlen(line);
            if (l && line[l - 1] == '\n')
                line[--l] = 0;
            if (!l)
                continue;
            int isdir = line[l - 1] == '/';
            if (isdir)
                line[--l] = 0;
            snprintf(p, sizeof p, "%s/%s", base, line);
            if (isdir) {
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                    die("mkdir", p);
                dirs++;
                continue;
            }
            int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0)
                die("open", p);
            if (data) {
                size_t size = 1024 + hash(line) % (31 * 1024);
                if (write(fd, buf, size) != (ssize_t)size)
                    die("write", p);
            }
            close(fd);
            files++;
        }
    }
    fclose(f);
    printf("dirs %ld files %ld\n", dirs, files);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "churn"))
        return churn(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if ((argc == 6 || argc == 7) && !strcmp(argv[1], "flood"))
        return flood(argv[2], atof(argv[3]), atoi(argv[4]), atol(argv[5]), argc == 7 ? atoi(argv[6]) : 0);
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "mktree"))
        return mktree(argv[2], argv[3], atoi(argv[4]), argc == 6 && atoi(argv[5]));
    fprintf(stderr, "usage: load churn DIR FILES APPENDS DIRS\n"
                    "       load flood DIR SECONDS PERDIR MAXFILES [WRITES]\n"
                    "       load mktree LIST DEST COPIES [DATA]\n");
    return 2;
}
