/* stale_rescue.h: copying a deleted or replaced file out of the process
 * that still holds it open.
 *
 * Opening /proc/PID/fd/N opens the file itself, whatever became of its
 * name, with an open file description of our own: reading it leaves the
 * process's offset alone.
 */
#ifndef IW_STALE_RESCUE_H
#define IW_STALE_RESCUE_H

#include <limits.h>

#include "stale_scan.h"

/* Opens DIR for rescued files, creating it (mode 0700: the copies may be
 * other users' data) when it does not exist; its parent must. Returns an
 * fd or a negative errno. */
int iw_rescue_dir_open(const char *dir);

/* The name of the copy-th rescue of f (copy 0 first), into out:
 * "PID-FD-PATH", or "PID-FD.COPY-PATH" for later copies, where PATH is the
 * file's path with '/', '%' and control bytes written %XX (uppercase hex:
 * "%2F", "%25", "%0A"), so that the name gives the path back. A name that
 * would pass NAME_MAX keeps the end of the path after "...". */
void iw_rescue_name(const struct iw_stale_fd *f, unsigned copy, char out[NAME_MAX + 1]);

/* Copies f's whole content, from offset 0 to its end, into a new file in
 * dirfd, never over an existing one: it takes the first free name of
 * iw_rescue_name(). Returns 0 with the name and the bytes copied, or a
 * negative errno with *ret_step saying what failed; -ESTALE when the fd no
 * longer holds f's file. A failed copy leaves nothing behind. */
int iw_rescue(int dirfd, const struct iw_stale_fd *f, char ret_name[NAME_MAX + 1],
              long long *ret_bytes, const char **ret_step);

#endif /* IW_STALE_RESCUE_H */
