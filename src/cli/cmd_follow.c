/* cmd_follow.c: "inowatch follow [-n LINES] FILE...": tail -F, event driven.
 *
 * One raw inotify instance (follow watches a file and its directory, which
 * the recursive library is not for). Events only set flags on the FILEs
 * they concern; after each read of the queue every flagged FILE is settled
 * once: its directory re-resolved, its name checked against the open file
 * (dev, ino), then its new data copied out. Several events about one name
 * in one read therefore cost one check, and the check always looks at the
 * name as it is now, not as an old event says it was. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "commands.h"
#include "follow_state.h"

static const char follow_usage[] =
    "usage: inowatch follow [OPTIONS] FILE...\n"
    "\n"
    "Prints the last lines of each FILE, then data as it is appended, following\n"
    "the name: a FILE that is replaced (an editor's save, log rotation) is\n"
    "printed from its start once the old file has been read to its end; a\n"
    "truncated FILE is followed from its new start; a deleted or missing FILE\n"
    "is waited for. Each such change is said on stderr.\n"
    "\n"
    "  -n, --lines N    the last N lines (default 10); +N: from line N on\n"
    "  -c, --bytes N    the last N bytes; +N: from byte N on\n"
    "  -h, --help       this help\n"
    "\n"
    "Options and FILEs may come in any order; '--' ends the options.\n"
    "\n"
    "Exit status: 0 after SIGINT/SIGTERM/SIGHUP (what the files hold is printed\n"
    "first), 1 for a fatal error (such as the inotify watch limit), 2 for bad\n"
    "usage or a FILE that cannot be read.\n";

/* "N" or "+N" (N >= 0). Returns -1 when it is neither. */
static int parse_count(const char *s, struct follow_start *how)
{
    how->from_start = *s == '+';
    long v = iw_parse_ms(s + how->from_start, LONG_MAX);
    if (v < 0)
        return -1;
    how->count = v;
    return 0;
}

/* Returns 0 to run, 1 when --help was shown, -1 for a usage error. Options
 * and FILEs may come in any order ("follow app.log -n 5"), as with tail and
 * watch: getopt moves the FILEs to the end. */
static int parse_args(int argc, char **argv, struct follow_start *how)
{
    static const struct option longopts[] = {
        {"lines", required_argument, NULL, 'n'},
        {"bytes", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *how = (struct follow_start){.count = 10};
    opterr = 0;
    optind = 1;
    for (;;) {
        int longindex = -1; /* set by getopt only for a long option */
        int c = getopt_long(argc, argv, ":n:c:h", longopts, &longindex);
        if (c == -1)
            break;
        switch (c) {
        case 'n':
        case 'c':
            if (parse_count(optarg, how) < 0) {
                iw_complain("follow: %s '%s': expected a number of %s, or +N to start at the Nth",
                            longindex >= 0 ? (c == 'n' ? "--lines" : "--bytes")
                                           : (c == 'n' ? "-n" : "-c"),
                            optarg, c == 'n' ? "lines" : "bytes");
                return -1;
            }
            how->bytes = c == 'c';
            break;
        case 'h':
            fputs(follow_usage, stdout);
            return 1;
        default: /* '?' or ':' */
            iw_complain_option("follow", c, argc, argv, longopts);
            return -1;
        }
    }
    if (optind >= argc) {
        iw_complain("follow: no FILE given (try 'inowatch follow --help')");
        return -1;
    }
    return 0;
}

static void on_file_event(struct follow_file *f, uint32_t mask)
{
    if (mask & IN_MODIFY)
        f->readable = 1;
    /* nlink dropping to 0 comes as IN_ATTRIB; a rename as IN_MOVE_SELF:
     * either way the name may lead elsewhere now. */
    if (mask & (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF))
        f->check = 1;
    if (mask & IN_IGNORED)
        f->file_wd = -1; /* the kernel dropped it: nothing to remove */
}

static void on_dir_event(struct follow_file *f, const struct inotify_event *ev)
{
    if (ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED | IN_UNMOUNT)) {
        f->gone_how = ev->mask & IN_MOVE_SELF ? "its directory was renamed away"
                                              : "its directory was deleted";
        if (ev->mask & IN_IGNORED)
            f->dir_wd = -1;
        f->resolve = f->check = 1;
        return;
    }
    if (ev->len == 0 || strcmp(ev->name, f->base) != 0)
        return;
    if (ev->mask & IN_DELETE)
        f->gone_how = "deleted";
    else if (ev->mask & IN_MOVED_FROM)
        f->gone_how = "renamed away";
    f->check = 1;
}

static void on_ancestor_event(struct follow_file *f, const struct inotify_event *ev)
{
    if (ev->mask & IN_IGNORED)
        f->anc_wd = -1;
    int self = (ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED)) != 0;
    if (self || (ev->len && f->anc_next && strcmp(ev->name, f->anc_next) == 0))
        f->resolve = 1;
}

