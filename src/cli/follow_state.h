/* follow_state.h: the state of "inowatch follow", shared by cmd_follow.c
 * (options, event loop), follow_file.c (watches, opening, replacement) and
 * follow_out.c (reading files into the output buffer). */
#ifndef IW_FOLLOW_STATE_H
#define IW_FOLLOW_STATE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Where to start in a file that exists when follow starts: the last
 * `count` lines (or bytes), or, with from_start, from line (byte) `count`,
 * counting from 1. Files that appear later are printed from their start. */
struct follow_start {
    int bytes;
    int from_start;
    long long count;
};

struct follow_file {
    const char *name; /* as given on the command line */
    char *dir;        /* its directory ("." for a bare name), malloc'd */
    const char *base; /* its last component, inside name */
    int fd;           /* the file being read, -1 when none is open */
    dev_t dev;        /* identity of fd's file, to recognise a replacement */
    ino_t ino;
    off_t off;       /* bytes read so far: a smaller size means truncation */
    int file_wd;     /* watch on fd's inode, -1 when none */
    int dir_wd;      /* watch on dir, -1 while dir does not exist */
    int anc_wd;      /* while dir does not exist: its nearest ancestor's watch */
    char *anc_next;  /* the component below that ancestor that we wait for */
    const char *gone_how; /* what the last event said happened to the name */
    unsigned gone : 1;    /* the name is missing; fd (if any) is the old file */
    unsigned announced : 1; /* "does not exist yet" was said */
    unsigned check : 1;     /* the name may lead to another file now */
    unsigned resolve : 1;   /* dir may have appeared, moved or gone */
    unsigned readable : 1;  /* fd may have more data */
};

struct follow {
    int ifd; /* the inotify instance */
    struct follow_file *files;
    int nfiles;
    const struct follow_file *last; /* whose bytes went out last, for headers */
    int headers;                    /* several FILEs: "==> FILE <==" headers */
    int any_header;                 /* a header went out: the next needs a blank line */
    char *out;                      /* output buffer, FOLLOW_OUT_CAP bytes */
    size_t len;
    int out_err; /* errno of a failed write to stdout, sticky */
};

#define FOLLOW_OUT_CAP (64u * 1024)
/* One file gets at most this much per turn of the loop, so that a file
 * written faster than stdout drains cannot starve the others or signals. */
#define FOLLOW_TURN_MAX (1024u * 1024)

/* follow_out.c */
int iw_follow_flush(struct follow *fw);
/* A message on stderr, "inowatch: follow: " and fmt, after stdout is flushed. */
void iw_follow_say(struct follow *fw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int iw_follow_pump(struct follow *fw, struct follow_file *f, unsigned long long limit, int header);
off_t iw_follow_start_offset(int fd, const struct stat *st, const struct follow_start *how);

/* follow_file.c */
int iw_follow_init_file(struct follow_file *f, const char *name);
void iw_follow_free_file(struct follow *fw, struct follow_file *f);
int iw_follow_watch_dir(struct follow *fw, struct follow_file *f);
int iw_follow_check_name(struct follow *fw, struct follow_file *f, const struct follow_start *how);
int iw_follow_fatal(int err);

#endif /* IW_FOLLOW_STATE_H */
