/* shim.c: fault injection for inowatch, loaded with LD_PRELOAD.
 *
 * Makes chosen libc calls fail with a chosen errno, so that the failure
 * paths of the library and the CLI can be run on purpose. The CLI links
 * libinowatch statically, but its calls into libc still go through the PLT,
 * so a preloaded definition of, say, inotify_add_watch() takes them.
 *
 * Configuration, in the environment:
 *
 *   INOWATCH_FAULT="RULE[,RULE...]"
 *   RULE = FUNC:WHEN:ERRNO[:OPTION...]
 *   WHEN = nth=N     the Nth matching call fails (once)
 *        | after=K   every matching call after the Kth fails (after=0: all)
 *   ERRNO = a name (ENOSPC, EIO...) or a number
 *   OPTION = path=SUBSTR  only calls whose path contains SUBSTR match; for
 *                         calls on an fd (getdents64, fstat, read, write) the
 *                         fd's /proc/self/fd link is the path, and for
 *                         inotify_add_watch("/proc/PID/fd/N") the link too
 *          | arm=FUNC     count nothing until FUNC has been called once
 *                         (arm=write: after the first write to stdout, which
 *                         for `inowatch watch --json` is the ready line)
 *          | max=M        fail at most M times
 *
 *   INOWATCH_FAULT_LOG=FILE  appends one line per injected fault:
 *                            "fault FUNC ERRNO PATH", so that a test can
 *                            check that its fault did fire; and at a
 *                            normal exit "calls FUNC N F" per rule: the
 *                            calls it counted (from arming on) and the
 *                            faults it injected, to size a sweep over K.
 *
 * FUNC is one of: inotify_init1, inotify_add_watch, read (the inotify fd
 * only), write (fd 1 only), open (also open64), openat (also openat64),
 * getdents64, fstatat (also fstatat64), stat, lstat, fstat, malloc, calloc,
 * realloc, and alloc (any of the three, counted together). Calls that no
 * rule selects go to the real function, found with dlsym(RTLD_NEXT) (under
 * AddressSanitizer, the sanitizer's interceptor: the shim works there too).
 *
 * The shim allocates nothing and uses no stdio: it must work while malloc
 * is being made to fail, and before the process is set up. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define SHIM_API __attribute__((visibility("default")))

/* Declared here: glibc declares these only under some feature macros, and
 * -Wmissing-prototypes wants a prototype before each definition. */
SHIM_API int open64(const char *path, int flags, ...);
SHIM_API int openat64(int dirfd, const char *path, int flags, ...);
SHIM_API int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags);

enum fn {
    FN_INOTIFY_INIT1,
    FN_INOTIFY_ADD_WATCH,
    FN_READ,
    FN_WRITE,
    FN_OPEN,
    FN_OPENAT,
    FN_GETDENTS64,
    FN_FSTATAT,
    FN_STAT,
    FN_LSTAT,
    FN_FSTAT,
    FN_MALLOC,
    FN_CALLOC,
    FN_REALLOC,
    FN_ALLOC, /* any of malloc, calloc, realloc: one count for the three */
    FN_COUNT
};

static const char *const fn_names[FN_COUNT] = {
    "inotify_init1", "inotify_add_watch", "read", "write", "open", "openat", "getdents64",
    "fstatat", "stat", "lstat", "fstat", "malloc", "calloc", "realloc", "alloc",
};

#define MAX_RULES 16
#define MAX_PATTERN 256

struct rule {
    int fn;
    int after;           /* 1: after=K, 0: nth=N */
    unsigned long n;     /* N or K */
    int err;
    int arm;             /* a function, or -1 */
    unsigned long max;   /* 0: no limit */
    char path[MAX_PATTERN]; /* "" matches every call */
    unsigned long calls;    /* matching calls counted so far */
    unsigned long fails;
};

static struct rule rules[MAX_RULES];
static int nrules;
static int has_rule[FN_COUNT];
static int rule_wants_path[FN_COUNT];
/* Calls that went through (after the function's own filter: read on an
 * inotify fd, write on fd 1), for arm=. */
static unsigned long passed[FN_COUNT];
static int log_fd = -1;
static int initialised;

/* ---- small helpers that need neither malloc nor stdio -------------------- */

static void raw_write(int fd, const char *s, size_t n)
{
    while (n > 0) {
        long r = syscall(SYS_write, fd, s, n);
        if (r <= 0)
            return;
        s += r;
        n -= (size_t)r;
    }
}

