/* complain.c: the CLI's one-line messages on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

void iw_complain(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "inowatch: %s\n", line);
}

int iw_fanotify_refused_fs(int err)
{
    int e = err < 0 ? -err : err;
    return e == EOPNOTSUPP || e == ENODEV || e == EXDEV;
}

/* A failure to watch PATH, said so that the user knows what to change: at
 * the watch limit, which sysctl, its value, and how far to raise it. err is
 * an errno, negative or positive. */
void iw_complain_watch(const char *cmd, const char *path, int err, const inowatch *w)
{
    struct inowatch_limit lim;
    int e = err < 0 ? -err : err;
    const char *sep = *cmd ? ": " : "";
    if (w && inowatch_backend(w) == INOWATCH_BACKEND_FANOTIFY && iw_fanotify_refused_fs(e)) {
        iw_complain("%s%s%s: fanotify cannot watch this filesystem (%s); use --backend inotify",
                    cmd, sep, path, inowatch_strerror(e));
        return;
    }
    if (e != ENOSPC || inowatch_limit_for(e, &lim) < 0) {
        /* EMFILE here is the process's own fd limit (RLIMIT_NOFILE). */
        iw_complain("%s%s%s: %s", cmd, sep, path, inowatch_strerror(e));
        return;
    }
    struct inowatch_stats st = {0};
    if (w)
        inowatch_stats(w, &st);
    size_t more = st.watches_missing ? st.watches_missing : 1;
    iw_complain("%s%s%s: inotify watch limit reached: %s is %lu, and this tree needs %zu more "
                "watch%s (raise it: sysctl -w %s=%lu)",
                cmd, sep, path, lim.name, lim.value, more, more == 1 ? "" : "es", lim.name,
                lim.value + more);
}

/* inowatch_new() failed. EMFILE from inotify_init1 is either the per-user
 * instance limit or the process's fd limit: if another fd can be opened,
 * it was the instance limit. */
void iw_complain_new(const char *cmd, int err)
{
    int e = err < 0 ? -err : err;
    const char *sep = *cmd ? ": " : "";
    struct inowatch_limit lim;
    int probe = e == EMFILE ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
    if (probe >= 0)
        close(probe);
    if (probe < 0 || inowatch_limit_for(e, &lim) < 0) {
        iw_complain("%s%scannot start watching: %s", cmd, sep, strerror(e));
        return;
    }
    iw_complain("%s%scannot start watching: inotify instance limit reached: %s is %lu (see which "
                "processes hold them with 'inowatch limits', or raise it: sysctl -w %s=%lu)",
                cmd, sep, lim.name, lim.value, lim.name, lim.value < 64 ? 128 : lim.value * 2);
}

/* The long option that name (n bytes, from "--name" or "--name=value")
 * stands for, as getopt_long matches it: an exact match, else the only
 * option it abbreviates, or the first of several that differ in nothing
 * but their names. NULL when none does; *ret_ambiguous says whether
 * several did. */
static const struct option *find_long(const struct option *opts, const char *name, size_t n,
                                      int *ret_ambiguous)
{
    const struct option *found = NULL;
    *ret_ambiguous = 0;
    for (const struct option *o = opts; o && o->name; o++) {
        if (strncmp(o->name, name, n) != 0)
            continue;
        if (strlen(o->name) == n) {
            *ret_ambiguous = 0;
            return o;
        }
        if (!found)
            found = o;
        else if (found->has_arg != o->has_arg || found->flag != o->flag || found->val != o->val)
            *ret_ambiguous = 1;
    }
    return *ret_ambiguous ? NULL : found;
}

/* A bad option given to command cmd, named as the user wrote it: long or
 * short. c is getopt_long's return: ':' for a missing value (optstring
 * starts with ':'), or '?'.
 *
 * getopt_long says little. optopt is the bad short option, or the bad long
 * option's val (often the character of its short form: "--exclude" is
 * 'x'), or 0 for an unknown or ambiguous long option. After a bad long
 * option getopt has moved past it, so it is argv[optind - 1]; after a bad
 * short option inside a cluster, that element is an earlier one ("--json
 * -qj"). So argv[optind - 1] is taken for the culprit only when it is a
 * long option that fails the way optopt says: one that needs a value and
 * has none (it is then the last argument; had it been used, its value
 * would follow it, or come after a '='), or one that takes no value and
 * has one (had it been used, it would have no '='). */
void iw_complain_option(const char *cmd, int c, int argc, char **argv,
                        const struct option *longopts)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    int dashdash = arg[0] == '-' && arg[1] == '-' && arg[2] != '\0';
    size_t n = dashdash ? strcspn(arg + 2, "=") : 0;
    int ambiguous = 0;
    const struct option *o = dashdash ? find_long(longopts, arg + 2, n, &ambiguous) : NULL;
    const char *how = NULL;
    if (o && optopt != 0 && o->val == optopt) {
        if (o->has_arg == required_argument && arg[2 + n] == '\0' && optind == argc)
            how = "needs a value";
        else if (o->has_arg == no_argument && arg[2 + n] == '=')
            how = "takes no value";
    }
    if (how) {
        iw_complain("%s: option '--%s' %s (try 'inowatch %s --help')", cmd, o->name, how, cmd);
    } else if (optopt == 0 && dashdash) {
        iw_complain("%s: %s option '--%.*s' (try 'inowatch %s --help')", cmd,
                    ambiguous ? "ambiguous" : "unknown", (int)n, arg + 2, cmd);
    } else if (optopt > 0 && optopt < 256 && c == ':') {
        iw_complain("%s: option '-%c' needs a value (try 'inowatch %s --help')", cmd, optopt, cmd);
    } else if (optopt > 0 && optopt < 256) {
        iw_complain("%s: unknown option '-%c' (try 'inowatch %s --help')", cmd, optopt, cmd);
    } else {
        iw_complain("%s: unknown option '%s' (try 'inowatch %s --help')", cmd, arg, cmd);
    }
}
