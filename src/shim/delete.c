#include "shim/delete.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/orphan.h"
#include "base/spawn.h"
#include "cgroup/record.h"
#include "containerd/task/v2/task.pb-c.h"
#include "sandbox/linux/linux.h"
#include "sandbox/linux/members.h"
#include "sandbox/linux/mount.h"
#include "oci/options.h"
#include "sandbox/linux/runtime.h"
#include "sandbox/pod_files.h"
#include "sandbox/vm/leftovers.h"
#include "shim/child.h"

/* containerd kills the whole action after 5 s; keep room for the rest. */
#define RUNTIME_TIMEOUT_MS 3000
/* QEMU's end (its pdeathsig or our SIGKILL): a vm task runs no runtime */
#define VM_TIMEOUT_MS RUNTIME_TIMEOUT_MS
/* The infra process's end, then its pod cgroup's (busy for milliseconds
 * after its last process left): each normally takes a few ms. The pod's
 * own task has no runtime container, so its `runtime delete` fails at
 * once and leaves these the rest of containerd's 5 s. */
#define POD_TIMEOUT_MS 1000
/* The whole action's bound, short of containerd's 5 s for the process
 * start and the reply. */
#define ACTION_TIMEOUT_MS 4500
/* The containers grouped on a dead pod shim, all together, before the
 * pod's own cleanup: a `runtime delete --force` takes some 50 ms each, and
 * the pod's infra and cgroup keep their 2 x POD_TIMEOUT_MS. */
