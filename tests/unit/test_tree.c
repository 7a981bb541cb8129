/* test_tree.c: the model's data structures, without the kernel: child
 * tables under churn, path building, renames that reallocate a node, the
 * wd map's ownership rule, and memory accounting back to zero; tables
 * reserved ahead of a listing; deleted directories' files buried whole and
 * dug out again. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

static inowatch *fake_watcher(void)
{
    inowatch *w = calloc(1, sizeof(*w));
    w->fd = -1; /* no kernel: unwatch becomes a no-op */
    w->batch.id = 1;
    w->pending.flag = IW_NODE_PENDING;
    w->verify.flag = IW_NODE_VERIFY;
    w->stale.flag = IW_NODE_STALE;
    return w;
}

static struct iw_dir *new_root(inowatch *w, const char *path)
{
    int err = 0;
    return (struct iw_dir *)iw_child_new(w, NULL, path, strlen(path), INOWATCH_TYPE_DIR, 1, &err);
}

static struct iw_node *add(inowatch *w, struct iw_dir *d, const char *name, int type)
{
    int err = 0;
    struct iw_node *n = iw_child_new(w, d, name, strlen(name), type, 0, &err);
    return n;
}

static void path_is(struct iw_check *t, const struct iw_node *n, const char *want)
{
    char buf[256];
    size_t len = iw_path_len(n);
    CHECK_EQ(len, strlen(want));
    if (len < sizeof(buf)) {
        iw_path_write(n, buf, len);
        CHECK_MEM(buf, len, want, strlen(want));
    }
}

static void test_table_churn(struct iw_check *t)
{
    inowatch *w = fake_watcher();
    struct iw_dir *root = new_root(w, "r");
    enum { N = 20000 };
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "entry-%d", i);
        CHECK(add(w, root, name, INOWATCH_TYPE_FILE) != NULL);
    }
    CHECK_EQ(root->count, N);
    /* Remove every third entry in a scrambled order: backward-shift
     * deletion must keep every other entry reachable. */
    int removed = 0;
    for (int k = 0; k < N; k++) {
        int i = (int)(((long long)k * 7919) % N);
        if (i % 3)
            continue;
        snprintf(name, sizeof(name), "entry-%d", i);
        struct iw_node *n = iw_child_find(root, name, strlen(name));
        CHECK(n != NULL);
        if (n) {
            iw_remove_subtree(w, n);
            removed++;
        }
    }
    CHECK_EQ(root->count, N - removed);
    int found = 0, wrong = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "entry-%d", i);
        struct iw_node *n = iw_child_find(root, name, strlen(name));
        if (i % 3 == 0)
            wrong += n != NULL;
        else
            found += n != NULL && n->parent == root;
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(found, N - removed);
    CHECK(iw_child_find(root, "entry-", 6) == NULL);
    iw_remove_subtree(w, &root->node);
    CHECK_EQ(w->stats.model_bytes, 0);
    CHECK_EQ(w->stats.files, 0);
    CHECK_EQ(w->stats.dirs, 0);
    free(w);
}

/* A table reserved for n children at once has the size that inserting them
 * one by one reaches, and inserting them then moves no table (the slots
 * pointer stays): what a fresh listing relies on. */
static void test_reserve(struct iw_check *t)
{
    inowatch *w = fake_watcher();
    struct iw_dir *grown = new_root(w, "grown"), *reserved = new_root(w, "reserved");
    char name[32];
    const int sizes[] = {1, 3, 4, 7, 12, 13, 100, 768, 769, 5000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int n = sizes[s];
        CHECK_EQ(iw_child_reserve(w, reserved, (size_t)n), 0);
        struct iw_node **slots = reserved->slots;
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof(name), "s%zu-%d", s, i);
            CHECK(add(w, grown, name, INOWATCH_TYPE_FILE) != NULL);
            CHECK(add(w, reserved, name, INOWATCH_TYPE_FILE) != NULL);
        }
        CHECK(reserved->slots == slots);
        CHECK_EQ(reserved->cap, grown->cap);
        CHECK_EQ(reserved->count, grown->count);
    }
    CHECK_EQ(iw_child_reserve(w, reserved, 0), 0);
    CHECK(iw_child_find(reserved, "s9-4999", 7) != NULL);
    iw_remove_subtree(w, &grown->node);
    iw_remove_subtree(w, &reserved->node);
    CHECK_EQ(w->stats.model_bytes, 0);
    CHECK_EQ(w->stats.files, 0);
    free(w);
}

