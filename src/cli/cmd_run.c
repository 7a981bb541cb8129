/* cmd_run.c: "inowatch run [OPTIONS] PATH... -- CMD [ARG...]".
 *
 * One loop polls a signalfd (SIGINT, SIGTERM, SIGHUP, SIGCHLD) and the
 * watcher's fd. Its timeout is the nearest deadline: the end of the quiet
 * period that lets a burst of changes settle, the moment a stopping CMD
 * gets SIGKILL, or the next look at a group whose leader has exited.
 *
 * CMD's leader is not reaped as soon as it exits: waitid(WNOWAIT) sees the
 * exit and the zombie is kept until the rest of its process group is gone,
 * because while the zombie exists its pid cannot be given to another
 * process, so kill(-pgid) can only reach the group we started.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "inowatch.h"
#include "run_paths.h"
#include "run_proc.h"

#define DEBOUNCE_DEFAULT_MS 100
#define GRACE_DEFAULT_MS 2000
#define MS_MAX (3600L * 1000)
/* How often to look in /proc again while CMD's leader has exited but other
 * processes of its group still run. */
#define GROUP_POLL_MS 20
/* After SIGKILL, how long to wait for the group to vanish before going on:
 * a process in uninterruptible sleep dies only when its I/O ends. */
#define KILL_WAIT_MS 1000

static const char run_usage[] =
    "usage: inowatch run [OPTIONS] PATH... -- CMD [ARG...]\n"
    "\n"
    "Runs CMD, then runs it again each time changes under the PATHs settle.\n"
    "CMD is executed directly with its arguments as given, never through a\n"
    "shell; for shell syntax, run one yourself: -- sh -c 'make && make test'.\n"
    "\n"
    "  --debounce MS       start a run once no change came for MS milliseconds\n"
    "                      (default 100), so that a burst of changes runs CMD once;\n"
    "                      changes that never pause postpone the run until they do\n"
    "  --restart           when changes settle while CMD still runs, stop it\n"
    "                      (SIGTERM to its process group, SIGKILL after the grace\n"
    "                      period) and start it again; without --restart, changes\n"
    "                      made during a run cause exactly one more run after it\n"
    "  --grace MS          how long a stopped CMD may take to exit before SIGKILL\n"
    "                      (default 2000)\n"
    "  --postpone          do not run CMD at start, only after the first change;\n"
    "                      a line on stderr says when the watches are in place\n"
    "  --clear             clear the screen before each run\n"
    "  -x, --exclude GLOB  ignore changes to entries matching GLOB (repeatable);\n"
    "                      without '/' it matches any path component ('build',\n"
    "                      '*.o'), with '/' the path relative to the PATH\n"
    "  --no-default-excludes\n"
    "                      do not ignore the names listed below\n"
    "  -h, --help          this help\n"
    "\n"
    "Ignored by default: .git (git changes it on every status), and the\n"
    "temporary files of editors, so that a save counts as one change of the\n"
    "file saved: vim's .NAME.swp (.swo, .swx...), NAME~ and 4913; emacs's\n"
    "#NAME# and .#NAME; JetBrains' NAME___jb_tmp___ and NAME___jb_old___;\n"
    "gedit's .goutputstream-*; kate's .NAME.kate-swp.\n"
    "\n"
    "CMD's environment: INOWATCH_PATHS holds the paths that changed since the\n"
    "previous run (created, modified, deleted, both names of a rename), each\n"
    "once, in the order first seen, one per line without a final newline;\n"
    "each is a PATH as given joined with the path below it. It is empty for\n"
    "the run at start. Past 100 KiB the rest are left out, and then\n"
    "INOWATCH_PATHS_TRUNCATED=1 is set. CMD's standard input is /dev/null.\n"
    "\n"
    "CMD runs in a process group of its own. A run ends when CMD exits; what\n"
    "it left running in its group is then stopped too (SIGTERM, then SIGKILL\n"
    "after the grace period). A non-zero exit status of CMD is reported on\n"
    "stderr, and inowatch goes on watching. If inowatch itself is killed\n"
    "(SIGKILL), CMD gets SIGTERM. Anything CMD writes under a PATH is a\n"
    "change like any other: exclude its output (-x build).\n"
    "\n"
    "Exit status: 0 after SIGINT, SIGTERM or SIGHUP (CMD's group is stopped\n"
    "first: SIGTERM, then SIGKILL after the grace period, at once on a second\n"
    "signal); CMD's own status is not passed on. 1 for a fatal error at run\n"
    "time (the watch limit, every PATH gone). 2 for bad usage, a PATH that\n"
    "cannot be watched, or a CMD that cannot be executed at its first run (a\n"
    "later failure to execute it is reported and the next change tries again).\n"
    "\n"
    "Examples:\n"
    "  inowatch run src -- make\n"
    "      rebuild whenever something under src changes\n"
    "  inowatch run --restart --grace 5000 src -- ./server --port 8080\n"
    "      restart a server, giving it 5 s to shut down cleanly\n"
    "  inowatch run --clear -x '*.pyc' -x .pytest_cache . -- python3 -m pytest -q\n"
    "      rerun the tests on a clean screen\n"
    "  inowatch run --postpone docs -- sh -c 'printf \"%s\\n\" \"$INOWATCH_PATHS\"'\n"
    "      print what changed, from the first change on\n";

