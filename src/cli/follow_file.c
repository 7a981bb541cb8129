/* follow_file.c: which file a FILE name leads to, and the watches that say
 * when that changes.
 *
 * Each FILE has up to three watches on one inotify instance: its open file
 * (appends, and IN_ATTRIB / IN_MOVE_SELF / IN_DELETE_SELF that may mean it
 * left the name), its directory (the name being created, renamed onto,
 * renamed away or deleted; the directory itself moving), and, while the
 * directory does not exist, the nearest ancestor that does (so that the
 * directory's creation is seen). inotify gives one wd per inode per
 * instance, so FILEs in one directory share its wd, and a wd is removed
 * only when no FILE uses it any more. Every directory watch uses the same
 * mask, because adding a watch again replaces the mask. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "commands.h"
#include "follow_state.h"

#define DIR_MASK                                                                               \
    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |   \
     IN_ONLYDIR)
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)

/* Errors after which following cannot go on as promised. */
int iw_follow_fatal(int err)
{
    int e = err < 0 ? -err : err;
    return e == ENOSPC || e == ENOMEM || e == EMFILE || e == ENFILE;
}

int iw_follow_init_file(struct follow_file *f, const char *name)
{
    memset(f, 0, sizeof(*f));
    f->name = name;
    f->fd = f->file_wd = f->dir_wd = f->anc_wd = -1;
    const char *slash = strrchr(name, '/');
    f->base = slash ? slash + 1 : name;
    if (!*f->base)
        return -EISDIR;
    size_t n = slash ? (size_t)(slash - name) : 0;
    while (n > 1 && name[n - 1] == '/')
        n--; /* "a//b": the directory is "a" */
    if (slash && n == 0)
        n = 1; /* "/b": the directory is "/" */
    f->dir = slash ? strndup(name, n) : strdup(".");
    return f->dir ? 0 : -ENOMEM;
}

static int wd_used(const struct follow *fw, int wd)
{
    for (int i = 0; i < fw->nfiles; i++) {
        const struct follow_file *g = &fw->files[i];
        if (g->file_wd == wd || g->dir_wd == wd || g->anc_wd == wd)
            return 1;
    }
    return 0;
}

/* Forgets *wdp, and removes the watch when no FILE uses it any more. */
static void release_wd(struct follow *fw, int *wdp)
{
    int wd = *wdp;
    *wdp = -1;
    if (wd >= 0 && !wd_used(fw, wd))
        inotify_rm_watch(fw->ifd, wd);
}

static void release_anc(struct follow *fw, struct follow_file *f)
{
    release_wd(fw, &f->anc_wd);
    free(f->anc_next);
    f->anc_next = NULL;
}

void iw_follow_free_file(struct follow *fw, struct follow_file *f)
{
    release_wd(fw, &f->file_wd);
    release_wd(fw, &f->dir_wd);
    release_anc(fw, f);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->dir);
    f->dir = NULL;
}

/* Cuts path to its parent in place ("a/b" -> "a", "/a" -> "/", "a" -> ".")
 * and returns the component that was cut off (malloc'd), or NULL when path
 * has no parent to try ("/", ".") or memory ran out. */
static char *cut_parent(char *path)
{
    if (strcmp(path, "/") == 0 || strcmp(path, ".") == 0)
        return NULL;
    char *slash = strrchr(path, '/');
    char *child = strdup(slash ? slash + 1 : path);
    if (!slash) {
        strcpy(path, ".");
    } else {
        while (slash > path && slash[-1] == '/')
            slash--;
        slash[slash == path] = '\0';
    }
    return child;
}

/* Watches the nearest existing ancestor of f->dir. Returns 1 when, by
 * then, the component below it exists as a directory (created meanwhile:
 * the caller must try again), 0 when waiting, or -errno. */
static int watch_ancestor(struct follow *fw, struct follow_file *f)
{
    char *p = malloc(strlen(f->dir) + 2);
    if (!p)
        return -ENOMEM;
    strcpy(p, f->dir);
    for (;;) {
        char *child = cut_parent(p);
        if (!child) {
            free(p);
            return -ENOENT; /* not even "/" or "." could be watched */
        }
        int wd = inotify_add_watch(fw->ifd, p, DIR_MASK);
        if (wd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
            free(child);
            continue;
        }
        if (wd < 0) {
            int e = errno;
            free(child);
            free(p);
            return -e;
        }
        f->anc_wd = wd;
        f->anc_next = child;
        /* A directory created before the watch landed fired no event
         * here: look once. */
        struct stat st;
        int dirfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int raced = dirfd >= 0 && fstatat(dirfd, child, &st, 0) == 0 && S_ISDIR(st.st_mode);
        if (dirfd >= 0)
            close(dirfd);
        free(p);
        return raced;
    }
}

/* Puts the watch on f's directory, or, while it does not exist, on the
 * nearest ancestor that does. Returns 0 or -errno. */
