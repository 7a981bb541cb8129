/* commands.h: the CLI's subcommands, each in its own file. */
#ifndef IW_COMMANDS_H
#define IW_COMMANDS_H

#include "inowatch.h"

/* Exit statuses, as the interface fixes them. */
enum {
    IW_EXIT_OK = 0,
    IW_EXIT_FATAL = 1, /* a fatal error at run time */
    IW_EXIT_USAGE = 2, /* bad usage, or a PATH that cannot be watched at start */
};

int iw_cmd_watch(int argc, char **argv);
int iw_cmd_run(int argc, char **argv);
int iw_cmd_limits(int argc, char **argv);
int iw_cmd_follow(int argc, char **argv);
int iw_cmd_stale(int argc, char **argv);

/* A failure to watch path (err: an errno, either sign), naming the limit
 * and how far to raise it for ENOSPC. cmd prefixes the message ("run"),
 * or "". */
void iw_complain_watch(const char *cmd, const char *path, int err, const inowatch *w);
/* Whether err (either sign), from adding a root to a fanotify watcher,
 * means fanotify cannot watch that filesystem: an overlay, some network
 * and pseudo filesystems give no file handles it can use. A watch per
 * directory (inotify) still works there. */
int iw_fanotify_refused_fs(int err);
/* inowatch_new() failed with err: names the instance limit when it was. */
void iw_complain_new(const char *cmd, int err);

/* Blocks SIGINT, SIGTERM and SIGHUP and returns a signalfd that reads
 * them, or a negative errno. */
int iw_stop_signalfd(void);

/* A bad option for command cmd, from getopt_long's return c ('?', or ':'
 * for a missing value: optstring starts with ':'), named as the user wrote
 * it ("--exclude", not "-x"); argc, argv and longopts as given to
 * getopt_long. */
struct option;
void iw_complain_option(const char *cmd, int c, int argc, char **argv,
                        const struct option *longopts);

/* Prints "inowatch: " and the formatted message on stderr, one line. */
void iw_complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a non-negative decimal number of at most max; -1 if it is not one. */
long iw_parse_ms(const char *s, long max);

#endif /* IW_COMMANDS_H */
