/* watcher.c: Watcher, a thin client of libinowatch.
 *
 * The library does the work (model, scans, rename pairing, overflow
 * recovery); this file converts its events into Event tuples and owns the
 * waiting, so that it can release the GIL, run signal handlers on EINTR,
 * be woken by close() from another thread, and skip the coalescing wait
 * when asyncio calls read(0) (the loop then applies the latency with a
 * timer rather than by blocking its thread). The library watcher is
 * therefore made with INOWATCH_LATENCY_NONE, and this file calls
 * inowatch_gather() itself, without the GIL, when it blocks. */
#include "module.h"

#include <structmember.h> /* PyMemberDef, T_OBJECT_EX */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "inowatch.h"

typedef struct {
    PyObject_HEAD
    inowatch *w;
    int wake_fd;       /* eventfd made for the first blocking read: close() wakes it */
    int reading;       /* a read() is running, maybe without the GIL */
    int close_pending; /* close() came during that read: the reader closes */
    int as_bytes;      /* the roots were bytes: event paths are bytes */
    int latency_ms;    /* -1: none */
    size_t threshold;
    int fatal_errno;      /* a fatal error was delivered: later reads raise it */
    PyObject *fatal_path; /* its path (or None) */
    PyObject *pending;    /* list or NULL: what adding the roots found, for the first read */
    PyObject *roots;      /* tuple: the roots as given (after os.fspath) */
    PyObject *weakrefs;
} WatcherObject;

/* ------------------------------------------------------------------------ */
/* Event */

static PyStructSequence_Field event_fields[] = {
    {"kind", "'create', 'modify', 'attrib', 'delete', 'rename', 'overflow' or 'error'"},
    {"path", "the entry: its root as given joined with the path inside it (str or bytes, "
             "as the root was given); None for overflow"},
    {"type", "'file', 'dir', 'symlink' or 'other'; None for overflow and error"},
    {"from_path", "rename: where the entry was; else None"},
    {"errno", "error: the errno (int); else None"},
    {"error", "error: the errno's name, e.g. 'EACCES'; else None"},
    {"message", "error: the errno's sentence, e.g. 'Permission denied'; else None"},
    {"fatal", "error: True when the watcher cannot keep its promise any more (the watch "
              "limit was hit): the next read() raises OSError"},
    {"root", "delete: True when the entry was a root; it is no longer watched"},
    {NULL, NULL},
};

static PyStructSequence_Desc event_desc = {
    .name = "inowatch.Event",
    .doc = "One change: (kind, path, type, from_path), plus errno, error, message, fatal\n"
           "and root as attributes. Applying the events in order to the tree as it\n"
           "was when the Watcher was made gives the tree as it is on disk.",
    .fields = event_fields,
    .n_in_sequence = 4,
};

PyTypeObject iwpy_event_type;

#define EVENT_FIELDS 9  /* event_fields, without the sentinel */
#define EVENT_VISIBLE 4 /* event_desc.n_in_sequence */

/* Whether new_event() may build an Event itself: event_init() saw that
 * PyStructSequence_New makes what it would (a tuple of EVENT_FIELDS items
 * of which EVENT_VISIBLE are visible). */
static int event_layout_known;

/* A fresh Event, every item NULL. PyStructSequence_New looks up the type's
 * two field counts in its dict on every call, and a batch makes thousands
 * of events: this makes the same object without them. */
static PyObject *new_event(void)
{
    if (!event_layout_known)
        return PyStructSequence_New(&iwpy_event_type);
    PyTupleObject *e = PyObject_GC_NewVar(PyTupleObject, &iwpy_event_type, EVENT_FIELDS);
    if (!e)
        return NULL;
    Py_SET_SIZE(e, EVENT_VISIBLE);
    memset(e->ob_item, 0, sizeof(e->ob_item[0]) * EVENT_FIELDS);
    return (PyObject *)e;
}

static const enum inowatch_kind kinds[] = {INOWATCH_CREATE, INOWATCH_MODIFY,   INOWATCH_ATTRIB,
                                           INOWATCH_DELETE, INOWATCH_RENAME,   INOWATCH_OVERFLOW,
                                           INOWATCH_ERROR};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))
