/* main.c: dispatches "inowatch COMMAND ...". */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#ifndef INOWATCH_VERSION
#define INOWATCH_VERSION "unknown"
#endif

static const char usage[] =
    "usage: inowatch COMMAND [OPTIONS] ...\n"
    "\n"
    "commands:\n"
    "  watch [OPTIONS] PATH...   report changes under each PATH, one line per event\n"
    "  run [OPTIONS] PATH... -- CMD [ARG...]\n"
    "                            run CMD, and again each time changes under PATH settle\n"
    "  follow [-n LINES] FILE... print each FILE's last lines, then what is appended (tail -F)\n"
    "  limits [--json]           who uses inotify: instances and watches per process\n"
    "                            and per user, and the limits\n"
    "  stale [OPTIONS]           open files deleted or replaced under their path\n"
    "\n"
    "Run 'inowatch COMMAND --help' for a command's options; 'man inowatch' for more.\n";

long iw_parse_ms(const char *s, long max)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return IW_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "watch") == 0)
        return iw_cmd_watch(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return iw_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "follow") == 0)
        return iw_cmd_follow(argc - 1, argv + 1);
    if (strcmp(cmd, "limits") == 0)
        return iw_cmd_limits(argc - 1, argv + 1);
    if (strcmp(cmd, "stale") == 0)
        return iw_cmd_stale(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return IW_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("inowatch %s\n", INOWATCH_VERSION);
        return IW_EXIT_OK;
    }
    iw_complain("unknown command '%s' (try 'inowatch --help')", cmd);
    return IW_EXIT_USAGE;
}