/* Names that never trigger unless --no-default-excludes: see the help. */
static const char *const default_excludes[] = {
    ".git",             /* git's own files */
    ".*.sw?",           /* vim's swap files: .NAME.swp, .swo, .swx... */
    "*~",               /* vim's and emacs's backups */
    "4913",             /* vim's probe of a directory's permissions */
    "#*#",              /* emacs's auto-save files */
    ".#*",              /* emacs's lock links */
    "*___jb_tmp___",    /* JetBrains' safe write: the new file... */
    "*___jb_old___",    /* ...and the old one */
    ".goutputstream-*", /* gedit's temporary files */
    ".*.kate-swp",      /* kate's swap files */
};
#define N_DEFAULT_EXCLUDES (sizeof(default_excludes) / sizeof(default_excludes[0]))

struct run_args {
    long debounce_ms, grace_ms;
    int restart, clear, postpone, no_default_excludes;
    const char **user_exclude; /* as given with -x */
    size_t nuser_exclude;
    const char **exclude; /* defaults and -x patterns, NULL-terminated */
    char **paths;
    int npaths;
    char **cmd; /* NULL-terminated: the tail of main's argv */
};

enum term_state {
    TERM_NONE,   /* CMD is left alone */
    TERM_SENT,   /* SIGTERM sent; SIGKILL at deadline */
    TERM_KILLED, /* SIGKILL sent; stop waiting for the group at deadline */
};

