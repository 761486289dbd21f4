/* libFuzzer target: arbitrary bytes from a peer on a ttrpc server connection.
 *
 * Each input goes through a real socketpair into a real server connection
 * (ttrpc_server_adopt), in chunks whose size the first byte picks, with the
 * event loop run between chunks; then the peer half-closes and the loop runs
 * until the server has dropped the connection. This exercises the frame
 * reader, the envelope and payload decoding, dispatch, the reply path,
 * parked calls answered out of order, and cancellation on hang-up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/log.h"
#include "containerd/task/v2/task.pb-c.h"
#include "fuzz_conn.h"
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

        ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        st.base = event_base_new();
        service.data = &st;
        st.srv = fuzz_conn_server_new(st.base, &service, 1);
        return &st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t chunk;
        int fd;

        if (!state)
                state = fuzz_init();
        if (size < 1)
                return 0;
        chunk = 1 + data[0] % 97;
        data++;
        size--;
        fd = fuzz_conn_open(state->srv);
        fuzz_conn_feed(state->base, fd, data, size, chunk);
        fuzz_conn_hang_up(state->base, state->srv, fd);
        for (int i = 0; i < MAX_PARKED; i++)
                if (state->parked[i])
                        abort(); /* every parked call must have been cancelled */
        close(fd);
        return 0;
}
