/* stale_scan.h: open files whose path no longer names them, read from /proc.
 *
 * /proc/PID/fd/N is a link whose target is the name the open file had when
 * last seen by the kernel, with " (deleted)" appended once that name was
 * unlinked; following the link reaches the open file itself (fstat, open),
 * whatever its name is now. /proc/PID/fdinfo/N holds the fd's offset and
 * open flags (proc(5)). Comparing the file under the link with what its path
 * names now tells a deleted file from a replaced one.
 */
#ifndef IW_STALE_SCAN_H
#define IW_STALE_SCAN_H

#include <stddef.h>
#include <sys/types.h>

enum iw_stale_state {
    IW_STALE_DELETED,  /* the path names nothing: the file was unlinked */
    IW_STALE_REPLACED, /* the path names another inode (a rename over it) */
};

struct iw_stale_fd {
    pid_t pid;
    int fd;
    char command[64]; /* the process's comm, NUL-terminated */
    char mode[4];     /* "r", "w", "rw", then "a" for O_APPEND */
    char *path;       /* the name the file had, without " (deleted)" */
    enum iw_stale_state state;
    long long size;   /* of the open file */
    long long offset; /* of the fd, from fdinfo "pos:" */
    dev_t dev;        /* of the open file: a rescue checks the fd still */
    ino_t ino;        /* holds it, and copies each file once */
};

struct iw_stale_list {
    struct iw_stale_fd *fds;
    size_t n, cap;
    size_t uninspectable; /* processes whose fds we may not read */
};

/* Scans every process (pid <= 0) or only pid. Returns 0; -ESRCH when pid
 * does not exist; -EACCES when pid was given and cannot be inspected;
 * another negative errno when /proc cannot be listed or memory ran out. A
 * process that exits meanwhile is left out silently. */
int iw_stale_scan(struct iw_stale_list *l, pid_t pid);

void iw_stale_list_free(struct iw_stale_list *l);

/* "deleted" or "replaced". */
const char *iw_stale_state_name(enum iw_stale_state s);

/* Whether the fd may write: those come first, as their data goes nowhere. */
int iw_stale_is_writer(const struct iw_stale_fd *f);

#endif /* IW_STALE_SCAN_H */
