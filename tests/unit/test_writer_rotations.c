/* test_writer_rotations.c: inowatch_writer while another process rotates
 * the file 1,000 times (logrotate's rename away), then deletes it 1,000
 * times. With renames, every record must land exactly once, in order, in a
 * file that still has a name. With deletions, records written into a file
 * before it was deleted are gone with it (the deleter's doing), but none
 * may be duplicated, each file's records are in order, and a record written
 * after the last deletion lands in the re-created file. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "inowatch.h"

#define ROTATIONS 1000
/* Past this many records the writer slows down (the rotator needs it to
 * recreate the file before each rotation, so it must go on), keeping a
 * valgrind run short. */
#define FAST_RECORDS 50000

/* The rotator: renames (or unlinks) the log as fast as it appears. */
static void rotate(const char *dir, const char *log, int unlinking)
{
    char to[512];
    for (int i = 0; i < ROTATIONS;) {
        if (unlinking) {
            if (unlink(log) == 0)
                i++;
        } else {
            snprintf(to, sizeof(to), "%s/app.log.%d", dir, i);
            if (rename(log, to) == 0)
                i++;
        }
        if (i % 10 == 0)
            usleep(200); /* let records arrive in between */
    }
    _exit(0);
}

/* Reads every record (a decimal number per line) of every file in dir into
 * seen[]; checks order within each file. Returns the highest record. */
static long collect(struct iw_check *t, const char *dir, unsigned char *seen, long max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long highest = -1;
    static char buf[1 << 20];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        long prev = -1, v;
        while (fgets(buf, sizeof(buf), f)) {
            v = atol(buf);
            CHECK(v > prev); /* in order within a file */
            prev = v;
            if (v >= 0 && v < max) {
                CHECK(seen[v] == 0); /* never twice */
                seen[v]++;
                highest = v > highest ? v : highest;
            }
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    return highest;
}

static void run(struct iw_check *t, int unlinking)
{
    char dir[] = "/tmp/inowatch-rot-XXXXXX";
    if (!mkdtemp(dir))
        return;
    char log[512];
    snprintf(log, sizeof(log), "%s/app.log", dir);
    inowatch_writer *wr = NULL;
    CHECK_EQ(inowatch_writer_open(&wr, log, 0644), 0);
    if (!wr)
        return;
    pid_t child = fork();
    if (child == 0)
        rotate(dir, log, unlinking);
    long n = 0;
    char rec[32];
    int status = 0;
    while (waitpid(child, &status, WNOHANG) == 0) {
        int len = snprintf(rec, sizeof(rec), "%ld\n", n++);
        CHECK_EQ(inowatch_writer_write(wr, rec, (size_t)len), len);
        if (n > FAST_RECORDS)
            usleep(20);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int len = snprintf(rec, sizeof(rec), "%ld\n", n++); /* after the last rotation */
    CHECK_EQ(inowatch_writer_write(wr, rec, (size_t)len), len);
    unsigned long reopens = inowatch_writer_reopens(wr);
    CHECK(reopens > 0);
    inowatch_writer_close(wr);

    unsigned char *seen = calloc((size_t)n, 1);
    long highest = collect(t, dir, seen, n);
    CHECK_EQ(highest, n - 1); /* the last record is in a named file */
    long missing = 0;
    for (long i = 0; i < n; i++)
        missing += !seen[i];
    if (!unlinking)
        CHECK_EQ(missing, 0); /* renamed files keep every record */
    fprintf(stderr, "%s: %ld records, %lu reopens, %ld in deleted files\n",
            unlinking ? "deletions" : "rotations", n, reopens, missing);
    free(seen);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    struct iw_check t = {0};
    run(&t, 0);
    run(&t, 1);
    return iw_check_done(&t, "writer rotations");
}
