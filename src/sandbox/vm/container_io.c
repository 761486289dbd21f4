/* The terminal and stdio of a vm pod's members and their execs
 * (sandbox/vm/container.h): the guest's pty sized by the agent, stdin
 * closed and output drained through sandbox/vm/stdio.h. */
#include "sandbox/vm/container.h"

#include <stdint.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "sandbox/vm/container_impl.h"
#include "sandbox/vm/pod.h"
#include "sandbox/vm/stdio.h"
#include "sandbox/vm/vm.h"
#include "task/container.h"
#include "task/process.h"

int ps_vm_ct_resize(struct ps_process *p, uint32_t w, uint32_t h, ps_backend_fn done, void *data,
                    struct ps_err **err)
{
        const struct ps_vm_exec *x = p->exec_id ? p->impl : NULL;
        struct ps_backend_result res = {0};
        struct ps_agent_client *a;
        struct ps_vm_call *k;

        if (!p->terminal) {
                done(data, NULL, &res);
                return 0;
        }
        if (p->exec_id && (!x || !x->in_guest))
                return ps_err_set(err, PS_FAILED_PRECONDITION, "exec %s: not running", p->exec_id);
        a = ps_vm_ct_agent(p->c, err);
        k = a ? ps_vm_call_new(done, data, err) : NULL;
        if (!k)
                return -1;
        return ps_vm_call_sent(k,
                               ps_agent_client_resize(a, p->c->id, p->exec_id, w, h, PS_VM_CALL_MS,
                                                      ps_vm_call_on_done, k, err));
}

/* The stdio of p: its member's (the init) or its own (an exec). */
static struct ps_vm_stdio *stdio_of(const struct ps_process *p)
{
        const struct ps_vm_member *m = ps_vm_ct_member(p->c);
        const struct ps_vm_exec *x = p->impl;

        if (p->exec_id)
                return x ? x->stdio : NULL;
        return m ? m->stdio : NULL;
}

void ps_vm_ct_close_stdin(struct ps_process *p)
{
        struct ps_vm_stdio *s = stdio_of(p);

        if (s)
                ps_vm_stdio_close_stdin(s);
}

void ps_vm_ct_drain(struct ps_process *p, void (*done)(void *data), void *data)
{
        struct ps_vm_stdio *s = stdio_of(p);

        if (s)
                ps_vm_stdio_drain(s, done, data);
        else
                done(data);
}
