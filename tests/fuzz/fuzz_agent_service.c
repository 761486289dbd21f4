/* libFuzzer target: hostile bytes from the host on the guest agent's
 * connection, served by the real ttrpc server with the agent's real
 * service (agent/service.h), exactly as podshim-agent serves its port.
 *
 * Each input goes through a real socket pair into a real server connection,
 * in chunks whose size the first byte picks, with the event loop run
 * between chunks; then the peer half-closes and the server must drop the
 * connection. This covers the frame reader, the envelope and payload
 * decoding of podshim.agent.v1 requests, Hello's answer (from this host's
 * /proc) and Shutdown's callback, the container methods on a real container
 * table (agent/containers.h) whose bundle directory is BUNDLES
 * and whose runtime directory holds no runtime, so a valid CreateContainer
 * gets as far as spawning and answers NOT_FOUND (no program ever runs), and
 * WaitExits parked and cancelled with its connection; ReadOutput,
 * WriteStdin and CloseStdin decoded and looked up (no container outlives its
 * failed create here, so they end at NOT_FOUND; the streams' own logic is
 * fuzz_agent_streams's and tests/unit/test_agent_streams.c's);
 * ExecProcess, DeleteExec and Resize decoded and checked (ids, the process
 * JSON and its terminal, then the container lookup, NOT_FOUND here), and
 * the exec id on
 * Signal, the stdio methods and the methods that refuse one;
 * UNIMPLEMENTED for everything else.
 * The seeds (corpus/agent_service, written by make-corpus.py) are whole
 * Hello, Shutdown, container, stdio, exec and WaitExits frames and an
 * unknown method. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "agent/containers.h"
#include "agent/service.h"
#include "base/log.h"
#include "core/reaper.h"
#include "fuzz_conn.h"
#include "ttrpc/server.h"

/* the seeds' bundles are BUNDLES/<id> (make-corpus.py) */
#define BUNDLES "/tmp/podshim-fuzz-agent"

struct agent_fuzz {
        struct event_base *base;
        struct ps_agent_service svc;
        struct ps_reaper *reaper;
        struct ps_agent_containers *containers;
        struct ttrpc_server *srv;
        unsigned shutdowns; /* Shutdown requests answered in this input */
};

static struct agent_fuzz *state;

static void on_shutdown(void *data)
{
        struct agent_fuzz *st = data;

        st->shutdowns++;
}

static struct agent_fuzz *fuzz_init(void)
{
        static struct agent_fuzz st;

        ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        st.base = event_base_new();
        ps_agent_service_init(&st.svc, on_shutdown, &st);
        /* the seeds' bundle */
        if ((mkdir(BUNDLES, 0700) < 0 && errno != EEXIST) ||
            (mkdir(BUNDLES "/c1", 0700) < 0 && errno != EEXIST))
                abort();
        st.reaper = ps_reaper_new(st.base, NULL);
        st.containers = ps_agent_containers_new(st.base, st.reaper, BUNDLES, "/nonexistent/podshim",
                                                "/nonexistent/podshim/runc-root",
                                                ps_agent_service_exit_queued, &st.svc, NULL);
        if (!st.reaper || !st.containers)
                abort();
        ps_agent_service_set_containers(&st.svc, st.containers);
        st.srv = fuzz_conn_server_new(st.base, &st.svc.svc, 1);
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
        state->shutdowns = 0;
        fd = fuzz_conn_open(state->srv);
        fuzz_conn_feed(state->base, fd, data, size, chunk);
        fuzz_conn_hang_up(state->base, state->srv, fd);
        /* a frame is at least its 10-byte header: no more Shutdowns than that */
        if (state->shutdowns > size / 10)
                abort();
        close(fd);
        return 0;
}
