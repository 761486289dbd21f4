/* The containerd.task.v2.Task ttrpc service: thin translation between wire
 * messages and the container/process modules, with errors mapped to gRPC
 * codes here and nowhere else.
 *
 * Ownership: the shim root owns the service; the service owns the task
 * registry. */
#ifndef PS_TASK_SERVICE_H
#define PS_TASK_SERVICE_H

#include "task/container.h"
#include "ttrpc/server.h"

struct ps_task_service {
        struct ps_tasks tasks;
        /* Called (from the loop) when Shutdown finds no task left. */
        void (*on_shutdown)(void *data);
        void *shutdown_data;
};

void ps_task_service_init(struct ps_task_service *s, const struct ps_task_env *env,
                          void (*on_shutdown)(void *data), void *data);
void ps_task_service_destroy(struct ps_task_service *s);
/* The ttrpc service description, with data = s. */
struct ttrpc_service ps_task_service_describe(struct ps_task_service *s);

#endif
