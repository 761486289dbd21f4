#include "sandbox/vm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/spawn.h"
#include "core/reaper.h"

/* A Hello waits in QEMU's socket until the agent opens its port, so an
 * attempt may take the whole boot; one that fails (no socket yet, a broken
 * connection) is tried again soon. */
#define HELLO_ATTEMPT_MS 2000
#define HELLO_RETRY_MS   20
#define SHUTDOWN_MS      5000
#define EXITS_RETRY_MS   100

enum vm_state {
        VM_BOOTING,  /* saying Hello until the agent answers */
        VM_READY,    /* the agent answered */
        VM_STOPPING, /* the boot deadline passed: QEMU was killed */
        VM_EXITED,   /* QEMU is gone, and so is the run directory */
};

struct ps_vm {
        struct event_base *base;
        struct ps_reaper *reaper;
        struct ps_vm_events ev;
        char *dir, *sock, *pidfile;
        pid_t pid; /* 0 once reaped */
        enum vm_state state;
        struct ps_agent_client *agent;
        bool hello_pending;
        struct event *ev_retry, *ev_deadline, *ev_exits;
        uint64_t exit_ack;  /* the highest exit seq handed to container_exit */
        bool exits_pending; /* a WaitExits is parked at the agent */
        unsigned boot_timeout_ms;
        struct ps_err *boot_err;
        uint64_t t_spawn, t_ready; /* CLOCK_MONOTONIC, microseconds */
};

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void retry_in(struct ps_vm *vm, unsigned ms)
{
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

        evtimer_add(vm->ev_retry, &tv);
}

static void wait_exits(struct ps_vm *vm);

static void on_exits(void *data, const struct ps_err *err, const struct ps_agent_exit_info *exits,
                     size_t n)
{
        struct ps_vm *vm = data;
        struct timeval tv = {.tv_usec = EXITS_RETRY_MS * 1000};

        vm->exits_pending = false;
        if (vm->state != VM_READY)
                return; /* QEMU is gone: the client was freed */
        if (err) {
                ps_log_debug("vm %s: WaitExits: %s", vm->dir, ps_err_msg(err));
                evtimer_add(vm->ev_exits, &tv);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (exits[i].seq <= vm->exit_ack)
                        continue; /* seen already (an answer asked for twice) */
                vm->exit_ack = exits[i].seq;
                if (vm->ev.container_exit)
                        vm->ev.container_exit(vm->ev.data, vm, &exits[i]);
                if (vm->state != VM_READY)
                        return;
        }
        wait_exits(vm);
}

static void wait_exits(struct ps_vm *vm)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct timeval tv = {.tv_usec = EXITS_RETRY_MS * 1000};

        if (vm->state != VM_READY || vm->exits_pending)
                return;
        if (ps_agent_client_wait_exits(vm->agent, vm->exit_ack, on_exits, vm, &err) < 0) {
                ps_log_debug("vm %s: WaitExits: %s", vm->dir, ps_err_msg(err));
                evtimer_add(vm->ev_exits, &tv);
                return;
        }
        vm->exits_pending = true;
}

static void on_exits_retry(evutil_socket_t fd, short what, void *arg)
{
        wait_exits(arg);
}

static void on_hello(void *data, const struct ps_err *err, const struct ps_agent_hello *hello)
{
        struct ps_vm *vm = data;

        vm->hello_pending = false;
        if (vm->state != VM_BOOTING)
                return; /* the VM is going, or Hello was answered already */
        if (err) {
                ps_log_debug("vm %s: hello: %s", vm->dir, ps_err_msg(err));
                retry_in(vm, err->code == PS_DEADLINE_EXCEEDED ? 0 : HELLO_RETRY_MS);
                return;
        }
        vm->state = VM_READY;
        vm->t_ready = now_usec();
        evtimer_del(vm->ev_deadline);
        ps_log_debug("vm %s: agent %s up after %llu ms, guest kernel %s", vm->dir, hello->version,
                     (unsigned long long)(vm->t_ready - vm->t_spawn) / 1000, hello->kernel_release);
        wait_exits(vm);
        if (vm->ev.ready)
                vm->ev.ready(vm->ev.data, vm, hello);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
        struct ps_vm *vm = arg;
        _cleanup_err_ struct ps_err *err = NULL;

        if (vm->state != VM_BOOTING || vm->hello_pending)
                return;
        if (ps_agent_client_hello(vm->agent, HELLO_ATTEMPT_MS, on_hello, vm, &err) < 0) {
                ps_log_debug("vm %s: hello: %s", vm->dir, ps_err_msg(err));
                retry_in(vm, HELLO_RETRY_MS);
                return;
        }
        vm->hello_pending = true;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
        struct ps_vm *vm = arg;

        if (vm->state != VM_BOOTING)
                return;
        ps_err_set(&vm->boot_err, PS_DEADLINE_EXCEEDED,
                   "vm: the agent did not answer within %u ms of QEMU's start",
                   vm->boot_timeout_ms);
        vm->state = VM_STOPPING;
        if (vm->pid > 0)
                kill(vm->pid, SIGKILL);
}

