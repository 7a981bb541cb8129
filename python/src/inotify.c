/* inotify.c: Inotify, an exact view of the inotify syscalls.
 *
 * One object per inotify instance; add_watch/rm_watch are the syscalls,
 * read() returns the kernel's records as InotifyEvent tuples. Nothing is
 * interpreted: no recursion, no rename pairing, no path joining (the
 * Watcher does all that). The only bookkeeping is wd -> the path object
 * given to add_watch(), so that names come back as bytes for a watch
 * added with a bytes path and as str (os.fsdecode) otherwise. */
#include "module.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* The smallest buffer that can hold any one record (inotify(7)). */
#define IN_EVENT_MAX (sizeof(struct inotify_event) + 256)
#define IN_BUF_INITIAL (64u * 1024)
/* One read() takes at most this much; the rest stays queued for the next. */
#define IN_BUF_MAX (1024u * 1024)

typedef struct {
    PyObject_HEAD
    int fd;
    int wake_fd;       /* eventfd made for the first blocking read: close() wakes it */
    int users;         /* calls using the fd without the GIL (read, add_watch) */
    int reading;       /* a read() is running: one at a time */
    int close_pending; /* close() came meanwhile: the last user closes */
    int last_bytes;    /* the latest add_watch() path was bytes */
    char *buf;
    size_t buf_cap;
    PyObject *watches; /* dict: wd -> path as given to add_watch (after os.fspath) */
    PyObject *weakrefs;
} InotifyObject;

/* ------------------------------------------------------------------------ */
/* InotifyEvent */

static PyStructSequence_Field inotify_event_fields[] = {
    {"wd", "the watch descriptor (add_watch's result); -1 for IN_Q_OVERFLOW"},
    {"mask", "IN_* bits: what happened (IN_ISDIR: to a directory)"},
    {"cookie", "pairs IN_MOVED_FROM with its IN_MOVED_TO; else 0"},
    {"name", "the entry's name inside the watched directory, or empty; bytes when the "
             "watch was added with a bytes path, else str (os.fsdecode)"},
    {NULL, NULL},
};

static PyStructSequence_Desc inotify_event_desc = {
    .name = "inowatch.InotifyEvent",
    .doc = "One inotify record, as the kernel gave it: (wd, mask, cookie, name).",
    .fields = inotify_event_fields,
    .n_in_sequence = 4,
};

PyTypeObject iwpy_inotify_event_type;

/* ------------------------------------------------------------------------ */

static int check_open(InotifyObject *self)
{
    if (self->fd < 0 || self->close_pending) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed Inotify");
        return -1;
    }
    return 0;
}

static int check_idle(InotifyObject *self)
{
    if (self->reading) {
        PyErr_SetString(PyExc_RuntimeError, "Inotify.read() is already running in another thread");
        return -1;
    }
    return 0;
}

static void do_close(InotifyObject *self);

/* Around a call that uses the fd without the GIL: the fd stays open until
 * the last such call is back, then a close() that came meanwhile is done. */
static void users_enter(InotifyObject *self)
{
    self->users++;
}

static void users_leave(InotifyObject *self)
{
    if (--self->users == 0 && self->close_pending)
        do_close(self);
}

static void do_close(InotifyObject *self)
{
    /* Closing the fd drops every watch at once. */
    if (self->fd >= 0)
        close(self->fd);
    iwpy_wake_close(&self->wake_fd);
    self->fd = -1;
    self->close_pending = 0;
    PyMem_Free(self->buf);
    self->buf = NULL;
    self->buf_cap = 0;
    if (self->watches)
        PyDict_Clear(self->watches);
}

static PyObject *Inotify_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    InotifyObject *self = (InotifyObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->fd = self->wake_fd = -1;
    self->watches = PyDict_New();
    if (!self->watches) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int Inotify_init(InotifyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Inotify", kwlist))
        return -1;
    if (self->fd >= 0 || self->users) {
        PyErr_SetString(PyExc_RuntimeError, "Inotify.__init__() called twice");
        return -1;
    }
    /* Non-blocking always: read() waits with poll(), so that it can time
     * out, be woken by close() and run signal handlers. */
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        iwpy_set_errno(errno, NULL, 0);
        return -1;
    }
    self->fd = fd;
    return 0;
}

