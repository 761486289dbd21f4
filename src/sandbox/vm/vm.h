/* One pod VM: a QEMU child of the shim and the agent inside it
 * (docs/vm-backend.md). Slice 1: boot, Hello, Shutdown, and the exit.
 *
 * ps_vm_start() makes the run directory, spawns QEMU (argv only,
 * sandbox/vm/qemu.h) and hands its pid to the reaper, then returns; the
 * loop does the rest. A timer says Hello to the agent through QEMU's
 * socket until it answers: the socket may not exist yet (QEMU is starting),
 * and a Hello waits in it until the guest's agent opens its port, so each
 * attempt has a deadline of its own and a failed one is tried again shortly,
 * until the boot deadline. The first answer makes the VM ready.
 *
 * The run directory holds QEMU's agent socket and its pid file
 * (PS_VM_QEMU_PID).
 *
 * QEMU's exit, for any reason (SIGKILL, the agent's death ending the guest,
 * the boot deadline, which kills QEMU), reaches the VM through the reaper
 * like every child's: the agent connection is dropped, the run directory
 * and its socket removed, and then `exited` runs, last.
 *
 * Once ready, the VM keeps one WaitExits parked at the agent and hands each
 * container exit to `container_exit`, in the agent's order, each once: the
 * next WaitExits acknowledges what the last one brought. A failed
 * WaitExits (the connection broke) is asked again shortly from the same
 * acknowledgement, so an exit is never lost while QEMU lives.
 *
 * Ownership: the caller owns the VM and frees it with ps_vm_free(), which
 * SIGKILLs a QEMU still running (its exit then lands in the reaper's cache
 * of unclaimed exits). ps_vm_free() may be called from `exited`, not from
 * `ready`.
 */
#ifndef PS_SANDBOX_VM_VM_H
#define PS_SANDBOX_VM_VM_H

#include <stdint.h>
#include <sys/types.h>

#include "agent/client.h"
#include "base/error.h"
#include "sandbox/vm/qemu.h"

/* QEMU's pid in the run directory, for the delete action of a shim that
 * died (sandbox/vm/leftovers.h) */
#define PS_VM_QEMU_PID "qemu.pid"

struct event_base;
struct ps_reaper;
struct ps_vm;

struct ps_vm_events {
        /* The agent answered Hello; `hello` is valid during the call only. */
        void (*ready)(void *data, struct ps_vm *vm, const struct ps_agent_hello *hello);
        /* QEMU has exited and the run directory is gone. `why` says what
         * the VM did wrong when it never became ready (the boot deadline),
         * else NULL; wait_status is QEMU's. */
        void (*exited)(void *data, struct ps_vm *vm, int wait_status, const struct ps_err *why);
        /* A container in the guest exited (valid during the call only). */
        void (*container_exit)(void *data, struct ps_vm *vm, const struct ps_agent_exit_info *e);
        void *data;
};

/* Boots a VM whose run directory is `dir` (created here, 0700; it must not
 * exist). boot_timeout_ms bounds spawn-to-Hello. */
struct ps_vm *ps_vm_start(struct event_base *base, struct ps_reaper *reaper,
                          const struct ps_vm_config *cfg, const char *dir, unsigned boot_timeout_ms,
                          const struct ps_vm_events *ev, struct ps_err **err);

struct ps_vm *ps_vm_free(struct ps_vm *vm);

/* QEMU's pid; 0 once it has exited. */
pid_t ps_vm_pid(const struct ps_vm *vm);

/* Microseconds from spawn to the agent's Hello answer; 0 before. */
uint64_t ps_vm_boot_usec(const struct ps_vm *vm);

/* The agent's client once the VM is ready (for container calls), else NULL. */
struct ps_agent_client *ps_vm_agent(const struct ps_vm *vm);

/* Signals QEMU. FAILED_PRECONDITION once it has exited. */
int ps_vm_kill(struct ps_vm *vm, int sig, struct ps_err **err);

/* Asks the agent to exit (Agent.Shutdown), which ends the VM; the answer
 * that matters is QEMU's exit. FAILED_PRECONDITION unless ready. */
int ps_vm_shutdown(struct ps_vm *vm, struct ps_err **err);

#endif
