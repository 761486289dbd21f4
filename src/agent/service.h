/* The guest agent's ttrpc service, podshim.agent.v1.Agent
 * (proto/podshim/agent/v1/agent.proto), as podshim-agent serves it inside a
 * VM on the port org.podshim.agent (docs/vm-backend.md).
 *
 *  - Hello answers the agent's version, the guest kernel's release, the
 *    guest's boot id and the agent's pid: the host side's sign of life, and
 *    proof that it talks to another kernel than its own.
 *  - Shutdown answers, then asks the owner to stop (on_shutdown): the agent
 *    is the guest's init, so its exit ends the VM.
 *  - Every other method is UNIMPLEMENTED (the ttrpc server's own answer for
 *    a method it does not know).
 *
 * Ownership: the owner keeps the struct alive as long as any server serves
 * it; the service holds no other state.
 */
#ifndef PS_AGENT_SERVICE_H
#define PS_AGENT_SERVICE_H

#include "ttrpc/server.h"

#define PS_AGENT_SERVICE_NAME "podshim.agent.v1.Agent"

/* Runs once the Shutdown reply is queued; it must not free the server (the
 * handler is still on the stack): stopping the loop is what it is for. */
typedef void (*ps_agent_shutdown_fn)(void *data);

struct ps_agent_service {
        struct ttrpc_service svc; /* pass &svc to ttrpc_server_new() */
        ps_agent_shutdown_fn on_shutdown;
        void *data;
        const char *boot_id_path; /* /proc/sys/kernel/random/boot_id */
};

void ps_agent_service_init(struct ps_agent_service *s, ps_agent_shutdown_fn on_shutdown,
                           void *data);

#endif