static void complain(const char *what, const char *detail)
{
    raw_write(2, "inowatch fault shim: ", 21);
    raw_write(2, what, strlen(what));
    if (detail) {
        raw_write(2, ": ", 2);
        raw_write(2, detail, strlen(detail));
    }
    raw_write(2, "\n", 1);
}

static const struct {
    const char *name;
    int value;
} errnos[] = {
    {"EPERM", EPERM},   {"ENOENT", ENOENT}, {"EINTR", EINTR},     {"EIO", EIO},
    {"ENXIO", ENXIO},   {"EBADF", EBADF},   {"EAGAIN", EAGAIN},   {"ENOMEM", ENOMEM},
    {"EACCES", EACCES}, {"EFAULT", EFAULT}, {"EBUSY", EBUSY},     {"EEXIST", EEXIST},
    {"ENODEV", ENODEV}, {"ENOTDIR", ENOTDIR}, {"EISDIR", EISDIR}, {"EINVAL", EINVAL},
    {"ENFILE", ENFILE}, {"EMFILE", EMFILE}, {"ENOSPC", ENOSPC},   {"EROFS", EROFS},
    {"EPIPE", EPIPE},   {"ELOOP", ELOOP},   {"ENAMETOOLONG", ENAMETOOLONG},
    {"ENOSYS", ENOSYS}, {"EOVERFLOW", EOVERFLOW}, {"ESTALE", ESTALE}, {"EDQUOT", EDQUOT},
    {"ENOBUFS", ENOBUFS},
};

static int parse_errno(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
        if (strlen(errnos[i].name) == len && memcmp(errnos[i].name, s, len) == 0)
            return errnos[i].value;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > 100000)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return len && v > 0 ? v : -1;
}

static const char *errno_name(int e)
{
    for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
        if (errnos[i].value == e)
            return errnos[i].name;
    return "E?";
}

static int parse_fn(const char *s, size_t len)
{
    for (int i = 0; i < FN_COUNT; i++)
        if (strlen(fn_names[i]) == len && memcmp(fn_names[i], s, len) == 0)
            return i;
    return -1;
}

static int parse_ulong(const char *s, size_t len, unsigned long *ret)
{
    unsigned long v = 0;
    if (len == 0 || len > 12)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *ret = v;
    return 0;
}

static int starts(const char *s, size_t len, const char *prefix, size_t *plen)
{
    *plen = strlen(prefix);
    return len >= *plen && memcmp(s, prefix, *plen) == 0;
}

/* One RULE (not NUL-terminated). Returns 0, or -1 after complaining. */
static int parse_rule(const char *s, size_t len)
{
    if (nrules == MAX_RULES) {
        complain("too many rules", NULL);
        return -1;
    }
    struct rule *r = &rules[nrules];
    memset(r, 0, sizeof(*r));
    r->arm = -1;
    int field = 0, have_when = 0;
    while (len > 0) {
        const char *colon = memchr(s, ':', len);
        size_t flen = colon ? (size_t)(colon - s) : len;
        size_t plen;
        if (field == 0) {
            r->fn = parse_fn(s, flen);
            if (r->fn < 0)
                return -1;
        } else if (starts(s, flen, "nth=", &plen) || starts(s, flen, "after=", &plen)) {
            r->after = s[0] == 'a';
            if (parse_ulong(s + plen, flen - plen, &r->n) < 0 || (!r->after && r->n == 0))
                return -1;
            have_when = 1;
        } else if (starts(s, flen, "path=", &plen)) {
            if (flen - plen >= MAX_PATTERN)
                return -1;
            memcpy(r->path, s + plen, flen - plen);
            r->path[flen - plen] = '\0';
        } else if (starts(s, flen, "arm=", &plen)) {
            r->arm = parse_fn(s + plen, flen - plen);
            if (r->arm < 0)
                return -1;
        } else if (starts(s, flen, "max=", &plen)) {
            if (parse_ulong(s + plen, flen - plen, &r->max) < 0)
                return -1;
        } else {
            r->err = parse_errno(s, flen);
            if (r->err < 0)
                return -1;
        }
        field++;
        if (!colon)
            break;
        len -= flen + 1;
        s = colon + 1;
    }
    if (!have_when || r->err == 0)
        return -1;
    has_rule[r->fn] = 1;
    if (r->path[0])
        rule_wants_path[r->fn] = 1;
    nrules++;
    return 0;
}

