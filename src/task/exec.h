/* Exec processes: registration (Exec) and start (Start with an exec id). */
#ifndef PS_TASK_EXEC_H
#define PS_TASK_EXEC_H

#include "task/container.h"

#define PS_EXEC_SPEC_MAX (1u << 20)

int ps_exec_start(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err);

#endif
