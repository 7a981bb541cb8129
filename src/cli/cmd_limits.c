/* cmd_limits.c: "inowatch limits [--json]": who uses inotify, and how much
 * is left before a watcher fails with ENOSPC or EMFILE. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "limits_scan.h"

/* The part of a command line the table shows; --json has all of it. */
#define COMMAND_SHOWN 72

static const char limits_usage[] =
    "usage: inowatch limits [--json]\n"
    "\n"
    "Shows who uses inotify on this machine: for each process holding an\n"
    "inotify instance, its pid, user, instances, watches and command line,\n"
    "most watches first; then the totals per user with what is left before\n"
    "the per-user limits; then the limits in /proc/sys/fs/inotify, and the\n"
    "user namespace's own (user.max_inotify_*) where they differ.\n"
    "Processes that cannot be read (another user's, unless run as root, or\n"
    "gone during the scan) are counted in one line, and their instances and\n"
    "watches are missing from the totals.\n"
    "\n"
    "  --json      one JSON object: \"processes\" (pid, user, uid, command,\n"
    "              instances, watches), \"users\" (user, uid, processes,\n"
    "              instances, watches, instances_left, watches_left), \"limits\"\n"
    "              (by sysctl name; null when unreadable) and \"unreadable\"\n"
    "  -h, --help  this help\n"
    "\n"
    "Exit status: 0; 1 if /proc cannot be read or the output cannot be\n"
    "written; 2 for bad usage.\n"
    "\n"
    "Examples:\n"
    "  inowatch limits\n"
    "      which programs hold the watches, and how many are left\n"
    "  sudo inowatch limits\n"
    "      the same, including other users' processes\n"
    "  inowatch limits --json | jq '.users[] | {user, watches_left}'\n"
    "      the headroom of each user, for a script\n";

struct user_total {
    uid_t uid;
    char name[64];
    unsigned long processes, instances, watches;
};

struct limits_report {
    struct iw_inotify_usage u;
    struct user_total *users;
    size_t nusers;
    long long watch_limit, instance_limit; /* the smaller of fs.* and user.*, or -1 */
};

static int by_watches(const void *pa, const void *pb)
{
    const struct iw_inotify_proc *a = pa, *b = pb;
    if (a->watches != b->watches)
        return a->watches < b->watches ? 1 : -1;
    if (a->instances != b->instances)
        return a->instances < b->instances ? 1 : -1;
    return (a->pid > b->pid) - (a->pid < b->pid);
}

static int user_by_watches(const void *pa, const void *pb)
{
    const struct user_total *a = pa, *b = pb;
    if (a->watches != b->watches)
        return a->watches < b->watches ? 1 : -1;
    return (a->uid > b->uid) - (a->uid < b->uid);
}

static void user_name(uid_t uid, char *buf, size_t size)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res && strlen(res->pw_name) < size)
        snprintf(buf, size, "%s", res->pw_name);
    else
        snprintf(buf, size, "%lu", (unsigned long)uid);
}

static struct user_total *find_user(struct limits_report *r, uid_t uid)
{
    for (size_t i = 0; i < r->nusers; i++)
        if (r->users[i].uid == uid)
            return &r->users[i];
    struct user_total *t = &r->users[r->nusers++];
    memset(t, 0, sizeof(*t));
    t->uid = uid;
    user_name(uid, t->name, sizeof(t->name));
    return t;
}

/* Sorts the processes and adds them up per user. */
static int summarize(struct limits_report *r)
{
    struct iw_inotify_usage *u = &r->u;
    if (u->nprocs > 1) /* procs is NULL when empty, which qsort must not get */
        qsort(u->procs, u->nprocs, sizeof(*u->procs), by_watches);
    r->users = calloc(u->nprocs ? u->nprocs : 1, sizeof(*r->users));
    if (!r->users)
        return -ENOMEM;
    for (size_t i = 0; i < u->nprocs; i++) {
        struct user_total *t = find_user(r, u->procs[i].uid);
        t->processes++;
        t->instances += u->procs[i].instances;
        t->watches += u->procs[i].watches;
    }
    qsort(r->users, r->nusers, sizeof(*r->users), user_by_watches);
    r->watch_limit = iw_limit_min(u->limits.max_user_watches, u->limits.ns_max_watches);
    r->instance_limit = iw_limit_min(u->limits.max_user_instances, u->limits.ns_max_instances);
    return 0;
}