static void setup(void)
{
    if (initialised)
        return;
    initialised = 1;
    const char *spec = getenv("INOWATCH_FAULT");
    const char *logpath = getenv("INOWATCH_FAULT_LOG");
    if (logpath && *logpath)
        log_fd = (int)syscall(SYS_openat, AT_FDCWD, logpath,
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (!spec)
        return;
    while (*spec) {
        size_t len = strcspn(spec, ",");
        if (len && parse_rule(spec, len) < 0) {
            complain("bad rule in INOWATCH_FAULT (FUNC:nth=N|after=K:ERRNO[:path=S][:arm=F][:max=M])",
                     spec);
            _exit(125);
        }
        spec += len + (spec[len] == ',');
    }
}

__attribute__((constructor)) static void shim_init(void)
{
    setup();
}

static size_t put_ulong(char *p, unsigned long v)
{
    char tmp[24];
    size_t n = 0, i = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        p[i++] = tmp[--n];
    return i;
}

__attribute__((destructor)) static void shim_fini(void)
{
    if (log_fd < 0)
        return;
    for (int i = 0; i < nrules; i++) {
        const struct rule *r = &rules[i];
        char line[96];
        size_t at = 0, n = strlen(fn_names[r->fn]);
        memcpy(line + at, "calls ", 6);
        at += 6;
        memcpy(line + at, fn_names[r->fn], n);
        at += n;
        line[at++] = ' ';
        at += put_ulong(line + at, r->calls);
        line[at++] = ' ';
        at += put_ulong(line + at, r->fails);
        line[at++] = '\n';
        raw_write(log_fd, line, at);
    }
}

/* The path an fd stands for, from /proc/self/fd. */
static int fd_path(int fd, char *buf, size_t size)
{
    char link[40] = "/proc/self/fd/";
    size_t at = strlen(link);
    char digits[16];
    int n = 0;
    unsigned v = (unsigned)fd;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < (int)sizeof(digits));
    while (n)
        link[at++] = digits[--n];
    link[at] = '\0';
    ssize_t len = readlink(link, buf, size - 1);
    if (len < 0) {
        buf[0] = '\0';
        return -1;
    }
    buf[len] = '\0';
    return 0;
}

static int is_inotify_fd(int fd)
{
    char buf[64];
    return fd_path(fd, buf, sizeof(buf)) == 0 && strcmp(buf, "anon_inode:inotify") == 0;
}

static void log_fault(int fn, int err, const char *path)
{
    if (log_fd < 0)
        return;
    char line[PATH_MAX + 128];
    size_t at = 0;
    const char *parts[] = {"fault ", fn_names[fn], " ", errno_name(err), " ", path ? path : "-",
                           "\n"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        size_t n = strlen(parts[i]);
        if (at + n >= sizeof(line))
            n = sizeof(line) - at - 1;
        memcpy(line + at, parts[i], n);
        at += n;
    }
    raw_write(log_fd, line, at);
}

/* Decides one call: 0 to let it through, or the errno it must fail with.
 * path is what path= patterns are matched against (NULL: none). */
static int decide(int fn, const char *path)
{
    /* Before the constructor (a sanitizer's start-up allocating through
     * us, for instance) the environment may not be readable yet: nothing
     * is counted then. */
    if (!initialised || !has_rule[fn])
        return 0;
    for (int i = 0; i < nrules; i++) {
        struct rule *r = &rules[i];
        if (r->fn != fn)
            continue;
        if (r->arm >= 0 && passed[r->arm] == 0)
            continue;
        if (r->path[0] && (!path || !strstr(path, r->path)))
            continue;
        unsigned long c = ++r->calls;
        int hit = r->after ? c > r->n : c == r->n;
        if (!hit || (r->max && r->fails >= r->max))
            continue;
        r->fails++;
        log_fault(fn, r->err, path);
        return r->err;
    }
    return 0;
}

static void *next_fn(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        complain("cannot find the real function", name);
        _exit(126);
    }
    return p;
}

