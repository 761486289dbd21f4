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
        /* Called (from the loop) when Shutdown finds no task left, or, in
         * grouped mode, when the last task is deleted after a Shutdown
         * found some. */
        void (*on_shutdown)(void *data);
        void *shutdown_data;
        /* Bootstrapped as version 3 (shim/bootstrap.h): containerd 2.x sends
         * Shutdown once, after the pod's sandbox task is deleted, which CRI
         * does as soon as that task has exited, possibly before it deletes
         * the members; so that Shutdown is remembered (shutdown_pending).
         * In plain mode a Shutdown follows every Delete and is not. */
        bool grouped;
        bool shutdown_pending;
};

void ps_task_service_init(struct ps_task_service *s, struct ps_sandboxes *sandboxes, bool grouped,
                          void (*on_shutdown)(void *data), void *data);
/* The ttrpc service descriptions, with data = s: the same service under
 * containerd.task.v2.Task (containerd 1.6+, and 2.x for a version-2 shim)
 * and containerd.task.v3.Task (2.x, version-3 bootstrap). */
#define PS_TASK_SERVICE_NAMES 2
void ps_task_service_describe(struct ps_task_service *s,
                              struct ttrpc_service ret[PS_TASK_SERVICE_NAMES]);

#endif
