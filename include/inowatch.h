/* inowatch.h: the whole public API of libinowatch.
 *
 * Why not raw inotify: inotify watches one directory at a time, reports bare
 * names relative to a watch descriptor, splits renames into two halves that
 * may straddle reads, drops everything on a queue overflow, and says nothing
 * about entries created in a new directory before its watch existed. This
 * library keeps a compact model of the watched trees and turns the kernel's
 * hints into a stream of complete events with full paths, so that applying
 * the events in order always gives the tree as it is on disk, through
 * races, subtree renames and overflows.
 *
 * Usage, in the caller's own event loop:
 *
 *     inowatch *w;
 *     int r = inowatch_new(&w, NULL);
 *     if (r < 0) ... inowatch_strerror(r) ...
 *     r = inowatch_add(w, "src");         // recursive, synchronous
 *     // poll(inowatch_fd(w), POLLIN) in your loop, then:
 *     r = inowatch_read(w, 0);            // reads one batch, > 0: events ready
 *     const struct inowatch_event *ev;
 *     while (inowatch_next(w, &ev) > 0)
 *         if (ev->kind == INOWATCH_CREATE) ... ev->path ...
 *     inowatch_free(w);
 *
 * Conventions: every function that can fail returns 0 (or a count) on
 * success and a negative errno on failure; out-parameters are named ret_*
 * and are left untouched on failure. The library never prints, logs, exits
 * or keeps global state: any number of watchers may live in one process, one
 * per thread (there are no locks inside). Strings handed out (event paths)
 * belong to the watcher and stay valid until the next inowatch_read(),
 * inowatch_add() or inowatch_free() on it.
 */
#ifndef INOWATCH_H
#define INOWATCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define INOWATCH_API __attribute__((visibility("default")))
#else
#define INOWATCH_API
#endif

#define INOWATCH_VERSION_MAJOR 0
#define INOWATCH_VERSION_MINOR 1

typedef struct inowatch inowatch;

/* What happened. The values are bits so that a caller can keep a mask of the
 * kinds it wants (struct inowatch_options.events). */
enum inowatch_kind {
    INOWATCH_CREATE = 1u << 0,   /* an entry appeared (also: moved in) */
    INOWATCH_MODIFY = 1u << 1,   /* a file's content changed */
    INOWATCH_ATTRIB = 1u << 2,   /* metadata changed: mode, owner, times, links */
    /* An entry is gone, with its subtree (also: moved out). What was
     * removed inside a directory in the same batch as the directory is
     * told by the directory's delete alone. */
    INOWATCH_DELETE = 1u << 3,
    INOWATCH_RENAME = 1u << 4,   /* moved from ->from to ->path, subtree included */
    INOWATCH_OVERFLOW = 1u << 5, /* the kernel queue overflowed; a rescan follows */
    INOWATCH_ERROR = 1u << 6,    /* ->path could not be watched or read: ->error */
    INOWATCH_ALL = (1u << 7) - 1
};

/* What kind of entry an event is about. */
enum inowatch_type {
    INOWATCH_TYPE_NONE = 0, /* overflow and error events */
    INOWATCH_TYPE_FILE,
    INOWATCH_TYPE_DIR,
    INOWATCH_TYPE_SYMLINK,
    INOWATCH_TYPE_OTHER /* fifo, socket, device */
};

/* Event flags. */
enum inowatch_event_flags {
    /* On INOWATCH_ERROR: the watcher cannot keep its promise any more (the
     * watch limit was hit, for instance); see inowatch_is_fatal(). */
    INOWATCH_FLAG_FATAL = 1u << 0,
    /* On INOWATCH_DELETE: the entry was one of the roots given to
     * inowatch_add(); it is no longer watched. */
    INOWATCH_FLAG_ROOT = 1u << 1,
};

