/* cmd_stale.c: "inowatch stale [--json] [--pid PID] [--rescue DIR]": open
 * files whose path no longer names them, and copying them out. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "json.h"
#include "stale_rescue.h"
#include "stale_scan.h"

static const char stale_usage[] =
    "usage: inowatch stale [--json] [--pid PID] [--rescue DIR]\n"
    "\n"
    "Lists open files whose path no longer names them: \"deleted\" (the name\n"
    "was removed) or \"replaced\" (the name now leads to another file, as\n"
    "after a rename over it). Such a file still takes space, and a process\n"
    "writing to it writes where nobody will read. For each: pid, command, fd,\n"
    "mode (r, w, rw; a for append), state, size of the file, the fd's offset\n"
    "and the path the file had. Writers come first, then by pid and fd. Only\n"
    "regular files count; memfds and deleted files under /dev/shm are\n"
    "anonymous shared memory by design and are left out. Processes that\n"
    "cannot be inspected (another user's, unless run as root) are counted in\n"
    "one line on stderr.\n"
    "\n"
    "  --json        one JSON object per line: pid, command, fd, mode, path,\n"
    "                state, size, offset (and rescued, with --rescue)\n"
    "  --pid PID     only this process\n"
    "  --rescue DIR  copy each file's whole content into DIR (created, mode\n"
    "                0700, if missing) as PID-FD-PATH, with '/', '%' and\n"
    "                control bytes as %XX (%2F, %25, %0A); never over an\n"
    "                existing file: a later rescue of the same fd is named\n"
    "                PID-FD.N-PATH\n"
    "  -h, --help    this help\n"
    "\n"
    "Exit status: 0 nothing found; 1 something found (and rescued);\n"
    "2 for bad usage, a PID that does not exist or cannot be inspected,\n"
    "or a rescue that failed.\n"
    "\n"
    "Examples:\n"
    "  sudo inowatch stale\n"
    "      which processes hold deleted or replaced files, on the whole machine\n"
    "  inowatch stale --pid \"$(pidof myserver)\" --rescue ~/rescued\n"
    "      get back the log a server still writes after it was deleted\n";

struct stale_args {
    int json;
    pid_t pid;          /* 0: every process */
    const char *rescue; /* DIR, or NULL */
};

/* What became of one entry's rescue. */
struct rescue_result {
    int ok;
    size_t same_as; /* index of an earlier entry with the same file, or SIZE_MAX */
    long long bytes;
    char name[NAME_MAX + 1];
};

/* Writers first: their data goes into a file nobody can reach. */
static int by_writer_pid_fd(const void *pa, const void *pb)
{
    const struct iw_stale_fd *a = pa, *b = pb;
    int wa = iw_stale_is_writer(a), wb = iw_stale_is_writer(b);
    if (wa != wb)
        return wb - wa;
    if (a->pid != b->pid)
        return a->pid < b->pid ? -1 : 1;
    return (a->fd > b->fd) - (a->fd < b->fd);
}

/* ---- rescue ---- */

static size_t find_same_file(const struct iw_stale_list *l, const struct rescue_result *res,
                             size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (res[j].ok && l->fds[j].dev == l->fds[i].dev && l->fds[j].ino == l->fds[i].ino)
            return j;
    return SIZE_MAX;
}

static void complain_rescue(const struct iw_stale_fd *f, const char *step, int err)
{
    size_t n = strlen(f->path);
    char *shown = malloc(iw_text_escape_bound(n) + 1);
    if (shown)
        shown[iw_text_escape(shown, f->path, n)] = '\0';
    iw_complain("stale: rescuing pid %ld fd %d (%s): %s: %s", (long)f->pid, f->fd,
                shown ? shown : "?", step,
                err == ESTALE ? "the fd was closed or now holds another file" : strerror(err));
    free(shown);
}

/* Copies every file once (fds sharing a file point to the first copy).
 * Returns 0, or -1 when some rescue failed. */
static int rescue_all(const struct iw_stale_list *l, int dirfd, struct rescue_result *res)
{
    int r = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t same = find_same_file(l, res, i);
        if (same != SIZE_MAX) {
            res[i] = res[same];
            res[i].same_as = same;
            continue;
        }
        res[i].same_as = SIZE_MAX;
        const char *step = "";
        int e = iw_rescue(dirfd, &l->fds[i], res[i].name, &res[i].bytes, &step);
        if (e < 0) {
            complain_rescue(&l->fds[i], step, -e);
            r = -1;
        } else {
            res[i].ok = 1;
        }
    }
    return r;
}

