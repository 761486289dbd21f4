/* The listening socket of the `start` action (declared in shim/start.h). It
 * lives apart from start.c so that unit tests can link it without pulling in
 * the daemon (ps_serve). */
#include "shim/start.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"

#define PROBE_TIMEOUT_MS 100

static int fill_addr(const char *path, struct sockaddr_un *sa, struct ps_err **err)
{
        size_t len = strlen(path);

        if (len == 0 || len >= sizeof(sa->sun_path))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "socket path \"%s\" is too long", path);
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        memcpy(sa->sun_path, path, len);
        return 0;
}

/* True when something accepts connections on `sa` within the probe bound.
 * A full backlog (EAGAIN) also means a live owner: unlinking its socket
 * would orphan a working shim. */
static bool probe_live(const struct sockaddr_un *sa)
{
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct pollfd pfd;
        int soerr = 0, r;
        socklen_t sl = sizeof(soerr);

        if (fd < 0)
                return false;
        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
                return true;
        if (errno == EAGAIN)
                return true;
        if (errno != EINPROGRESS)
                return false;
        pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
        do
                r = poll(&pfd, 1, PROBE_TIMEOUT_MS);
        while (r < 0 && errno == EINTR);
        if (r <= 0)
                return false;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                return false;
        return soerr == 0;
}

static int bind_listen(const struct sockaddr_un *sa, const char *path, int *ret_fd,
                       struct ps_err **err)
{
        /* Non-blocking from birth: the daemon accepts on its event loop. */
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "socket");
        if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "bind %s", path);
        if (listen(fd, SOMAXCONN) < 0 || chmod(path, 0600) < 0) {
                int e = errno;
                unlink(path);
                return ps_err_errno(err, e, PS_UNKNOWN, "listen %s", path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int ps_socket_bind_or_probe(const char *path, int *ret_fd, struct ps_err **err)
{
        struct sockaddr_un sa;
        struct ps_err *e = NULL;

        if (fill_addr(path, &sa, err) < 0)
                return -1;
        if (bind_listen(&sa, path, ret_fd, &e) == 0)
                return 0;
        if (!e || e->errnum != EADDRINUSE)
                return ps_err_move(err, &e);
        e = ps_err_free(e);
        if (probe_live(&sa))
                return 1;
        /* Stale: a shim died without removing its socket. */
        if (unlink(path) < 0 && errno != ENOENT)
                return ps_err_errno(err, errno, PS_UNKNOWN, "remove stale socket %s", path);
        if (bind_listen(&sa, path, ret_fd, err) < 0)
                return ps_err_prefix(err, "after removing a stale socket");
        return 0;
}
