/* The guest agent's ttrpc service, podshim.agent.v1.Agent
 * (proto/podshim/agent/v1/agent.proto), as podshim-agent serves it inside a
 * VM on the port org.podshim.agent (docs/vm-backend.md).
 *
 *  - Hello answers the agent's version, the guest kernel's release, the
 *    guest's boot id and the agent's pid: the host side's sign of life, and
 *    proof that it talks to another kernel than its own.
 *  - Shutdown answers, then asks the owner to stop (on_shutdown): the agent
 *    is the guest's init, so its exit ends the VM.
 *  - CreateContainer, StartContainer, Signal, DeleteContainer and Pids run
 *    the OCI runtime in the guest through the container table
 *    (agent/containers.h) and answer once it has; without a table they
 *    are UNIMPLEMENTED.
 *  - WaitExits is parked until an exit after its `ack` is queued, then
 *    answered with the exits in order (at most PS_AGENT_EXITS_PER_REPLY);
 *    one call is parked at a time: a newer one ends the older with
 *    FAILED_PRECONDITION. The exits stay queued until acknowledged.
 *  - ReadOutput, WriteStdin and CloseStdin reach the container's stdio
 *    (agent/streams.h): a read waits for bytes at its offset (or EOF), a
 *    write for room in the stdin pipe; a call whose connection goes while
 *    it waits is dropped when the streams answer it.
 *  - ExecProcess runs `runtime exec --detach` in a running container
 *    (agent/containers.h) and answers the exec's pid; its streams are
 *    reached by the stdio methods with its exec id, Signal with its exec id
 *    signals it, its exit comes through WaitExits with its exec id, and
 *    DeleteExec forgets it. StartContainer, DeleteContainer and Pids refuse
 *    an exec id (INVALID_ARGUMENT).
 *  - SetupNetwork configures the guest's interfaces and routes
 *    (agent/network.h) when `network` is set (the real agent, the guest's
 *    init); a request that is well formed otherwise is FAILED_PRECONDITION
 *    (a test or fuzz target must not reconfigure its host).
 *  - Every other method is UNIMPLEMENTED (the ttrpc server's own answer for
 *    a method it does not know).
 *
 * Ownership: the owner keeps the struct alive as long as any server serves
 * it; the service holds no other state.
 */
#ifndef PS_AGENT_SERVICE_H
#define PS_AGENT_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "ttrpc/server.h"

struct ps_agent_containers;

#define PS_AGENT_SERVICE_NAME    "podshim.agent.v1.Agent"
#define PS_AGENT_EXITS_PER_REPLY 64

/* Runs once the Shutdown reply is queued; it must not free the server (the
 * handler is still on the stack): stopping the loop is what it is for. */
typedef void (*ps_agent_shutdown_fn)(void *data);

struct ps_agent_service {
        struct ttrpc_service svc; /* pass &svc to ttrpc_server_new() */
        ps_agent_shutdown_fn on_shutdown;
        void *data;
        const char *boot_id_path;               /* /proc/sys/kernel/random/boot_id */
        struct ps_agent_containers *containers; /* NULL: no container methods */
        struct ttrpc_call *exit_waiter;         /* the parked WaitExits */
        uint64_t exit_ack;                      /* its ack */
        bool network;                           /* SetupNetwork may change this namespace */
};

void ps_agent_service_init(struct ps_agent_service *s, ps_agent_shutdown_fn on_shutdown,
                           void *data);

/* Serves the container methods from `t` (borrowed; the owner frees it
 * after the server). */
void ps_agent_service_set_containers(struct ps_agent_service *s, struct ps_agent_containers *t);

/* The container table's ps_agent_exit_queued_fn: answers a parked
 * WaitExits. data is the service. */
void ps_agent_service_exit_queued(void *data);

#endif