static const char *user_of(const struct limits_report *r, uid_t uid)
{
    for (size_t i = 0; i < r->nusers; i++)
        if (r->users[i].uid == uid)
            return r->users[i].name;
    return "?";
}

/* What is left under limit, or -1 when the limit is unknown. Never below 0:
 * a process of another user namespace can be charged elsewhere. */
static long long left(long long limit, unsigned long used)
{
    if (limit < 0)
        return -1;
    return (unsigned long long)limit > used ? limit - (long long)used : 0;
}

/* ---- JSON ---- */

static void json_number(long long v)
{
    if (v < 0)
        fputs("null", stdout);
    else
        printf("%lld", v);
}

static void json_processes(const struct limits_report *r)
{
    fputs("{\"processes\":[", stdout);
    for (size_t i = 0; i < r->u.nprocs; i++) {
        const struct iw_inotify_proc *p = &r->u.procs[i];
        printf("%s{\"pid\":%ld,\"user\":", i ? "," : "", (long)p->pid);
        iw_json_print(stdout, user_of(r, p->uid));
        printf(",\"uid\":%lu,\"command\":", (unsigned long)p->uid);
        iw_json_print(stdout, p->command);
        printf(",\"instances\":%lu,\"watches\":%lu}", p->instances, p->watches);
    }
    fputs("]", stdout);
}

static void json_users(const struct limits_report *r)
{
    fputs(",\"users\":[", stdout);
    for (size_t i = 0; i < r->nusers; i++) {
        const struct user_total *t = &r->users[i];
        fputs(i ? ",{\"user\":" : "{\"user\":", stdout);
        iw_json_print(stdout, t->name);
        printf(",\"uid\":%lu,\"processes\":%lu,\"instances\":%lu,\"watches\":%lu",
               (unsigned long)t->uid, t->processes, t->instances, t->watches);
        fputs(",\"instances_left\":", stdout);
        json_number(left(r->instance_limit, t->instances));
        fputs(",\"watches_left\":", stdout);
        json_number(left(r->watch_limit, t->watches));
        fputs("}", stdout);
    }
    fputs("]", stdout);
}

static void print_json(const struct limits_report *r)
{
    const struct iw_inotify_limits *l = &r->u.limits;
    json_processes(r);
    json_users(r);
    fputs(",\"limits\":{\"fs.inotify.max_user_watches\":", stdout);
    json_number(l->max_user_watches);
    fputs(",\"fs.inotify.max_user_instances\":", stdout);
    json_number(l->max_user_instances);
    fputs(",\"fs.inotify.max_queued_events\":", stdout);
    json_number(l->max_queued_events);
    fputs(",\"user.max_inotify_watches\":", stdout);
    json_number(l->ns_max_watches);
    fputs(",\"user.max_inotify_instances\":", stdout);
    json_number(l->ns_max_instances);
    printf("},\"unreadable\":%zu}\n", r->u.unreadable);
}

/* ---- text ---- */

/* The first COMMAND_SHOWN bytes (cut at a UTF-8 boundary, "..." added),
 * with control bytes escaped so that a command line cannot drive the
 * terminal. */
static void print_command(const char *cmd)
{
    size_t n = strlen(cmd), shown = n;
    if (n > COMMAND_SHOWN) {
        shown = COMMAND_SHOWN - 3;
        while (shown > 0 && ((unsigned char)cmd[shown] & 0xc0) == 0x80)
            shown--;
    }
    char *buf = malloc(iw_text_escape_bound(shown) + 1);
    if (!buf)
        return;
    fwrite(buf, 1, iw_text_escape(buf, cmd, shown), stdout);
    fputs(shown < n ? "...\n" : "\n", stdout);
    free(buf);
}

