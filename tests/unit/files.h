/* files.h: numbered files f0, f1, ... in a test's temporary directory, for
 * the unit tests that need real inotify events. */
#ifndef IW_TEST_FILES_H
#define IW_TEST_FILES_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Creates dir/f0 .. dir/f(files-1), empty (one IN_CREATE each). */
static inline void make_files(const char *dir, int files)
{
    for (int i = 0; i < files; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/f%d", dir, i);
        int f = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (f >= 0)
            close(f);
    }
}

/* Removes those files and dir itself. */
static inline void remove_dir(const char *dir, int files)
{
    for (int i = 0; i < files; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/f%d", dir, i);
        unlink(p);
    }
    rmdir(dir);
}

#endif