int iw_follow_watch_dir(struct follow *fw, struct follow_file *f)
{
    f->resolve = 0;
    f->check = 1;
    /* The old directory may have moved away: watch whatever the path
     * names now (the same wd comes back if it is the same inode). */
    release_wd(fw, &f->dir_wd);
    for (int tries = 0; tries < 100; tries++) {
        release_anc(fw, f);
        int wd = inotify_add_watch(fw->ifd, f->dir, DIR_MASK);
        if (wd >= 0) {
            f->dir_wd = wd;
            return 0;
        }
        if (errno != ENOENT && errno != ENOTDIR)
            return -errno;
        int r = watch_ancestor(fw, f);
        if (r <= 0)
            return r;
    }
    return 0; /* a path that keeps changing under us: wait for events */
}

/* Starts reading fd, the file the name now leads to. The start offset is
 * computed before the file's watch lands and the file is read after it, so
 * every append is either counted, read, or reported. */
static int install(struct follow *fw, struct follow_file *f, int fd, const struct stat *st,
                   const struct follow_start *how)
{
    off_t start = how ? iw_follow_start_offset(fd, st, how) : 0;
    if (start > 0 && lseek(fd, start, SEEK_SET) < 0)
        start = 0;
    /* The watch goes on the inode that was opened, through /proc, so a
     * name swapped meanwhile cannot mislead it. */
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int wd = inotify_add_watch(fw->ifd, proc, FILE_MASK);
    if (wd < 0 && errno == ENOENT)
        wd = inotify_add_watch(fw->ifd, f->name, FILE_MASK); /* no /proc */
    if (wd < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    f->fd = fd;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->off = start;
    f->file_wd = wd;
    f->gone = 0;
    f->readable = 1;
    return 0;
}

static void drain_old(struct follow *fw, struct follow_file *f);

/* A file that no name leads to any more is drained and closed. Kept open,
 * it would pin its directory's dentry, and a directory removed after it
 * (rm -rf) would then send no IN_DELETE_SELF until it is closed: the
 * follower would never learn that it has to watch a new directory. */
static void close_unlinked(struct follow *fw, struct follow_file *f)
{
    struct stat st;
    if (fstat(f->fd, &st) == 0 && st.st_nlink == 0) {
        drain_old(fw, f);
        f->gone = 0;
        f->announced = 1; /* so that its return is said */
    }
}

/* The name leads nowhere (err is errno from open). The old file, if any,
 * stays open: a writer may still append to it until it reopens the name,
 * and those lines are printed until a new file takes the name. */
static int name_missing(struct follow *fw, struct follow_file *f, int err, int at_start)
{
    if (err != ENOENT && err != ENOTDIR) {
        if (at_start)
            return -err; /* the caller says it, and exits */
        iw_follow_say(fw, "%s: %s", f->name, strerror(err));
        return 0;
    }
    if (f->fd >= 0 && !f->gone) {
        iw_follow_say(fw, "%s: %s; waiting for it to come back", f->name,
                      f->gone_how ? f->gone_how : "deleted");
        f->gone = 1;
        close_unlinked(fw, f);
    } else if (f->fd < 0 && !f->announced) {
        iw_follow_say(fw, "%s: does not exist yet; waiting for it", f->name);
        f->announced = 1;
    }
    return 0;
}

/* The old file is drained to its end before the new one is read: lines
 * written to it before the switch are never lost. What it still holds
 * beyond its size now (a writer racing us) gets one more buffer's worth. */
static void drain_old(struct follow *fw, struct follow_file *f)
{
    struct stat st;
    unsigned long long limit = FOLLOW_OUT_CAP;
    if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > f->off)
        limit += (unsigned long long)(st.st_size - f->off);
    int r = iw_follow_pump(fw, f, limit, 0);
    if (r < 0)
        iw_follow_say(fw, "%s: reading the old file: %s", f->name, strerror(-r));
    close(f->fd);
    f->fd = -1;
    release_wd(fw, &f->file_wd);
}

/* Says which file the name leads to now, and switches to it when it is
 * another one. how is the start position for a file there at start, NULL
 * later (a new file is printed from its start). Returns 0 or -errno:
 * fatal ones always, others only at start. */
int iw_follow_check_name(struct follow *fw, struct follow_file *f, const struct follow_start *how)
{
    f->check = 0;
    if (f->dir_wd < 0)
        return name_missing(fw, f, ENOENT, how != NULL);
    int fd = open(f->name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return iw_follow_fatal(errno) ? -errno : name_missing(fw, f, errno, how != NULL);
    struct stat st;
    int e = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e) {
        close(fd);
        return name_missing(fw, f, e, how != NULL);
    }
    if (f->fd >= 0 && st.st_dev == f->dev && st.st_ino == f->ino) {
        close(fd);
        if (f->gone)
            iw_follow_say(fw, "%s: is back; following it again", f->name);
        f->gone = 0;
        return 0;
    }
    if (f->fd >= 0) {
        drain_old(fw, f);
        iw_follow_say(fw, "%s: replaced; following the new file", f->name);
    } else if (f->announced) {
        iw_follow_say(fw, "%s: appeared; following it", f->name);
    }
    f->gone_how = NULL;
    int r = install(fw, f, fd, &st, how);
    if (r < 0 && !iw_follow_fatal(r) && !how) {
        iw_follow_say(fw, "%s: %s", f->name, strerror(-r));
        return 0;
    }
    return r;
}
