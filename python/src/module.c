/* module.c: the inowatch._inowatch module: init, IN_* constants, errors,
 * and the waiting both layers share. */
#include "module.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <time.h>

#include "inowatch.h"

/* Coalescing looks at the queue size this often while it waits. */

PyObject *iwpy_set_errno(int err, PyObject *filename, size_t watches_missing)
{
    if (err < 0)
        err = -err;
    struct inowatch_limit lim;
    char msg[512];
    if ((err == ENOSPC || err == EMFILE) && inowatch_limit_for(err, &lim) == 0) {
        /* The libc words ("No space left on device", "Too many open
         * files") send people to df and ulimit; say which sysctl to raise. */
        if (err == ENOSPC && watches_missing > 0)
            snprintf(msg, sizeof(msg),
                     "inotify watch limit reached: %s is %lu, and this tree needs %zu more "
                     "watches (raise it: sysctl -w %s=%lu)",
                     lim.name, lim.value, watches_missing, lim.name, lim.value + watches_missing);
        else if (err == ENOSPC)
            snprintf(msg, sizeof(msg),
                     "inotify watch limit reached: %s is %lu (raise it: sysctl -w %s=%lu)",
                     lim.name, lim.value, lim.name, lim.value * 2);
        else
            snprintf(msg, sizeof(msg),
                     "inotify instance limit reached: %s is %lu, or the process is out of file "
                     "descriptors (raise it: sysctl -w %s=%lu)",
                     lim.name, lim.value, lim.name, lim.value < 64 ? 128 : lim.value * 2);
        PyObject *exc = PyObject_CallFunction(PyExc_OSError, "isO", err, msg,
                                              filename ? filename : Py_None);
        if (exc) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    errno = err;
    if (filename)
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, filename);
    return PyErr_SetFromErrno(PyExc_OSError);
}

static double monotonic_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int iwpy_deadline_parse(PyObject *timeout, struct iwpy_deadline *ret)
{
    ret->forever = ret->immediate = 0;
    ret->at = 0;
    if (!timeout || timeout == Py_None) {
        ret->forever = 1;
        return 0;
    }
    double s = PyFloat_AsDouble(timeout);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (isnan(s) || s < 0) {
        PyErr_SetString(PyExc_ValueError, "timeout must be a non-negative number of seconds or None");
        return -1;
    }
    if (isinf(s))
        ret->forever = 1;
    else if (s == 0)
        ret->immediate = 1;
    else
        ret->at = monotonic_now() + s;
    return 0;
}

int iwpy_deadline_left_ms(const struct iwpy_deadline *d)
{
    if (d->forever)
        return -1;
    if (d->immediate)
        return 0;
    double left = (d->at - monotonic_now()) * 1000.0;
    if (left <= 0)
        return 0;
    /* Round up: a wait that ends early would only loop again. */
    return left >= (double)INT_MAX ? INT_MAX : (int)ceil(left);
}

int iwpy_wake_open(int *wake_fd)
{
    if (*wake_fd >= 0)
        return 0;
    *wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (*wake_fd < 0) {
        iwpy_set_errno(errno, NULL, 0);
        return -1;
    }
    return 0;
}

void iwpy_wake(int wake_fd)
{
    if (wake_fd < 0)
        return;
    uint64_t one = 1;
    ssize_t n = write(wake_fd, &one, sizeof(one));
    (void)n; /* a full counter still wakes the reader */
}

void iwpy_wake_close(int *wake_fd)
{
    if (*wake_fd >= 0)
        close(*wake_fd);
    *wake_fd = -1;
}

int iwpy_wait(int fd, int wake_fd, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    int r = poll(p, wake_fd >= 0 ? 2 : 1, timeout_ms);
    if (r < 0)
        return -errno;
    if (r == 0)
        return 0;
    if (wake_fd >= 0 && (p[1].revents & POLLIN))
        return 2;
    /* POLLERR/POLLNVAL on the inotify fd: let the read say what it is. */
    return 1;
}

