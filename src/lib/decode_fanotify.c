/* decode_fanotify.c: fanotify's event records, turned into the model's rules.
 *
 * Each event carries up to three records: the directory's handle with the
 * entry's name (DFID_NAME; for an event on a directory itself, its own
 * handle and "."), the object's own handle (FID), and for a rename the old
 * and the new directory with their names (OLD_/NEW_DFID_NAME). A handle the
 * backend registered gives the directory; any other (the rest of the
 * filesystem, excluded or not yet read directories) means the event is not
 * ours, exactly as an event for an unknown inotify wd.
 *
 * Two things differ from inotify and are handled here:
 *  - Renames come whole (FAN_RENAME): no pairing, no waiting.
 *  - The kernel merges an event into an earlier queued one about the same
 *    directory, name and object from the same process, even with other
 *    events queued in between: a delete can come back OR'ed into the create
 *    (or modify) of the same file, ahead of renames it followed, and a
 *    rename repeated while the first is queued vanishes into it. Bits are
 *    applied in the order they must have come (create, modify, attrib,
 *    delete; a file's create and delete either way, see relinked()), and
 *    the names of every rename, and of every delete that came merged
 *    with anything else, are settled against the disk at the end of the
 *    read, so the model never keeps what the reordering made it believe. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct fan_record {
    const unsigned char *fsid; /* NULL: the event has no such record */
    const unsigned char *fh;   /* a struct file_handle, 4-byte aligned */
    const char *name;
    size_t name_len;
};

struct fan_event {
    uint64_t mask;
    struct fan_record dir, old, new, obj;
};

#define IW_FSID_LEN 8

/* Reads one info record at p (len bytes, already checked to fit). Returns
 * 0, or -1 when the record is malformed (never from the kernel). */
static int parse_record(const unsigned char *p, size_t len, int with_name, struct fan_record *r)
{
    struct file_handle fh;
    size_t head = sizeof(struct fanotify_event_info_header) + IW_FSID_LEN;
    if (len < head + sizeof(fh))
        return -1;
    memcpy(&fh, p + head, sizeof(fh));
    size_t end = head + sizeof(fh) + fh.handle_bytes;
    if (fh.handle_bytes > MAX_HANDLE_SZ || end > len)
        return -1;
    r->fsid = p + sizeof(struct fanotify_event_info_header);
    r->fh = p + head;
    r->name = NULL;
    r->name_len = 0;
    if (with_name) {
        if (end >= len)
            return -1;
        r->name = (const char *)p + end;
        r->name_len = strnlen(r->name, len - end);
        if (r->name_len == len - end) /* not terminated */
            return -1;
    }
    return 0;
}

static int parse_event(const unsigned char *p, size_t event_len, size_t metadata_len,
                       uint64_t mask, struct fan_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->mask = mask;
    for (size_t off = metadata_len; off < event_len;) {
        struct fanotify_event_info_header h;
        if (event_len - off < sizeof(h))
            return -1;
        memcpy(&h, p + off, sizeof(h));
        if (h.len < sizeof(h) || h.len > event_len - off)
            return -1;
        int r = 0;
        switch (h.info_type) {
        case FAN_EVENT_INFO_TYPE_DFID_NAME:
            r = parse_record(p + off, h.len, 1, &ev->dir);
            break;
        case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
            r = parse_record(p + off, h.len, 1, &ev->old);
            break;
        case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
            r = parse_record(p + off, h.len, 1, &ev->new);
            break;
        case FAN_EVENT_INFO_TYPE_FID:
            r = parse_record(p + off, h.len, 0, &ev->obj);
            break;
        default: /* a record type this code does not use */
            break;
        }
        if (r < 0)
            return -1;
        off += h.len;
    }
    return 0;
}

static struct iw_dir *dir_of(inowatch *w, const struct fan_record *r)
{
    if (!r->fsid)
        return NULL;
    int wd = iw_fanotify_wd(w, r->fsid, r->fh);
    return wd < 0 ? NULL : iw_wd_find(&w->wds, wd);
}

/* A name the kernel never puts in an entry event: a corrupt buffer must not
 * make the model leave its directory. */