/* real_NAME: the next definition of NAME, looked up on first use. */
#define REAL(name) \
    static __typeof__(name) *real_##name; \
    if (!real_##name) \
    real_##name = (__typeof__(name) *)next_fn(#name)

/* ---- inotify ------------------------------------------------------------- */

SHIM_API int inotify_init1(int flags)
{
    REAL(inotify_init1);
    int err = decide(FN_INOTIFY_INIT1, NULL);
    if (err) {
        errno = err;
        return -1;
    }
    int fd = real_inotify_init1(flags);
    passed[FN_INOTIFY_INIT1]++;
    return fd;
}

SHIM_API int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
    REAL(inotify_add_watch);
    char buf[PATH_MAX];
    const char *p = path;
    if (rule_wants_path[FN_INOTIFY_ADD_WATCH] && path && strncmp(path, "/proc/", 6) == 0) {
        ssize_t n = readlink(path, buf, sizeof(buf) - 1);
        if (n >= 0) {
            buf[n] = '\0';
            p = buf;
        }
    }
    int err = decide(FN_INOTIFY_ADD_WATCH, p);
    if (err) {
        errno = err;
        return -1;
    }
    passed[FN_INOTIFY_ADD_WATCH]++;
    return real_inotify_add_watch(fd, path, mask);
}

/* ---- read and write ------------------------------------------------------ */

SHIM_API ssize_t read(int fd, void *buf, size_t count)
{
    REAL(read);
    if (has_rule[FN_READ] && is_inotify_fd(fd)) {
        int err = decide(FN_READ, "anon_inode:inotify");
        if (err) {
            errno = err;
            return -1;
        }
        passed[FN_READ]++;
    }
    return real_read(fd, buf, count);
}

SHIM_API ssize_t write(int fd, const void *buf, size_t count)
{
    REAL(write);
    if (fd != STDOUT_FILENO)
        return real_write(fd, buf, count);
    int err = decide(FN_WRITE, NULL);
    if (err) {
        errno = err;
        return -1;
    }
    ssize_t n = real_write(fd, buf, count);
    passed[FN_WRITE]++;
    return n;
}

/* ---- opening ------------------------------------------------------------- */

static int wants_mode(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* The full path of dirfd + path, for matching, when a rule wants it. */
static const char *at_path(int fn, int dirfd, const char *path, char *buf, size_t size)
{
    if (!rule_wants_path[fn] || !path)
        return path;
    if (path[0] == '/' || dirfd == AT_FDCWD)
        return path;
    if (fd_path(dirfd, buf, size) < 0)
        return path;
    size_t at = strlen(buf), n = strlen(path);
    if (at + 1 + n >= size)
        return path;
    buf[at++] = '/';
    memcpy(buf + at, path, n + 1);
    return buf;
}

static int do_openat(int fn, const char *real_name, int dirfd, const char *path, int flags,
                     mode_t mode)
{
    char buf[PATH_MAX];
    int err = decide(fn, at_path(fn, dirfd, path, buf, sizeof(buf)));
    if (err) {
        errno = err;
        return -1;
    }
    passed[fn]++;
    if (fn == FN_OPEN) {
        static int (*real_open)(const char *, int, ...);
        if (!real_open)
            real_open = (int (*)(const char *, int, ...))next_fn(real_name);
        return real_open(path, flags, mode);
    }
    static int (*real_openat)(int, const char *, int, ...);
    if (!real_openat)
        real_openat = (int (*)(int, const char *, int, ...))next_fn(real_name);
    return real_openat(dirfd, path, flags, mode);
}

SHIM_API int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (wants_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return do_openat(FN_OPEN, "open", AT_FDCWD, path, flags, mode);
}

SHIM_API int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (wants_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return do_openat(FN_OPEN, "open", AT_FDCWD, path, flags, mode);
}

SHIM_API int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (wants_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return do_openat(FN_OPENAT, "openat", dirfd, path, flags, mode);
}

SHIM_API int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (wants_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return do_openat(FN_OPENAT, "openat", dirfd, path, flags, mode);
}

/* ---- listing and stat ---------------------------------------------------- */

SHIM_API ssize_t getdents64(int fd, void *buf, size_t size)
{
    REAL(getdents64);
    char path[PATH_MAX];
    const char *p = NULL;
    if (rule_wants_path[FN_GETDENTS64] && fd_path(fd, path, sizeof(path)) == 0)
        p = path;
    int err = decide(FN_GETDENTS64, p);
    if (err) {
        errno = err;
        return -1;
    }
    passed[FN_GETDENTS64]++;
    return real_getdents64(fd, buf, size);
}

static int stat_fault(int fn, int dirfd, const char *path)
{
    char buf[PATH_MAX];
    return decide(fn, at_path(fn, dirfd, path, buf, sizeof(buf)));
}

SHIM_API int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    REAL(fstatat);
    int err = stat_fault(FN_FSTATAT, dirfd, path);
    if (err) {
        errno = err;
        return -1;
    }
    passed[FN_FSTATAT]++;
    return real_fstatat(dirfd, path, st, flags);
}

