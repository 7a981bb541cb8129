/* test_decode.c: inotify records, crafted byte for byte, through the
 * decoder into a model (no kernel behind it). An event's name is found in
 * its NUL-padded field whatever its length and padding, a name that fills
 * its field without a NUL is whole, and a name holding '/', or "." and
 * "..", never reaches the model (the kernel sends none; a corrupt buffer
 * must not move the model out of its directory). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

#define ROOT_WD 1

static inowatch *watcher_with_files(const char *const *names, size_t n, const char *root_path)
{
    inowatch *w = calloc(1, sizeof(*w));
    w->fd = -1; /* no kernel: unwatch becomes a no-op */
    w->batch.id = 1;
    w->pending.flag = IW_NODE_PENDING;
    w->verify.flag = IW_NODE_VERIFY;
    w->stale.flag = IW_NODE_STALE;
    w->events_wanted = INOWATCH_MODIFY;
    int err = 0;
    struct iw_dir *root =
        (struct iw_dir *)iw_child_new(w, NULL, root_path, strlen(root_path), INOWATCH_TYPE_DIR, 1, &err);
    iw_wd_bind(w, root, ROOT_WD);
    for (size_t i = 0; i < n; i++)
        iw_child_new(w, root, names[i], strlen(names[i]), INOWATCH_TYPE_FILE, 10 + i, &err);
    w->rd_cap = 64 * 1024;
    w->rd = aligned_alloc(16, w->rd_cap);
    return w;
}

/* Appends a record for `name` (len bytes of it) with a name field of
 * `field` bytes: the name, then NULs. */
static void put_event(inowatch *w, uint32_t mask, const char *name, size_t len, size_t field)
{
    struct inotify_event e = {.wd = ROOT_WD, .mask = mask, .len = (uint32_t)field};
    memcpy(w->rd + w->rd_end, &e, sizeof(e));
    char *p = w->rd + w->rd_end + sizeof(e);
    memset(p, 0, field);
    memcpy(p, name, len < field ? len : field);
    w->rd_end += sizeof(e) + field;
}

/* The paths of the batch's events, joined by '|'. */
static void batch_paths(inowatch *w, char *out, size_t size)
{
    size_t at = 0;
    out[0] = '\0';
    const struct inowatch_event *ev;
    while (inowatch_next(w, &ev) > 0 && at + ev->path_len + 2 < size) {
        if (at)
            out[at++] = '|';
        memcpy(out + at, ev->path, ev->path_len);
        at += ev->path_len;
        out[at] = '\0';
    }
}

/* The root was made by hand, not added: it goes first, the rest with
 * the watcher. */
static void free_watcher(inowatch *w)
{
    iw_remove_subtree(w, &iw_wd_find(&w->wds, ROOT_WD)->node);
    inowatch_free(w);
}

/* Every name length from 1 to 40, each in the field the kernel would give
 * it (the next multiple of 16 with room for a NUL) and in a field of only
 * a multiple of 4: each event names exactly its file. */
static void test_name_lengths(struct iw_check *t)
{
    enum { N = 40 };
    char names[N][N + 1];
    const char *ptrs[N];
    for (int i = 0; i < N; i++) {
        memset(names[i], 'a' + i % 26, (size_t)i + 1);
        names[i][i + 1] = '\0';
        ptrs[i] = names[i];
    }
    inowatch *w = watcher_with_files(ptrs, N, "r");
    for (int pass = 0; pass < 2; pass++) {
        iw_batch_reset(&w->batch);
        for (int i = 0; i < N; i++) {
            size_t len = (size_t)i + 1;
            size_t field = pass == 0 ? (len + 16) & ~(size_t)15 : (len + 4) & ~(size_t)3;
            put_event(w, IN_MODIFY, names[i], len, field);
        }
        CHECK_EQ(iw_inotify_apply_buffer(w), 0);
        int right = 0;
        const struct inowatch_event *ev;
        for (int i = 0; inowatch_next(w, &ev) > 0; i++) {
            char want[64] = "r/";
            strcat(want, names[i]);
            right += ev->kind == INOWATCH_MODIFY && ev->path_len == strlen(want) &&
                     memcmp(ev->path, want, ev->path_len) == 0;
        }
        CHECK_EQ(right, N);
    }
    free_watcher(w);
}

/* A name whose field holds no NUL at all is the whole field. */
static void test_name_fills_field(struct iw_check *t)
{
    const char *names[] = {"abcdefgh", "abcd", "abcdefghijkl"};
    inowatch *w = watcher_with_files(names, 3, "r");
    put_event(w, IN_MODIFY, "abcdefgh", 8, 8);
    put_event(w, IN_MODIFY, "abcd", 4, 4);
    put_event(w, IN_MODIFY, "abcdefghijkl", 12, 12);
    CHECK_EQ(iw_inotify_apply_buffer(w), 0);
    char got[256];
    batch_paths(w, got, sizeof(got));
    const char *want = "r/abcdefgh|r/abcd|r/abcdefghijkl";
    CHECK_MEM(got, strlen(got), want, strlen(want));
    free_watcher(w);
}

/* A '/' anywhere in a name, at any place in its words, and "." or "..":
 * nothing is applied. The names lead somewhere real (a file in a
 * subdirectory, the directory itself, its parent), so a create would make
 * a node of each, were they let through. A '/' after the name's NUL is
 * padding, not name. */
static void test_names_refused(struct iw_check *t)
{
    char root[] = "/tmp/iw-decode-XXXXXX", path[128];
    CHECK(mkdtemp(root) != NULL);
    const char *dirs[] = {"sub", "abcdefg", "abcdefgh", "abcdefghijkl"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
        mkdir(path, 0700);
        strcat(path, "/x");
        close(open(path, O_CREAT | O_WRONLY, 0600));
    }
    snprintf(path, sizeof(path), "%s/y", root);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    inowatch *w = watcher_with_files(NULL, 0, root);
    w->events_wanted = INOWATCH_CREATE;
    put_event(w, IN_CREATE, "sub/x", 5, 16);
    put_event(w, IN_CREATE, "abcdefg/x", 9, 16);
    put_event(w, IN_CREATE, "abcdefgh/x", 10, 16);
    put_event(w, IN_CREATE, "abcdefghijkl/x", 14, 16);
    put_event(w, IN_CREATE, ".", 1, 16);
    put_event(w, IN_CREATE | IN_ISDIR, "..", 2, 16);
    put_event(w, IN_CREATE, "y\0/x", 4, 16); /* "y", then padding */
    CHECK_EQ(iw_inotify_apply_buffer(w), 0);
    char got[256], want[128];
    batch_paths(w, got, sizeof(got));
    snprintf(want, sizeof(want), "%s/y", root);
    CHECK_MEM(got, strlen(got), want, strlen(want));
    free_watcher(w);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s/x", root, dirs[i]);
        unlink(path);
        snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
        rmdir(path);
    }
    snprintf(path, sizeof(path), "%s/y", root);
    unlink(path);
    rmdir(root);
}

int main(void)
{
    struct iw_check t = {0};
    test_name_lengths(&t);
    test_name_fills_field(&t);
    test_names_refused(&t);
    return iw_check_done(&t, "decode");
}