struct inowatch_event {
    enum inowatch_kind kind;
    enum inowatch_type type;
    unsigned flags;   /* enum inowatch_event_flags */
    int error;        /* INOWATCH_ERROR: the positive errno; else 0 */
    const char *path; /* root as given joined with the path inside it; NUL-terminated */
    size_t path_len;
    const char *from; /* INOWATCH_RENAME: the old path; else NULL */
    size_t from_len;
};

/* Where the events come from (struct inowatch_options.backend).
 *
 * INOWATCH_BACKEND_INOTIFY (the default): one inotify watch per directory.
 *   Works for every user; a tree needs as many watches as directories,
 *   counted against fs.inotify.max_user_watches.
 * INOWATCH_BACKEND_FANOTIFY: one fanotify mark per filesystem
 *   (FAN_MARK_FILESYSTEM, FAN_REPORT_DFID_NAME, FAN_RENAME), directories
 *   known by their file handles: no per-directory kernel state and no
 *   watch limit. Needs Linux 5.17 and CAP_SYS_ADMIN; inowatch_new() fails
 *   with -EPERM without the capability, -EINVAL or -ENOSYS on older
 *   kernels, and inowatch_add() with -ENODEV, -EOPNOTSUPP or -EXDEV for a
 *   filesystem that cannot report file handles.
 * INOWATCH_BACKEND_AUTO: fanotify when inowatch_new() can have it, else
 *   inotify, without an error. inowatch_backend() says which. */
enum inowatch_backend {
    INOWATCH_BACKEND_INOTIFY = 0,
    INOWATCH_BACKEND_FANOTIFY = 1,
    INOWATCH_BACKEND_AUTO = 2,
};

#define INOWATCH_LATENCY_NONE (-1)
#define INOWATCH_LATENCY_DEFAULT_MS 10
#define INOWATCH_THRESHOLD_DEFAULT_BYTES (256u * 1024)

/* Watcher options. Zero-initialise, set what you need, and pass a pointer;
 * NULL means all defaults. */
struct inowatch_options {
    /* Do not descend: watch only the directories given to inowatch_add(). */
    int no_recursive;
    /* Exclude patterns, a NULL-terminated array (copied by inowatch_new()).
     * A pattern without '/' is matched against every path component (".git",
     * "*.o"); one with '/' against the path relative to its root ("build/out",
     * "**" crosses '/'). Excluded directories get no watch at all. */
    const char *const *exclude;
    /* The kinds to report (enum inowatch_kind bits); 0 means all. Overflow
     * and error events are always reported. */
    unsigned events;
    /* Coalescing: once the fd is readable, inowatch_read() gathers a batch
     * (inowatch_gather) for latency_ms, or until threshold_bytes are read,
     * so that repeated events merge and one batch takes a whole burst.
     * latency_ms 0 means the default (10 ms); INOWATCH_LATENCY_NONE reads
     * at once (for callers that run their own timers, or that call
     * inowatch_gather() themselves: the wait blocks the caller's thread).
     * threshold_bytes 0 means the default (256 KiB): at the rate seen, a
     * nap lets at most that much queue, half the default queue limit
     * (16384 events of at least 32 bytes with their name). */
    int latency_ms;
    size_t threshold_bytes;
    /* enum inowatch_backend; 0 is inotify. */
    int backend;
};

/* Creates a watcher with its own inotify (or fanotify) instance. Fails
 * with -EMFILE when the per-user limit of instances is reached (fatal),
 * -ENOMEM, -EINVAL for a bad exclude pattern or backend, and for
 * INOWATCH_BACKEND_FANOTIFY with the errors listed with the backends. */
INOWATCH_API int inowatch_new(inowatch **ret, const struct inowatch_options *options);

/* The backend in use: INOWATCH_BACKEND_INOTIFY or INOWATCH_BACKEND_FANOTIFY
 * (what INOWATCH_BACKEND_AUTO chose); -EINVAL for NULL. */
INOWATCH_API int inowatch_backend(const inowatch *w);

