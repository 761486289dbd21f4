#include "shim/start.h"

#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libcgroup.h>

#include "base/cleanup.h"
#include "api/options.h"
#include "base/fs.h"
#include "shim/address.h"
#include "shim/bootstrap.h"
#include "shim/profile.h"
#include "shim/stdin.h"
#include "oci/options.h"
#include "oci/spec.h"

static const char *const group_annotations[] = {
    "io.containerd.runc.v2.group",
    "io.kubernetes.cri.sandbox-id",
};

/* The socket path for this task: one daemon per group (normally per pod),
 * and the group's key (the pod's sandbox id under CRI). A bundle without a
 * config.json is a pod's own (containerd 2.x's shim sandboxer starts the
 * shim for a sandbox that has no OCI spec): the group is the pod itself.
 * Caller frees both. */
static char *socket_for_bundle(const struct ps_args *args, char **ret_key, struct ps_err **err)
{
        _cleanup_spec_ struct ps_spec *spec = NULL;
        _cleanup_err_ struct ps_err *e = NULL;
        const char *key = args->id;
        char *path;

        if (ps_spec_load(".", &spec, &e) < 0 && e->code != PS_NOT_FOUND)
                return ps_err_move(err, &e), NULL;
        for (size_t i = 0; spec && i < sizeof(group_annotations) / sizeof(group_annotations[0]);
             i++) {
                const char *v = ps_spec_annotation(spec, group_annotations[i]);
                if (v && *v) {
                        key = v;
                        break;
                }
        }
        path = ps_socket_path(args->address, args->ns, key,
                              ps_shim_profile_is_vm(&args->profile) ? args->profile.runtime_type
                                                                    : NULL);
        *ret_key = path ? strdup(key) : NULL;
        if (!*ret_key) {
                free(path);
                ps_err_errno(err, ENOMEM, PS_UNKNOWN, "socket path");
                return NULL;
        }
        return path;
}

/* The bootstrap version to answer: *version holds the environment's (see
 * shim/bootstrap.h); when the group's shim already serves (`reused`) it
 * becomes the version containerd recorded for the group's first task, if
 * it recorded one, so that a pod keeps the mode it started in across a
 * configuration change (containerd/containerd#10888). */
static int reply_version(const char *group_key, bool reused, int *version, struct ps_err **err)
{
        return reused && ps_bootstrap_version_of_sibling(group_key, version, err) < 0 ? -1 : 0;
}

/* stdin carries a marshalled google.protobuf.Any, or nothing. */
static int read_options(const struct ps_options_profile *p, struct ps_options *ret,
                        struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        if (ps_read_stdin(&buf, &len, err) < 0)
                return -1;
        return ps_options_decode_any_for(p, (const uint8_t *)buf, len, ret, err);
}

static int write_address_file(const char *address, struct ps_err **err)
{
        return ps_write_file_atomic("address", address, strlen(address), 0644, err);
}

/* The daemon side of the fork: detached from containerd's pipe, logging
 * into the bundle's log FIFO. Never returns. */
static __attribute__((noreturn)) void run_daemon(const struct ps_args *args, int listen_fd,
                                                 const char *socket_path)
{
        int null_fd, log_fd;

        setsid();
        /* With a closed stdio fd inherited, socket() may have returned 0-2:
         * move the listener out of the way of the dup2()s below. */
        if (listen_fd <= STDERR_FILENO) {
                listen_fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 3);
                if (listen_fd < 0)
                        _exit(1);
        }
        /* Only the listener is meant for the daemon: whatever else start
         * inherited (a pipe of the caller's) must not be held open. */
        if (listen_fd > 3)
                close_range(3, (unsigned)listen_fd - 1, 0);
        close_range((unsigned)listen_fd + 1, ~0u, 0);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        /* Non-blocking: with no reader the log line is dropped, the loop
         * never stalls (see base/log.h). A missing FIFO means /dev/null. */
        log_fd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
            dup2(log_fd >= 0 ? log_fd : null_fd, STDERR_FILENO) < 0)
                _exit(1);
        if (null_fd > STDERR_FILENO)
                close(null_fd);
        if (log_fd > STDERR_FILENO)
                close(log_fd);
        _exit(ps_serve(args, listen_fd, socket_path));
}

/* --- moving the daemon into ShimCgroup
 *
 * libcgroup does the controller hierarchies here: start is short-lived, so
 * the memory cgroup_init() makes resident (its static mount tables) is paid
 * for a moment only. It is initialised in this parent process only, after
 * the fork; the daemon never is (see cgroup/pod.h). */

struct move_tally {
        int moved;      /* hierarchies the pid was written into */
        int last_errno; /* why one was not: the first cause other than ENOENT */
};

static void tally(struct move_tally *t, int errnum)
{
        if (errnum == 0)
                t->moved++;
        else if (t->last_errno == ENOENT || t->last_errno == 0)
                t->last_errno = errnum;
}