static void print_processes(const struct limits_report *r)
{
    if (r->u.nprocs == 0) {
        puts("No readable process holds an inotify instance.");
        return;
    }
    printf("%7s  %-10s %9s %9s  %s\n", "PID", "USER", "INSTANCES", "WATCHES", "COMMAND");
    for (size_t i = 0; i < r->u.nprocs; i++) {
        const struct iw_inotify_proc *p = &r->u.procs[i];
        printf("%7ld  %-10s %9lu %9lu  ", (long)p->pid, user_of(r, p->uid), p->instances,
               p->watches);
        print_command(p->command);
    }
}

static void print_left(long long v)
{
    if (v < 0)
        printf(" %15s", "?");
    else
        printf(" %15lld", v);
}

static void print_users(const struct limits_report *r)
{
    if (r->nusers == 0)
        return;
    printf("\n%-10s %9s %9s %9s %15s %15s\n", "USER", "PROCESSES", "INSTANCES", "WATCHES",
           "INSTANCES LEFT", "WATCHES LEFT");
    for (size_t i = 0; i < r->nusers; i++) {
        const struct user_total *t = &r->users[i];
        printf("%-10s %9lu %9lu %9lu", t->name, t->processes, t->instances, t->watches);
        print_left(left(r->instance_limit, t->instances));
        print_left(left(r->watch_limit, t->watches));
        putchar('\n');
    }
}

static void print_value(const char *name, long long v)
{
    if (v < 0)
        printf("  %-32s (unreadable)\n", name);
    else
        printf("  %-32s %lld\n", name, v);
}

static void print_limits(const struct limits_report *r)
{
    const struct iw_inotify_limits *l = &r->u.limits;
    puts("\nLimits (per user):");
    print_value("fs.inotify.max_user_watches", l->max_user_watches);
    print_value("fs.inotify.max_user_instances", l->max_user_instances);
    print_value("fs.inotify.max_queued_events", l->max_queued_events);
    /* Inside a user namespace its own values apply too; the same values
     * as above would only repeat them. */
    if (l->ns_max_watches >= 0 && l->ns_max_watches != l->max_user_watches)
        print_value("user.max_inotify_watches", l->ns_max_watches);
    if (l->ns_max_instances >= 0 && l->ns_max_instances != l->max_user_instances)
        print_value("user.max_inotify_instances", l->ns_max_instances);
}

static void print_text(const struct limits_report *r)
{
    print_processes(r);
    print_users(r);
    print_limits(r);
    if (r->u.unreadable)
        printf("\n%zu process%s could not be read (another user's, or gone during the scan); "
               "run as root to see every process.\n",
               r->u.unreadable, r->u.unreadable == 1 ? "" : "es");
}

/* Returns 0 to run, 1 when --help was shown, -1 for a usage error. */
static int parse_args(int argc, char **argv, int *ret_json)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j') {
            *ret_json = 1;
        } else if (c == 'h') {
            fputs(limits_usage, stdout);
            return 1;
        } else {
            iw_complain_option("limits", c, argc, argv, longopts);
            return -1;
        }
    }
    if (optind < argc) {
        iw_complain("limits: unexpected argument '%s' (try 'inowatch limits --help')",
                    argv[optind]);
        return -1;
    }
    return 0;
}

int iw_cmd_limits(int argc, char **argv)
{
    int json = 0;
    int r = parse_args(argc, argv, &json);
    if (r != 0)
        return r < 0 ? IW_EXIT_USAGE : IW_EXIT_OK;
    struct limits_report rep = {0};
    r = iw_inotify_scan(&rep.u);
    if (r == 0)
        r = summarize(&rep);
    if (r < 0) {
        iw_complain("limits: reading /proc: %s", strerror(-r));
    } else {
        if (json)
            print_json(&rep);
        else
            print_text(&rep);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            iw_complain("limits: writing the report: %s", strerror(errno));
            r = -1;
        }
    }
    free(rep.users);
    iw_inotify_usage_free(&rep.u);
    return r < 0 ? IW_EXIT_FATAL : IW_EXIT_OK;
}
