/* fixture_tree.h: the small real tree the decoder fuzzers run over:
 * FIXTURE_DIRS under the root (it included, first), files in each level. */
#ifndef IW_FIXTURE_TREE_H
#define IW_FIXTURE_TREE_H

#include <stdio.h>
#include <sys/stat.h>

#define FIXTURE_NDIRS 5
static const char *const fixture_dirs[FIXTURE_NDIRS] = {"", "a", "a/b", "c", "c/d"};

static inline void fixture_make_tree(const char *root)
{
    char p[128];
    for (size_t i = 1; i < FIXTURE_NDIRS; i++) {
        snprintf(p, sizeof(p), "%s/%s", root, fixture_dirs[i]);
        mkdir(p, 0755);
    }
    const char *files[] = {"f", "a/g", "a/b/h", "c/d/i"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, files[i]);
        FILE *f = fopen(p, "w");
        if (f)
            fclose(f);
    }
}

#endif