/* Stops watching and frees everything, including the fd. NULL is fine. */
INOWATCH_API void inowatch_free(inowatch *w);

/* Adds a root: a directory (watched recursively unless no_recursive) or a
 * single file. Synchronous: when it returns 0 every watch under the root is
 * in place and every later change will be reported. The path is kept as
 * given (trailing '/' removed) as the prefix of every event path.
 * Subdirectories that cannot be watched (EACCES, or vanished during the
 * scan) do not fail the call: they become INOWATCH_ERROR events, read with
 * inowatch_next() as usual. Fails, adding nothing, with the errno of the
 * root itself (-ENOENT, -EACCES, -ENOTDIR...), or -ENOSPC when the watch
 * limit is hit (inowatch_stats() then says how many watches were missing). */
INOWATCH_API int inowatch_add(inowatch *w, const char *path);

/* The inotify file descriptor, for poll/epoll/libuv/asyncio: readable when
 * inowatch_read() has something to do. Owned by the watcher. */
INOWATCH_API int inowatch_fd(const inowatch *w);

/* Reads and processes one batch. Waits up to timeout_ms for the fd to become
 * readable (-1: forever, 0: not at all), then applies the coalescing latency,
 * reads with one large read, and turns what it read into events. Returns the
 * number of events ready for inowatch_next() (0 on timeout), or a negative
 * errno: -EINTR when a signal interrupted the wait (call again), a fatal
 * errno otherwise. Events of the previous batch are discarded. */
INOWATCH_API int inowatch_read(inowatch *w, int timeout_ms);

/* Lets a batch gather once the watcher's fd has become readable: reads
 * what the kernel queues into the watcher's buffer, napping in between,
 * until latency_ms have passed or the watcher's threshold is read (with
 * fanotify: one nap, then the read is left to inowatch_read()).
 * inowatch_read(w, 0) then processes it all without waiting. This is the
 * wait inowatch_read() itself applies with the watcher's latency, for
 * callers that made it with INOWATCH_LATENCY_NONE and wait in their own
 * thread (the Python module releases its lock around it). Returns 0,
 * -EINTR when a signal interrupted a nap (what was read is kept), or the
 * read's negative errno (fatal); -EINVAL for NULL. */
INOWATCH_API int inowatch_gather(inowatch *w, int latency_ms);

/* Holds off reading an inotify fd (any, not only a watcher's) that has
 * become readable, so that the kernel merges repeated events and one read
 * takes many: returns after latency_ms, or as soon as threshold_bytes are
 * queued (FIONREAD), or when a signal interrupts the wait (-EINTR; else
 * 0). It looks at the queue again only when, filling at the rate seen so
 * far, it would reach the threshold: each look is a wake-up and a walk of
 * the queue. For a raw inotify fd read by the caller's own code; a
 * watcher's batch gathers with inowatch_gather(), which reads instead of
 * asking. */
INOWATCH_API int inowatch_coalesce(int fd, size_t threshold_bytes, int latency_ms);

/* 1 when inowatch_read() has work to do although the fd may not be
 * readable (a long overflow recovery left events read but not yet applied):
 * call inowatch_read() again without waiting for the fd. */
INOWATCH_API int inowatch_has_backlog(const inowatch *w);

/* Hands out the next event of the current batch: returns 1 and sets *ret, or
 * 0 when the batch is exhausted. The event lives until the next
 * inowatch_read(), inowatch_add() or inowatch_free(). */
INOWATCH_API int inowatch_next(inowatch *w, const struct inowatch_event **ret);

/* How many roots are still watched (a deleted or moved-away root is
 * dropped after its delete event). */
INOWATCH_API size_t inowatch_root_count(const inowatch *w);

