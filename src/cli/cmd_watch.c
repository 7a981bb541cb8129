/* cmd_watch.c: "inowatch watch [OPTIONS] PATH...". */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "commands.h"
#include "output.h"

static const char watch_usage[] =
    "usage: inowatch watch [OPTIONS] PATH...\n"
    "\n"
    "Reports every change under each PATH (a directory, watched recursively,\n"
    "or a single file), one line per event, until interrupted.\n"
    "\n"
    "  --json              one JSON object per line (see inowatch(1))\n"
    "  -x, --exclude GLOB  ignore entries matching GLOB (repeatable); without '/'\n"
    "                      it matches any path component ('.git', '*.o'), with '/'\n"
    "                      the path relative to the root ('build/out')\n"
    "  -e, --event KINDS   report only these kinds, comma-separated: create,\n"
    "                      modify, attrib, delete, rename (errors and overflows\n"
    "                      are always reported)\n"
    "  --no-recursive      watch the directories given, not their subdirectories\n"
    "  --latency MS        hold events up to MS milliseconds to batch and\n"
    "                      coalesce them (default 50; 0: report as soon as read)\n"
    "  --backend NAME      inotify (default: a watch per directory), fanotify\n"
    "                      (a mark per filesystem: no watch limit; root, Linux\n"
    "                      5.17+), or auto (fanotify when permitted, else inotify)\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 after SIGINT/SIGTERM/SIGHUP or when no root is left, 1 for a fatal\n"
    "error at run time, 2 for bad usage or a PATH that cannot be watched.\n";

/* `watch` holds a batch longer than the library does by default (10 ms,
 * INOWATCH_LATENCY_DEFAULT_MS). The library's wait runs on its caller's
 * thread, often an event loop that must not stall; `watch` is a process of
 * its own whose reader takes each line from a pipe, and a longer batch
 * merges more of a churn's repeated modifies: a build appending to 2,000
 * files in turn gives 100,000 lines at 10 ms and 26,000 at 50 ms, where
 * the output was most of the watcher's CPU above the kernel's own
 * (bench/README.md). 50 ms is still below what a person notices. */
#define IW_WATCH_LATENCY_DEFAULT_MS 50

struct watch_args {
    int json;
    struct inowatch_options opts;
    const char **exclude; /* NULL-terminated */
    size_t nexclude;
    char **paths;
    int npaths;
};

static int parse_kinds(const char *list, unsigned *ret)
{
    unsigned before = *ret;
    static const enum inowatch_kind kinds[] = {INOWATCH_CREATE, INOWATCH_MODIFY, INOWATCH_ATTRIB,
                                               INOWATCH_DELETE, INOWATCH_RENAME};
    unsigned mask = 0;
    while (*list) {
        size_t n = strcspn(list, ",");
        size_t i;
        for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            const char *name = inowatch_kind_name(kinds[i]);
            if (strlen(name) == n && strncmp(name, list, n) == 0)
                break;
        }
        if (i == sizeof(kinds) / sizeof(kinds[0]))
            return -1;
        mask |= kinds[i];
        list += n + (list[n] == ',');
    }
    if (!mask)
        return -1;
    *ret = before | mask;
    return 0;
}

static int parse_backend(const char *name, int *ret)
{
    static const struct {
        const char *name;
        enum inowatch_backend backend;
    } names[] = {{"inotify", INOWATCH_BACKEND_INOTIFY},
                 {"fanotify", INOWATCH_BACKEND_FANOTIFY},
                 {"auto", INOWATCH_BACKEND_AUTO}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *ret = (int)names[i].backend;
            return 0;
        }
    }
    return -1;
}

static int add_exclude(struct watch_args *a, const char *pattern)
{
    if (inowatch_check_pattern(pattern) < 0) {
        iw_complain("--exclude '%s': malformed pattern (an unterminated '[', an empty pattern "
                    "or a trailing '\\')",
                    pattern);
        return -1;
    }
    const char **p = realloc(a->exclude, (a->nexclude + 2) * sizeof(*p));
    if (!p) {
        iw_complain("out of memory");
        return -1;
    }
    a->exclude = p;
    p[a->nexclude++] = pattern;
    p[a->nexclude] = NULL;
    return 0;
}

