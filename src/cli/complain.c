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

/* A failure to watch PATH, said so that the user knows what to change: at
 * the watch limit, which sysctl, its value, and how far to raise it. err is
 * an errno, negative or positive. */
void iw_complain_watch(const char *cmd, const char *path, int err, const inowatch *w)
{
    struct inowatch_limit lim;
    int e = err < 0 ? -err : err;
    const char *sep = *cmd ? ": " : "";
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

/* A bad option given to command cmd: getopt's '?' or ':' (c). optopt names
 * a bad short option; for a long one (optopt 0, or a long option's value
 * >= 256) getopt has moved past it, so it is argv[optind - 1]. */
void iw_complain_option(const char *cmd, int c, char **argv)
{
    char shortname[3] = {'-', (char)optopt, '\0'};
    const char *name = (optopt > 0 && optopt < 256) ? shortname : argv[optind - 1];
    if (c == ':')
        iw_complain("%s: option '%s' needs a value (try 'inowatch %s --help')", cmd, name, cmd);
    else
        iw_complain("%s: unknown option '%s' (try 'inowatch %s --help')", cmd, name, cmd);
}