struct run_state {
    const struct run_args *a;
    inowatch *w;
    int sigfd;
    sigset_t child_mask; /* the mask inowatch started with, for CMD */
    struct iw_pathset changed;
    int dirty;           /* a change came since the last run started */
    int64_t last_change; /* when it was read, in ms */
    pid_t child;         /* CMD's leader (and its group), 0 if none */
    int child_exited;    /* the leader exited: a zombie kept unreaped */
    int exited_alone;    /* ... before we tried to stop it */
    int exit_code;       /* its siginfo si_code and si_status */
    int exit_status;
    enum term_state term;
    int64_t deadline;
    int stopping;       /* inowatch exits once CMD's group is gone */
    int status;         /* with this exit status */
    unsigned long runs; /* runs started */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- arguments ---- */

static int add_exclude(struct run_args *a, const char *pattern)
{
    if (inowatch_check_pattern(pattern) < 0) {
        iw_complain("run: --exclude '%s': malformed pattern (an unterminated '[', an empty "
                    "pattern or a trailing '\\')",
                    pattern);
        return -1;
    }
    const char **p = realloc(a->user_exclude, (a->nuser_exclude + 1) * sizeof(*p));
    if (!p) {
        iw_complain("out of memory");
        return -1;
    }
    a->user_exclude = p;
    p[a->nuser_exclude++] = pattern;
    return 0;
}

/* The list handed to the library: the defaults, then the user's. */
static int build_excludes(struct run_args *a)
{
    size_t ndef = a->no_default_excludes ? 0 : N_DEFAULT_EXCLUDES;
    a->exclude = calloc(ndef + a->nuser_exclude + 1, sizeof(*a->exclude));
    if (!a->exclude) {
        iw_complain("out of memory");
        return -1;
    }
    for (size_t i = 0; i < ndef; i++)
        a->exclude[i] = default_excludes[i];
    for (size_t i = 0; i < a->nuser_exclude; i++)
        a->exclude[ndef + i] = a->user_exclude[i];
    return 0;
}

static int parse_ms(const char *opt, const char *value, long *ret)
{
    long ms = iw_parse_ms(value, MS_MAX);
    if (ms < 0) {
        iw_complain("run: %s '%s': not a number of milliseconds (0 to %ld)", opt, value, MS_MAX);
        return -1;
    }
    *ret = ms;
    return 0;
}

/* Parses the options among argv[1..argc): the part before "--". Returns 0,
 * 1 when --help was shown, -1 for a usage error. */
static int parse_options(int argc, char **argv, struct run_args *a)
{
    enum { OPT_DEBOUNCE = 256, OPT_RESTART, OPT_GRACE, OPT_CLEAR, OPT_POSTPONE, OPT_NO_DEFAULTS };
    static const struct option longopts[] = {
        {"debounce", required_argument, NULL, OPT_DEBOUNCE},
        {"restart", no_argument, NULL, OPT_RESTART},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"clear", no_argument, NULL, OPT_CLEAR},
        {"postpone", no_argument, NULL, OPT_POSTPONE},
        {"exclude", required_argument, NULL, 'x'},
        {"no-default-excludes", no_argument, NULL, OPT_NO_DEFAULTS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":x:h", longopts, NULL)) != -1) {
        int r = 0;
        switch (c) {
        case OPT_DEBOUNCE:
            r = parse_ms("--debounce", optarg, &a->debounce_ms);
            break;
        case OPT_GRACE:
            r = parse_ms("--grace", optarg, &a->grace_ms);
            break;
        case OPT_RESTART:
            a->restart = 1;
            break;
        case OPT_CLEAR:
            a->clear = 1;
            break;
        case OPT_POSTPONE:
            a->postpone = 1;
            break;
        case OPT_NO_DEFAULTS:
            a->no_default_excludes = 1;
            break;
        case 'x':
            r = add_exclude(a, optarg);
            break;
        case 'h':
            fputs(run_usage, stdout);
            return 1;
        default: /* '?' or ':' */
            iw_complain_option("run", c, argc, argv, longopts);
            return -1;
        }
        if (r < 0)
            return -1;
    }
    a->paths = argv + optind;
    a->npaths = argc - optind;
    return 0;
}

/* Options and PATHs come before the first "--", CMD after it: a PATH and
 * CMD cannot be told apart otherwise, since getopt moves operands around.
 * Returns 0 to run, 1 when --help was shown, -1 for a usage error. */
static int parse_args(int argc, char **argv, struct run_args *a)
{
    int sep = 1;
    while (sep < argc && strcmp(argv[sep], "--") != 0)
        sep++;
    a->debounce_ms = DEBOUNCE_DEFAULT_MS;
    a->grace_ms = GRACE_DEFAULT_MS;
    int r = parse_options(sep, argv, a);
    if (r != 0)
        return r;
    if (sep == argc) {
        iw_complain("run: no '--' before CMD (usage: inowatch run [OPTIONS] PATH... -- CMD "
                    "[ARG...])");
        return -1;
    }
    if (a->npaths == 0) {
        iw_complain("run: no PATH given before '--' (try 'inowatch run --help')");
        return -1;
    }
    if (sep + 1 == argc || argv[sep + 1][0] == '\0') {
        iw_complain("run: no CMD given after '--' (try 'inowatch run --help')");
        return -1;
    }
    a->cmd = argv + sep + 1;
    return build_excludes(a);
}

