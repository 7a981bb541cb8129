/* output.h: the CLI's batched standard output. */
#ifndef IW_OUTPUT_H
#define IW_OUTPUT_H

#include <stddef.h>

#include "inowatch.h"

struct iw_out {
    int fd;
    int json;
    char *buf;
    size_t len, cap;
    int error; /* errno of a failed write, sticky */
};

int iw_out_init(struct iw_out *o, int fd, int json);
void iw_out_free(struct iw_out *o);
/* Appends one event as one line (JSON or human text). */
int iw_out_event(struct iw_out *o, const struct inowatch_event *ev);
/* Appends raw bytes. */
int iw_out_raw(struct iw_out *o, const char *s, size_t n);
/* Writes everything buffered with as few write(2) calls as possible. */
int iw_out_flush(struct iw_out *o);

#endif /* IW_OUTPUT_H */
