#include "task/op.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

struct ps_op *ps_op_new(struct ps_container *c, struct ps_process *p, const char *what,
                        ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_op *op = calloc(1, sizeof(*op));

        if (!op)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "operation"), NULL;
        op->c = c;
        op->p = p;
        op->what = what;
        op->done = done;
        op->data = data;
        return op;
}

void ps_op_free(struct ps_op *op)
{
        if (!op)
                return;
        free(op->arg);
        free(op);
}

void ps_op_succeed(struct ps_op *op, struct ps_op_result res)
{
        ps_op_fn done = op->done;
        void *data = op->data;

        ps_op_free(op);
        done(data, NULL, &res);
}

void ps_op_fail(struct ps_op *op, struct ps_err *err)
{
        ps_op_fn done = op->done;
        void *data = op->data;

        if (!err)
                ps_err_set(&err, PS_INTERNAL, "%s of %s failed without a reason",
                           op->what ? op->what : "operation",
                           op->p ? ps_process_name(op->p) : op->c->id);
        ps_op_free(op);
        done(data, err, NULL);
}

void ps_op_resume(struct ps_op *op)
{
        op->resume(op);
}
