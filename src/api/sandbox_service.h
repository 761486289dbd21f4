/* The containerd.runtime.sandbox.v1.Sandbox ttrpc service (containerd
 * 2.x's shim sandboxer, a CRI handler with sandboxer = "shim"), served on
 * the same socket as the Task service: thin translation between the wire
 * and sandbox/lifecycle.h, errors mapped to gRPC codes here.
 *
 *   CreateSandbox   options must be runtime.v1.PodSandboxConfig
 *                   (INVALID_ARGUMENT otherwise); answers once the infra
 *                   process is set up
 *   StartSandbox    the infra pid and its creation time
 *   Platform        linux and the architecture this shim was built for
 *   StopSandbox     answers once the pod has ended (timeout_secs: the
 *                   members' SIGTERM grace)
 *   WaitSandbox     parked until the pod has ended (the infra process and
 *                   every member exited); never holds up the loop
 *   SandboxStatus   "SANDBOX_READY" / "SANDBOX_NOTREADY" exactly, the infra
 *                   pid (0 once the pod has ended); verbose:
 *                   info["info"], JSON shaped like CRI's own sandbox info
 *                   (pid, processStatus, runtimeSpec with the infra
 *                   process's namespaces and cgroupsPath) plus podshim's
 *   PingSandbox     OK while the sandbox exists
 *   ShutdownSandbox ends the pod, deletes what is left of it and, when the
 *                   shim then serves no task, ends the shim
 *   SandboxMetrics  the pod's metrics, as Task Stats of its own task
 * An unknown sandbox id is NOT_FOUND for every method but CreateSandbox;
 * ShutdownSandbox of an unknown id still ends a shim that serves nothing
 * (containerd's cleanup after a failed CreateSandbox).
 *
 * Ownership: the shim root owns the service and the registry it borrows. */
#ifndef PS_API_SANDBOX_SERVICE_H
#define PS_API_SANDBOX_SERVICE_H

#include "sandbox/sandbox.h"
#include "ttrpc/server.h"

#define PS_SANDBOX_SERVICE_NAME "containerd.runtime.sandbox.v1.Sandbox"

struct ps_sandbox_service {
        struct ps_sandboxes *sandboxes;
        /* Called (from the loop) when the shim has nothing left to serve. */
        void (*on_shutdown)(void *data);
        void *shutdown_data;
};

void ps_sandbox_service_init(struct ps_sandbox_service *s, struct ps_sandboxes *sandboxes,
                             void (*on_shutdown)(void *data), void *data);
/* The ttrpc service description, with data = s. */
void ps_sandbox_service_describe(struct ps_sandbox_service *s, struct ttrpc_service *ret);

/* The Platform answer's architecture and variant (GOARCH / GOARM names)
 * for the machine this shim was built for. */
const char *ps_sandbox_platform_arch(void);
const char *ps_sandbox_platform_variant(void);

#endif
