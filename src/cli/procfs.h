/* procfs.h: small readers for /proc, shared by `limits` and `stale`. */
#ifndef IW_PROCFS_H
#define IW_PROCFS_H

#include <sys/types.h>

/* 1 if s is a non-empty run of decimal digits (a /proc/PID name). */
int iw_is_number(const char *s);

/* Reads up to cap-1 bytes of dirfd/name and NUL-terminates them (the files
 * of /proc are small and read in one go). Returns the length, or -1. */
ssize_t iw_read_small(int dirfd, const char *name, char *buf, size_t cap);

#endif /* IW_PROCFS_H */