/* ---- messages ---- */

/* A PATH that cannot be watched; the limits are named so that the user
 * knows what to change. */
static void complain_exec(const char *name, int err)
{
    iw_complain("run: cannot execute '%s': %s%s", name, strerror(err),
                err == ENOENT && !strchr(name, '/') ? " (searched PATH)" : "");
}

/* CMD ended by itself: only a failure is worth a line. */
static void report_exit(const struct run_state *s)
{
    const char *name = s->a->cmd[0];
    if (s->exit_code == CLD_EXITED && s->exit_status != 0)
        iw_complain("run: '%s' exited with status %d", name, s->exit_status);
    else if (s->exit_code != CLD_EXITED)
        iw_complain("run: '%s' was killed by signal %d (%s)", name, s->exit_status,
                    strsignal(s->exit_status));
}

/* ---- CMD's process group ---- */

static void terminate(struct run_state *s, int64_t now)
{
    /* The leader is unreaped, alive or a zombie: -child names its group.
     * SIGCONT lets a stopped process act on the SIGTERM. */
    kill(-s->child, SIGTERM);
    kill(-s->child, SIGCONT);
    s->term = TERM_SENT;
    s->deadline = now + s->a->grace_ms;
}

/* Asks inowatch to exit with status (the first reason given wins). */
static void stop(struct run_state *s, int status, int64_t now)
{
    if (!s->stopping) {
        s->stopping = 1;
        s->status = status;
    }
    if (s->child && s->term == TERM_NONE)
        terminate(s, now);
}

/* Notes the leader's exit without reaping it. */
static void check_exit(struct run_state *s)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)s->child, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
        if (errno == ECHILD) /* cannot happen; do not wait for it forever */
            s->child = 0;
        return;
    }
    if (si.si_pid != s->child)
        return;
    s->child_exited = 1;
    s->exited_alone = s->term == TERM_NONE;
    s->exit_code = si.si_code;
    s->exit_status = si.si_status;
}

static void reap(struct run_state *s)
{
    waitpid(s->child, NULL, 0); /* a zombie: returns at once */
    if (s->exited_alone)
        report_exit(s);
    s->child = 0;
    s->child_exited = 0;
    s->term = TERM_NONE;
}

/* Follows CMD's group: SIGKILL when its grace is over, and the end of the
 * run once the leader has exited and nothing else of its group runs. */
static void follow_child(struct run_state *s, int64_t now)
{
    if (!s->child_exited)
        check_exit(s);
    if (!s->child)
        return;
    if (s->term == TERM_SENT && now >= s->deadline) {
        kill(-s->child, SIGKILL);
        s->term = TERM_KILLED;
        s->deadline = now + KILL_WAIT_MS;
    }
    if (!s->child_exited)
        return;
    if (iw_group_alive(s->child)) {
        if (s->term == TERM_NONE)
            terminate(s, now); /* what a finished CMD left behind */
        if (s->term != TERM_KILLED || now < s->deadline)
            return;
    }
    reap(s);
}

static void clear_screen(void)
{
    /* Home, erase the screen, and erase the scrollback (xterm's 3J). */
    static const char seq[] = "\033[H\033[2J\033[3J";
    if (write(STDOUT_FILENO, seq, sizeof(seq) - 1) < 0) {
        /* not a reason to skip the run */
    }
}

/* Starts a run with the changes gathered so far. Returns 1 when inowatch
 * must exit: CMD could not be executed at its first run. */
static int start_run(struct run_state *s)
{
    if (s->a->clear)
        clear_screen();
    struct iw_spawn sp = {
        .argv = s->a->cmd,
        .paths = iw_pathset_value(&s->changed),
        .truncated = s->changed.truncated,
        .mask = &s->child_mask,
    };
    pid_t pid = iw_spawn_group(&sp);
    iw_pathset_clear(&s->changed);
    s->dirty = 0;
    if (pid < 0) {
        complain_exec(s->a->cmd[0], (int)-pid);
        if (s->runs == 0) {
            s->stopping = 1;
            s->status = IW_EXIT_USAGE;
            return 1;
        }
        return 0;
    }
    s->runs++;
    s->child = pid;
    s->exited_alone = 0;
    return 0;
}

