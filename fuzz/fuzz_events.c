/* fuzz_events.c: arbitrary bytes handed to the event decoder as if read
 * from the inotify fd, over a real model of a small temporary tree. The
 * decoder must never read past the buffer, crash, or leave the tree (names
 * with '/' or "..", wds it does not know); the model must stay consistent
 * (checked by freeing it: ASan reports any corruption). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "fixture_tree.h"

/* The watcher is rebuilt this often, so that entries the fuzzer invents
 * (pending forever: they do not exist on disk) cannot pile up. */
#define RESET_EVERY 512

struct fixture {
    char root[64];
    inowatch *w;
    unsigned runs;
};

static struct fixture fx;

static void start_watcher(void)
{
    inowatch_free(fx.w);
    fx.w = NULL;
    struct inowatch_options o = {.latency_ms = INOWATCH_LATENCY_NONE};
    if (inowatch_new(&fx.w, &o) < 0 || inowatch_add(fx.w, fx.root) < 0)
        abort();
    fx.w->pair_wait_ms = 0; /* no waiting for rename halves that never come */
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(fx.root, sizeof(fx.root), "/tmp/inowatch-fuzz-XXXXXX");
    if (!mkdtemp(fx.root))
        abort();
    fixture_make_tree(fx.root);
    start_watcher();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (++fx.runs % RESET_EVERY == 0 || inowatch_root_count(fx.w) == 0)
        start_watcher();
    inowatch *w = fx.w;
    if (iw_grow(&w->rd, &w->rd_cap, size + 1, 1) < 0)
        return 0;
    memcpy(w->rd, data, size);
    w->rd_start = 0;
    w->rd_end = size;
    iw_batch_reset(&w->batch);
    if (iw_apply_buffer(w) == 0 && iw_scan_pending(w) == 0)
        iw_verify_renamed(w);
    w->rd_start = w->rd_end = 0;
    const struct inowatch_event *ev;
    while (inowatch_next(w, &ev) > 0)
        if (ev->path_len != strlen(ev->path)) /* paths are whole strings */
            abort();
    return 0;
}