static void Inotify_dealloc(InotifyObject *self)
{
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    do_close(self);
    Py_CLEAR(self->watches);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Inotify_repr(InotifyObject *self)
{
    if (self->fd < 0)
        return PyUnicode_FromFormat("<%s closed>", Py_TYPE(self)->tp_name);
    return PyUnicode_FromFormat("<%s fd=%d watches=%zd>", Py_TYPE(self)->tp_name, self->fd,
                                PyDict_GET_SIZE(self->watches));
}

PyDoc_STRVAR(fileno_doc, "fileno() -> int\n\nThe inotify file descriptor (non-blocking), for "
                         "select/poll/asyncio. It stays owned by this object.");

static PyObject *Inotify_fileno(InotifyObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    return PyLong_FromLong(self->fd);
}

PyDoc_STRVAR(close_doc, "close() -> None\n\nCloses the inotify fd, which drops every watch. "
                        "Closing twice is fine. A read() blocked in another thread wakes up "
                        "and returns [].");

static PyObject *Inotify_close(InotifyObject *self, PyObject *unused)
{
    (void)unused;
    if (self->users) {
        /* A call is using the fd without the GIL: the last one back
         * closes. A blocked read() waits on the eventfd too (it was made
         * before blocking): wake it. */
        self->close_pending = 1;
        iwpy_wake(self->wake_fd);
    } else {
        do_close(self);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(add_watch_doc,
"add_watch(path, mask) -> int\n\n"
"inotify_add_watch(2): watches path (str, bytes or os.PathLike) for the IN_*\n"
"events in mask and returns the watch descriptor. Watching an inode that is\n"
"already watched returns its wd and replaces its mask (unless IN_MASK_ADD).\n"
"Raises OSError with errno and filename: FileNotFoundError, PermissionError,\n"
"NotADirectoryError (IN_ONLYDIR), OSError(ENOSPC) naming the watch limit.");

static PyObject *Inotify_add_watch(InotifyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "mask", NULL};
    PyObject *path, *maskobj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:add_watch", kwlist, &path, &maskobj))
        return NULL;
    if (check_open(self) < 0)
        return NULL;
    unsigned long mask = PyLong_AsUnsignedLong(maskobj);
    if (mask == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (mask > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "mask does not fit in 32 bits");
        return NULL;
    }
    PyObject *fspath = PyOS_FSPath(path);
    if (!fspath)
        return NULL;
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(fspath, &encoded)) {
        Py_DECREF(fspath);
        return NULL;
    }
    int fd = self->fd, wd, err = 0;
    /* The lookup may block (an automount, a slow network filesystem). */
    users_enter(self);
    Py_BEGIN_ALLOW_THREADS
    wd = inotify_add_watch(fd, PyBytes_AS_STRING(encoded), (uint32_t)mask);
    if (wd < 0)
        err = errno;
    Py_END_ALLOW_THREADS
    users_leave(self);
    Py_DECREF(encoded);
    if (wd < 0) {
        Py_DECREF(fspath);
        return iwpy_set_errno(err, path, 0);
    }
    PyObject *key = PyLong_FromLong(wd);
    if (!key || (self->watches && PyDict_SetItem(self->watches, key, fspath) < 0)) {
        Py_XDECREF(key);
        Py_DECREF(fspath);
        return NULL;
    }
    self->last_bytes = PyBytes_Check(fspath);
    Py_DECREF(fspath);
    return key;
}

PyDoc_STRVAR(rm_watch_doc,
"rm_watch(wd) -> None\n\n"
"inotify_rm_watch(2): removes a watch; its IN_IGNORED record follows.\n"
"Raises OSError(EINVAL) for a wd that is not (or no longer) watched.");

static PyObject *Inotify_rm_watch(InotifyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"wd", NULL};
    int wd;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i:rm_watch", kwlist, &wd))
        return NULL;
    if (check_open(self) < 0)
        return NULL;
    /* The wd stays in the table until its IN_IGNORED has been read, so
     * that record's name type is right. */
    if (inotify_rm_watch(self->fd, wd) < 0)
        return iwpy_set_errno(errno, NULL, 0);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(queued_doc, "queued() -> int\n\nBytes the kernel holds for the next read "
                         "(FIONREAD).");

static PyObject *Inotify_queued(InotifyObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    long n = iwpy_queued(self->fd);
    if (n < 0)
        return iwpy_set_errno((int)-n, NULL, 0);
    return PyLong_FromLong(n);
}

/* Grows the read buffer towards what is queued. */
static int ensure_buffer(InotifyObject *self)
{
    long queued = iwpy_queued(self->fd);
    size_t want = queued > 0 ? (size_t)queued : 0;
    if (want < IN_BUF_INITIAL)
        want = IN_BUF_INITIAL;
    if (want > IN_BUF_MAX)
        want = IN_BUF_MAX;
    if (self->buf && self->buf_cap >= want)
        return 0;
    /* PyMem_Malloc's alignment (16) suits struct inotify_event. */
    char *p = PyMem_Realloc(self->buf, want);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    self->buf = p;
    self->buf_cap = want;
    return 0;
}

/* Turns n bytes of records into a list of InotifyEvent. */
static PyObject *decode_records(InotifyObject *self, size_t n)
{
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    size_t off = 0;
    while (off + sizeof(struct inotify_event) <= n) {
        struct inotify_event hdr;
        memcpy(&hdr, self->buf + off, sizeof(hdr));
        const char *name = self->buf + off + sizeof(hdr);
        if (hdr.len > n - off - sizeof(hdr))
            break; /* cannot happen: the kernel writes whole records */
        size_t name_len = strnlen(name, hdr.len); /* the name is NUL-padded */
        PyObject *wd = PyLong_FromLong(hdr.wd);
        if (!wd)
            goto fail;
        PyObject *given = PyDict_GetItemWithError(self->watches, wd); /* borrowed */
        if (!given && PyErr_Occurred()) {
            Py_DECREF(wd);
            goto fail;
        }
        int as_bytes = given ? PyBytes_Check(given) : self->last_bytes;
        PyObject *nameobj = as_bytes ? PyBytes_FromStringAndSize(name, (Py_ssize_t)name_len)
                                     : PyUnicode_DecodeFSDefaultAndSize(name, (Py_ssize_t)name_len);
        PyObject *mask = PyLong_FromUnsignedLong(hdr.mask);
        PyObject *cookie = PyLong_FromUnsignedLong(hdr.cookie);
        PyObject *ev = PyStructSequence_New(&iwpy_inotify_event_type);
        if (!nameobj || !mask || !cookie || !ev) {
            Py_XDECREF(nameobj);
            Py_XDECREF(mask);
            Py_XDECREF(cookie);
            Py_XDECREF(ev);
            Py_DECREF(wd);
            goto fail;
        }
        if ((hdr.mask & IN_IGNORED) && given && PyDict_DelItem(self->watches, wd) < 0)
            PyErr_Clear();
        PyStructSequence_SET_ITEM(ev, 0, wd);
        PyStructSequence_SET_ITEM(ev, 1, mask);
        PyStructSequence_SET_ITEM(ev, 2, cookie);
        PyStructSequence_SET_ITEM(ev, 3, nameobj);
        int r = PyList_Append(list, ev);
        Py_DECREF(ev);
        if (r < 0)
            goto fail;
        off += sizeof(hdr) + hdr.len;
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

PyDoc_STRVAR(read_doc,
"read(timeout=None, threshold=None, latency=None) -> list[InotifyEvent]\n\n"
"Waits up to timeout seconds (None: forever; 0: not at all, one\n"
"non-blocking read(2)) for records, reads what is queued with one read(2)\n"
"and returns it; [] when the time ran out (or close() was called from\n"
"another thread). The GIL is released while waiting; a signal runs its\n"
"Python handler, whose exception (KeyboardInterrupt) propagates.\n\n"
"Coalescing: with latency (seconds), once records are queued, waits until\n"
"threshold bytes (default 64 KiB) are queued or latency has passed before\n"
"reading, so the kernel merges repeated events and one read takes a whole\n"
"batch. Not applied with timeout=0.");

static PyObject *Inotify_read(InotifyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"timeout", "threshold", "latency", NULL};
    PyObject *timeout = Py_None, *thresholdobj = Py_None, *latencyobj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:read", kwlist, &timeout, &thresholdobj,
                                     &latencyobj))
        return NULL;
    struct iwpy_deadline deadline;
    size_t threshold;
    int latency_ms;
    if (iwpy_deadline_parse(timeout, &deadline) < 0 ||
        iwpy_threshold_parse(thresholdobj, IWPY_THRESHOLD_DEFAULT, &threshold) < 0 ||
        iwpy_latency_parse(latencyobj, -1, &latency_ms) < 0)
        return NULL;
    if (check_open(self) < 0 || check_idle(self) < 0)
        return NULL;
    if (!deadline.immediate && iwpy_wake_open(&self->wake_fd) < 0)
        return NULL;
    for (;;) {
        if (ensure_buffer(self) < 0)
            return NULL;
        int fd = self->fd, wake_fd = self->wake_fd, ready = 1, err = 0;
        ssize_t n = -1;
        int left = iwpy_deadline_left_ms(&deadline);
        char *buf = self->buf;
        size_t cap = self->buf_cap;
        self->reading = 1;
        users_enter(self);
        Py_BEGIN_ALLOW_THREADS
        if (!deadline.immediate) {
            ready = iwpy_wait(fd, wake_fd, left);
            if (ready == 1)
                iwpy_coalesce(fd, threshold, latency_ms);
        }
        if (ready == 1) {
            n = read(fd, buf, cap);
            if (n < 0)
                err = errno;
        }
        Py_END_ALLOW_THREADS
        self->reading = 0;
        users_leave(self);
        if (self->fd < 0 || self->close_pending)
            return PyList_New(0); /* closed meanwhile from another thread */
        if (ready < 0)
            err = -ready;
        if (ready == 0 || (err == EAGAIN && (deadline.immediate || iwpy_deadline_left_ms(&deadline) == 0)))
            return PyList_New(0);
        if (err == EINTR) {
            if (PyErr_CheckSignals() < 0)
                return NULL;
            continue;
        }
        if (err == EAGAIN)
            continue; /* another reader took it: wait again */
        if (err)
            return iwpy_set_errno(err, NULL, 0);
        if (n > 0)
            return decode_records(self, (size_t)n);
        if (deadline.immediate)
            return PyList_New(0);
    }
}

