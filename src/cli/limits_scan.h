/* limits_scan.h: who holds inotify instances and watches, read from /proc.
 *
 * The kernel keeps no list of inotify users, but every instance is a file
 * descriptor: /proc/PID/fd/FD links to "anon_inode:inotify", and
 * /proc/PID/fdinfo/FD has one "inotify wd:" line per watch (see proc(5)).
 */
#ifndef IW_LIMITS_SCAN_H
#define IW_LIMITS_SCAN_H

#include <stddef.h>
#include <sys/types.h>

/* The longest command line kept, in bytes. */
#define IW_COMMAND_MAX 4096

struct iw_inotify_proc {
    pid_t pid;
    uid_t uid; /* effective: the user the kernel charges the instance to */
    unsigned long instances, watches;
    char *command; /* cmdline with NULs as spaces, or "[comm]"; NUL-terminated */
};

struct iw_inotify_limits {
    /* The values in /proc/sys, or -1 when they cannot be read. */
    long long max_user_watches, max_user_instances, max_queued_events; /* fs.inotify.* */
    long long ns_max_watches, ns_max_instances; /* user.max_inotify_* (this user namespace) */
};

struct iw_inotify_usage {
    struct iw_inotify_proc *procs; /* only processes holding an instance */
    size_t nprocs, cap;
    size_t unreadable; /* processes not readable (not ours, or gone meanwhile) */
    struct iw_inotify_limits limits;
};

/* Reads every process in /proc and the limits. Returns 0, or a negative
 * errno when /proc cannot be listed or memory ran out. */
int iw_inotify_scan(struct iw_inotify_usage *u);

void iw_inotify_usage_free(struct iw_inotify_usage *u);

/* The limit that applies: the smaller of the two values that can be read,
 * or -1. */
long long iw_limit_min(long long a, long long b);

#endif /* IW_LIMITS_SCAN_H */
