/* The stdio of a vm pod's container on the host (docs/vm-backend.md, slice
 * 3): containerd's FIFOs (or file://, binary://) on one side, the agent's
 * pipes in the guest on the other (agent/streams.h), on the shim's one event
 * loop.
 *
 * The host end is the Linux backend's own stdio object (sandbox/linux/
 * stdio.h), used as is: it opens the client's paths exactly as for a
 * container on the host, makes a pipe per stream and relays pipe <-> FIFO
 * with its drain rules. Where a container on the host would hold the
 * process ends of those pipes, this module holds them and moves the bytes
 * to and from the guest:
 *
 *  - output: one ReadOutput parked per stream at the agent. Its answer is
 *    written into the stream's pipe without blocking; what the pipe does not
 *    take waits for it to drain (the relay into the FIFO empties it), and
 *    only then is the next ReadOutput sent, whose offset acknowledges the
 *    bytes. A slow FIFO reader thus stops the asking, the agent's buffer
 *    fills, the agent stops reading the container's pipe and the container's
 *    write blocks: nothing is lost and nothing grows. The agent's EOF closes
 *    the pipe, and the relay's EOF follows once the FIFO took the rest.
 *  - stdin: what the relay from the stdin FIFO puts into the stdin pipe is
 *    read in chunks and sent with WriteStdin at its offset, the next chunk
 *    only once the agent took the last; the pipe's EOF (the client closed
 *    the FIFO after CloseIO) becomes CloseStdin after the last byte.
 *
 * A failed call is sent again from the same offset (the agent answers the
 * same bytes, or skips stdin bytes it took already); NOT_FOUND, or no agent
 * any more (the VM is gone), ends the stream.
 *
 * Exit ordering: the guest's exit and its last output reach the host by
 * separate calls, so the member's exit waits (ps_vm_stdio_on_output_end)
 * until both output streams ended in the guest and their bytes are in the
 * host's pipes, as a container's on the host are when its exit is seen.
 *
 * Ownership: the member owns its stdio; freeing it cancels everything (the
 * calls in flight find nothing when they return).
 */
#ifndef PS_SANDBOX_VM_STDIO_H
#define PS_SANDBOX_VM_STDIO_H

#include <stdbool.h>

#include "base/error.h"
#include "sandbox/linux/stdio.h"

struct event_base;
struct ps_reaper;
struct ps_agent_client;
struct ps_vm_stdio;

/* The agent to talk to right now, or NULL once the VM is gone. */
typedef struct ps_agent_client *(*ps_vm_agent_fn)(void *data);

/* Opens the client's paths (cfg, no terminal). `ready` runs once from the
 * loop, with an error if a binary:// logger failed. */
struct ps_vm_stdio *ps_vm_stdio_new(struct event_base *base, struct ps_reaper *reaper,
                                    const struct ps_stdio_config *cfg, ps_stdio_ready_fn ready,
                                    void *data, struct ps_err **err);

struct ps_vm_stdio *ps_vm_stdio_free(struct ps_vm_stdio *s);

/* Which of stdin, stdout, stderr the guest needs a pipe for. */
void ps_vm_stdio_wants(const struct ps_vm_stdio *s, bool want[3]);

/* The process exists in the guest: start moving bytes for container `id`'s
 * init (exec_id NULL) or its exec `exec_id` (both copied) through
 * agent(agent_data). */
int ps_vm_stdio_start(struct ps_vm_stdio *s, const char *id, const char *exec_id,
                      ps_vm_agent_fn agent, void *agent_data, struct ps_err **err);

/* CloseIO: as on the host, the client's EOF on the stdin FIFO counts from
 * now on, and reaches the guest as CloseStdin. */
void ps_vm_stdio_close_stdin(struct ps_vm_stdio *s);

/* fn(data) runs once, from the loop, when both output streams ended in the
 * guest and their bytes are in the host's pipes, or when none has moved for
 * a while (a process left behind in the guest may hold a pipe open), or at
 * the latest after a bound. One waiter at a time. */
void ps_vm_stdio_on_output_end(struct ps_vm_stdio *s, void (*fn)(void *data), void *data);

/* The VM is gone: nothing more comes from the guest. Ends the streams and
 * runs a waiting on_output_end callback now, before returning. */
void ps_vm_stdio_cut(struct ps_vm_stdio *s);

/* The backend's drain (task/backend.h): stops asking the guest, then lets
 * the host's relays flush into the FIFOs (bounded) and runs done. */
void ps_vm_stdio_drain(struct ps_vm_stdio *s, void (*done)(void *data), void *data);

#endif
