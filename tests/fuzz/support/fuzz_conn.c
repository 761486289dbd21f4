#include "fuzz_conn.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct ttrpc_server *fuzz_conn_server_new(struct event_base *base,
                                          const struct ttrpc_service *services, size_t n)
{
        struct ttrpc_server *srv;
        int lfd;

        /* autobound to an abstract address: no file to clean up, no name to
         * clash with another run of the same target */
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (!base || lfd < 0 ||
            bind(lfd, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_UNIX},
                 sizeof(sa_family_t)) < 0 ||
            listen(lfd, 1) < 0)
                abort();
        srv = ttrpc_server_new(base, lfd, services, n, NULL);
        if (!srv)
                abort();
        return srv;
}

int fuzz_conn_open(struct ttrpc_server *srv)
{
        int fds[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                abort();
        if (ttrpc_server_adopt(srv, fds[0], NULL) < 0)
                abort();
        return fds[1];
}

void fuzz_conn_pump(struct event_base *base, int fd)
{
        uint8_t sink[4096];

        event_base_loop(base, EVLOOP_NONBLOCK);
        while (read(fd, sink, sizeof(sink)) > 0)
                ;
}

void fuzz_conn_feed(struct event_base *base, int fd, const uint8_t *data, size_t size, size_t chunk)
{
        size_t off = 0;

        while (off < size) {
                size_t n = size - off < chunk ? size - off : chunk;
                ssize_t w = write(fd, data + off, n);

                if (w > 0)
                        off += (size_t)w;
                else if (w < 0 && errno != EAGAIN)
                        break;
                fuzz_conn_pump(base, fd);
        }
}

void fuzz_conn_hang_up(struct event_base *base, struct ttrpc_server *srv, int fd)
{
        shutdown(fd, SHUT_WR);
        for (int i = 0; i < 100000 && ttrpc_server_connections(srv); i++)
                fuzz_conn_pump(base, fd);
        if (ttrpc_server_connections(srv))
                abort();
}