/* Interned words, made once: an event costs its path strings only. */
static PyObject *kind_words[NKINDS];
static PyObject *type_words[INOWATCH_TYPE_OTHER + 1];

static PyObject *kind_word(enum inowatch_kind kind)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i] == kind)
            return kind_words[i];
    return NULL;
}

static PyObject *decode_path(const WatcherObject *self, const char *p, size_t len)
{
    if (self->as_bytes)
        return PyBytes_FromStringAndSize(p, (Py_ssize_t)len);
    /* os.fsdecode: UTF-8 with surrogateescape on Linux. */
    return PyUnicode_DecodeFSDefaultAndSize(p, (Py_ssize_t)len);
}

static PyObject *make_event(WatcherObject *self, const struct inowatch_event *ev)
{
    PyObject *e = new_event();
    if (!e)
        return NULL;
    PyObject *kind = kind_word(ev->kind);
    if (!kind) {
        Py_DECREF(e);
        PyErr_Format(PyExc_RuntimeError, "libinowatch gave an unknown event kind %d", (int)ev->kind);
        return NULL;
    }
    Py_INCREF(kind);
    PyStructSequence_SET_ITEM(e, 0, kind);
    PyObject *path = ev->kind == INOWATCH_OVERFLOW || !ev->path
                         ? (Py_INCREF(Py_None), Py_None)
                         : decode_path(self, ev->path, ev->path_len);
    PyObject *type = (unsigned)ev->type <= INOWATCH_TYPE_OTHER && type_words[ev->type]
                         ? type_words[ev->type]
                         : Py_None;
    Py_INCREF(type);
    PyObject *from = ev->from ? decode_path(self, ev->from, ev->from_len)
                              : (Py_INCREF(Py_None), Py_None);
    /* Until every item is set, the tuple holds NULLs: fill it all, then
     * check (the tuple's dealloc copes with NULL items). */
    PyStructSequence_SET_ITEM(e, 1, path);
    PyStructSequence_SET_ITEM(e, 2, type);
    PyStructSequence_SET_ITEM(e, 3, from);
    int is_error = ev->kind == INOWATCH_ERROR;
    PyObject *err = is_error ? PyLong_FromLong(ev->error) : (Py_INCREF(Py_None), Py_None);
    PyObject *name = is_error ? PyUnicode_FromString(inowatch_errno_name(ev->error))
                              : (Py_INCREF(Py_None), Py_None);
    PyObject *msg = is_error ? PyUnicode_FromString(inowatch_strerror(ev->error))
                             : (Py_INCREF(Py_None), Py_None);
    PyObject *fatal = is_error && (ev->flags & INOWATCH_FLAG_FATAL) ? Py_True : Py_False;
    PyObject *root = ev->kind == INOWATCH_DELETE && (ev->flags & INOWATCH_FLAG_ROOT) ? Py_True
                                                                                     : Py_False;
    Py_INCREF(fatal);
    Py_INCREF(root);
    PyStructSequence_SET_ITEM(e, 4, err);
    PyStructSequence_SET_ITEM(e, 5, name);
    PyStructSequence_SET_ITEM(e, 6, msg);
    PyStructSequence_SET_ITEM(e, 7, fatal);
    PyStructSequence_SET_ITEM(e, 8, root);
    if (!path || !from || !err || !name || !msg) {
        Py_DECREF(e);
        return NULL;
    }
    if (is_error && (ev->flags & INOWATCH_FLAG_FATAL) && !self->fatal_errno) {
        /* Delivered with its batch; the next read() raises it. */
        self->fatal_errno = ev->error ? ev->error : EIO;
        Py_INCREF(path);
        Py_XSETREF(self->fatal_path, path);
    }
    return e;
}

/* The current batch as a list of Event; expected: how many events it holds
 * (inowatch_read's count), or 0 when not known. */