static void test_paths(struct iw_check *t)
{
    inowatch *w = fake_watcher();
    struct iw_dir *slash = new_root(w, "/");
    struct iw_dir *etc = (struct iw_dir *)add(w, slash, "etc", INOWATCH_TYPE_DIR);
    struct iw_node *conf = add(w, etc, "a b\nc", INOWATCH_TYPE_FILE);
    path_is(t, &slash->node, "/");
    path_is(t, &etc->node, "/etc");
    path_is(t, conf, "/etc/a b\nc");
    char rel[64];
    size_t rl = iw_relpath_len(conf);
    iw_relpath_write(conf, rel, rl);
    CHECK_MEM(rel, rl, "etc/a b\nc", 9);

    struct iw_dir *dot = new_root(w, ".");
    struct iw_node *x = add(w, dot, "x", INOWATCH_TYPE_FILE);
    path_is(t, x, "./x");
    CHECK(iw_is_ancestor(&slash->node, conf));
    CHECK(!iw_is_ancestor(&dot->node, conf));
    iw_remove_subtree(w, &slash->node);
    iw_remove_subtree(w, &dot->node);
    CHECK_EQ(w->stats.model_bytes, 0);
    CHECK_EQ(w->nodes.held, 0);
    free(w);
}

/* A rename to a longer name reallocates the node: its children, the wd map
 * and the pending list must follow it. */
static void test_rename_longer(struct iw_check *t)
{
    inowatch *w = fake_watcher();
    struct iw_dir *root = new_root(w, "root");
    struct iw_dir *a = (struct iw_dir *)add(w, root, "a", INOWATCH_TYPE_DIR);
    struct iw_dir *other = (struct iw_dir *)add(w, root, "other", INOWATCH_TYPE_DIR);
    struct iw_node *kid = add(w, a, "kid", INOWATCH_TYPE_FILE);
    CHECK_EQ(root->subdirs, 2); /* a and other: what a scan descends into */
    CHECK_EQ(a->subdirs, 0);
    CHECK_EQ(iw_wd_bind(w, a, 7), 0);
    CHECK_EQ(iw_list_add(&w->pending, &a->node), 0);
    int err = 0;
    struct iw_node *moved = iw_rename_node(w, &a->node, other, "a-much-longer-name", 18, &err);
    CHECK(moved != NULL);
    if (!moved) {
        free(w);
        return;
    }
    struct iw_dir *md = iw_as_dir(moved);
    CHECK_EQ(root->subdirs, 1);
    CHECK_EQ(other->subdirs, 1);
    CHECK(kid->parent == md);
    CHECK(iw_wd_find(&w->wds, 7) == md);
    CHECK_EQ(md->wd, 7);
    CHECK_EQ(w->pending.count, 1);
    CHECK(w->pending.items[0] == moved);
    CHECK(iw_child_find(root, "a", 1) == NULL);
    CHECK(iw_child_find(other, "a-much-longer-name", 18) == moved);
    path_is(t, kid, "root/other/a-much-longer-name/kid");
    /* A name one byte shorter fits the node's size class (pool.c): in
     * place. A much shorter one takes a node of its own class. */
    struct iw_node *same = iw_rename_node(w, moved, other, "a-much-longer-nam", 17, &err);
    CHECK(same == moved);
    path_is(t, kid, "root/other/a-much-longer-nam/kid");
    struct iw_node *back = iw_rename_node(w, same, root, "b", 1, &err);
    CHECK(back != NULL);
    if (!back) {
        free(w);
        return;
    }
    CHECK(kid->parent == iw_as_dir(back));
    CHECK_EQ(root->subdirs, 2);
    CHECK_EQ(other->subdirs, 0);
    CHECK(iw_wd_find(&w->wds, 7) == iw_as_dir(back));
    path_is(t, kid, "root/b/kid");
    iw_remove_subtree(w, &root->node);
    CHECK_EQ(w->pending.count, 0);
    CHECK_EQ(w->stats.watches, 0);
    CHECK_EQ(w->stats.model_bytes, 0);
    CHECK_EQ(w->nodes.live, 0); /* every node went back to the pool */
    CHECK_EQ(w->nodes.held, 0); /* and the pool let its blocks go */
    iw_wdmap_free(&w->wds);
    iw_list_free(&w->pending);
    free(w);
}