/* ---- the loop ---- */

static int settled(const struct run_state *s, int64_t now)
{
    return s->dirty && now >= s->last_change + s->a->debounce_ms;
}

/* Moves the state on. Returns 1 when inowatch should exit. */
static int advance(struct run_state *s, int64_t now)
{
    if (s->child)
        follow_child(s, now);
    if (s->child) {
        if (s->a->restart && !s->stopping && s->term == TERM_NONE && settled(s, now))
            terminate(s, now);
        return 0;
    }
    if (s->stopping)
        return 1;
    return settled(s, now) ? start_run(s) : 0;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int next_timeout(const struct run_state *s, int64_t now)
{
    if (!s->stopping && inowatch_has_backlog(s->w))
        return 0;
    int64_t at = INT64_MAX;
    int can_start = !s->child || (s->a->restart && s->term == TERM_NONE);
    if (s->dirty && !s->stopping && can_start)
        at = s->last_change + s->a->debounce_ms;
    if (s->child && s->term != TERM_NONE)
        at = earliest(at, s->deadline);
    if (s->child && s->child_exited)
        at = earliest(at, now + GROUP_POLL_MS);
    if (at == INT64_MAX)
        return -1;
    return at <= now ? 0 : (int)earliest(at - now, INT_MAX);
}

/* Returns -1 for an error that ends the watch. */
static int note_error(const struct run_state *s, const struct inowatch_event *ev)
{
    if (ev->flags & INOWATCH_FLAG_FATAL) {
        iw_complain_watch("run", ev->path, -ev->error, s->w);
        return -1;
    }
    iw_complain("run: %s: %s (changes there are not seen)", ev->path, inowatch_strerror(ev->error));
    return 0;
}

/* Records one event. Returns -1 when inowatch must stop. */
static int note_event(struct run_state *s, const struct inowatch_event *ev, int64_t now)
{
    if (ev->kind == INOWATCH_ERROR)
        return note_error(s, ev);
    int r = 0;
    if (ev->kind == INOWATCH_RENAME)
        r = iw_pathset_add(&s->changed, ev->from, ev->from_len);
    /* An overflow names no path; the rescan after it reports each change. */
    if (r == 0 && ev->kind != INOWATCH_OVERFLOW)
        r = iw_pathset_add(&s->changed, ev->path, ev->path_len);
    if (r < 0) {
        iw_complain("out of memory");
        return -1;
    }
    s->dirty = 1;
    s->last_change = now;
    return 0;
}

static void read_changes(struct run_state *s)
{
    int r = inowatch_read(s->w, 0);
    int64_t now = now_ms();
    if (r == -EINTR)
        return;
    if (r < 0) {
        iw_complain("run: reading events: %s", inowatch_strerror(r));
        stop(s, IW_EXIT_FATAL, now);
        return;
    }
    const struct inowatch_event *ev;
    while (inowatch_next(s->w, &ev) > 0) {
        if (note_event(s, ev, now) < 0) {
            stop(s, IW_EXIT_FATAL, now);
            return;
        }
    }
    if (inowatch_root_count(s->w) == 0) {
        iw_complain("run: no PATH is left to watch");
        stop(s, IW_EXIT_FATAL, now);
    }
}

static void read_signals(struct run_state *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        /* For CMD's leader, SIGCHLD only wakes the loop: follow_child()
         * asks waitid(). Others are orphans of CMD to reap. */
        if (si.ssi_signo == SIGCHLD) {
            iw_reap_others(s->child);
            continue;
        }
        int64_t now = now_ms();
        if (s->stopping && s->term == TERM_SENT)
            s->deadline = now; /* a second signal: no more grace */
        stop(s, IW_EXIT_OK, now);
    }
}