static void on_event(struct follow *fw, const struct inotify_event *ev)
{
    for (int i = 0; i < fw->nfiles; i++) {
        struct follow_file *f = &fw->files[i];
        if (ev->mask & IN_Q_OVERFLOW) {
            /* Events were lost: look at everything again. */
            f->resolve = f->check = f->readable = 1;
            continue;
        }
        if (ev->wd == f->file_wd)
            on_file_event(f, ev->mask);
        if (ev->wd == f->dir_wd)
            on_dir_event(f, ev);
        if (ev->wd == f->anc_wd)
            on_ancestor_event(f, ev);
    }
}

/* Reads the queue once and flags the FILEs its events concern. The
 * records are checked against the bytes read before they are used. */
static int read_events(struct follow *fw)
{
    alignas(struct inotify_event) char buf[64 * 1024];
    ssize_t n = read(fw->ifd, buf, sizeof(buf));
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    size_t at = 0;
    while (at + sizeof(struct inotify_event) <= (size_t)n) {
        const struct inotify_event *ev = (const void *)(buf + at);
        size_t size = sizeof(*ev) + ev->len;
        if (size > (size_t)n - at)
            break;
        on_event(fw, ev);
        at += size;
    }
    return 0;
}

/* Settles one FILE after events: its directory, its name, then its data. */
static int settle(struct follow *fw, struct follow_file *f)
{
    int r = 0;
    if (f->resolve)
        r = iw_follow_watch_dir(fw, f);
    if (r < 0 && iw_follow_fatal(r))
        return r;
    if (r < 0)
        iw_follow_say(fw, "%s: %s", f->dir, strerror(-r));
    if (f->check)
        r = iw_follow_check_name(fw, f, NULL);
    if (r < 0)
        return r;
    if (f->readable) {
        r = iw_follow_pump(fw, f, FOLLOW_TURN_MAX, 0);
        if (r < 0)
            iw_follow_say(fw, "%s: %s", f->name, strerror(-r));
    }
    return 0;
}

static void complain_fatal(struct follow *fw, const struct follow_file *f, int err)
{
    iw_follow_flush(fw);
    if (-err == ENOSPC || -err == EMFILE)
        iw_complain_watch("follow", f->name, err, NULL);
    else
        iw_complain("follow: %s: %s", f->name, strerror(-err));
}

/* On a signal: what the files hold now goes out, then the buffer. */
static int stop(struct follow *fw)
{
    for (int i = 0; i < fw->nfiles; i++)
        iw_follow_pump(fw, &fw->files[i], FOLLOW_TURN_MAX, 0);
    return iw_follow_flush(fw) < 0 ? IW_EXIT_FATAL : IW_EXIT_OK;
}

static int pending(const struct follow *fw)
{
    for (int i = 0; i < fw->nfiles; i++)
        if (fw->files[i].readable)
            return 1;
    return 0;
}