/* The kernel gives one wd per inode: binding it to a second node moves it,
 * and the first node is left unwatched, listed for the end of the batch's
 * check (iw_rule_drop_stale_copies), until it goes. */
static void test_wd_ownership(struct iw_check *t)
{
    inowatch *w = fake_watcher();
    struct iw_dir *root = new_root(w, "r");
    struct iw_dir *x = (struct iw_dir *)add(w, root, "x", INOWATCH_TYPE_DIR);
    struct iw_dir *y = (struct iw_dir *)add(w, root, "y", INOWATCH_TYPE_DIR);
    for (int wd = 1; wd <= 500; wd++) /* force the map to grow */
        if (wd != 5)
            CHECK_EQ(iw_wd_bind(w, (struct iw_dir *)add(w, root, (char[]){(char)('A' + wd % 26), (char)('a' + wd / 26), 0}, INOWATCH_TYPE_DIR), wd), 0);
    CHECK_EQ(iw_wd_bind(w, x, 5), 0);
    CHECK_EQ(iw_wd_bind(w, y, 5), 0);
    CHECK(iw_wd_find(&w->wds, 5) == y);
    CHECK_EQ(x->wd, -1);
    CHECK_EQ(w->stale.count, 1);
    CHECK(w->stale.count == 1 && w->stale.items[0] == &x->node);
    CHECK_EQ(w->stats.watches, 500);
    for (int wd = 1; wd <= 500; wd++)
        CHECK(iw_wd_find(&w->wds, wd) != NULL);
    CHECK(iw_wd_find(&w->wds, 501) == NULL);
    iw_remove_subtree(w, &root->node);
    CHECK_EQ(w->stats.watches, 0);
    CHECK_EQ(w->wds.count, 0);
    CHECK_EQ(w->stale.count, 0);
    iw_wdmap_free(&w->wds);
    iw_list_free(&w->stale);
    free(w);
}

/* A deleted directory of files only is buried whole (its nodes unread),
 * and its nodes are dug out for new ones: the model stays exact through
 * churn, no memory is handed out twice (new names written over buried
 * nodes would show in the survivors' names), and when the model empties
 * the pool lets everything go. Under ASan a read of a buried node is
 * reported. */
static void test_graveyard(struct iw_check *t)
{
    inowatch *w = fake_watcher();
    struct iw_dir *root = new_root(w, "r");
    enum { DIRS = 40, FILES = 300 };
    char name[64];
    struct iw_dir *dirs[DIRS];
    for (int i = 0; i < DIRS; i++) {
        snprintf(name, sizeof(name), "d%d", i);
        dirs[i] = (struct iw_dir *)add(w, root, name, INOWATCH_TYPE_DIR);
        for (int k = 0; k < FILES; k++) {
            snprintf(name, sizeof(name), "file-%d-%0*d", k, k % 40, 0); /* many sizes */
            CHECK(add(w, dirs[i], name, INOWATCH_TYPE_FILE) != NULL);
        }
    }
    CHECK_EQ(w->stats.files, DIRS * FILES);
    size_t live_full = w->nodes.live;
    for (int i = 0; i < DIRS; i += 2) /* every other directory goes */
        iw_remove_subtree(w, &dirs[i]->node);
    CHECK_EQ(w->stats.files, DIRS / 2 * FILES);
    CHECK_EQ(w->stats.dirs, DIRS / 2 + 1);
    CHECK(w->grave.count == DIRS / 2);
    CHECK_EQ(w->nodes.live, live_full - DIRS / 2); /* the files are held, unread */
    /* New files, of other sizes, in the directories left: they take
     * buried memory, and every name in the model stays as written. */
    size_t held_before = w->nodes.held;
    for (int i = 1; i < DIRS; i += 2)
        for (int k = 0; k < FILES; k++) {
            snprintf(name, sizeof(name), "new-%d-%0*d", k, (k * 7) % 50, 0);
            CHECK(add(w, dirs[i], name, INOWATCH_TYPE_FILE) != NULL);
        }
    CHECK_EQ(w->nodes.held, held_before); /* no new block: buried nodes were reused */
    int wrong = 0;
    for (int i = 1; i < DIRS; i += 2)
        for (int k = 0; k < FILES; k++) {
            snprintf(name, sizeof(name), "file-%d-%0*d", k, k % 40, 0);
            struct iw_node *n = iw_child_find(dirs[i], name, strlen(name));
            wrong += !n || n->parent != dirs[i];
            snprintf(name, sizeof(name), "new-%d-%0*d", k, (k * 7) % 50, 0);
            n = iw_child_find(dirs[i], name, strlen(name));
            wrong += !n || n->parent != dirs[i];
        }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(w->stats.files, DIRS * FILES);
    iw_remove_subtree(w, &root->node);
    CHECK_EQ(w->stats.files, 0);
    CHECK_EQ(w->stats.dirs, 0);
    CHECK_EQ(w->stats.model_bytes, 0);
    CHECK(w->grave.count == 0);
    CHECK_EQ(w->nodes.live, 0);
    CHECK_EQ(w->nodes.held, 0); /* buried or not, the memory went */
    free(w);
}

