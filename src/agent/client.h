/* The host side's typed client of the guest agent (agent/service.h): plain
 * C structs in and out, so the vm backend (sandbox/vm) never sees protobuf.
 *
 * One ttrpc connection to QEMU's end of the agent port (a unix socket,
 * `-chardev socket,server=on`), connected lazily by the first call and
 * again by the first call after it broke. Calls never block the loop: each
 * callback runs exactly once, later, with the answer or an error
 * (UNAVAILABLE while nothing listens on the socket, DEADLINE_EXCEEDED after
 * timeout_ms, CANCELLED when the client is freed).
 *
 * Ownership: the caller owns the client; ps_agent_client_free() must not be
 * called from one of its own callbacks.
 */
#ifndef PS_AGENT_CLIENT_H
#define PS_AGENT_CLIENT_H

#include <stdint.h>

#include "base/error.h"

struct event_base;
struct ps_agent_client;

/* What Hello answers; valid during the callback only. */
struct ps_agent_hello {
        const char *version;        /* podshim-agent's version */
        const char *kernel_release; /* the guest's uname -r */
        const char *boot_id;        /* the guest's /proc/sys/kernel/random/boot_id */
        uint32_t pid;               /* the agent's pid in the guest */
};

/* hello is NULL exactly when err is set. */
typedef void (*ps_agent_hello_fn)(void *data, const struct ps_err *err,
                                  const struct ps_agent_hello *hello);
typedef void (*ps_agent_done_fn)(void *data, const struct ps_err *err);

struct ps_agent_client *ps_agent_client_new(struct event_base *base, const char *socket_path,
                                            struct ps_err **err);

/* Fails the pending calls with CANCELLED, then frees. NULL ok. */
struct ps_agent_client *ps_agent_client_free(struct ps_agent_client *c);

/* Returns 0 when the call is on its way (fn runs later), -1 if it could not
 * be queued (fn never runs). */
int ps_agent_client_hello(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_hello_fn fn,
                          void *data, struct ps_err **err);

/* Asks the agent to exit, which ends the VM. */
int ps_agent_client_shutdown(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_done_fn fn,
                             void *data, struct ps_err **err);

#endif