static int run_loop(struct run_state *s)
{
    for (;;) {
        if (advance(s, now_ms()))
            return s->status;
        struct pollfd fds[2] = {{.fd = s->sigfd, .events = POLLIN},
                                {.fd = inowatch_fd(s->w), .events = POLLIN}};
        /* While stopping, changes no longer matter. */
        int r = poll(fds, s->stopping ? 1 : 2, next_timeout(s, now_ms()));
        if (r < 0 && errno != EINTR) {
            iw_complain("run: poll: %s", strerror(errno));
            stop(s, IW_EXIT_FATAL, now_ms());
            continue;
        }
        if (fds[0].revents & POLLIN)
            read_signals(s);
        if (!s->stopping && ((fds[1].revents & POLLIN) || inowatch_has_backlog(s->w)))
            read_changes(s);
    }
}

/* ---- start ---- */

static int setup_signals(sigset_t *ret_old)
{
    /* A parent may have left SIGCHLD ignored, which makes the kernel reap
     * children at once: CMD's status and its pinned group id would be lost.
     * CMD inherits the default too, as a program expects. */
    struct sigaction sa = {.sa_handler = SIG_DFL};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) < 0)
        return -errno;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, ret_old) < 0)
        return -errno;
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

/* Reports what could not be watched under a root just added. Returns -1
 * for a fatal error: then a PATH cannot be watched, as for `watch`. */
static int report_add_errors(struct run_state *s)
{
    const struct inowatch_event *ev;
    int r = 0;
    while (inowatch_next(s->w, &ev) > 0)
        if (ev->kind == INOWATCH_ERROR && note_error(s, ev) < 0)
            r = -1;
    return r;
}

static int open_watcher(struct run_state *s)
{
    struct inowatch_options opts = {.exclude = s->a->exclude};
    /* The library's own coalescing wait must not outlast the debounce. */
    if (s->a->debounce_ms == 0)
        opts.latency_ms = INOWATCH_LATENCY_NONE;
    else if (s->a->debounce_ms < INOWATCH_LATENCY_DEFAULT_MS)
        opts.latency_ms = (int)s->a->debounce_ms;
    int r = inowatch_new(&s->w, &opts);
    if (r < 0) {
        iw_complain_new("run", r);
        return -1;
    }
    for (int i = 0; i < s->a->npaths; i++) {
        r = inowatch_add(s->w, s->a->paths[i]);
        if (r < 0) {
            iw_complain_watch("run", s->a->paths[i], r, s->w);
            return -1;
        }
        if (report_add_errors(s) < 0)
            return -1;
    }
    return 0;
}

/* With --postpone nothing shows that inowatch is ready: say it. */
static void announce_ready(const struct run_state *s)
{
    struct inowatch_stats st;
    inowatch_stats(s->w, &st);
    fprintf(stderr, "inowatch: ready: %zu watch%s; '%s' runs at the first change\n", st.watches,
            st.watches == 1 ? "" : "es", s->a->cmd[0]);
}

static int start(const struct run_args *a)
{
    struct run_state s = {.a = a};
    s.sigfd = setup_signals(&s.child_mask);
    if (s.sigfd < 0) {
        iw_complain("run: signalfd: %s", strerror(-s.sigfd));
        return IW_EXIT_FATAL;
    }
    /* What CMD leaves behind when it exits becomes inowatch's child, to be
     * reaped, rather than a zombie under an init that may not reap. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int status = IW_EXIT_USAGE;
    if (open_watcher(&s) == 0) {
        if (a->postpone)
            announce_ready(&s);
        if (!a->postpone && start_run(&s))
            status = s.status;
        else
            status = run_loop(&s);
    }
    iw_pathset_free(&s.changed);
    inowatch_free(s.w);
    close(s.sigfd);
    return status;
}

int iw_cmd_run(int argc, char **argv)
{
    struct run_args a = {0};
    int r = parse_args(argc, argv, &a);
    int status = r < 0 ? IW_EXIT_USAGE : r > 0 ? IW_EXIT_OK : start(&a);
    free(a.user_exclude);
    free(a.exclude);
    return status;
}
