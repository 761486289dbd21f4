/* The containerd.task.v2.Task ttrpc service: thin translation between wire
 * messages and the sandbox and task layers (plain requests in, plain
 * results out), with errors mapped to gRPC codes here and nowhere else.
 *
 * Ownership: the shim root owns the service and the sandbox registry it
 * borrows. */
#ifndef PS_API_TASK_SERVICE_H
#define PS_API_TASK_SERVICE_H

#include "sandbox/sandbox.h"
#include "ttrpc/server.h"

struct ps_task_service {
        struct ps_sandboxes *sandboxes;
        /* Called (from the loop) when Shutdown finds no task left. */
        void (*on_shutdown)(void *data);
        void *shutdown_data;
};

void ps_task_service_init(struct ps_task_service *s, struct ps_sandboxes *sandboxes,
                          void (*on_shutdown)(void *data), void *data);
/* The ttrpc service description, with data = s. */
struct ttrpc_service ps_task_service_describe(struct ps_task_service *s);

#endif