static int bad_name(const char *name, size_t len)
{
    return len == 0 || memchr(name, '/', len) ||
           (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')));
}

static int note_settle(inowatch *w, const struct iw_dir *d, const char *name, size_t len)
{
    if (!d)
        return 0;
    size_t need = w->settle_len + sizeof(int) + 1 + len;
    int r = iw_grow(&w->settle, &w->settle_cap, need, 1);
    if (r < 0)
        return r;
    char *p = w->settle + w->settle_len;
    memcpy(p, &d->wd, sizeof(int));
    p[sizeof(int)] = (char)(uint8_t)len;
    memcpy(p + sizeof(int) + 1, name, len);
    w->settle_len = need;
    return 0;
}

/* An event about a directory itself: its own handle and ".". */
static int dir_self_event(inowatch *w, struct iw_dir *d, uint64_t mask)
{
    if (mask & (FAN_DELETE_SELF | FAN_MOVE_SELF))
        /* Below a root, the parent's entry event tells the same. */
        return d->node.parent ? 0 : iw_rule_root_gone(w, d);
    /* inotify tells a subdirectory's attrib through its parent; fanotify
     * through the directory's own handle: the same event here. */
    return (mask & FAN_ATTRIB) ? iw_emit(w, INOWATCH_ATTRIB, &d->node, 0) : 0;
}

/* A directory created in the tree: its create event carries its handle,
 * and every event inside it comes later in the queue. Known by that handle
 * at once, it needs no scan: nothing in it can have been missed, and
 * nothing will be reported twice. (A directory moved in from outside is
 * still scanned: what it holds came before.) */
static int adopt_new_dir(inowatch *w, struct iw_dir *d, const char *name, size_t len,
                         const struct fan_record *obj)
{
    struct iw_node *c = iw_child_find(d, name, len);
    struct iw_dir *cd = c ? iw_as_dir(c) : NULL;
    if (!cd || c->type != INOWATCH_TYPE_DIR || cd->wd >= 0 || !(c->flags & IW_NODE_PENDING))
        return 0;
    /* The inode number too: the rules tell a stale entry from a live one
     * by it (a rename whose target a scan found with the source's inode). */
    uint64_t ino;
    if (iw_fanotify_ino(w, obj->fsid, obj->fh, &ino) < 0)
        return 0; /* gone already, or unknowable: scanned then, as usual */
    c->ino = ino;
    int wd = iw_fanotify_adopt(w, obj->fsid, obj->fh);
    if (wd < 0)
        return wd == -ENOMEM ? wd : 0; /* scanned then, as usual */
    int r = iw_wd_bind(w, cd, wd);
    if (r == 0)
        iw_list_drop(&w->pending, c);
    return r;
}

/* A create and a delete of one file under one name, from one process, come
 * as one event in either order: created then deleted (a temporary file), or
 * deleted then created again, when the name was linked back to the same file
 * (link(2) from another of its names). A directory has one name: always the
 * first. For a file, the model tells which: a name it still has was there
 * before the delete. */
static int relinked(const struct iw_dir *d, const char *name, size_t len, uint64_t mask)
{
    if ((mask & (FAN_CREATE | FAN_DELETE | FAN_ONDIR)) != (FAN_CREATE | FAN_DELETE))
        return 0;
    return iw_child_find(d, name, len) || iw_unlisted_has(d, name, len);
}

/* The create of a name deleted first, in the same event: told only if the
 * name is there now. A later delete merged into the event too (the disk
 * has nothing) leaves nothing to report, and the settling has the last
 * word either way. */
static int create_again(inowatch *w, struct iw_dir *d, const char *name, size_t len)
{
    struct stat st;
    if (!d || (d->node.flags & IW_NODE_DOOMED) || iw_lstat_child(w, d, name, len, &st) < 0)
        return 0;
    return iw_rule_create(w, d, name, len, 0);
}

/* A directory's delete carries the directory's own handle: that directory
 * goes, wherever the model has it, for the name may be stale (read late,
 * the model may have met another directory under it already, whose watch
 * must stay). One not known by its handle (not read yet) goes by its name,
 * unless a directory known by another handle has that name now. */
static int delete_dir(inowatch *w, struct iw_dir *d, const char *name, size_t len,
                      const struct fan_record *obj)
{
    struct iw_dir *gone = dir_of(w, obj);
    if (gone && gone->node.type == INOWATCH_TYPE_DIR)
        return iw_rule_delete_dir(w, gone);
    struct iw_node *c = iw_child_find(d, name, len);
    struct iw_dir *cd = c ? iw_as_dir(c) : NULL;
    if (cd && c->type == INOWATCH_TYPE_DIR && cd->wd >= 0)
        return 0;
    return iw_rule_delete(w, d, name, len, 1);
}

static int entry_event(inowatch *w, struct iw_dir *d, const char *name, size_t len, uint64_t mask,
                       const struct fan_record *obj)
{
    int isdir = (mask & FAN_ONDIR) != 0;
    int again = relinked(d, name, len, mask);
    int r = 0;
    if ((mask & FAN_CREATE) && !again)
        r = iw_rule_create(w, d, name, len, isdir);
    if (r == 0 && (mask & FAN_CREATE) && isdir && obj->fsid && !w->no_recursive)
        r = adopt_new_dir(w, d, name, len, obj);
    if (r == 0 && (mask & FAN_MODIFY))
        r = iw_rule_change(w, d, name, len, 1, isdir);
    if (r == 0 && (mask & FAN_ATTRIB))
        r = iw_rule_change(w, d, name, len, 0, isdir);
    if (r == 0 && (mask & FAN_DELETE)) {
        /* Checked later than the other bits even when it came first:
         * settle() decides what is there. */
        int wd = d->wd;
        r = isdir ? delete_dir(w, d, name, len, obj) : iw_rule_delete(w, d, name, len, 0);
        d = iw_wd_find(&w->wds, wd);
        if (r == 0 && again)
            r = create_again(w, d, name, len);
        if (r == 0 && (mask & (FAN_CREATE | FAN_MODIFY | FAN_ATTRIB)))
            r = note_settle(w, d, name, len);
    }
    return r;
}

/* A rename, whole. Identical renames still queued are merged by the kernel
 * too (a file moved a -> b, b -> a, a -> b comes as a -> b, b -> a): both
 * names are settled against the disk at the end of the read. */
static int rename_event(inowatch *w, const struct fan_event *ev)
{
    if ((ev->old.fsid && bad_name(ev->old.name, ev->old.name_len)) ||
        (ev->new.fsid && bad_name(ev->new.name, ev->new.name_len)))
        return 0;
    struct iw_dir *from = dir_of(w, &ev->old), *to = dir_of(w, &ev->new);
    int from_wd = from ? from->wd : -1, to_wd = to ? to->wd : -1;
    int r = iw_rule_move(w, from, ev->old.name, ev->old.name_len, to, ev->new.name,
                         ev->new.name_len, (ev->mask & FAN_ONDIR) != 0);
    /* The move may have freed or moved nodes: the directories are looked
     * up again by number. */
    if (r == 0 && from_wd >= 0)
        r = note_settle(w, iw_wd_find(&w->wds, from_wd), ev->old.name, ev->old.name_len);
    if (r == 0 && to_wd >= 0)
        r = note_settle(w, iw_wd_find(&w->wds, to_wd), ev->new.name, ev->new.name_len);
    return r;
}

static int apply_event(inowatch *w, const struct fan_event *ev)
{
    uint64_t mask = ev->mask;
    if (mask & FAN_Q_OVERFLOW)
        return iw_rule_overflow(w);
    int r = 0;
    /* A single-file root is known by its own handle: any event about the
     * object (modified, attributes, renamed, deleted, replaced) makes its
     * rule look at the path again. The directory's rules still follow. */
    struct iw_dir *obj =
        (mask & FAN_ONDIR) || !iw_fanotify_has_file_roots(w) ? NULL : dir_of(w, &ev->obj);
    if (obj && obj->node.type != INOWATCH_TYPE_DIR) {
        /* Unlike inotify, fanotify merges a modify and an attrib of the
         * file into one event: both bits are reported. */
        r = iw_rule_file_root(w, obj, (mask & FAN_MODIFY) != 0, (mask & FAN_ATTRIB) != 0,
                              (mask & ~(uint64_t)FAN_MODIFY) == 0);
        if (r < 0)
            return r;
    }
    if (mask & FAN_RENAME)
        return rename_event(w, ev);
    struct iw_dir *d = dir_of(w, &ev->dir);
    if (!d || d->node.type != INOWATCH_TYPE_DIR)
        return r;
    if (ev->dir.name_len == 1 && ev->dir.name[0] == '.')
        return dir_self_event(w, d, mask);
    if (bad_name(ev->dir.name, ev->dir.name_len))
        return r;
    return entry_event(w, d, ev->dir.name, ev->dir.name_len, mask, &ev->obj);
}

/* Opens d for settling names in it, only if its path still leads to it
 * (the same file handle): a path made stale by a rename not read yet says
 * nothing about d. */
static int open_current(inowatch *w, struct iw_dir *d)
{
    int fd = iw_open_dir(w, d, O_PATH);
    if (fd >= 0 && !iw_fanotify_is(w, fd, d->wd)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Settles the names noted during the read (note_settle). */
static int settle_noted(inowatch *w)
{
    int fd = -1, fd_wd = -1, r = 0;
    for (size_t off = 0; off < w->settle_len && r >= 0;) {
        int wd;
        memcpy(&wd, w->settle + off, sizeof(int));
        size_t len = (uint8_t)w->settle[off + sizeof(int)];
        const char *name = w->settle + off + sizeof(int) + 1;
        off += sizeof(int) + 1 + len;
        struct iw_dir *d = iw_wd_find(&w->wds, wd);
        if (!d)
            continue; /* gone meanwhile, with what it held */
        if (wd != fd_wd) {
            if (fd >= 0)
                close(fd);
            fd = open_current(w, d);
            fd_wd = wd;
        }
        if (fd < 0)
            continue;
        char nm[256];
        memcpy(nm, name, len);
        nm[len] = '\0';
        struct stat st;
        if (fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0)
            r = iw_rule_settle(w, d, nm, len, &st);
        else if (errno == ENOENT)
            r = iw_rule_settle(w, d, nm, len, NULL);
    }
    if (fd >= 0)
        close(fd);
    w->settle_len = 0;
    return r < 0 ? r : 0;
}

/* Settling asks the disk, which may be ahead of the queue: a name settled
 * while events about it are still queued is "corrected" to a state those
 * events then describe again (a rename chain a -> t, b -> a, t -> b read in
 * two parts would come out as delete t ... create b). So names wait for a
 * read that emptied the queue, when the model has caught up with every
 * change the kernel had told; under a queue that never empties, until this
 * many bytes of names are waiting. */
#define IW_SETTLE_MAX (64u * 1024)

static int settle_when_quiet(inowatch *w)
{
    if (w->read_drained)
        w->scan_window = 0; /* the initial scan's events are all applied */
    /* Whether the last read emptied the queue: asking with FIONREAD would
     * walk the whole queue (see iw_backend_coalesce). */
    if (!w->settle_len || (w->settle_len < IW_SETTLE_MAX && !w->read_drained))
        return 0;
    return settle_noted(w);
}

/* The metadata of the event at p (avail bytes left) into md: 0, or -1 when
 * it is not a whole, well-formed event (never from the kernel). */
static int event_head(const unsigned char *p, size_t avail, struct fanotify_event_metadata *md)
{
    if (avail < sizeof(*md))
        return -1;
    memcpy(md, p, sizeof(*md)); /* events are only 4-byte aligned */
    int whole = md->vers == FANOTIFY_METADATA_VERSION && md->event_len >= sizeof(*md) &&
                md->event_len <= avail && md->metadata_len >= sizeof(*md) &&
                md->metadata_len <= md->event_len;
    return whole ? 0 : -1;
}

/* Marks the directories whose deletion is in the buffer: a directory's
 * delete event carries its own handle (FAN_REPORT_TARGET_FID). The deletes
 * inside them are then told by theirs (iw_rule_delete). Only those events'
 * records are parsed here. Notes too whether a directory moves in it. */
static void mark_doomed(inowatch *w)
{
    struct fanotify_event_metadata md;
    w->dir_moves_ahead = 0;
    for (size_t off = w->rd_start; off < w->rd_end; off += md.event_len) {
        const unsigned char *p = (const unsigned char *)w->rd + off;
        if (event_head(p, w->rd_end - off, &md) < 0)
            return;
        if ((md.mask & FAN_ONDIR) && (md.mask & (FAN_RENAME | FAN_MOVE_SELF | FAN_MOVED_FROM |
                                                 FAN_MOVED_TO)))
            w->dir_moves_ahead = 1; /* see inowatch.dir_moves_ahead */
        if ((md.mask & (FAN_DELETE | FAN_ONDIR | FAN_CREATE)) != (FAN_DELETE | FAN_ONDIR))
            continue;
        struct fan_event ev;
        if (parse_event(p, md.event_len, md.metadata_len, md.mask, &ev) < 0)
            return;
        struct iw_dir *d = dir_of(w, &ev.obj);
        if (d && d->node.type == INOWATCH_TYPE_DIR)
            d->node.flags |= IW_NODE_DOOMED;
    }
}

/* Applies every whole event in rd[rd_start, rd_end), then settles the
 * names left in doubt once the queue is empty. Returns 0 or a fatal
 * negative errno. */
int iw_fanotify_apply_buffer(inowatch *w)
{
    mark_doomed(w);
    while (w->rd_start < w->rd_end) {
        const unsigned char *p = (const unsigned char *)w->rd + w->rd_start;
        struct fanotify_event_metadata md;
        struct fan_event ev;
        if (event_head(p, w->rd_end - w->rd_start, &md) < 0)
            goto corrupt;
        if (md.fd >= 0) /* never with handles reported; closed all the same */
            close(md.fd);
        if (parse_event(p, md.event_len, md.metadata_len, md.mask, &ev) < 0)
            goto corrupt;
        /* Nothing below reads more, so the buffer stays where it is. */
        w->rd_start += md.event_len;
        int r = apply_event(w, &ev);
        if (r < 0)
            return r;
    }
    w->rd_start = w->rd_end = 0;
    return settle_when_quiet(w);
corrupt:
    w->rd_start = w->rd_end = 0; /* never from the kernel: nothing after it is trusted */
    return settle_when_quiet(w);
}