/* libcgroup would print to stdout, which containerd reads as the address
 * (stderr too, combined with it): drop its messages, the return codes
 * carry the failures. */
static void drop_cgroup_log(void *userdata, int level, const char *fmt, va_list ap)
{
}

/* libcgroup's failure codes as errno values. */
static int cgroup_errno(int r)
{
        int e;

        switch (r) {
        case ECGOTHER:
                e = cgroup_get_last_errno();
                return e ? e : EIO;
        case ECGROUPNOTEXIST:
                return ENOENT;
        case ECGROUPNOTOWNER:
                return EPERM;
        case ECGROUPNOTALLOWED:
                return EACCES;
        default:
                return EIO;
        }
}

/* One controller at a time, so that one refusal does not stop the others.
 * v1 attach writes `tasks` (one thread): the daemon is freshly forked and
 * single-threaded. */
static int attach_one(pid_t pid, const char *cgroup, const char *ctrl)
{
        struct cgroup *one = cgroup_new_cgroup(cgroup);
        int r;

        if (!one)
                return ENOMEM;
        r = cgroup_add_controller(one, ctrl) ? cgroup_attach_task_pid(one, pid) : ECGFAIL;
        cgroup_free(&one);
        return r ? cgroup_errno(r) : 0;
}

/* Moves `pid` in every controller hierarchy, as libcgroup knows them, where
 * `cgroup` exists. */
static void move_controllers(pid_t pid, const char *cgroup, struct move_tally *t)
{
        struct cgroup_mount_point mp;
        struct cgroup *cg;
        void *it = NULL;
        int r;

        cgroup_set_logger(drop_cgroup_log, CGROUP_LOG_ERROR, NULL);
        r = cgroup_init();
        if (r == ECGROUPNOTMOUNTED)
                return;
        cg = r == 0 ? cgroup_new_cgroup(cgroup) : NULL;
        if (!cg) {
                tally(t, r ? cgroup_errno(r) : ENOMEM);
                return;
        }
        /* Loads the controllers whose hierarchy has the cgroup. */
        r = cgroup_get_cgroup(cg);
        if (r != 0)
                tally(t, cgroup_errno(r));
        /* libcgroup's iterator strncpy()s without terminating. */
        memset(&mp, 0, sizeof(mp));
        for (r = r == 0 ? cgroup_get_controller_begin(&it, &mp) : ECGEOF; r == 0;
             r = cgroup_get_controller_next(&it, &mp))
                if (cgroup_get_controller(cg, mp.name))
                        tally(t, attach_one(pid, cgroup, mp.name));
        if (it)
                cgroup_get_controller_end(&it);
        cgroup_free(&cg);
}

/* Writes `pid` into <mount>/<cgroup>/cgroup.procs of the mounts of `type`
 * ("cgroup" or "cgroup2"); for "cgroup", named hierarchies only. Returns
 * the number of mounts of `type`, or -1 when the mounts cannot be read. */
static int move_direct(pid_t pid, const char *cgroup, const char *type, struct move_tally *t)
{
        char line[32], buf[4096];
        struct mntent ent;
        int seen = 0;
        FILE *f;

        snprintf(line, sizeof(line), "%d", (int)pid);
        f = setmntent("/proc/self/mounts", "re");
        if (!f)
                return -1;
        while (getmntent_r(f, &ent, buf, sizeof(buf))) {
                _cleanup_free_ char *procs = NULL;
                _cleanup_close_ int fd = -1;

                if (strcmp(ent.mnt_type, type) != 0)
                        continue;
                seen++;
                if (strcmp(type, "cgroup") == 0 && !hasmntopt(&ent, "name"))
                        continue;
                if (asprintf(&procs, "%s/%s/cgroup.procs", ent.mnt_dir, cgroup) < 0) {
                        procs = NULL;
                        tally(t, ENOMEM);
                        continue;
                }
                fd = open(procs, O_WRONLY | O_CLOEXEC);
                tally(t, fd >= 0 && write(fd, line, strlen(line)) >= 0 ? 0 : errno);
        }
        endmntent(f);
        return seen;
}

/* Moves the daemon into `cgroup` in every hierarchy where it exists: the
 * controller hierarchies through libcgroup; the named v1 hierarchies
 * libcgroup leaves out (name=systemd), as containerd's runc shim joins
 * them too; and, on a host without v1 hierarchies where libcgroup moved
 * nothing (no controllers there, or none enabled for this cgroup), the
 * cgroup2 mount directly. Succeeds when the pid went anywhere; otherwise
 * the error carries the reason (ENOENT, NOT_FOUND: the cgroup exists in
 * no hierarchy). */