/* ---- output ---- */

/* The rescued copy as DIR/NAME, for the user to open. */
static void put_json_rescued(const char *dir, const struct rescue_result *r)
{
    fputs(",\"rescued\":", stdout);
    if (!r->ok) {
        fputs("null", stdout);
        return;
    }
    size_t n = strlen(dir) + 1 + strlen(r->name);
    char *full = malloc(n + 1);
    if (full)
        snprintf(full, n + 1, "%s/%s", dir, r->name);
    iw_json_print(stdout, full ? full : "?");
    free(full);
}

static void print_json(const struct iw_stale_list *l, const struct stale_args *a,
                       const struct rescue_result *res)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct iw_stale_fd *f = &l->fds[i];
        printf("{\"pid\":%ld,\"command\":", (long)f->pid);
        iw_json_print(stdout, f->command);
        printf(",\"fd\":%d,\"mode\":\"%s\",\"path\":", f->fd, f->mode);
        iw_json_print(stdout, f->path);
        printf(",\"state\":\"%s\",\"size\":%lld,\"offset\":%lld", iw_stale_state_name(f->state),
               f->size, f->offset);
        if (a->rescue)
            put_json_rescued(a->rescue, &res[i]);
        fputs("}\n", stdout);
    }
}

/* Writes s escaped for a terminal: one line, no control bytes. */
static void put_text(const char *s)
{
    size_t n = strlen(s);
    char *buf = malloc(iw_text_escape_bound(n));
    if (!buf)
        return;
    fwrite(buf, 1, iw_text_escape(buf, s, n), stdout);
    free(buf);
}

static int width_of(long long v)
{
    return snprintf(NULL, 0, "%lld", v);
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

struct columns {
    int pid, command, fd, size, offset;
};

/* Column widths that fit every row and the header. */
static struct columns measure(const struct iw_stale_list *l)
{
    struct columns c = {3, 7, 2, 4, 6};
    for (size_t i = 0; i < l->n; i++) {
        const struct iw_stale_fd *f = &l->fds[i];
        char esc[iw_text_escape_bound(sizeof(f->command))];
        c.pid = max_int(c.pid, width_of(f->pid));
        c.command = max_int(c.command, (int)iw_text_escape(esc, f->command, strlen(f->command)));
        c.fd = max_int(c.fd, width_of(f->fd));
        c.size = max_int(c.size, width_of(f->size));
        c.offset = max_int(c.offset, width_of(f->offset));
    }
    return c;
}

static void print_row(const struct iw_stale_fd *f, const struct columns *c)
{
    char esc[iw_text_escape_bound(sizeof(f->command)) + 1];
    esc[iw_text_escape(esc, f->command, strlen(f->command))] = '\0';
    printf("%*ld  %-*s  %*d  %-4s  %-8s  %*lld  %*lld  ", c->pid, (long)f->pid, c->command, esc,
           c->fd, f->fd, f->mode, iw_stale_state_name(f->state), c->size, f->size, c->offset,
           f->offset);
    put_text(f->path);
    putchar('\n');
}

static void print_rescues(const struct iw_stale_list *l, const char *dir,
                          const struct rescue_result *res)
{
    putchar('\n');
    for (size_t i = 0; i < l->n; i++) {
        const struct iw_stale_fd *f = &l->fds[i];
        if (!res[i].ok)
            continue;
        printf("rescued pid %ld fd %d into ", (long)f->pid, f->fd);
        put_text(dir);
        putchar('/');
        put_text(res[i].name);
        if (res[i].same_as != SIZE_MAX)
            printf(" (the same file as pid %ld fd %d)\n", (long)l->fds[res[i].same_as].pid,
                   l->fds[res[i].same_as].fd);
        else
            printf(" (%lld bytes)\n", res[i].bytes);
    }
}

static void print_text(const struct iw_stale_list *l, const struct stale_args *a,
                       const struct rescue_result *res)
{
    if (l->n == 0) {
        puts("No open file is deleted or replaced.");
        return;
    }
    struct columns c = measure(l);
    printf("%*s  %-*s  %*s  %-4s  %-8s  %*s  %*s  %s\n", c.pid, "PID", c.command, "COMMAND", c.fd,
           "FD", "MODE", "STATE", c.size, "SIZE", c.offset, "OFFSET", "PATH");
    for (size_t i = 0; i < l->n; i++)
        print_row(&l->fds[i], &c);
    if (a->rescue)
        print_rescues(l, a->rescue, res);
}

/* ---- arguments ---- */

static int parse_pid(const char *s, pid_t *ret)
{
    char *end;
    errno = 0;
    long v = s[0] >= '0' && s[0] <= '9' ? strtol(s, &end, 10) : -1;
    if (v <= 0 || errno || *end || v > INT_MAX) {
        iw_complain("stale: --pid wants a process id, not '%s'", s);
        return -1;
    }
    *ret = (pid_t)v;
    return 0;
}

/* Returns 0 to run, 1 when --help was shown, -1 for a usage error. */
static int parse_args(int argc, char **argv, struct stale_args *a)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"pid", required_argument, NULL, 'p'},
        {"rescue", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'j') {
            a->json = 1;
        } else if (c == 'p') {
            if (parse_pid(optarg, &a->pid) < 0)
                return -1;
        } else if (c == 'r') {
            if (!*optarg) {
                iw_complain("stale: --rescue wants a directory");
                return -1;
            }
            a->rescue = optarg;
        } else if (c == 'h') {
            fputs(stale_usage, stdout);
            return 1;
        } else { /* '?' or ':' */
            iw_complain_option("stale", c, argc, argv, longopts);
            return -1;
        }
    }
    if (optind < argc) {
        iw_complain("stale: unexpected argument '%s' (try 'inowatch stale --help')", argv[optind]);
        return -1;
    }
    return 0;
}