static PyObject *take_batch(WatcherObject *self, Py_ssize_t expected)
{
    PyObject *list = PyList_New(expected);
    if (!list)
        return NULL;
    const struct inowatch_event *ev;
    Py_ssize_t n = 0;
    for (; inowatch_next(self->w, &ev) > 0; n++) {
        PyObject *e = make_event(self, ev);
        if (!e)
            goto fail;
        if (n < expected) {
            PyList_SET_ITEM(list, n, e);
            continue;
        }
        int r = PyList_Append(list, e);
        Py_DECREF(e);
        if (r < 0)
            goto fail;
    }
    if (n < expected && PyList_SetSlice(list, n, expected, NULL) < 0)
        goto fail;
    return list;
fail:
    Py_DECREF(list); /* items not set yet are NULL: skipped */
    return NULL;
}

/* ------------------------------------------------------------------------ */

static void do_close(WatcherObject *self)
{
    inowatch_free(self->w); /* closes the inotify fd: every watch goes at once */
    self->w = NULL;
    iwpy_wake_close(&self->wake_fd);
    self->close_pending = 0;
    Py_CLEAR(self->pending);
}

static int check_open(WatcherObject *self)
{
    if (!self->w || self->close_pending) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed Watcher");
        return -1;
    }
    return 0;
}

static int check_idle(WatcherObject *self)
{
    if (self->reading) {
        PyErr_SetString(PyExc_RuntimeError, "Watcher.read() is already running in another thread");
        return -1;
    }
    return 0;
}

static PyObject *raise_fatal(WatcherObject *self)
{
    struct inowatch_stats st = {0};
    if (self->w)
        inowatch_stats(self->w, &st);
    return iwpy_set_errno(self->fatal_errno, self->fatal_path, st.watches_missing);
}

static PyObject *Watcher_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    WatcherObject *self = (WatcherObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->wake_fd = -1;
    self->latency_ms = IWPY_WATCHER_LATENCY_DEFAULT_MS;
    self->threshold = INOWATCH_THRESHOLD_DEFAULT_BYTES;
    return (PyObject *)self;
}

static int is_one_path(PyObject *o)
{
    return PyUnicode_Check(o) || PyBytes_Check(o) || PyObject_HasAttrString(o, "__fspath__");
}

/* paths: one path or an iterable of them -> a tuple of str or bytes (all
 * of one kind); *as_bytes says which, *ret_given holds the objects as
 * given (for OSError.filename). */
static PyObject *parse_roots(PyObject *paths, int *as_bytes, PyObject **ret_given)
{
    PyObject *seq = is_one_path(paths) ? PyTuple_Pack(1, paths)
                                       : PySequence_Fast(paths, "paths must be a path or an "
                                                                "iterable of paths");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "no path to watch");
        return NULL;
    }
    PyObject *roots = PyTuple_New(n);
    if (!roots) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyOS_FSPath(PySequence_Fast_GET_ITEM(seq, i));
        if (!p)
            goto fail;
        PyTuple_SET_ITEM(roots, i, p);
        int b = PyBytes_Check(p);
        if (i == 0)
            *as_bytes = b;
        else if (b != *as_bytes) {
            PyErr_SetString(PyExc_TypeError, "paths mix str and bytes: give all as str or all "
                                             "as bytes (event paths are of the same kind)");
            goto fail;
        }
    }
    *ret_given = seq;
    return roots;
fail:
    Py_DECREF(seq);
    Py_DECREF(roots);
    return NULL;
}

/* exclude: a pattern or an iterable of them -> a list of bytes, each
 * checked. */