/* The socket QEMU made, QEMU's pid file and the directory: nothing of the
 * VM stays behind. */
static void remove_run_dir(struct ps_vm *vm)
{
        if (unlink(vm->sock) < 0 && errno != ENOENT)
                ps_log_debug("vm: unlink %s: %m", vm->sock);
        if (unlink(vm->pidfile) < 0 && errno != ENOENT)
                ps_log_debug("vm: unlink %s: %m", vm->pidfile);
        if (rmdir(vm->dir) < 0 && errno != ENOENT)
                ps_log_warn("vm: rmdir %s: %m", vm->dir);
}

static void on_qemu_exit(void *data, pid_t pid, int wait_status)
{
        struct ps_vm *vm = data;

        (void)pid;
        vm->pid = 0;
        vm->state = VM_EXITED;
        evtimer_del(vm->ev_retry);
        evtimer_del(vm->ev_deadline);
        evtimer_del(vm->ev_exits);
        /* pending calls fail with CANCELLED; their callbacks see EXITED */
        vm->agent = ps_agent_client_free(vm->agent);
        remove_run_dir(vm);
        ps_log_debug("vm %s: qemu exited (status %d)", vm->dir, wait_status);
        /* last: the owner may free the VM here */
        if (vm->ev.exited)
                vm->ev.exited(vm->ev.data, vm, wait_status, vm->boot_err);
}

static int vm_spawn(struct ps_vm *vm, const struct ps_vm_config *cfg, char **argv,
                    struct ps_err **err)
{
        struct ps_spawn_opts o = {.path = argv[0],
                                  .argv = argv,
                                  .stdio = {-1, -1, cfg->stderr_fd},
                                  .pdeathsig = true,
                                  .extra = cfg->nic_mac ? &cfg->tap_fd : NULL,
                                  .n_extra = cfg->nic_mac ? 1 : 0,
                                  .enter_fds = cfg->cgroup_fds,
                                  .n_enter_fds = cfg->n_cgroup_fds};
        pid_t pid = ps_spawn(&o, err);
        _cleanup_err_ struct ps_err *e = NULL;
        char buf[32];

        if (pid < 0)
                return ps_err_prefix(err, "vm: start %s", argv[0]);
        vm->t_spawn = now_usec();
        if (ps_reaper_watch(vm->reaper, pid, on_qemu_exit, vm, err) < 0) {
                /* unwatched, its exit goes to the reaper's cache */
                kill(pid, SIGKILL);
                return -1;
        }
        vm->pid = pid;
        /* For the delete action, should the shim die before QEMU
         * (sandbox/vm/leftovers.h; written after the spawn, so that its
         * mtime vouches for this QEMU against a reused pid). Without it
         * QEMU's pdeathsig is all there is. */
        snprintf(buf, sizeof(buf), "%d", pid);
        if (ps_write_file_atomic(vm->pidfile, buf, strlen(buf), 0600, &e) < 0)
                ps_log_warn("vm %s: %s", vm->dir, ps_err_msg(e));
        return 0;
}

static int vm_init(struct ps_vm *vm, const struct ps_vm_config *cfg, const char *dir,
                   struct ps_err **err)
{
        _cleanup_strv_ char **argv = NULL;
        struct timeval tv = {.tv_sec = vm->boot_timeout_ms / 1000,
                             .tv_usec = (vm->boot_timeout_ms % 1000) * 1000};

