/* The execs of a vm pod's members (sandbox/vm/container.h): ExecProcess in
 * the guest with stdio of their own, their exits held for their output,
 * DeleteExec when freed. */
#include "sandbox/vm/container.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "sandbox/vm/container_impl.h"
#include "sandbox/vm/pod.h"
#include "sandbox/vm/stdio.h"
#include "sandbox/vm/vm.h"
#include "task/container.h"
#include "task/process.h"

struct exec_call {
        struct ps_vm_call k; /* first: call_finish frees the whole */
        struct ps_vm_exec *x;
};

/* A failed start leaves nothing open (task/backend.h): the client's FIFO
 * readers see EOF at once. */
static void exec_finish(struct exec_call *ec, const struct ps_err *err, pid_t pid)
{
        if (err)
                ec->x->stdio = ps_vm_stdio_free(ec->x->stdio);
        ps_vm_call_finish(&ec->k, err, pid);
}

static void on_exec_started(void *data, const struct ps_err *err, uint32_t pid)
{
        struct exec_call *ec = data;
        struct ps_vm_exec *x = ec->x;
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_agent_client *a;

        if (!err)
                x->in_guest = true;
        if (!err && ps_vm_stdio_start(x->stdio, x->m->c->id, x->p->exec_id, ps_vm_ct_member_agent,
                                      x->m, &e) < 0) {
                /* nothing may run in the guest that nobody would report */
                ps_err_prefix(&e, "exec %s: stdio", x->p->exec_id);
                a = ps_vm_ct_member_agent(x->m);
                if (a)
                        ps_agent_client_delete_exec(a, x->m->c->id, x->p->exec_id, PS_VM_CALL_MS,
                                                    ps_vm_ct_ignored, NULL, NULL);
                x->in_guest = false;
                err = e;
        }
        exec_finish(ec, err, (pid_t)pid);
}

/* The host's end of the exec's stdio is ready: the exec runs in the guest
 * with the pipes the host needs. */
static void on_exec_stdio_ready(void *data, struct ps_err *e)
{
        struct exec_call *ec = data;
        struct ps_vm_exec *x = ec->x;
        struct ps_agent_client *a = ps_vm_ct_member_agent(x->m);
        struct ps_agent_exec_spec spec;
        bool want[3];

        if (!e && !a)
                ps_err_set(&e, PS_FAILED_PRECONDITION, "%s: the pod's VM is not running",
                           x->m->c->id);
        if (!e) {
                ps_vm_stdio_wants(x->stdio, want);
                spec = (struct ps_agent_exec_spec){.id = x->m->c->id,
                                                   .exec_id = x->p->exec_id,
                                                   .process = x->p->spec_json,
                                                   .stdin_pipe = want[0],
                                                   .stdout_pipe = want[1],
                                                   .stderr_pipe = want[2],
                                                   .terminal = x->p->terminal};
                if (ps_agent_client_exec(a, &spec, PS_VM_CALL_MS, on_exec_started, ec, &e) == 0)
                        return;
        }
        exec_finish(ec, e, 0);
        ps_err_free(e);
}

int ps_vm_ct_exec(struct ps_process *p, ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_vm_member *m = ps_vm_ct_member(c);
        const struct ps_vm_backend *be;
        struct ps_stdio_config cfg = {.stdin_path = p->stdin_path,
                                      .stdout_path = p->stdout_path,
                                      .stderr_path = p->stderr_path,
                                      .container_id = c->id};
        struct ps_vm_exec *x;
        struct exec_call *ec;

        /* A terminal's pty is the guest's: the host relays its one output
         * stream to the stdout FIFO and the stdin FIFO to it, through pipes
         * as for any exec (cfg.terminal stays false). */
        if (!ps_vm_ct_agent(c, err))
                return -1;
        be = m->pod->c->be_ctx;
        cfg.ns = be->ns;
        x = calloc(1, sizeof(*x));
        ec = calloc(1, sizeof(*ec));
        if (!x || !ec) {
                free(x);
                free(ec);
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "exec %s", p->exec_id);
        }
        *x = (struct ps_vm_exec){.p = p, .m = m};
        *ec = (struct exec_call){.k = {.done = done, .data = data}, .x = x};
        x->stdio = ps_vm_stdio_new(be->base, be->reaper, &cfg, on_exec_stdio_ready, ec, err);
        if (!x->stdio) {
                free(x);
                free(ec);
                return ps_err_prefix(err, "exec %s", p->exec_id);
        }
        p->impl = x;
        return 0;
}

static void report_exec_exit(void *data)
{
        struct ps_vm_exec *x = data;

        ps_task_process_exited(x->p, x->exit_status);
}

static void exec_exited(struct ps_vm_exec *x, unsigned exit_status)
{
        x->exited = true;
        x->exit_status = exit_status;
        if (x->stdio)
                ps_vm_stdio_on_output_end(x->stdio, report_exec_exit, x);
        else
                report_exec_exit(x);
}

void ps_vm_member_exec_exited(struct ps_vm_member *m, const char *exec_id, unsigned exit_status)
{
        struct ps_list *pos;

        for (pos = m->c->execs.next; pos != &m->c->execs; pos = pos->next) {
                struct ps_process *p = ps_list_entry(pos, struct ps_process, link);
                struct ps_vm_exec *x = p->impl;

                if (x && x->in_guest && !x->exited && strcmp(p->exec_id, exec_id) == 0)
                        return exec_exited(x, exit_status);
        }
        ps_log_debug("%s: exit of exec %s: no such exec", m->c->id, exec_id);
}

void ps_vm_ct_execs_vm_gone(struct ps_vm_member *m)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &m->c->execs)
        {
                struct ps_process *p = ps_list_entry(pos, struct ps_process, link);
                struct ps_vm_exec *x = p->impl;

                if (!x)
                        continue;
                if (x->stdio)
                        ps_vm_stdio_cut(x->stdio);
                if (x->in_guest && !x->exited && ps_process_live(p) &&
                    p->state != PS_PROC_STARTING) {
                        x->exited = true;
                        ps_task_process_exited(p, 128 + SIGKILL);
                }
        }
}

void ps_vm_ct_process_free(struct ps_process *p)
{
        struct ps_vm_member *m = ps_vm_ct_member(p->c);
        struct ps_vm_exec *x = p->impl;
        struct ps_agent_client *a;

        if (!p->exec_id) {
                if (m)
                        m->stdio = ps_vm_stdio_free(m->stdio); /* cancels a drain or a held exit */
                return;
        }
        if (!x)
                return;
        /* the exec is deleted: so is all the guest kept of it */
        a = x->in_guest ? ps_vm_ct_member_agent(x->m) : NULL;
        if (a)
                ps_agent_client_delete_exec(a, x->m->c->id, p->exec_id, PS_VM_CALL_MS,
                                            ps_vm_ct_ignored, NULL, NULL);
        ps_vm_stdio_free(x->stdio);
        free(x);
        p->impl = NULL;
}