/* Returns 0 to run, 1 when --help was shown, -1 for a usage error. */
static int parse_args(int argc, char **argv, struct watch_args *a)
{
    enum { OPT_JSON = 256, OPT_NO_RECURSIVE, OPT_LATENCY, OPT_BACKEND };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"exclude", required_argument, NULL, 'x'},
        {"event", required_argument, NULL, 'e'},
        {"no-recursive", no_argument, NULL, OPT_NO_RECURSIVE},
        {"latency", required_argument, NULL, OPT_LATENCY},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":x:e:h", longopts, NULL)) != -1) {
        long ms;
        switch (c) {
        case OPT_JSON:
            a->json = 1;
            break;
        case OPT_NO_RECURSIVE:
            a->opts.no_recursive = 1;
            break;
        case OPT_LATENCY:
            ms = iw_parse_ms(optarg, 3600 * 1000);
            if (ms < 0) {
                iw_complain("--latency '%s': not a number of milliseconds (0 to 3600000)",
                            optarg);
                return -1;
            }
            a->opts.latency_ms = ms == 0 ? INOWATCH_LATENCY_NONE : (int)ms;
            break;
        case OPT_BACKEND:
            if (parse_backend(optarg, &a->opts.backend) < 0) {
                iw_complain("--backend '%s': expected inotify, fanotify or auto", optarg);
                return -1;
            }
            break;
        case 'x':
            if (add_exclude(a, optarg) < 0)
                return -1;
            break;
        case 'e':
            /* Repeated -e options add up, like -x. */
            if (parse_kinds(optarg, &a->opts.events) < 0) {
                iw_complain("--event '%s': expected kinds from create,modify,attrib,delete,rename",
                            optarg);
                return -1;
            }
            break;
        case 'h':
            fputs(watch_usage, stdout);
            return 1;
        default: /* '?' or ':' */
            iw_complain_option("watch", c, argc, argv, longopts);
            return -1;
        }
    }
    a->opts.exclude = a->exclude;
    a->paths = argv + optind;
    a->npaths = argc - optind;
    if (a->npaths == 0) {
        iw_complain("watch: no PATH given (try 'inowatch watch --help')");
        return -1;
    }
    return 0;
}

/* Writes out the current batch. Returns 1 when it held a fatal error. */
static int emit_batch(inowatch *w, struct iw_out *out, const char **ret_fatal_path, int *ret_err)
{
    const struct inowatch_event *ev;
    int fatal = 0;
    while (inowatch_next(w, &ev) > 0) {
        if (iw_out_event(out, ev) < 0) {
            /* An event that cannot be written must not vanish quietly. */
            *ret_err = ENOMEM;
            free((void *)*ret_fatal_path);
            *ret_fatal_path = strdup("output");
            return 1;
        }
        if (ev->kind == INOWATCH_ERROR && (ev->flags & INOWATCH_FLAG_FATAL) && !fatal) {
            fatal = 1;
            *ret_err = ev->error;
            /* The event's path lives until the next read: copy for the message. */
            *ret_fatal_path = strdup(ev->path);
        }
    }
    return fatal;
}

static void complain_fatal(const char *path, int err, const inowatch *w)
{
    iw_complain_watch("", path ? path : "?", err, w);
}

static int flush_or_complain(struct iw_out *out)
{
    int r = iw_out_flush(out);
    if (r < 0)
        iw_complain("writing events: %s", strerror(-r));
    return r;
}

static int run_loop(inowatch *w, struct iw_out *out, int sigfd)
{
    for (;;) {
        struct pollfd fds[2] = {{.fd = inowatch_fd(w), .events = POLLIN},
                                {.fd = sigfd, .events = POLLIN}};
        int r = poll(fds, 2, inowatch_has_backlog(w) ? 0 : -1);
        if (r < 0 && errno != EINTR) {
            iw_complain("poll: %s", strerror(errno));
            return IW_EXIT_FATAL;
        }
        if (fds[1].revents & POLLIN)
            return flush_or_complain(out) < 0 ? IW_EXIT_FATAL : IW_EXIT_OK;
        if (!(fds[0].revents & POLLIN) && !inowatch_has_backlog(w))
            continue;
        r = inowatch_read(w, 0);
        if (r == -EINTR)
            continue;
        if (r < 0) {
            iw_out_flush(out);
            iw_complain("reading events: %s", inowatch_strerror(r));
            return IW_EXIT_FATAL;
        }
        const char *fatal_path = NULL;
        int err = 0;
        int fatal = emit_batch(w, out, &fatal_path, &err);
        if (flush_or_complain(out) < 0) {
            free((void *)fatal_path);
            return IW_EXIT_FATAL;
        }
        if (fatal) {
            complain_fatal(fatal_path, err, w);
            free((void *)fatal_path);
            return IW_EXIT_FATAL;
        }
        if (inowatch_root_count(w) == 0)
            return IW_EXIT_OK;
    }
}

/* Adds every PATH to w. On failure returns the error, with the path's
 * index in *ret_failed. */