        vm->dir = strdup(dir);
        if (!vm->dir || asprintf(&vm->sock, "%s/%s", dir, PS_VM_AGENT_SOCKET) < 0)
                vm->sock = NULL;
        else if (asprintf(&vm->pidfile, "%s/%s", dir, PS_VM_QEMU_PID) < 0)
                vm->pidfile = NULL;
        if (!vm->pidfile)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm");
        if (strlen(vm->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: socket path too long: %s",
                                  vm->sock);
        argv = ps_vm_qemu_argv(cfg, dir, err);
        if (!argv)
                return -1;
        vm->agent = ps_agent_client_new(vm->base, vm->sock, err);
        vm->ev_retry = evtimer_new(vm->base, on_retry, vm);
        vm->ev_deadline = evtimer_new(vm->base, on_deadline, vm);
        vm->ev_exits = evtimer_new(vm->base, on_exits_retry, vm);
        if (!vm->agent)
                return -1;
        if (!vm->ev_retry || !vm->ev_deadline || !vm->ev_exits)
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "vm: timers");
        if (mkdir(dir, 0700) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "vm: mkdir %s", dir);
        if (vm_spawn(vm, cfg, argv, err) < 0) {
                remove_run_dir(vm);
                return -1;
        }
        evtimer_add(vm->ev_deadline, &tv);
        retry_in(vm, 0);
        return 0;
}

static void vm_release(struct ps_vm *vm)
{
        ps_agent_client_free(vm->agent);
        if (vm->ev_retry)
                event_free(vm->ev_retry);
        if (vm->ev_deadline)
                event_free(vm->ev_deadline);
        if (vm->ev_exits)
                event_free(vm->ev_exits);
        ps_err_free(vm->boot_err);
        free(vm->pidfile);
        free(vm->sock);
        free(vm->dir);
        free(vm);
}

struct ps_vm *ps_vm_start(struct event_base *base, struct ps_reaper *reaper,
                          const struct ps_vm_config *cfg, const char *dir, unsigned boot_timeout_ms,
                          const struct ps_vm_events *ev, struct ps_err **err)
{
        struct ps_vm *vm = calloc(1, sizeof(*vm));

        if (!vm) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm");
                return NULL;
        }
        *vm = (struct ps_vm){.base = base,
                             .reaper = reaper,
                             .ev = *ev,
                             .boot_timeout_ms = boot_timeout_ms,
                             .state = VM_BOOTING};
        if (vm_init(vm, cfg, dir, err) < 0) {
                vm_release(vm);
                return NULL;
        }
        return vm;
}

struct ps_vm *ps_vm_free(struct ps_vm *vm)
{
        if (!vm)
                return NULL;
        vm->state = VM_EXITED; /* for the callbacks of the calls cancelled here */
        vm->agent = ps_agent_client_free(vm->agent);
        if (vm->pid > 0) {
                kill(vm->pid, SIGKILL);
                ps_reaper_unwatch(vm->reaper, vm->pid);
                remove_run_dir(vm);
        }
        vm_release(vm);
        return NULL;
}

struct ps_agent_client *ps_vm_agent(const struct ps_vm *vm)
{
        return vm->state == VM_READY ? vm->agent : NULL;
}

pid_t ps_vm_pid(const struct ps_vm *vm)
{
        return vm->pid;
}

uint64_t ps_vm_boot_usec(const struct ps_vm *vm)
{
        return vm->t_ready ? vm->t_ready - vm->t_spawn : 0;
}

int ps_vm_kill(struct ps_vm *vm, int sig, struct ps_err **err)
{
        if (vm->pid <= 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "vm: qemu has exited");
        if (kill(vm->pid, sig) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "vm: kill qemu");
        return 0;
}

static void on_shutdown_done(void *data, const struct ps_err *err)
{
        struct ps_vm *vm = data;

        /* The agent may be gone before its answer is out: QEMU's exit is
         * what counts. */
        if (err)
                ps_log_debug("vm %s: shutdown: %s", vm->dir, ps_err_msg(err));
}

int ps_vm_shutdown(struct ps_vm *vm, struct ps_err **err)
{
        if (vm->state != VM_READY)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "vm: the agent is not up");
        return ps_agent_client_shutdown(vm->agent, SHUTDOWN_MS, on_shutdown_done, vm, err);
}
