/* One asynchronous task operation in flight: who it is for, whom to tell,
 * and where to continue after a wait (a Delete waiting for stdio to drain).
 * Ownership: created by the operation, freed by ps_op_finish()/ps_op_free(). */
#ifndef PS_TASK_OP_H
#define PS_TASK_OP_H

#include "task/container.h"

struct ps_op {
        struct ps_container *c;
        struct ps_process *p;
        const char *what; /* "create", "start", ...: static, for messages */
        ps_op_fn done;
        void *data;
        void (*resume)(struct ps_op *op);
        char *arg; /* operation-specific string (checkpoint path) */
};

struct ps_op *ps_op_new(struct ps_container *c, struct ps_process *p, const char *what,
                        ps_op_fn done, void *data, struct ps_err **err);
/* The only two ways an operation ends: each frees op and then calls
 * done(data, ...) exactly once, keeping ps_op_fn's rule "an error or a
 * result, never neither". ps_op_fail takes ownership of err; a NULL err (a
 * path that lost its error) becomes an INTERNAL error naming the operation. */
void ps_op_succeed(struct ps_op *op, struct ps_op_result res);
void ps_op_fail(struct ps_op *op, struct ps_err *err);
void ps_op_resume(struct ps_op *op);
void ps_op_free(struct ps_op *op);

#endif