static PyObject *Inotify_enter(InotifyObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *Inotify_exit(InotifyObject *self, PyObject *args)
{
    (void)args;
    return Inotify_close(self, NULL);
}

static PyObject *Inotify_get_closed(InotifyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->fd < 0 || self->close_pending);
}

static PyMethodDef Inotify_methods[] = {
    {"fileno", (PyCFunction)Inotify_fileno, METH_NOARGS, fileno_doc},
    {"close", (PyCFunction)Inotify_close, METH_NOARGS, close_doc},
    {"add_watch", (PyCFunction)(void (*)(void))Inotify_add_watch, METH_VARARGS | METH_KEYWORDS,
     add_watch_doc},
    {"rm_watch", (PyCFunction)(void (*)(void))Inotify_rm_watch, METH_VARARGS | METH_KEYWORDS,
     rm_watch_doc},
    {"read", (PyCFunction)(void (*)(void))Inotify_read, METH_VARARGS | METH_KEYWORDS, read_doc},
    {"queued", (PyCFunction)Inotify_queued, METH_NOARGS, queued_doc},
    {"__enter__", (PyCFunction)Inotify_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Inotify_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Inotify_getset[] = {
    {"closed", (getter)Inotify_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Inotify_doc,
"Inotify()\n\n"
"One inotify instance: an exact, thin view of inotify(7). add_watch() and\n"
"rm_watch() are the syscalls; read() returns the kernel's records as\n"
"InotifyEvent(wd, mask, cookie, name). Use it as a context manager, or\n"
"close() it. For recursive watching with complete events, use Watcher.");

PyTypeObject iwpy_inotify_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "inowatch.Inotify",
    .tp_basicsize = sizeof(InotifyObject),
    .tp_dealloc = (destructor)Inotify_dealloc,
    .tp_repr = (reprfunc)Inotify_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = Inotify_doc,
    .tp_weaklistoffset = offsetof(InotifyObject, weakrefs),
    .tp_methods = Inotify_methods,
    .tp_getset = Inotify_getset,
    .tp_init = (initproc)Inotify_init,
    .tp_new = Inotify_new,
};

int iwpy_inotify_ready(PyObject *m)
{
    if (PyStructSequence_InitType2(&iwpy_inotify_event_type, &inotify_event_desc) < 0)
        return -1;
    if (PyType_Ready(&iwpy_inotify_type) < 0)
        return -1;
    Py_INCREF(&iwpy_inotify_event_type);
    if (PyModule_AddObject(m, "InotifyEvent", (PyObject *)&iwpy_inotify_event_type) < 0) {
        Py_DECREF(&iwpy_inotify_event_type);
        return -1;
    }
    Py_INCREF(&iwpy_inotify_type);
    if (PyModule_AddObject(m, "Inotify", (PyObject *)&iwpy_inotify_type) < 0) {
        Py_DECREF(&iwpy_inotify_type);
        return -1;
    }
    return 0;
}