/* A nested tree whose directories hold both files and subdirectories:
 * the files of those without subdirectories are buried, the others freed
 * one by one; every count comes back to zero, and nothing is handed out
 * twice when the buried memory is used again. */
static void test_graveyard_nested(struct iw_check *t)
{
    inowatch *w = fake_watcher();
    struct iw_dir *root = new_root(w, "r");
    char name[64];
    /* a tree of depth 4, fan-out 3, with 25 files in every directory */
    struct iw_dir *level[5][27];
    int width[5] = {1, 3, 9, 27, 0};
    level[0][0] = (struct iw_dir *)add(w, root, "top", INOWATCH_TYPE_DIR);
    for (int depth = 0; depth < 4; depth++)
        for (int i = 0; i < width[depth]; i++) {
            struct iw_dir *d = level[depth][i];
            for (int k = 0; k < 25; k++) {
                snprintf(name, sizeof(name), "f%d-%0*d", k, k % 30, 0);
                CHECK(add(w, d, name, INOWATCH_TYPE_FILE) != NULL);
            }
            for (int k = 0; depth < 3 && k < 3; k++) {
                snprintf(name, sizeof(name), "sub%d", k);
                level[depth + 1][i * 3 + k] = (struct iw_dir *)add(w, d, name, INOWATCH_TYPE_DIR);
            }
        }
    CHECK_EQ(w->stats.files, 40 * 25);
    CHECK_EQ(w->stats.dirs, 40 + 1); /* and the root */
    iw_remove_subtree(w, &level[0][0]->node);
    CHECK_EQ(w->stats.files, 0);
    CHECK_EQ(w->stats.dirs, 1);
    CHECK(w->grave.count == 27); /* the files of the 27 deepest directories */
    for (int k = 0; k < 2000; k++) { /* reuse all of it, and more */
        snprintf(name, sizeof(name), "n%d-%0*d", k, k % 35, 0);
        CHECK(add(w, root, name, INOWATCH_TYPE_FILE) != NULL);
    }
    int wrong = 0;
    for (int k = 0; k < 2000; k++) {
        snprintf(name, sizeof(name), "n%d-%0*d", k, k % 35, 0);
        struct iw_node *n = iw_child_find(root, name, strlen(name));
        wrong += !n || n->parent != root || n->name_len != strlen(name);
    }
    CHECK_EQ(wrong, 0);
    iw_remove_subtree(w, &root->node);
    CHECK_EQ(w->stats.files, 0);
    CHECK_EQ(w->stats.dirs, 0);
    CHECK_EQ(w->stats.model_bytes, 0);
    CHECK_EQ(w->nodes.held, 0);
    free(w->grave.items);
    free(w);
}

int main(void)
{
    struct iw_check t = {0};
    test_table_churn(&t);
    test_reserve(&t);
    test_paths(&t);
    test_rename_longer(&t);
    test_wd_ownership(&t);
    test_graveyard(&t);
    test_graveyard_nested(&t);
    return iw_check_done(&t, "tree");
}