/* ---- the command ---- */

static int scan(struct iw_stale_list *l, pid_t pid)
{
    int r = iw_stale_scan(l, pid);
    if (r == -ESRCH)
        iw_complain("stale: no process with pid %ld", (long)pid);
    else if (r == -EACCES)
        iw_complain("stale: cannot inspect process %ld (another user's: run as root)", (long)pid);
    else if (r < 0)
        iw_complain("stale: reading /proc: %s", strerror(-r));
    if (r == 0 && l->n > 1) /* fds is NULL when empty, which qsort must not get */
        qsort(l->fds, l->n, sizeof(*l->fds), by_writer_pid_fd);
    return r;
}

static int open_rescue_dir(const char *dir)
{
    int fd = iw_rescue_dir_open(dir);
    if (fd < 0)
        iw_complain("stale: --rescue %s: %s", dir, strerror(-fd));
    return fd;
}

/* Rescues (when asked) and reports. Returns the exit status. */
static int report(const struct iw_stale_list *l, const struct stale_args *a, int dirfd)
{
    int status = l->n ? IW_EXIT_FATAL : IW_EXIT_OK; /* 1: something found */
    struct rescue_result *res = calloc(l->n ? l->n : 1, sizeof(*res));
    if (!res) {
        iw_complain("stale: %s", strerror(ENOMEM));
        return IW_EXIT_USAGE;
    }
    if (dirfd >= 0 && rescue_all(l, dirfd, res) < 0)
        status = IW_EXIT_USAGE;
    if (a->json)
        print_json(l, a, res);
    else
        print_text(l, a, res);
    free(res);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        iw_complain("stale: writing the report: %s", strerror(errno));
        status = IW_EXIT_USAGE;
    }
    /* Root is refused too by a process of another user namespace, or one
     * a security module shields from ptrace. */
    if (l->uninspectable)
        iw_complain("stale: %zu process%s could not be inspected (%s)", l->uninspectable,
                    l->uninspectable == 1 ? "" : "es",
                    geteuid() == 0 ? "they refuse even root's ptrace access"
                                   : "run as root to see them");
    return status;
}

int iw_cmd_stale(int argc, char **argv)
{
    struct stale_args a = {0};
    int r = parse_args(argc, argv, &a);
    if (r != 0)
        return r < 0 ? IW_EXIT_USAGE : IW_EXIT_OK;
    int dirfd = a.rescue ? open_rescue_dir(a.rescue) : -1;
    if (a.rescue && dirfd < 0)
        return IW_EXIT_USAGE;
    struct iw_stale_list l;
    int status = scan(&l, a.pid) < 0 ? IW_EXIT_USAGE : report(&l, &a, dirfd);
    iw_stale_list_free(&l);
    if (dirfd >= 0)
        close(dirfd);
    return status;
}
