#include "oci/console_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"

int ps_console_socket_open(const char *tmp_dir, struct ps_console_socket *cs, struct ps_err **err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        const char *tmp = tmp_dir && *tmp_dir ? tmp_dir : "/tmp";

        *cs = (struct ps_console_socket){.fd = -1};
        if (asprintf(&cs->dir, "%s/pty-XXXXXX", tmp) < 0) {
                cs->dir = NULL;
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "console socket path");
        }
        if (!mkdtemp(cs->dir)) {
                ps_err_errno(err, errno, PS_UNKNOWN, "create console socket directory in %s", tmp);
                free(cs->dir);
                cs->dir = NULL;
                return -1;
        }
        if (asprintf(&cs->path, "%s/pty.sock", cs->dir) < 0) {
                cs->path = NULL;
                ps_console_socket_close(cs);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "console socket path");
        }
        if (strlen(cs->path) >= sizeof(sa.sun_path)) {
                ps_err_set(err, PS_INVALID_ARGUMENT, "console socket path %s is too long",
                           cs->path);
                ps_console_socket_close(cs);
                return -1;
        }
        strcpy(sa.sun_path, cs->path);
        cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (cs->fd < 0 || bind(cs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(cs->fd, 1) < 0) {
                ps_err_errno(err, errno, PS_UNKNOWN, "console socket %s", cs->path);
                ps_console_socket_close(cs);
                return -1;
        }
        return 0;
}

/* Closes every fd a control message carried (a misbehaving sender must not
 * leak descriptors into the shim). Returns how many there were; *first gets
 * the first one, kept open, when exactly one came. */
static int take_fds(struct msghdr *msg, int *first)
{
        int n = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
                        if (n++ == 0)
                                *first = fd;
                        else
                                close(fd);
                }
        }
        if (n > 1)
                close(*first);
        return n;
}

int ps_console_socket_recv(struct ps_console_socket *cs, int *ret_master, struct ps_err **err)
{
        _cleanup_close_ int conn = -1;
        char name[256];
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(4 * sizeof(int))];
        } ctl;
        struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf)};
        ssize_t n;
        int master = -1, nfds;

        if (cs->fd < 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "console socket is closed");
        conn = accept4(cs->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn < 0)
                return ps_err_errno(err, errno,
                                    errno == EAGAIN ? PS_FAILED_PRECONDITION : PS_UNKNOWN,
                                    "runtime did not connect to the console socket");
        do
                n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return ps_err_errno(err, errno,
                                    errno == EAGAIN ? PS_FAILED_PRECONDITION : PS_UNKNOWN,
                                    "receive the pty master");
        nfds = take_fds(&msg, &master);
        if (nfds != 1 || (msg.msg_flags & MSG_CTRUNC)) {
                if (nfds == 1)
                        close(master);
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "console socket: expected one fd, got %d%s", nfds,
                                  msg.msg_flags & MSG_CTRUNC ? " (truncated)" : "");
        }
        if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) < 0) {
                int e = errno;
                close(master);
                return ps_err_errno(err, e, PS_UNKNOWN, "pty master");
        }
        *ret_master = master;
        return 0;
}

void ps_console_socket_close(struct ps_console_socket *cs)
{
        cs->fd = ps_close(cs->fd);
        if (cs->path) {
                unlink(cs->path);
                free(cs->path);
                cs->path = NULL;
        }
        if (cs->dir) {
                rmdir(cs->dir);
                free(cs->dir);
                cs->dir = NULL;
        }
}
