/* run_proc.h: starting and stopping `inowatch run`'s CMD.
 *
 * CMD runs as the leader of its own process group, so that a shell script
 * and everything it started can be signalled at once, and so that a Ctrl-C
 * on the terminal reaches inowatch, which then stops the group in order.
 */
#ifndef IW_RUN_PROC_H
#define IW_RUN_PROC_H

#include <signal.h>
#include <sys/types.h>

struct iw_spawn {
    char **argv;          /* CMD and its arguments, NULL-terminated */
    const char *paths;    /* the value of INOWATCH_PATHS */
    int truncated;        /* set INOWATCH_PATHS_TRUNCATED=1 */
    const sigset_t *mask; /* the signal mask CMD starts with */
};

/* Starts CMD in a new process group whose id is its pid, with standard
 * input from /dev/null. Returns the pid once CMD has been executed, or a
 * negative errno: from fork(), or from execvp() in the child (such as
 * -ENOENT or -EACCES), in which case the child has been reaped. */
pid_t iw_spawn_group(const struct iw_spawn *sp);

/* 1 when a process other than a zombie is in process group pgid, read from
 * /proc. The caller keeps the group's leader unreaped (a zombie), so that
 * the number cannot name another group meanwhile. */
int iw_group_alive(pid_t pgid);

/* Reaps every exited child except keep: the processes CMD left behind that
 * were reparented to inowatch, as a subreaper (PR_SET_CHILD_SUBREAPER) or
 * as a container's pid 1. Children are listed in /proc/self/task/TID/children;
 * without that file (CONFIG_PROC_CHILDREN) nothing is reaped. */
void iw_reap_others(pid_t keep);

#endif /* IW_RUN_PROC_H */