struct inowatch_stats {
    size_t watches;         /* inotify watches held */
    size_t dirs;            /* directories in the model */
    size_t files;           /* non-directories in the model, as nodes */
    size_t files_hashed;    /* regular files known only by their name's hash
                             * (fanotify's directories-only model) */
    size_t model_bytes;     /* memory held by the model */
    size_t watches_missing; /* directories left unwatched by the watch limit */
    size_t overflows;       /* queue overflows recovered from */
};
INOWATCH_API void inowatch_stats(const inowatch *w, struct inowatch_stats *ret);

/* The inotify limits in force for this process. */
struct inowatch_limit {
    const char *name;     /* the sysctl to raise, e.g. "fs.inotify.max_user_watches" */
    const char *path;     /* its file under /proc/sys */
    unsigned long value;  /* its current value */
};
/* Which limit an error came from: for -ENOSPC the watch limit (the smaller
 * of fs.inotify.max_user_watches and, inside a user namespace,
 * user.max_inotify_watches), for -EMFILE the instance limit. Returns 0, or
 * -EINVAL for another error, or the errno of reading /proc. */
INOWATCH_API int inowatch_limit_for(int error, struct inowatch_limit *ret);

/* 0 when pattern is a well-formed exclude pattern, else -EINVAL (an
 * unterminated '[' class, an empty pattern, a trailing lone backslash). */
INOWATCH_API int inowatch_check_pattern(const char *pattern);

/* A sentence for an error code (negative or positive errno); never NULL. */
INOWATCH_API const char *inowatch_strerror(int error);
/* The symbolic name of an errno ("ENOSPC"); "E?" if unknown. */
INOWATCH_API const char *inowatch_errno_name(int error);
/* 1 when the error means the watcher cannot keep its promise (a limit was
 * hit, memory ran out), 0 when it concerns one path only (a directory that
 * vanished or cannot be read). */
INOWATCH_API int inowatch_is_fatal(int error);

/* Event kind and entry type as the words the CLI and JSON use. */
INOWATCH_API const char *inowatch_kind_name(enum inowatch_kind kind);
INOWATCH_API const char *inowatch_type_name(enum inowatch_type type);

/* ---- a writer that never writes into the void ---------------------------
 *
 * A program that appends to a log keeps writing into the same inode after
 * logrotate renames the file away, an editor saves over it, or someone
 * deletes it: the writes succeed and the data goes where nobody looks. An
 * inowatch_writer appends to a *path*: before each write it checks its own
 * inotify fd for an event about the file (a non-blocking read that finds
 * nothing almost always: no stat, no path lookup per record), and when the
 * file was renamed away, replaced or deleted it reopens the path (creating
 * it) and writes there.
 *
 * The window: the check and the write are two syscalls. A record whose
 * check ran before the rename (or unlink) and whose write ran after it goes
 * to the old inode: at most one record per concurrent replacement, and for
 * a rename it is in the renamed file (logrotate's file.1), not lost. Every
 * record written after the replacing rename() or unlink() returned goes to
 * the new file. One writer per thread; no locks. */
typedef struct inowatch_writer inowatch_writer;

/* Opens path for appending (O_APPEND, created with mode if missing). */
INOWATCH_API int inowatch_writer_open(inowatch_writer **ret, const char *path, unsigned mode);
/* Appends len bytes as one write(2) (so concurrent appenders do not
 * interleave within a record), after reopening if the file was replaced.
 * Returns the bytes written or a negative errno; a short write is returned
 * as such. */
INOWATCH_API long inowatch_writer_write(inowatch_writer *wr, const void *buf, size_t len);
/* The fd currently written to (changes on reopen). */
INOWATCH_API int inowatch_writer_fd(const inowatch_writer *wr);
/* How many times the path was reopened. */
INOWATCH_API unsigned long inowatch_writer_reopens(const inowatch_writer *wr);
/* Closes both fds and frees; NULL is fine. */
INOWATCH_API void inowatch_writer_close(inowatch_writer *wr);

#ifdef __cplusplus
}
#endif
#endif /* INOWATCH_H */
