/* libFuzzer target: arbitrary bytes from a peer on a ttrpc server connection.
 *
 * Each input goes through a real socketpair into a real server connection
 * (ttrpc_server_adopt), in chunks whose size the first byte picks, with the
 * event loop run between chunks; then the peer half-closes and the loop runs
 * until the server has dropped the connection. This exercises the frame
 * reader, the envelope and payload decoding, dispatch, the reply path,
 * parked calls answered out of order, and cancellation on hang-up. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/log.h"
#include "containerd/task/v2/task.pb-c.h"
#include "ttrpc/server.h"

#define MAX_PARKED 8

struct fuzz_state {
        struct event_base *base;
        struct ttrpc_server *srv;
        struct ttrpc_call *parked[MAX_PARKED];
};

static struct fuzz_state *state;

static void on_cancel(struct ttrpc_call *call, void *data)
{
        struct fuzz_state *st = data;

        for (int i = 0; i < MAX_PARKED; i++)
                if (st->parked[i] == call)
                        st->parked[i] = NULL;
}

static void h_connect(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        const Containerd__Task__V2__ConnectRequest *req = (const void *)msg;
        Containerd__Task__V2__ConnectResponse resp;
        containerd__task__v2__connect_response__init(&resp);

        resp.shim_pid = 1;
        resp.version = req->id;
        (void)ttrpc_call_metadata(call, "containerd-namespace-ttrpc");
        ttrpc_call_reply(call, &resp.base);
}

/* Wait parks the call; a full park slot answers the oldest first, so replies
 * go out of order. */
static void h_wait(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct fuzz_state *st = data;

        if (st->parked[0]) {
                ttrpc_call_failf(st->parked[0], PS_NOT_FOUND, "evicted");
                st->parked[0] = NULL;
        }
        for (int i = 0; i < MAX_PARKED; i++) {
                if (!st->parked[i]) {
                        st->parked[i] = call;
                        ttrpc_call_on_cancel(call, on_cancel, st);
                        return;
                }
        }
        ttrpc_call_fail(call, NULL);
}

/* Kill answers every parked call, then itself with Empty. */
static void h_kill(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct fuzz_state *st = data;
        Containerd__Task__V2__WaitResponse wr;
        containerd__task__v2__wait_response__init(&wr);

        for (int i = MAX_PARKED - 1; i >= 0; i--) {
                if (st->parked[i]) {
                        ttrpc_call_reply(st->parked[i], &wr.base);
                        st->parked[i] = NULL;
                }
        }
        ttrpc_call_reply(call, NULL);
}

static const struct ttrpc_method methods[] = {
    {"Connect", &containerd__task__v2__connect_request__descriptor, h_connect},
    {"Wait", &containerd__task__v2__wait_request__descriptor, h_wait},
    {"Kill", &containerd__task__v2__kill_request__descriptor, h_kill},
    {"Shutdown", NULL, h_kill},
};

static struct ttrpc_service service = {"containerd.task.v2.Task", methods, 4, NULL};

static struct fuzz_state *fuzz_init(void)
{
        static struct fuzz_state st;
        int lfd;

        ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        st.base = event_base_new();
        service.data = &st;
        /* The listener (autobound to an abstract address) is never used:
         * inputs arrive on adopted socketpairs. */
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (!st.base || lfd < 0 ||
            bind(lfd, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_UNIX},
                 sizeof(sa_family_t)) < 0 ||
            listen(lfd, 1) < 0)
                abort();
        st.srv = ttrpc_server_new(st.base, lfd, &service, 1, NULL);
        if (!st.srv)
                abort();
        return &st;
}

static void drain(int fd)
{
        uint8_t sink[4096];

        while (read(fd, sink, sizeof(sink)) > 0)
                ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t chunk, off = 0;
        int fds[2];

        if (!state)
                state = fuzz_init();
        if (size < 1)
                return 0;
        chunk = 1 + data[0] % 97;
        data++;
        size--;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                abort();
        if (ttrpc_server_adopt(state->srv, fds[0], NULL) < 0)
                abort();
        while (off < size) {
                size_t n = size - off < chunk ? size - off : chunk;
                ssize_t w = write(fds[1], data + off, n);

                if (w > 0)
                        off += (size_t)w;
                else if (w < 0 && errno != EAGAIN)
                        break;
                event_base_loop(state->base, EVLOOP_NONBLOCK);
                drain(fds[1]);
        }
        shutdown(fds[1], SHUT_WR);
        for (int i = 0; i < 100000 && ttrpc_server_connections(state->srv); i++) {
                event_base_loop(state->base, EVLOOP_NONBLOCK);
                drain(fds[1]);
        }
        if (ttrpc_server_connections(state->srv))
                abort(); /* the server must notice the hang-up */
        for (int i = 0; i < MAX_PARKED; i++)
                if (state->parked[i])
                        abort(); /* every parked call must have been cancelled */
        close(fds[1]);
        return 0;
}