static PyObject *parse_excludes(PyObject *exclude)
{
    if (!exclude || exclude == Py_None)
        return PyList_New(0);
    PyObject *seq = is_one_path(exclude) ? PyTuple_Pack(1, exclude)
                                         : PySequence_Fast(exclude, "exclude must be a pattern or "
                                                                    "an iterable of patterns");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (!out) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pat = PySequence_Fast_GET_ITEM(seq, i), *enc = NULL;
        if (!PyUnicode_FSConverter(pat, &enc))
            goto fail;
        PyList_SET_ITEM(out, i, enc);
        if (inowatch_check_pattern(PyBytes_AS_STRING(enc)) < 0) {
            PyErr_Format(PyExc_ValueError, "bad exclude pattern %R (an unterminated '[', an "
                                           "empty pattern or a trailing lone backslash)", pat);
            goto fail;
        }
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* events: None or an iterable of kind words -> a mask (0: all). */
static int parse_events(PyObject *events, unsigned *ret)
{
    *ret = 0;
    if (!events || events == Py_None)
        return 0;
    PyObject *seq = PyUnicode_Check(events) ? PyTuple_Pack(1, events)
                                            : PySequence_Fast(events, "events must be an iterable "
                                                                      "of event kinds");
    if (!seq)
        return -1;
    unsigned mask = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *word = PySequence_Fast_GET_ITEM(seq, i);
        size_t k = 0;
        for (; k < NKINDS; k++) {
            int eq = PyObject_RichCompareBool(word, kind_words[k], Py_EQ);
            if (eq < 0) {
                Py_DECREF(seq);
                return -1;
            }
            if (eq)
                break;
        }
        if (k == NKINDS) {
            PyErr_Format(PyExc_ValueError, "unknown event kind %R (known: create, modify, attrib, "
                                           "delete, rename, overflow, error)", word);
            Py_DECREF(seq);
            return -1;
        }
        mask |= kinds[k];
    }
    Py_DECREF(seq);
    /* An empty iterable would mean "all" to the library: keep what is
     * always reported instead. */
    *ret = mask ? mask : (INOWATCH_OVERFLOW | INOWATCH_ERROR);
    return 0;
}

/* "inotify", "fanotify" or "auto" -> enum inowatch_backend, or -1 with
 * ValueError set. */
static int parse_backend(const char *name)
{
    static const char *const names[] = {"inotify", "fanotify", "auto"};
    static const enum inowatch_backend backends[] = {
        INOWATCH_BACKEND_INOTIFY, INOWATCH_BACKEND_FANOTIFY, INOWATCH_BACKEND_AUTO};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return (int)backends[i];
    PyErr_Format(PyExc_ValueError, "backend must be 'inotify', 'fanotify' or 'auto', not '%s'",
                 name);
    return -1;
}

static int Watcher_init(WatcherObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"paths",  "exclude",   "recursive", "latency",
                             "events", "threshold", "backend",   NULL};
    PyObject *paths, *exclude = NULL, *latency = Py_None, *events = Py_None, *threshold = Py_None;
    const char *backend_name = "inotify";
    int recursive = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O$pOOOs:Watcher", kwlist, &paths, &exclude,
                                     &recursive, &latency, &events, &threshold, &backend_name))
        return -1;
    int backend = parse_backend(backend_name);
    if (backend < 0)
        return -1;
    if (self->w || self->reading) {
        PyErr_SetString(PyExc_RuntimeError, "Watcher.__init__() called twice");
        return -1;
    }
    int as_bytes = 0;
    unsigned mask;
    if (iwpy_latency_parse(latency, IWPY_WATCHER_LATENCY_DEFAULT_MS, &self->latency_ms) < 0 ||
        iwpy_threshold_parse(threshold, INOWATCH_THRESHOLD_DEFAULT_BYTES, &self->threshold) < 0 ||
        parse_events(events, &mask) < 0)
        return -1;
    PyObject *given = NULL;
    PyObject *roots = parse_roots(paths, &as_bytes, &given);
    if (!roots)
        return -1;
    PyObject *patterns = parse_excludes(exclude);
    if (!patterns) {
        Py_DECREF(roots);
        Py_DECREF(given);
        return -1;
    }
    Py_ssize_t npat = PyList_GET_SIZE(patterns);
    const char **ex = PyMem_Calloc((size_t)npat + 1, sizeof(*ex));
    if (!ex) {
        Py_DECREF(roots);
        Py_DECREF(given);
        Py_DECREF(patterns);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < npat; i++)
        ex[i] = PyBytes_AS_STRING(PyList_GET_ITEM(patterns, i));
    struct inowatch_options opts = {0};
    opts.no_recursive = !recursive;
    opts.exclude = ex;
    opts.events = mask;
    opts.latency_ms = INOWATCH_LATENCY_NONE; /* this file coalesces: see the top */
    opts.threshold_bytes = self->threshold;
    opts.backend = backend;
    inowatch *w = NULL;
    int r = inowatch_new(&w, &opts); /* copies the patterns */
    PyMem_Free(ex);
    Py_DECREF(patterns);
    if (r < 0) {
        Py_DECREF(roots);
        Py_DECREF(given);
        iwpy_set_errno(-r, NULL, 0);
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(roots);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *enc = NULL;
        if (!PyUnicode_FSConverter(PyTuple_GET_ITEM(roots, i), &enc))
            goto fail;
        /* A root is scanned synchronously, which may take a while: let
         * other threads run. The object is not in use anywhere yet. */
        Py_BEGIN_ALLOW_THREADS
        r = inowatch_add(w, PyBytes_AS_STRING(enc));
        Py_END_ALLOW_THREADS
        Py_DECREF(enc);
        if (r < 0) {
            struct inowatch_stats st;
            inowatch_stats(w, &st);
            iwpy_set_errno(-r, PySequence_Fast_GET_ITEM(given, i),
                           -r == ENOSPC ? st.watches_missing : 0);
            goto fail;
        }
    }
    Py_DECREF(given);
    self->w = w;
    self->as_bytes = as_bytes;
    Py_XSETREF(self->roots, roots);
    /* What could not be watched at start (error events) is the first batch. */
    self->pending = take_batch(self, 0);
    if (!self->pending) {
        do_close(self);
        return -1;
    }
    return 0;
