/* test_fd_link.c: iw_fd_link(), the /proc/PID/fd name every watch is put
 * through. Each fd gives the name snprintf would, including the widest,
 * and the name leads to the inode open at that fd. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static void test_names_match_printf(struct iw_check *t)
{
    const int fds[] = {0, 1, 9, 10, 99, 100, 4095, 65536, 1048575, INT_MAX};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        char want[IW_FD_LINK_MAX], got[IW_FD_LINK_MAX];
        snprintf(want, sizeof(want), "/proc/4194304/fd/%d", fds[i]);
        iw_fd_link(got, "/proc/4194304/fd/", fds[i]);
        CHECK_MEM(got, strlen(got), want, strlen(want));
    }
}

static void test_name_leads_to_the_open_inode(struct iw_check *t)
{
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    char link[IW_FD_LINK_MAX];
    struct stat by_link, by_fd;
    CHECK_EQ(stat(iw_fd_link(link, IW_FD_PREFIX_SELF, fd), &by_link), 0);
    CHECK_EQ(fstat(fd, &by_fd), 0);
    CHECK(by_link.st_ino == by_fd.st_ino && by_link.st_dev == by_fd.st_dev);
    close(fd);
}

int main(void)
{
    struct iw_check t = {0};
    test_names_match_printf(&t);
    test_name_leads_to_the_open_inode(&t);
    return iw_check_done(&t, "fd_link");
}
