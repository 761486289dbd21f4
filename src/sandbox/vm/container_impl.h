/* What the three files of a vm pod's members share, private to them
 * (agent/containers_impl.h is the model): container.c (the lifecycle:
 * create, start, signal, delete, pids, stats, exits, the VM's end),
 * container_exec.c (execs) and container_io.c (terminal and stdio). */
#ifndef PS_SANDBOX_VM_CONTAINER_IMPL_H
#define PS_SANDBOX_VM_CONTAINER_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "task/backend.h"

/* runc create and start under TCG take a second or two; a loaded host more. */
#define PS_VM_CALL_MS 60000

struct ps_agent_client;
struct ps_vm_member;
struct ps_vm_stdio;

/* One call to the agent on behalf of the task core's `done`. */
struct ps_vm_call {
        ps_backend_fn done;
        void *data;
};

struct ps_vm_call *ps_vm_call_new(ps_backend_fn done, void *data, struct ps_err **err);
/* Tells done (err copied, prefixed "vm: ") and frees k. */
void ps_vm_call_finish(struct ps_vm_call *k, const struct ps_err *err, pid_t pid);
/* The agent client's callbacks for a call: a pid, or nothing. */
void ps_vm_call_on_pid(void *data, const struct ps_err *err, uint32_t pid);
void ps_vm_call_on_done(void *data, const struct ps_err *err);
/* The call is on its way (r 0), or k is freed and err set. */
int ps_vm_call_sent(struct ps_vm_call *k, int r);

/* An exec of a member (p->impl): its stdio, and its exit while it is held
 * for its output. */
struct ps_vm_exec {
        struct ps_process *p;
        struct ps_vm_member *m;
        struct ps_vm_stdio *stdio; /* NULL once its start failed */
        bool in_guest;             /* ExecProcess succeeded: DeleteExec when freed */
        bool exited;
        unsigned exit_status;
};

struct ps_vm_member *ps_vm_ct_member(const struct ps_container *c);
/* The agent of c's pod, or NULL with FAILED_PRECONDITION. */
struct ps_agent_client *ps_vm_ct_agent(const struct ps_container *c, struct ps_err **err);
/* The agent of m's pod right now (ps_vm_agent_fn), NULL once it is gone. */
struct ps_agent_client *ps_vm_ct_member_agent(void *data);
/* A callback for a call nobody waits for (a removal on the way out). */
void ps_vm_ct_ignored(void *data, const struct ps_err *err);

/* container_exec.c: the backend's exec and process_free; the VM is gone:
 * every exec that ran there is reported killed (its held exit first, as it
 * was). */
int ps_vm_ct_exec(struct ps_process *p, ps_backend_fn done, void *data, struct ps_err **err);
void ps_vm_ct_process_free(struct ps_process *p);
void ps_vm_ct_execs_vm_gone(struct ps_vm_member *m);

/* container_io.c: the backend's resize_async, close_stdin and drain. A
 * terminal (the guest's pty, a container's or an exec's) is sized by the
 * agent, and done answers once it did: the agent's refusal is the answer
 * (INVALID_ARGUMENT for a size beyond 65535, as the Linux backend's; an
 * exec or container the guest does not know NOT_FOUND). A process without
 * a terminal has nothing to size: OK at once, as with runc-v2 and the
 * Linux backend. */
int ps_vm_ct_resize(struct ps_process *p, uint32_t w, uint32_t h, ps_backend_fn done, void *data,
                    struct ps_err **err);
void ps_vm_ct_close_stdin(struct ps_process *p);
void ps_vm_ct_drain(struct ps_process *p, void (*done)(void *data), void *data);

#endif
