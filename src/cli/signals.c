/* signals.c: the stop signals as an fd, for the commands' poll loops. */
#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "commands.h"

/* SIGINT, SIGTERM and SIGHUP are blocked and delivered through a signalfd:
 * the loop sees them between batches, so output is flushed before exit. */
int iw_stop_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}