static int add_roots(inowatch *w, const struct watch_args *a, int *ret_failed)
{
    for (int i = 0; i < a->npaths; i++) {
        int r = inowatch_add(w, a->paths[i]);
        if (r < 0) {
            *ret_failed = i;
            return r;
        }
    }
    return 0;
}

/* --backend auto chose fanotify and a PATH is on a filesystem it cannot
 * watch: start again with inotify, which can, rather than refuse what
 * the user left to us. Returns the new watcher's add result. */
static int fall_back_to_inotify(inowatch **w, struct watch_args *a, int failed, int *ret_failed)
{
    fprintf(stderr, "inowatch: %s: fanotify cannot watch this filesystem; watching with inotify\n",
            a->paths[failed]);
    inowatch_free(*w);
    *w = NULL;
    a->opts.backend = INOWATCH_BACKEND_INOTIFY;
    int r = inowatch_new(w, &a->opts);
    if (r < 0) {
        *ret_failed = -1;
        return r;
    }
    return add_roots(*w, a, ret_failed);
}

static int start(struct watch_args *a)
{
    int sigfd = iw_stop_signalfd();
    if (sigfd < 0) {
        iw_complain("signalfd: %s", strerror(-sigfd));
        return IW_EXIT_FATAL;
    }
    inowatch *w = NULL;
    int r = inowatch_new(&w, &a->opts);
    if (r < 0 && a->opts.backend == INOWATCH_BACKEND_FANOTIFY) {
        iw_complain("cannot start watching with fanotify: %s (%s; try --backend auto)",
                    strerror(-r),
                    r == -EPERM ? "it needs CAP_SYS_ADMIN, e.g. root"
                                : "it needs Linux 5.17 with fanotify enabled");
        close(sigfd);
        return IW_EXIT_USAGE;
    }
    if (r < 0) {
        iw_complain_new("", r);
        close(sigfd);
        return IW_EXIT_USAGE;
    }
    struct iw_out out;
    int status = IW_EXIT_USAGE;
    if (iw_out_init(&out, STDOUT_FILENO, a->json) < 0) {
        iw_complain("out of memory");
        goto done;
    }
    int failed = 0;
    r = add_roots(w, a, &failed);
    if (r < 0 && a->opts.backend == INOWATCH_BACKEND_AUTO &&
        inowatch_backend(w) == INOWATCH_BACKEND_FANOTIFY && iw_fanotify_refused_fs(r))
        r = fall_back_to_inotify(&w, a, failed, &failed);
    if (r < 0 && failed < 0) {
        iw_complain_new("", r);
        goto done_out;
    }
    if (r < 0) {
        iw_complain_watch("", a->paths[failed], r, w);
        goto done_out;
    }
    const char *fatal_path = NULL;
    int err = 0;
    /* What could not be watched at start; a fatal error there (out of fds,
     * say) means a PATH cannot be watched: exit 2. */
    if (emit_batch(w, &out, &fatal_path, &err)) {
        flush_or_complain(&out);
        complain_fatal(fatal_path, err, w);
        free((void *)fatal_path);
        goto done_out;
    }
    free((void *)fatal_path);
    if (a->json) {
        iw_out_raw(&out, "{\"event\":\"ready\"}\n", 18);
    } else {
        struct inowatch_stats st;
        inowatch_stats(w, &st);
        if (inowatch_backend(w) == INOWATCH_BACKEND_FANOTIFY)
            fprintf(stderr, "inowatch: ready (fanotify): %zu director%s known, %zu entries, "
                    "%.1f MiB model\n", st.watches, st.watches == 1 ? "y" : "ies",
                    st.dirs + st.files + st.files_hashed,
                    (double)st.model_bytes / (1024 * 1024));
        else
            fprintf(stderr, "inowatch: ready: %zu watch%s, %zu entries, %.1f MiB model\n",
                    st.watches, st.watches == 1 ? "" : "es", st.dirs + st.files,
                    (double)st.model_bytes / (1024 * 1024));
    }
    status = flush_or_complain(&out) < 0 ? IW_EXIT_FATAL : run_loop(w, &out, sigfd);
done_out:
    iw_out_free(&out);
done:
    inowatch_free(w);
    close(sigfd);
    return status;
}

int iw_cmd_watch(int argc, char **argv)
{
    struct watch_args a = {.opts.latency_ms = IW_WATCH_LATENCY_DEFAULT_MS};
    int r = parse_args(argc, argv, &a);
    int status = r < 0 ? IW_EXIT_USAGE : r > 0 ? IW_EXIT_OK : start(&a);
    free(a.exclude);
    return status;
}