long iwpy_queued(int fd)
{
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) < 0)
        return -errno;
    return queued;
}

void iwpy_coalesce(int fd, size_t threshold, int latency_ms)
{
    /* The library's wait (inowatch.h): on a signal it returns at once, so
     * that the caller reads now and runs the handlers. */
    inowatch_coalesce(fd, threshold, latency_ms);
}

int iwpy_latency_parse(PyObject *latency, int default_ms, int *ret_ms)
{
    if (!latency || latency == Py_None) {
        *ret_ms = default_ms;
        return 0;
    }
    double s = PyFloat_AsDouble(latency);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (isnan(s) || s < 0 || s > 3600) {
        PyErr_SetString(PyExc_ValueError,
                        "latency must be between 0 and 3600 seconds, or None for the default");
        return -1;
    }
    *ret_ms = s == 0 ? -1 : (int)ceil(s * 1000.0);
    return 0;
}

int iwpy_threshold_parse(PyObject *threshold, size_t default_bytes, size_t *ret)
{
    if (!threshold || threshold == Py_None) {
        *ret = default_bytes;
        return 0;
    }
    Py_ssize_t n = PyNumber_AsSsize_t(threshold, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "threshold must be a non-negative number of bytes");
        return -1;
    }
    *ret = n == 0 ? default_bytes : (size_t)n;
    return 0;
}

/* ------------------------------------------------------------------------ */

#ifndef IN_MASK_CREATE /* glibc < 2.29 headers; the kernel has it since 4.18 */
#define IN_MASK_CREATE 0x10000000
#endif

static int add_constants(PyObject *m)
{
    static const struct {
        const char *name;
        unsigned long value;
    } consts[] = {
#define C(x) {#x, x}
        C(IN_ACCESS),      C(IN_MODIFY),      C(IN_ATTRIB),      C(IN_CLOSE_WRITE),
        C(IN_CLOSE_NOWRITE), C(IN_CLOSE),     C(IN_OPEN),        C(IN_MOVED_FROM),
        C(IN_MOVED_TO),    C(IN_MOVE),        C(IN_CREATE),      C(IN_DELETE),
        C(IN_DELETE_SELF), C(IN_MOVE_SELF),   C(IN_ALL_EVENTS),  C(IN_UNMOUNT),
        C(IN_Q_OVERFLOW),  C(IN_IGNORED),     C(IN_ONLYDIR),     C(IN_DONT_FOLLOW),
        C(IN_EXCL_UNLINK), C(IN_MASK_CREATE), C(IN_MASK_ADD),    C(IN_ISDIR),
        C(IN_ONESHOT),
#undef C
    };
    for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++) {
        PyObject *v = PyLong_FromUnsignedLong(consts[i].value);
        if (!v || PyModule_AddObject(m, consts[i].name, v) < 0) {
            Py_XDECREF(v);
            return -1;
        }
    }
    if (PyModule_AddIntConstant(m, "LATENCY_DEFAULT_MS", IWPY_WATCHER_LATENCY_DEFAULT_MS) < 0 ||
        PyModule_AddIntConstant(m, "THRESHOLD_DEFAULT", IWPY_THRESHOLD_DEFAULT) < 0)
        return -1;
    char version[32];
    snprintf(version, sizeof(version), "%d.%d", INOWATCH_VERSION_MAJOR, INOWATCH_VERSION_MINOR);
    return PyModule_AddStringConstant(m, "LIBRARY_VERSION", version);
}

PyDoc_STRVAR(module_doc,
"The C half of the inowatch package: Inotify (the raw syscalls), Watcher\n"
"(libinowatch: recursive watching with complete events), their event\n"
"types and the IN_* constants. Import inowatch, not this module.");

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "inowatch._inowatch",
    .m_doc = module_doc,
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__inowatch(void);

PyMODINIT_FUNC PyInit__inowatch(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (add_constants(m) < 0 || iwpy_inotify_ready(m) < 0 || iwpy_watcher_ready(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