fail:
    inowatch_free(w);
    Py_DECREF(roots);
    Py_DECREF(given);
    return -1;
}

static void Watcher_dealloc(WatcherObject *self)
{
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    do_close(self);
    Py_CLEAR(self->fatal_path);
    Py_CLEAR(self->roots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Watcher_repr(WatcherObject *self)
{
    if (!self->w)
        return PyUnicode_FromFormat("<%s closed>", Py_TYPE(self)->tp_name);
    return PyUnicode_FromFormat("<%s %R fd=%d>", Py_TYPE(self)->tp_name,
                                self->roots ? self->roots : Py_None, inowatch_fd(self->w));
}

/* One batch. *ret_ended is set when no batch will ever come (closed, or
 * every root gone) and [] is returned. */
static PyObject *read_batch(WatcherObject *self, const struct iwpy_deadline *deadline, int *ret_ended)
{
    *ret_ended = 0;
    if (self->pending) {
        PyObject *p = self->pending;
        self->pending = NULL;
        if (PyList_GET_SIZE(p) > 0)
            return p;
        Py_DECREF(p);
    }
    if (self->fatal_errno)
        return raise_fatal(self);
    if (inowatch_root_count(self->w) == 0 && !inowatch_has_backlog(self->w)) {
        *ret_ended = 1;
        return PyList_New(0);
    }
    if (!deadline->immediate && iwpy_wake_open(&self->wake_fd) < 0)
        return NULL;
    for (;;) {
        /* A signal that came while we held the GIL would not interrupt
         * the wait below: run its handler first. */
        if (!deadline->immediate && PyErr_CheckSignals() < 0)
            return NULL;
        inowatch *w = self->w;
        int fd = inowatch_fd(w), wake_fd = self->wake_fd, latency_ms = self->latency_ms;
        int left = iwpy_deadline_left_ms(deadline), ready = 1, n = 0;
        self->reading = 1;
        Py_BEGIN_ALLOW_THREADS
        if (!deadline->immediate && !inowatch_has_backlog(w)) {
            ready = iwpy_wait(fd, wake_fd, left);
            if (ready == 1) /* a failed read fails again just below */
                inowatch_gather(w, latency_ms);
        }
        if (ready == 1)
            n = inowatch_read(w, 0);
        Py_END_ALLOW_THREADS
        self->reading = 0;
        if (self->close_pending) {
            do_close(self);
            *ret_ended = 1;
            return PyList_New(0);
        }
        if (ready < 0)
            n = ready;
        if (n == -EINTR) {
            if (PyErr_CheckSignals() < 0)
                return NULL;
            continue;
        }
        if (n < 0) {
            /* inowatch_read(): anything but EINTR is fatal. */
            self->fatal_errno = -n;
            Py_INCREF(Py_None);
            Py_XSETREF(self->fatal_path, Py_None);
            return raise_fatal(self);
        }
        if (n > 0) {
            PyObject *list = take_batch(self, n);
            if (!list || PyList_GET_SIZE(list) > 0)
                return list;
            Py_DECREF(list);
        }
        if (inowatch_root_count(w) == 0 && !inowatch_has_backlog(w)) {
            *ret_ended = 1;
            return PyList_New(0);
        }
        /* Nothing yet (the batch held only kinds not asked for): wait on
         * until the deadline. */
        if (ready == 0 || deadline->immediate || iwpy_deadline_left_ms(deadline) == 0)
            return PyList_New(0);
    }
}

PyDoc_STRVAR(read_doc,
"read(timeout=None) -> list[Event]\n\n"
"Returns the next batch of events, waiting up to timeout seconds (None:\n"
"until there is one). [] means the time ran out, or no batch will ever\n"
"come (closed from another thread, or every root is gone: see\n"
"root_count). The first batch holds the errors found while adding the\n"
"roots, if any. Once the queue is readable, the batch gathers for up to\n"
"the latency (or until threshold bytes were read), so that repeated events\n"
"merge and one batch takes a whole burst.\n\n"
"timeout=0 never waits, not even for the latency: callers that poll\n"
"fileno() themselves (aiter() does) apply the latency with their own timer.\n"
"If has_backlog() is then True, call read(0) again without waiting.\n\n"
"The GIL is released while waiting and while the library works. A signal\n"
"runs its Python handler; its exception (KeyboardInterrupt) propagates.\n"
"A fatal error (the watch limit hit while a new directory was being\n"
"watched) comes as an error event with fatal=True in its batch; the next\n"
"read() raises it as OSError, and so does every later one.");

static PyObject *Watcher_read(WatcherObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:read", kwlist, &timeout))
        return NULL;
    struct iwpy_deadline deadline;
    if (iwpy_deadline_parse(timeout, &deadline) < 0 || check_open(self) < 0 || check_idle(self) < 0)
        return NULL;
    int ended;
    return read_batch(self, &deadline, &ended);
}

static PyObject *Watcher_iternext(WatcherObject *self)
{
    if (!self->w || self->close_pending || check_idle(self) < 0)
        return NULL; /* closed: StopIteration */
    struct iwpy_deadline forever = {.forever = 1};
    int ended;
    PyObject *batch = read_batch(self, &forever, &ended);
    if (batch && ended) {
        Py_DECREF(batch);
        return NULL;
    }
    return batch;
}

static PyObject *Watcher_iter(WatcherObject *self)
{
    if (check_open(self) < 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

PyDoc_STRVAR(fileno_doc, "fileno() -> int\n\nThe inotify fd, readable when read() has "
                         "something to do (see also has_backlog()). Owned by the Watcher.");

static PyObject *Watcher_fileno(WatcherObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    return PyLong_FromLong(inowatch_fd(self->w));
}

PyDoc_STRVAR(has_backlog_doc,
"has_backlog() -> bool\n\n"
"True when read(0) has work to do although fileno() may not be readable\n"
"(events found while adding the roots are waiting, or a long overflow\n"
"recovery left events read but not yet applied).");

static PyObject *Watcher_has_backlog(WatcherObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    return PyBool_FromLong((self->pending && PyList_GET_SIZE(self->pending) > 0) ||
                           self->fatal_errno || inowatch_has_backlog(self->w));
}

PyDoc_STRVAR(queued_doc, "queued() -> int\n\nBytes of inotify records the kernel holds for "
                         "the next read (FIONREAD).");

static PyObject *Watcher_queued(WatcherObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    long n = iwpy_queued(inowatch_fd(self->w));
    if (n < 0)
        return iwpy_set_errno((int)-n, NULL, 0);
    return PyLong_FromLong(n);
}

PyDoc_STRVAR(stats_doc,
"stats() -> dict\n\n"
"What the watcher holds: watches (inotify watches, or directories known\n"
"by handle with fanotify), dirs and files (nodes in the model),\n"
"files_hashed (regular files fanotify keeps as a name hash, not a node),\n"
"model_bytes, watches_missing (directories left unwatched by the watch\n"
"limit), overflows (queue overflows recovered from).");

static PyObject *Watcher_stats(WatcherObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    struct inowatch_stats st;
    inowatch_stats(self->w, &st);
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:n,s:n,s:n}", "watches", (Py_ssize_t)st.watches,
                         "dirs", (Py_ssize_t)st.dirs, "files", (Py_ssize_t)st.files,
                         "files_hashed", (Py_ssize_t)st.files_hashed, "model_bytes",
                         (Py_ssize_t)st.model_bytes, "watches_missing",
                         (Py_ssize_t)st.watches_missing, "overflows", (Py_ssize_t)st.overflows);
}

PyDoc_STRVAR(close_doc,
"close() -> None\n\n"
"Stops watching and frees everything (the fd too). Closing twice is fine.\n"
"A read() blocked in another thread wakes up and returns [] (a for loop\n"
"over the Watcher ends).");

static PyObject *Watcher_close(WatcherObject *self, PyObject *unused)
{
    (void)unused;
    if (self->reading) {
        /* The reader uses the watcher without the GIL: it frees it when it
         * comes back; wake it if it is waiting. */
        self->close_pending = 1;
        iwpy_wake(self->wake_fd);
    } else {
        do_close(self);
    }
    Py_RETURN_NONE;
}

static PyObject *Watcher_enter(WatcherObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *Watcher_exit(WatcherObject *self, PyObject *args)
{
    (void)args;
    return Watcher_close(self, NULL);
}

static PyObject *Watcher_get_closed(WatcherObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(!self->w || self->close_pending);
}

static PyObject *Watcher_get_root_count(WatcherObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(self->w ? inowatch_root_count(self->w) : 0);
}

static PyObject *Watcher_get_roots(WatcherObject *self, void *closure)
{
    (void)closure;
    PyObject *r = self->roots ? self->roots : Py_None;
    Py_INCREF(r);
    return r;
}

static PyObject *Watcher_get_latency(WatcherObject *self, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(self->latency_ms < 0 ? 0.0 : self->latency_ms / 1000.0);
}

static PyObject *Watcher_get_backend(WatcherObject *self, void *closure)
{
    (void)closure;
    if (!self->w) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on closed Watcher");
        return NULL;
    }
    return PyUnicode_FromString(inowatch_backend(self->w) == INOWATCH_BACKEND_FANOTIFY ? "fanotify"
                                                                                     : "inotify");
}

static PyObject *Watcher_get_threshold(WatcherObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(self->threshold);
}

static PyMethodDef Watcher_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Watcher_read, METH_VARARGS | METH_KEYWORDS, read_doc},
    {"fileno", (PyCFunction)Watcher_fileno, METH_NOARGS, fileno_doc},
    {"has_backlog", (PyCFunction)Watcher_has_backlog, METH_NOARGS, has_backlog_doc},
    {"queued", (PyCFunction)Watcher_queued, METH_NOARGS, queued_doc},
    {"stats", (PyCFunction)Watcher_stats, METH_NOARGS, stats_doc},
    {"close", (PyCFunction)Watcher_close, METH_NOARGS, close_doc},
    {"__enter__", (PyCFunction)Watcher_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Watcher_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Watcher_getset[] = {
    {"closed", (getter)Watcher_get_closed, NULL, "True once close() was called.", NULL},
    {"root_count", (getter)Watcher_get_root_count, NULL,
     "How many roots are still watched (a deleted or moved-away root is dropped after its "
     "delete event).", NULL},
    {"roots", (getter)Watcher_get_roots, NULL, "The roots as given (after os.fspath).", NULL},
    {"latency", (getter)Watcher_get_latency, NULL,
     "Seconds a batch may be held for the kernel to coalesce (0.0: none).", NULL},
    {"threshold", (getter)Watcher_get_threshold, NULL,
     "Bytes read that end the latency wait early (the batch's bound).", NULL},
    {"backend", (getter)Watcher_get_backend, NULL,
     "The backend in use: 'inotify' or 'fanotify' (what backend='auto' chose).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Watcher_doc,
"Watcher(paths, exclude=(), *, recursive=True, latency=None, events=None, threshold=None,\n"
"        backend='inotify')\n\n"
"Watches directory trees (or single files) through libinowatch. See the\n"
"inowatch package for the full description.");

PyTypeObject iwpy_watcher_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "inowatch._inowatch.Watcher",
    .tp_basicsize = sizeof(WatcherObject),
    .tp_dealloc = (destructor)Watcher_dealloc,
    .tp_repr = (reprfunc)Watcher_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = Watcher_doc,
    .tp_weaklistoffset = offsetof(WatcherObject, weakrefs),
    .tp_iter = (getiterfunc)Watcher_iter,
    .tp_iternext = (iternextfunc)Watcher_iternext,
    .tp_methods = Watcher_methods,
    .tp_getset = Watcher_getset,
    .tp_init = (initproc)Watcher_init,
    .tp_new = Watcher_new,
};

/* Makes the Event type; checks the layout new_event() builds by hand. */
static int event_init(void)
{
    if (PyStructSequence_InitType2(&iwpy_event_type, &event_desc) < 0)
        return -1;
    PyObject *probe = PyStructSequence_New(&iwpy_event_type);
    PyObject *nfields = PyObject_GetAttrString((PyObject *)&iwpy_event_type, "n_fields");
    if (!probe || !nfields) {
        Py_XDECREF(probe);
        Py_XDECREF(nfields);
        return -1;
    }
    event_layout_known = Py_SIZE(probe) == EVENT_VISIBLE && PyLong_Check(nfields) &&
                         PyLong_AsSsize_t(nfields) == EVENT_FIELDS &&
                         iwpy_event_type.tp_itemsize == sizeof(PyObject *) &&
                         iwpy_event_type.tp_basicsize == offsetof(PyTupleObject, ob_item);
    Py_DECREF(probe);
    Py_DECREF(nfields);
    /* An attribute read of a T_OBJECT_EX member is one CPython specialises
     * (it loads the slot directly); struct sequences are made with
     * T_OBJECT members, read the slow way. The two differ only for a NULL
     * item, and an Event has none once made (from Python too: missing
     * fields are None). */
    for (PyMemberDef *m = iwpy_event_type.tp_members; m && m->name; m++)
        if (m->type == T_OBJECT)
            m->type = T_OBJECT_EX;
    return 0;
}

int iwpy_watcher_ready(PyObject *m)
{
    for (size_t i = 0; i < NKINDS; i++) {
        kind_words[i] = PyUnicode_InternFromString(inowatch_kind_name(kinds[i]));
        if (!kind_words[i])
            return -1;
    }
    for (int t = INOWATCH_TYPE_FILE; t <= INOWATCH_TYPE_OTHER; t++) {
        type_words[t] = PyUnicode_InternFromString(inowatch_type_name((enum inowatch_type)t));
        if (!type_words[t])
            return -1;
    }
    if (event_init() < 0)
        return -1;
    if (PyType_Ready(&iwpy_watcher_type) < 0)
        return -1;
    Py_INCREF(&iwpy_event_type);
    if (PyModule_AddObject(m, "Event", (PyObject *)&iwpy_event_type) < 0) {
        Py_DECREF(&iwpy_event_type);
        return -1;
    }
    Py_INCREF(&iwpy_watcher_type);
    if (PyModule_AddObject(m, "Watcher", (PyObject *)&iwpy_watcher_type) < 0) {
        Py_DECREF(&iwpy_watcher_type);
        return -1;
    }
    return 0;
}
