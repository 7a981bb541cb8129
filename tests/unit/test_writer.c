/* test_writer.c: inowatch_writer against real files: every record lands in
 * the file the path names at the time of the write, through logrotate's
 * rename-away, an editor's rename-over, deletion, and the directory being
 * renamed; a chmod does not make it reopen. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "inowatch.h"

static char *slurp(const char *path)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

static void put(struct iw_check *t, inowatch_writer *wr, const char *s)
{
    CHECK_EQ(inowatch_writer_write(wr, s, strlen(s)), (long)strlen(s));
}

static void file_is(struct iw_check *t, const char *path, const char *want)
{
    const char *got = slurp(path);
    CHECK(got != NULL);
    if (got)
        CHECK_MEM(got, strlen(got), want, strlen(want));
}

static void test_rotations(struct iw_check *t, const char *dir)
{
    char log[256], rotated[256], tmp[256], moved[256], dlog[256];
    snprintf(log, sizeof(log), "%s/app.log", dir);
    snprintf(rotated, sizeof(rotated), "%s/app.log.1", dir);
    snprintf(tmp, sizeof(tmp), "%s/.app.log.tmp", dir);
    inowatch_writer *wr = NULL;
    CHECK_EQ(inowatch_writer_open(&wr, log, 0644), 0);
    if (!wr)
        return;
    put(t, wr, "one\n");
    CHECK_EQ(rename(log, rotated), 0); /* logrotate: rename away */
    put(t, wr, "two\n");
    file_is(t, rotated, "one\n");
    file_is(t, log, "two\n");
    CHECK_EQ(inowatch_writer_reopens(wr), 1);

    chmod(log, 0600); /* an attrib that changes nothing: no reopen */
    put(t, wr, "three\n");
    CHECK_EQ(inowatch_writer_reopens(wr), 1);
    file_is(t, log, "two\nthree\n");

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* an editor's save */
    CHECK_EQ(write(fd, "saved\n", 6), 6);
    close(fd);
    CHECK_EQ(rename(tmp, log), 0);
    put(t, wr, "four\n");
    file_is(t, log, "saved\nfour\n");
    CHECK_EQ(inowatch_writer_reopens(wr), 2);

    CHECK_EQ(unlink(log), 0); /* deleted: recreated at the next record */
    put(t, wr, "five\n");
    file_is(t, log, "five\n");
    CHECK_EQ(inowatch_writer_reopens(wr), 3);
    inowatch_writer_close(wr);

    /* The directory itself renamed away and made anew. */
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/logs", dir);
    mkdir(sub, 0755);
    snprintf(dlog, sizeof(dlog), "%s/logs/d.log", dir);
    snprintf(moved, sizeof(moved), "%s/logs.old", dir);
    CHECK_EQ(inowatch_writer_open(&wr, dlog, 0644), 0);
    if (!wr)
        return;
    put(t, wr, "a\n");
    CHECK_EQ(rename(sub, moved), 0);
    mkdir(sub, 0755);
    put(t, wr, "b\n");
    file_is(t, dlog, "b\n");
    char old[300];
    snprintf(old, sizeof(old), "%s/d.log", moved);
    file_is(t, old, "a\n");
    inowatch_writer_close(wr);
}

/* The directory renamed away and not made again: the write fails, and
 * keeps failing (never falls back into the old inode) until the directory
 * is back. */
static void test_failed_reopen(struct iw_check *t, const char *dir)
{
    char sub[256], moved[256], log[300], old[300];
    snprintf(sub, sizeof(sub), "%s/gone", dir);
    snprintf(moved, sizeof(moved), "%s/gone.old", dir);
    snprintf(log, sizeof(log), "%s/x.log", sub);
    snprintf(old, sizeof(old), "%s/x.log", moved);
    mkdir(sub, 0755);
    inowatch_writer *wr = NULL;
    CHECK_EQ(inowatch_writer_open(&wr, log, 0644), 0);
    if (!wr)
        return;
    put(t, wr, "1\n");
    CHECK_EQ(rename(sub, moved), 0);
    CHECK(inowatch_writer_write(wr, "2\n", 2) < 0);
    CHECK(inowatch_writer_write(wr, "3\n", 2) < 0);
    file_is(t, old, "1\n");
    mkdir(sub, 0755);
    put(t, wr, "4\n");
    file_is(t, log, "4\n");
    inowatch_writer_close(wr);
}

static void test_errors(struct iw_check *t, const char *dir)
{
    inowatch_writer *wr = NULL;
    char path[256];
    snprintf(path, sizeof(path), "%s/missing/x.log", dir);
    CHECK_EQ(inowatch_writer_open(&wr, path, 0644), -2 /* ENOENT */);
    CHECK(wr == NULL);
    CHECK_EQ(inowatch_writer_open(&wr, "", 0644), -22 /* EINVAL */);
    inowatch_writer_close(NULL);
}

int main(void)
{
    struct iw_check t = {0};
    char dir[] = "/tmp/inowatch-writer-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_rotations(&t, dir);
    test_failed_reopen(&t, dir);
    test_errors(&t, dir);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return iw_check_done(&t, "writer");
}
