/* floor: the least a recursive inotify watcher must do, as the benchmark's
 * yardstick. It puts a watch on every directory of the tree, reads with a
 * large buffer as soon as the queue is readable, and for every directory
 * that appears (created or moved in) adds its watch and lists it with
 * getdents64 so that entries made before the watch landed are not missed.
 * Directories are opened with O_NOATIME, as inowatch opens them.
 * It counts; it prints nothing per event. No model, no rename tracking, no
 * overflow recovery, no output formatting: whatever inowatch spends beyond
 * this is the price of its guarantees and its output.
 *
 * It batches the way inowatch does at the same setting: with -l MS (default
 * 50, `inowatch watch`'s default latency), once the queue becomes readable it
 * gathers until MS have passed or 256 KiB were read, reading 2 ms in and
 * then whenever, at the rate seen so far, the batch would reach 256 KiB
 * (inowatch_gather's policy, written out again: the floor links nothing);
 * -l 0 reads as soon as the queue is readable.
 *
 * With -w it is the yardstick of start-up instead: a bare walk of the tree
 * with the same code (open each directory, getdents64 it, descend into its
 * subdirectories) but no inotify instance, no watch and no wd -> path table.
 * It prints "ready" when the walk is done and then only waits for SIGTERM,
 * so a harness times it like a watcher (bench/run's `walk`).
 *
 * usage: floor [-l MS] DIR
 *        floor -w DIR
 * stdout: "ready" once every initial watch is in place (-w: once the walk is
 *         done), "overflow" for each IN_Q_OVERFLOW (both flushed at once, so
 *         a harness can time them)
 * stderr at SIGTERM/SIGINT: one line of counts
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MASK                                                                                  \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |     \
     IN_ATTRIB | IN_MODIFY | IN_ONLYDIR | IN_EXCL_UNLINK)

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int ifd;
static char **paths; /* wd -> directory path */
static size_t npaths;
static unsigned long long n_events, n_creates, n_scanned, n_overflows, n_watches, n_errors;
static unsigned long long n_initial, n_dirs;
static int walk_only; /* -w: list the tree, watch nothing */
static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n);
    if (!p) {
        perror("floor: realloc");
        exit(1);
    }
    return p;
}

static void remember(int wd, const char *path) {
    if ((size_t)wd >= npaths) {
        size_t n = npaths ? npaths : 1024;
        while (n <= (size_t)wd)
            n *= 2;
        paths = xrealloc(paths, n * sizeof *paths);
        memset(paths + npaths, 0, (n - npaths) * sizeof *paths);
        npaths = n;
    }
    free(paths[wd]);
    paths[wd] = strdup(path);
}

/* Watch DIR, then list it and descend into its subdirectories. */
static void add_tree(const char *dir) {
    if (!walk_only) {
        int wd = inotify_add_watch(ifd, dir, MASK);
        if (wd < 0) {
            n_errors++;
            if (errno == ENOSPC) {
                fprintf(stderr, "floor: %s: inotify watch limit reached\n", dir);
                exit(1);
            }
            return;
        }
        n_watches++;
        remember(wd, dir);
    }
    /* O_NOATIME, as inowatch lists: updating atimes is no part of
     * watching, and costs a journal write per directory listed after it
     * changed. Refused (EPERM) to a non-owner: then never again. */
    static int noatime_refused;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (noatime_refused ? 0 : O_NOATIME));
    if (fd < 0 && errno == EPERM && !noatime_refused) {
        noatime_refused = 1;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        n_errors++;
        return;
    }
    n_dirs++;
    static char buf[64 * 1024];
    size_t dlen = strlen(dir);
    char *sub = NULL;
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0)
            break;
        /* Copy the subdirectories' names out before recursing: buf is shared. */
        size_t nsub = 0, subcap = 0;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            off += d->d_reclen;
            const char *nm = d->d_name;
            if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
                continue;
            n_scanned++;
            unsigned char t = d->d_type;
            if (t == DT_UNKNOWN) {
                struct stat st;
                if (fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                    t = DT_DIR;
            }
            if (t != DT_DIR)
                continue;
            size_t l = strlen(nm) + 1;
            if (nsub + l > subcap) {
                subcap = (nsub + l) * 2;
                sub = xrealloc(sub, subcap);
            }
            memcpy(sub + nsub, nm, l);
            nsub += l;
        }
        char path[PATH_MAX];
        for (size_t i = 0; i < nsub; i += strlen(sub + i) + 1) {
            if (dlen + 1 + strlen(sub + i) >= sizeof path)
                continue;
            memcpy(path, dir, dlen);
            path[dlen] = '/';
            strcpy(path + dlen + 1, sub + i);
            add_tree(path);
        }
    }
    free(sub);
    close(fd);
}