#define MEMBERS_TIMEOUT_MS 2000

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
        va_list ap;

        /* stderr is a pipe containerd logs as "cleanup warnings". */
        fputs("delete: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What is left of `deadline` (now_ms() time), at most `cap` ms: each step
 * keeps its own bound, and all of them together the action's. */
static int ms_left(long long deadline, int cap)
{
        long long left = deadline - now_ms();

        return left <= 0 ? 0 : left < cap ? (int)left : cap;
}

static int runtime_delete(const char *bundle, const char *id, const struct ps_args *args,
                          const struct ps_options *o, int timeout_ms, struct ps_err **err)
{
        _cleanup_free_ char *root = NULL, *log = NULL, *why = NULL;
        char *argv[PS_RUNTIME_MAX_ARGS], *del[] = {"delete", "--force", (char *)id, NULL};
        int status;
        pid_t pid;

        if (asprintf(&root, "%s/%s", o->root, args->ns) < 0 ||
            asprintf(&log, "%s/log.json", bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "runtime delete");
        ps_runtime_argv(o, root, log, del, argv);

        /* The runtime's stdout must not reach ours: that is the reply. */
        struct ps_spawn_opts so = {.path = o->binary_name,
                                   .argv = argv,
                                   .stdio = {-1, STDERR_FILENO, STDERR_FILENO},
                                   .pdeathsig = true,
                                   .new_session = true};
        pid = ps_spawn(&so, err);
        if (pid < 0)
                return -1;
        status = ps_child_wait(pid, timeout_ms);
        if (status < 0)
                return ps_err_set(err, PS_DEADLINE_EXCEEDED, "%s delete timed out", o->binary_name);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        why = ps_runtime_last_error(log);
        return ps_err_set(err, PS_UNKNOWN, "%s delete failed (status %d)%s%s", o->binary_name,
                          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                          why ? ": " : "", why ? why : "");
}

static int write_response(uint32_t pid)
{
        Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        struct timespec now;
        uint8_t buf[64];
        size_t len;

        clock_gettime(CLOCK_REALTIME, &now);
        ts.seconds = now.tv_sec;
        ts.nanos = (int32_t)now.tv_nsec;
        resp.pid = pid;
        resp.exit_status = 128 + SIGKILL;
        resp.exited_at = &ts;
        len = containerd__task__v2__delete_response__get_packed_size(&resp);
        if (len > sizeof(buf))
                return -1;
        containerd__task__v2__delete_response__pack(&resp, buf);
        return ps_write_all(STDOUT_FILENO, buf, len);
}

/* A task of the vm backend: the runtime and the init it knows are the
 * guest's, gone with its VM. */
static bool is_vm(const struct ps_options *o)
{
        return o->backend && strcmp(o->backend, PS_BACKEND_VM) == 0;
}

/* The Linux pod's cgroup, named by its record (sandbox/linux/linux.h);
 * a bundle of any other task has none. */
static void clear_pod_cgroup(const char *bundle, int timeout_ms)
{
        _cleanup_free_ char *record = ps_linux_pod_cgroup_record(bundle);
        _cleanup_err_ struct ps_err *e = NULL;

        if (!record)
                return;
        if (ps_cgroup_record_clear(record, (unsigned)timeout_ms, &e) < 0)
                warn("pod cgroup: %s", ps_err_msg(e));
}

/* The task `id` of `bundle` (the action's own, or a member of its pod),
 * done by `deadline` (now_ms() time) at the latest. */
static void cleanup_bundle(const char *bundle, const char *id, const struct ps_args *args,
                           long long deadline, pid_t *ret_pid)
{
        _cleanup_free_ char *pid_file = NULL, *rootfs = NULL;
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        pid_t pid = 0, qemu = 0;

        if (ps_options_load(bundle, &o, &e) < 0) {
                warn("%s; using the default runtime", ps_err_msg(e));
                e = ps_err_free(e);
                if (ps_options_profile_defaults(&args->profile, &o, &e) < 0)
                        goto out;
        }
        if (asprintf(&pid_file, "%s/init.pid", bundle) < 0)
                goto out;
        if (is_vm(&o)) {
                ps_read_pid_file(pid_file, &pid, NULL); /* a guest pid: reported only */
        } else {
                if (runtime_delete(bundle, id, args, &o, ms_left(deadline, RUNTIME_TIMEOUT_MS),
                                   &e) < 0) {
                        warn("%s", ps_err_msg(e));
                        e = ps_err_free(e);
                }
                /* A workload the runtime does not know about (the
                 * pause-less sandbox's process, when its shim was
                 * SIGKILLed) survives `runtime delete`, and so does its
                 * pod cgroup, once that process is gone. */
                if (ps_orphan_kill(pid_file, (unsigned)ms_left(deadline, POD_TIMEOUT_MS), &pid,
                                   &e) < 0) {
                        warn("kill orphaned process: %s", ps_err_msg(e));
                        e = ps_err_free(e);
                }
                clear_pod_cgroup(bundle, ms_left(deadline, POD_TIMEOUT_MS));
        }
        /* The VM of a pod (or of a container on its own) whose shim died:
         * its QEMU, run directory, bundle share and cgroup. Whatever the
         * options say: a bundle that had no VM names nothing. */
        if (ps_vm_leftovers_clear(NULL, bundle, ms_left(deadline, VM_TIMEOUT_MS), &qemu, &e) < 0) {
                warn("%s", ps_err_msg(e));
                e = ps_err_free(e);
        }
        if (pid == 0)
                pid = qemu; /* the pod task's pid, as containerd knows it */
        if (asprintf(&rootfs, "%s/rootfs", bundle) >= 0 && ps_unmount_all(rootfs, &e) < 0)
                warn("unmount rootfs: %s", ps_err_msg(e));
        /* a pod bundle of the shim sandboxer holds the pod's /dev/shm */
        ps_pod_files_cleanup_dir(bundle);
out:
        ps_err_free(e);
        ps_options_clear(&o);
        *ret_pid = pid;
}

enum shim_state {
        SHIM_UNKNOWN, /* no address, or a probe that proves nothing */
        SHIM_ALIVE,   /* something accepts connections on its socket */
        SHIM_GONE,    /* nothing listens there (refused), or no socket */
};

/* Whether the daemon the bundle's `address` file names still serves; with
 * SHIM_GONE, *ret_sock is its socket's path. A daemon busy enough to have
 * a full backlog (EAGAIN) is alive: only a refusal, or no socket file at
 * all, proves that none listens. */
static enum shim_state probe_shim(const char *bundle, char **ret_sock)
{
        _cleanup_free_ char *path = NULL, *address = NULL;
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_err_ struct ps_err *e = NULL;
        const char *sock;

        if (asprintf(&path, "%s/address", bundle) < 0 ||
            ps_read_file(path, PATH_MAX, &address, NULL, &e) < 0)
                return SHIM_UNKNOWN;
        sock = strncmp(address, "unix://", 7) == 0 ? address + 7 : address;
        if (sock[0] != '/' || strlen(sock) >= sizeof(sa.sun_path))
                return SHIM_UNKNOWN;
        strcpy(sa.sun_path, sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return SHIM_UNKNOWN;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                return SHIM_ALIVE;
        if (errno != ECONNREFUSED && errno != ENOENT)
                return errno == EAGAIN ? SHIM_ALIVE : SHIM_UNKNOWN;
        *ret_sock = strdup(sock);
        return *ret_sock ? SHIM_GONE : SHIM_UNKNOWN;
}

/* containerd 2.x runs no `delete` action for the containers it grouped on
 * a version 3 pod shim when that shim dies, only for the pod's own task
 * (members.h): this one does theirs, from the pod's record of them, before
 * the pod's own cleanup (their cgroups are below the pod's). Called only
 * once the shim is gone: a live one supervises its members itself. */
static void cleanup_members(const char *bundle, const struct ps_args *args, long long deadline)
{
        _cleanup_strv_ char **ids = NULL;
        _cleanup_err_ struct ps_err *e = NULL;
        size_t n = 0;

        if (ps_members_list(bundle, &ids, &n, &e) < 0) {
                warn("members: %s", ps_err_msg(e));
                return;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = NULL;
                struct ps_options o = {0};

                if (ms_left(deadline, 1) == 0) {
                        warn("members: out of time, %zu of %zu not cleaned up", n - i, n);
                        return;
                }
                dir = ps_members_record_dir(bundle, ids[i], &e);
                if (!dir || ps_options_load(dir, &o, &e) < 0 ||
                    runtime_delete(dir, ids[i], args, &o, ms_left(deadline, RUNTIME_TIMEOUT_MS),
                                   &e) < 0 ||
                    ps_members_forget(bundle, ids[i], &e) < 0) {
                        warn("member %s: %s", ids[i], ps_err_msg(e));
                        e = ps_err_free(e);
                }
                ps_options_clear(&o);
        }
}

int ps_delete_action(const struct ps_args *args)
{
        _cleanup_free_ char *bundle = NULL, *sock = NULL;
        long long start = now_ms();
        enum shim_state shim;
        pid_t pid = 0;

        bundle = args->bundle && *args->bundle ? strdup(args->bundle) : getcwd(NULL, 0);
        if (!bundle) {
                warn("cannot determine the bundle: %s", strerror(errno));
                return 1;
        }
        /* Failures to clean up are warnings: the action must stay
         * idempotent, and a non-zero exit makes containerd keep the
         * bundle around forever. */
        shim = probe_shim(bundle, &sock);
        if (shim == SHIM_GONE)
                cleanup_members(bundle, args, start + MEMBERS_TIMEOUT_MS);
        cleanup_bundle(bundle, args->id, args, start + ACTION_TIMEOUT_MS, &pid);
        /* A shim killed outright leaves its socket file behind; a live
         * daemon of the same group still serves other tasks and keeps it. */
        if (sock && unlink(sock) < 0 && errno != ENOENT)
                warn("remove stale socket %s: %s", sock, strerror(errno));
        if (write_response((uint32_t)pid) < 0) {
                warn("write response: %s", strerror(errno));
                return 1;
        }
        return 0;
}