static int run_loop(struct follow *fw, int sigfd)
{
    for (;;) {
        if (iw_follow_flush(fw) < 0) {
            iw_complain("follow: writing output: %s", strerror(fw->out_err));
            return IW_EXIT_FATAL;
        }
        struct pollfd fds[2] = {{.fd = fw->ifd, .events = POLLIN},
                                {.fd = sigfd, .events = POLLIN}};
        if (poll(fds, 2, pending(fw) ? 0 : -1) < 0 && errno != EINTR) {
            iw_complain("follow: poll: %s", strerror(errno));
            return IW_EXIT_FATAL;
        }
        if (fds[1].revents & POLLIN)
            return stop(fw);
        int r = fds[0].revents & POLLIN ? read_events(fw) : 0;
        if (r < 0) {
            iw_complain("follow: reading events: %s", strerror(-r));
            return IW_EXIT_FATAL;
        }
        for (int i = 0; i < fw->nfiles; i++) {
            r = settle(fw, &fw->files[i]);
            if (r < 0) {
                complain_fatal(fw, &fw->files[i], r);
                return IW_EXIT_FATAL;
            }
        }
    }
}

/* Watches and opens every FILE, and prints where each starts. Returns 0,
 * or an exit status. */
static int start_files(struct follow *fw, const struct follow_start *how)
{
    for (int i = 0; i < fw->nfiles; i++) {
        struct follow_file *f = &fw->files[i];
        int r = iw_follow_watch_dir(fw, f);
        if (r == 0)
            r = iw_follow_check_name(fw, f, how);
        if (r < 0) {
            if (iw_follow_fatal(r)) {
                complain_fatal(fw, f, r);
                return IW_EXIT_FATAL;
            }
            if (r != -ENOENT)
                iw_complain("follow: %s: %s", f->name, strerror(-r));
            return IW_EXIT_USAGE;
        }
        if (f->fd >= 0)
            iw_follow_pump(fw, f, FOLLOW_TURN_MAX, 1);
    }
    return 0;
}

static int follow_files(struct follow *fw, const struct follow_start *how)
{
    int sigfd = iw_stop_signalfd();
    if (sigfd < 0) {
        iw_complain("follow: signalfd: %s", strerror(-sigfd));
        return IW_EXIT_FATAL;
    }
    int status = start_files(fw, how);
    if (status == 0)
        status = run_loop(fw, sigfd);
    close(sigfd);
    return status;
}

static int init_files(struct follow *fw, char **names)
{
    for (int i = 0; i < fw->nfiles; i++) {
        int r = iw_follow_init_file(&fw->files[i], names[i]);
        if (r < 0) {
            fw->nfiles = i + 1; /* the rest were never set up */
            iw_complain("follow: %s: %s", names[i],
                        r == -EISDIR ? "names a directory, not a file" : strerror(-r));
            return -1;
        }
    }
    return 0;
}

int iw_cmd_follow(int argc, char **argv)
{
    struct follow_start how;
    int r = parse_args(argc, argv, &how);
    if (r != 0)
        return r < 0 ? IW_EXIT_USAGE : IW_EXIT_OK;
    struct follow fw = {.nfiles = argc - optind, .headers = argc - optind > 1};
    fw.files = calloc((size_t)fw.nfiles, sizeof(*fw.files));
    fw.out = malloc(FOLLOW_OUT_CAP);
    fw.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int status = IW_EXIT_USAGE;
    if (!fw.files || !fw.out)
        iw_complain("follow: out of memory");
    else if (fw.ifd < 0)
        iw_complain_new("follow", errno);
    else if (init_files(&fw, argv + optind) == 0)
        status = follow_files(&fw, &how);
    for (int i = 0; fw.files && i < fw.nfiles; i++)
        iw_follow_free_file(&fw, &fw.files[i]);
    if (fw.ifd >= 0)
        close(fw.ifd);
    free(fw.files);
    free(fw.out);
    return status;
}