/* Reads all that is queued, handling each event as it goes; returns the
 * bytes read. */
static size_t drain(void) {
    static char buf[256 * 1024] __attribute__((aligned(8)));
    char path[PATH_MAX];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(ifd, buf, sizeof buf);
        if (n <= 0)
            return total;
        total += (size_t)n;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            n_events++;
            if (ev->mask & IN_Q_OVERFLOW) {
                n_overflows++;
                printf("overflow\n");
                fflush(stdout);
                continue;
            }
            if (ev->mask & IN_IGNORED) {
                if ((size_t)ev->wd < npaths) {
                    free(paths[ev->wd]);
                    paths[ev->wd] = NULL;
                }
                continue;
            }
            if (ev->mask & (IN_CREATE | IN_MOVED_TO))
                n_creates++;
            if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && (ev->mask & IN_ISDIR) &&
                (size_t)ev->wd < npaths && paths[ev->wd]) {
                int l = snprintf(path, sizeof path, "%s/%s", paths[ev->wd], ev->name);
                if (l > 0 && (size_t)l < sizeof path)
                    add_tree(path);
            }
        }
    }
}

#define GATHER_BYTES (256 * 1024)

/* Gathers a batch: naps, reads, until latency_ms or GATHER_BYTES read. */
static void gather(long latency_ms) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long step = 2;
    size_t got = 0;
    for (;;) {
        struct timespec nap = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&nap, NULL);
        got += drain();
        if (got >= GATHER_BYTES)
            return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        long left = latency_ms - spent;
        if (left <= 0)
            return;
        step = got && spent > 0 ? (long)((GATHER_BYTES - got) * (size_t)spent / got) : left;
        if (step > left)
            step = left;
        if (step < 1)
            step = 1;
    }
}

int main(int argc, char **argv) {
    long latency_ms = 50;
    if (argc == 4 && !strcmp(argv[1], "-l")) {
        latency_ms = atol(argv[2]);
        argv += 2;
        argc -= 2;
    } else if (argc == 3 && !strcmp(argv[1], "-w")) {
        walk_only = 1;
        argv++;
        argc--;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: floor [-l MS] DIR\n       floor -w DIR\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s", argv[1]);
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        root[--rl] = 0;
    if (walk_only) {
        add_tree(root);
        if (n_dirs == 0) {
            fprintf(stderr, "floor: %s: cannot list\n", root);
            return 2;
        }
        printf("ready\n");
        fflush(stdout);
        while (!stop)
            pause(); /* SIGTERM/SIGINT: on_signal sets stop */
        fprintf(stderr, "floor: walk dirs %llu entries %llu errors %llu\n", n_dirs, n_scanned,
                n_errors);
        return 0;
    }
    ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0) {
        perror("floor: inotify_init1");
        return 1;
    }
    add_tree(root);
    if (n_watches == 0) {
        fprintf(stderr, "floor: %s: cannot watch\n", root);
        return 2;
    }
    n_initial = n_scanned;
    printf("ready\n");
    fflush(stdout);

    struct pollfd pfd = {.fd = ifd, .events = POLLIN};
    while (!stop) {
        if (poll(&pfd, 1, -1) < 0)
            continue; /* EINTR: stop is checked */
        if (latency_ms > 0)
            gather(latency_ms);
        drain();
    }
    /* "seen": creates and moves-in read from the queue plus entries found by
     * listing new directories (an entry can be counted by both). */
    fprintf(stderr,
            "floor: events %llu seen %llu creates %llu scanned %llu initial %llu overflows %llu "
            "watches %llu errors %llu\n",
            n_events, n_creates + n_scanned - n_initial, n_creates, n_scanned - n_initial,
            n_initial, n_overflows, n_watches, n_errors);
    return 0;
}