SHIM_API int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
    REAL(fstatat64);
    int err = stat_fault(FN_FSTATAT, dirfd, path);
    if (err) {
        errno = err;
        return -1;
    }
    passed[FN_FSTATAT]++;
    return real_fstatat64(dirfd, path, st, flags);
}

SHIM_API int stat(const char *path, struct stat *st)
{
    REAL(stat);
    int err = stat_fault(FN_STAT, AT_FDCWD, path);
    if (err) {
        errno = err;
        return -1;
    }
    passed[FN_STAT]++;
    return real_stat(path, st);
}

SHIM_API int lstat(const char *path, struct stat *st)
{
    REAL(lstat);
    int err = stat_fault(FN_LSTAT, AT_FDCWD, path);
    if (err) {
        errno = err;
        return -1;
    }
    passed[FN_LSTAT]++;
    return real_lstat(path, st);
}

SHIM_API int fstat(int fd, struct stat *st)
{
    REAL(fstat);
    char path[PATH_MAX];
    const char *p = NULL;
    if (rule_wants_path[FN_FSTAT] && fd_path(fd, path, sizeof(path)) == 0)
        p = path;
    int err = decide(FN_FSTAT, p);
    if (err) {
        errno = err;
        return -1;
    }
    passed[FN_FSTAT]++;
    return real_fstat(fd, st);
}

/* ---- memory -------------------------------------------------------------- */

/* The real allocator is the next one in line: glibc's, or a sanitizer's.
 * dlsym() may itself allocate while it looks it up; those few requests are
 * served from a small static arena that free() recognises and ignores. */
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int resolving;
static _Alignas(16) char boot[4096];
static size_t boot_used;

static void *boot_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof(boot) - boot_used)
        return NULL;
    void *p = boot + boot_used;
    boot_used += n;
    return p; /* static storage: already zero */
}

static int in_boot(const void *p)
{
    return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

static int resolve_alloc(void)
{
    if (real_free)
        return 1;
    if (resolving)
        return 0;
    resolving = 1;
    real_malloc = (void *(*)(size_t))next_fn("malloc");
    real_calloc = (void *(*)(size_t, size_t))next_fn("calloc");
    real_realloc = (void *(*)(void *, size_t))next_fn("realloc");
    real_free = (void (*)(void *))next_fn("free");
    resolving = 0;
    return 1;
}

static int alloc_fault(int fn)
{
    int err = decide(FN_ALLOC, NULL);
    if (!err)
        err = decide(fn, NULL);
    if (err) {
        errno = err;
        return 1;
    }
    passed[fn]++;
    passed[FN_ALLOC]++;
    return 0;
}

SHIM_API void *malloc(size_t n)
{
    if (!resolve_alloc())
        return boot_alloc(n);
    return alloc_fault(FN_MALLOC) ? NULL : real_malloc(n);
}

SHIM_API void *calloc(size_t n, size_t size)
{
    if (!resolve_alloc())
        return size && n > SIZE_MAX / size ? NULL : boot_alloc(n * size);
    return alloc_fault(FN_CALLOC) ? NULL : real_calloc(n, size);
}

SHIM_API void *realloc(void *p, size_t n)
{
    if (!resolve_alloc())
        return p ? NULL : boot_alloc(n);
    if (in_boot(p)) { /* rare: grow out of the arena into the real heap */
        void *q = malloc(n);
        if (q)
            memcpy(q, p, n < (size_t)(boot + sizeof(boot) - (char *)p) ? n
                                                                      : (size_t)(boot + sizeof(boot) - (char *)p));
        return q;
    }
    if (n > 0 && alloc_fault(FN_REALLOC))
        return NULL;
    return real_realloc(p, n);
}

SHIM_API void free(void *p)
{
    if (!p || in_boot(p))
        return;
    if (!resolve_alloc())
        return; /* cannot happen: nothing was allocated outside the arena */
    real_free(p);
}
