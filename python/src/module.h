/* module.h: what the pieces of the inowatch._inowatch extension share.
 *
 * The module has two layers, each a thin client of something below it:
 *   inotify.c   Inotify: an exact view of the inotify syscalls
 *   watcher.c   Watcher: a client of libinowatch (include/inowatch.h)
 *   module.c    module init, constants, errors, event types, waiting
 * Both layers release the GIL while they block and retry on EINTR after
 * running Python's signal handlers (so ^C interrupts a blocked read). */
#ifndef IWPY_MODULE_H
#define IWPY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

/* Event types (PyStructSequence: named tuples made in C). */
extern PyTypeObject iwpy_inotify_event_type; /* InotifyEvent(wd, mask, cookie, name) */
extern PyTypeObject iwpy_event_type;         /* Event(kind, path, type, from_path) + error fields */
extern PyTypeObject iwpy_inotify_type;       /* Inotify */
extern PyTypeObject iwpy_watcher_type;       /* Watcher */

int iwpy_inotify_ready(PyObject *module);
int iwpy_watcher_ready(PyObject *module);

/* Sets OSError(err, message, filename) for a positive errno; the
 * constructor picks the subclass (FileNotFoundError, PermissionError...).
 * ENOSPC and EMFILE say which inotify limit was hit and its value rather
 * than "No space left on device"; watches_missing > 0 adds how many more
 * watches the tree needs. filename may be NULL. Returns NULL. */
PyObject *iwpy_set_errno(int err, PyObject *filename, size_t watches_missing);

/* A wait with an optional deadline, parsed from a timeout in seconds
 * (None: forever). */
struct iwpy_deadline {
    int forever;
    int immediate; /* timeout == 0: do not wait at all */
    double at;     /* CLOCK_MONOTONIC seconds */
};
int iwpy_deadline_parse(PyObject *timeout, struct iwpy_deadline *ret);
/* Milliseconds left, for poll(): -1 forever, 0 when past. */
int iwpy_deadline_left_ms(const struct iwpy_deadline *d);

/* The eventfd by which close() wakes a read blocked in another thread:
 * made by the first blocking read (*wake_fd < 0 until then). Returns 0, or
 * -1 with OSError set. */
int iwpy_wake_open(int *wake_fd);
/* Wakes a read blocked on wake_fd, if one was ever made. */
void iwpy_wake(int wake_fd);
/* Closes wake_fd if it was made, and marks it unmade. */
void iwpy_wake_close(int *wake_fd);

/* Called without the GIL. Waits for fd (and wake_fd if >= 0) to be
 * readable: returns 1 when fd is, 2 when wake_fd is, 0 on timeout, or a
 * negative errno (-EINTR when a signal came). */
int iwpy_wait(int fd, int wake_fd, int timeout_ms);
/* Called without the GIL. Lets the kernel gather a batch: waits until at
 * least threshold bytes are queued on fd or latency_ms have passed (or a
 * signal came). latency_ms <= 0 returns at once. */
void iwpy_coalesce(int fd, size_t threshold, int latency_ms);
/* Bytes queued on an inotify fd (FIONREAD), or a negative errno. */
long iwpy_queued(int fd);

/* Parses a latency in seconds (None: default_ms; 0: none, -1) into ms. */
int iwpy_latency_parse(PyObject *latency, int default_ms, int *ret_ms);
/* Parses a threshold in bytes (None or 0: default). */
int iwpy_threshold_parse(PyObject *threshold, size_t default_bytes, size_t *ret);

#define IWPY_THRESHOLD_DEFAULT (64u * 1024)

/* A Watcher holds a batch 50 ms by default, as `inowatch watch` does, where
 * the C library holds 10 ms (INOWATCH_LATENCY_DEFAULT_MS): a C caller's
 * inowatch_read() gathers on its own thread, often its event loop's, but
 * here nothing waits on a loop's thread (aiter() sleeps on a timer, and
 * read(0) never gathers), and every event is an object and a turn of the
 * caller's loop. A build appending to 2,000 files in turn gave 100,000
 * events at 10 ms on the benchmark's machine; at 50 ms the appends to each
 * file merge (bench/README.md). */
#define IWPY_WATCHER_LATENCY_DEFAULT_MS 50

#endif /* IWPY_MODULE_H */