static int move_to_cgroup(pid_t pid, const char *cgroup, struct ps_err **err)
{
        struct move_tally t = {0, ENOENT};
        int v1_mounts;

        move_controllers(pid, cgroup, &t);
        v1_mounts = move_direct(pid, cgroup, "cgroup", &t);
        if (v1_mounts < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "read mounts");
        if (v1_mounts == 0 && t.moved == 0 && move_direct(pid, cgroup, "cgroup2", &t) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "read mounts");
        if (t.moved == 0)
                return ps_err_errno(err, t.last_errno, PS_UNKNOWN, "move shim to cgroup %s",
                                    cgroup);
        return 0;
}

/* The daemon's OOM score: containerd's + 1, so the kernel prefers the shim
 * over containerd. Lowering may be refused (EACCES/EPERM) without harm. */
static int adjust_oom_score(pid_t pid, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL, *ppath = NULL, *cpath = NULL;
        char val[24];
        long score;

        if (asprintf(&ppath, "/proc/%d/oom_score_adj", getppid()) < 0 ||
            asprintf(&cpath, "/proc/%d/oom_score_adj", pid) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "oom_score_adj");
        if (ps_read_file(ppath, 64, &buf, NULL, err) < 0)
                return -1;
        score = strtol(buf, NULL, 10) + 1;
        if (score > 1000)
                score = 1000;
        snprintf(val, sizeof(val), "%ld", score);
        _cleanup_close_ int fd = open(cpath, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, val, strlen(val)) < 0) {
                if (errno == EACCES || errno == EPERM)
                        return 0;
                return ps_err_errno(err, errno, PS_UNKNOWN, "set %s", cpath);
        }
        return 0;
}

/* The bootstrap reply on stdout: containerd reads it to EOF and trims it. */
static int print_reply(const char *reply)
{
        return ps_write_all(STDOUT_FILENO, reply, strlen(reply));
}

static int fail(struct ps_err *e)
{
        fprintf(stderr, "start: %s\n", ps_err_msg(e));
        ps_err_free(e);
        return 1;
}

/* Parent side once the daemon is forked; on failure the daemon is killed,
 * since containerd will not learn of it. */
static int finish_parent(pid_t pid, const struct ps_options *o, const char *reply,
                         const char *socket_path)
{
        struct ps_err *e = NULL;
        char buf[32];

        if (o->shim_cgroup && move_to_cgroup(pid, o->shim_cgroup, &e) < 0)
                goto fail;
        /* Not read by containerd 1.6; for operators and tools. */
        snprintf(buf, sizeof(buf), "%d", pid);
        if (ps_write_file_atomic("shim.pid", buf, strlen(buf), 0644, &e) < 0)
                goto fail;
        if (adjust_oom_score(pid, &e) < 0)
                goto fail;
        if (print_reply(reply) < 0) {
                ps_err_errno(&e, errno, PS_UNKNOWN, "print address");
                goto fail;
        }
        return 0;
fail:
        kill(pid, SIGKILL);
        unlink(socket_path);
        return fail(e);
}

int ps_start_action(const struct ps_args *args)
{
        _cleanup_free_ char *socket_path = NULL, *address = NULL, *group_key = NULL, *reply = NULL;
        _cleanup_close_ int listen_fd = -1;
        struct ps_options opts = {0};
        struct ps_err *e = NULL;
        int r, version;
        pid_t pid;

        if (!args->address || !*args->address) {
                ps_err_set(&e, PS_INVALID_ARGUMENT, "-address is required");
                return fail(e);
        }
        /* Options first: a bad Any must fail before anything is created. */
        if (read_options(&args->profile, &opts, &e) < 0 ||
            ps_bootstrap_version_parse(getenv(PS_BOOTSTRAP_ENV), &version, &e) < 0 ||
            !(socket_path = socket_for_bundle(args, &group_key, &e)))
                goto out;
        if (asprintf(&address, "unix://%s", socket_path) < 0) {
                ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "address");
                goto out;
        }
        if (ps_mkdir_p(PS_SOCKET_DIR, 0700, &e) < 0)
                goto out;
        r = ps_socket_bind_or_probe(socket_path, &listen_fd, &e);
        if (r < 0)
                goto out;
        if (write_address_file(address, &e) < 0) {
                if (r == 0)
                        unlink(socket_path);
                goto out;
        }
        if (reply_version(group_key, r == 1, &version, &e) < 0 ||
            !(reply = ps_bootstrap_reply(version, address))) {
                if (!e)
                        ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "bootstrap reply");
                if (r == 0)
                        unlink(socket_path);
                goto out;
        }
        if (r == 1) { /* a live shim of the same group serves this task */
                if (print_reply(reply) < 0)
                        ps_err_errno(&e, errno, PS_UNKNOWN, "print address");
                goto out;
        }
        pid = fork();
        if (pid < 0) {
                ps_err_errno(&e, errno, PS_UNKNOWN, "fork shim daemon");
                unlink(socket_path);
                goto out;
        }
        if (pid == 0)
                run_daemon(args, listen_fd, socket_path);
        r = finish_parent(pid, &opts, reply, socket_path);
        ps_options_clear(&opts);
        return r;
out:
        ps_options_clear(&opts);
        return e ? fail(e) : 0;
}
