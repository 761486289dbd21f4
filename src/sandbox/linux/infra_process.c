#include "sandbox/linux/infra_process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/sched.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "infra/reap.h"
#include "oci/idmap.h"
#include "sandbox/linux/userns.h"

#define HELPER_NAME "podshim-infra"

/* Steps of the child's setup, reported with errno on failure. */
enum step {
        STEP_SYNC = 1,
        STEP_CGROUP,
        STEP_USERNS,
        STEP_CLONE,
        STEP_NETNS,
        STEP_IPCNS,
        STEP_UTSNS,
        STEP_HOSTNAME,
        STEP_SYSCTL,
        STEP_CAPS,
        STEP_IDS,
        STEP_EXEC
};

static const char *const step_names[] = {[STEP_SYNC] = "wait for the shim",
                                         [STEP_CGROUP] = "enter the pod cgroup",
                                         [STEP_USERNS] = "join the user namespace",
                                         [STEP_CLONE] = "clone the infra process",
                                         [STEP_NETNS] = "join the network namespace",
                                         [STEP_IPCNS] = "join the ipc namespace",
                                         [STEP_UTSNS] = "join the uts namespace",
                                         [STEP_HOSTNAME] = "set the hostname",
                                         [STEP_SYSCTL] = "set a sysctl",
                                         [STEP_CAPS] = "drop capabilities",
                                         [STEP_IDS] = "become unprivileged",
                                         [STEP_EXEC] = "exec the infra helper"};

/* A sysctl name maps to a path under /proc/sys: only plain components. */
static bool sysctl_key_valid(const char *k)
{
        if (!k[0] || k[0] == '.' || strstr(k, "..") || strlen(k) > 200)
                return false;
        for (; *k; k++) {
                char c = *k;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-' || c == '/'))
                        return false;
        }
        return true;
}

/* The user namespace entry and the mappings (see the header). */
static int user_ns_from(const struct ps_spec *spec, struct ps_infra_spec *s, struct ps_err **err)
{
        const struct ps_spec_ns *user = &spec->ns[PS_SPEC_NS_USER];
        bool maps = spec->n_uid_mappings || spec->n_gid_mappings;

        if (!user->present && maps)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "linux.uidMappings and gidMappings need a user namespace in "
                                  "linux.namespaces");
        if (!user->present)
                return 0;
        if (!user->path && (!spec->n_uid_mappings || !spec->n_gid_mappings))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "a new user namespace needs linux.uidMappings and gidMappings");
        if (ps_idmap_check(spec->uid_mappings, spec->n_uid_mappings, "linux.uidMappings", err) <
                0 ||
            ps_idmap_check(spec->gid_mappings, spec->n_gid_mappings, "linux.gidMappings", err) < 0)
                return -1;
        s->new_user = !user->path;
        s->user_path = user->path;
        s->uid_map = spec->uid_mappings;
        s->n_uid_map = spec->n_uid_mappings;
        s->gid_map = spec->gid_mappings;
        s->n_gid_map = spec->n_gid_mappings;
        return 0;
}

/* The infra process's ids live inside its user namespace: mapped there, or
 * setresuid() fails in the child with a bare EINVAL. Checked against the
 * spec's maps when it has them; a joined namespace's own maps are checked
 * by the parent before the release (check_joined_maps). */
static int ids_mapped(const struct ps_infra_spec *s, struct ps_err **err)
{
        uint32_t host;

        if (s->n_uid_map && !ps_idmap_to_host(s->uid_map, s->n_uid_map, s->uid, &host))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "uid %u of the infra process is not mapped by linux.uidMappings",
                                  (unsigned)s->uid);
        if (s->n_gid_map && !ps_idmap_to_host(s->gid_map, s->n_gid_map, s->gid, &host))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "gid %u of the infra process is not mapped by linux.gidMappings",
                                  (unsigned)s->gid);
        return 0;
}

int ps_infra_spec_from(const struct ps_spec *spec, struct ps_infra_spec *ret, struct ps_err **err)
{
        const struct ps_spec_ns *ns = spec->ns;
        struct ps_infra_spec s = {0};

        if (ns[PS_SPEC_NS_PID].path)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "an infra task cannot join another pid namespace (%s)",
                                  ns[PS_SPEC_NS_PID].path);
        if (user_ns_from(spec, &s, err) < 0)
                return -1;
        s.new_pid = ns[PS_SPEC_NS_PID].present;
        s.new_ipc = ps_spec_new_ns(spec, PS_SPEC_NS_IPC);
        s.ipc_path = ns[PS_SPEC_NS_IPC].path;
        s.new_uts = ps_spec_new_ns(spec, PS_SPEC_NS_UTS);
        s.uts_path = ns[PS_SPEC_NS_UTS].path;
        s.new_net = ps_spec_new_ns(spec, PS_SPEC_NS_NETWORK);
        s.netns_path = ns[PS_SPEC_NS_NETWORK].path;
        s.hostname = spec->hostname; /* at most PS_SPEC_MAX_HOSTNAME bytes */
        s.uid = spec->uid ? (uid_t)spec->uid : PS_INFRA_DEFAULT_ID;
        s.gid = spec->gid ? (gid_t)spec->gid : PS_INFRA_DEFAULT_ID;
        if (ids_mapped(&s, err) < 0)
                return -1;
        s.has_oom_score_adj = spec->has_oom_score_adj;
        s.oom_score_adj = spec->oom_score_adj;
        for (size_t i = 0; i < spec->n_sysctls; i++)
                if (!sysctl_key_valid(spec->sysctls[i].key))
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid sysctl '%s'",
                                          spec->sysctls[i].key);
        s.sysctls = spec->sysctls;
        s.n_sysctls = spec->n_sysctls;
        *ret = s;
        return 0;
}

char *ps_infra_helper_path(void)
{
        char self[PATH_MAX], *slash, *path = NULL;
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n <= 0)
                return NULL;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (!slash)
                return NULL;
        *slash = '\0';
        if (asprintf(&path, "%s/%s", self, HELPER_NAME) < 0)
                return NULL;
        if (access(path, X_OK) < 0) {
                free(path);
                return NULL;
        }
        return path;
}

/* O_NONBLOCK: a path that names a FIFO must fail setns(), not hang the
 * first stage the shim waits for. */
static int open_ns(const char *path)
{
        return path ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) : -1;
}

/* Written after joining the namespaces: /proc/sys/net and the ipc keys
 * resolve to the namespaces of the writer. */
static int write_sysctl(const char *key, const char *value)
{
        char path[256];
        size_t n = (size_t)snprintf(path, sizeof(path), "/proc/sys/%s", key);
        int fd, r;

        for (size_t i = sizeof("/proc/sys/") - 1; i < n; i++)
                if (path[i] == '.')
                        path[i] = '/';
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        r = ps_write_all(fd, value, strlen(value));
        close(fd);
        return r;
}

/* The bounding set goes first: dropping it needs CAP_SETPCAP, which the
 * switch to an unprivileged uid takes away. */
static int drop_bounding_set(void)
{
        for (int cap = 0; cap <= 63; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        return -1;
        return 0;
}

/* Empties every remaining capability set, then no_new_privs: nothing the
 * infra process or the helper it execs can regain privilege. */
static int drop_caps(void)
{
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2] = {{0}};

        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (syscall(SYS_capset, &h, d) < 0)
                return -1;
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static __attribute__((noreturn)) void child_fail(int report, enum step step)
{
        int msg[2] = {step, errno};

        if (write(report, msg, sizeof(msg)) < 0)
                _exit(126);
        _exit(126);
}

/* The supplementary groups go. In a user namespace whose setgroups file
 * says "deny" (its gid_map written by an unprivileged process) nobody may
 * change them, and the process keeps what it has, as with runc. */
static int drop_groups(void)
{
        char buf[8] = {0};
        int fd;
        ssize_t n;

        if (setgroups(0, NULL) == 0)
                return 0;
        if (errno != EPERM)
                return -1;
        fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n >= 4 && strncmp(buf, "deny", 4) == 0)
                return 0;
        errno = EPERM;
        return -1;
}

/* Joins the namespaces the spec names by path, the user namespace first
 * (runc's order: its privileges then let the others be joined); returns 0
 * or the failed step with errno set. Every path is opened before the first
 * setns(), as runc does: once in another user namespace, opening
 * /proc/<pid>/ns/... of a process that is not dumpable (any that changed its
 * ids) needs a ptrace right we no longer have. */
static enum step join_paths(const struct ps_infra_spec *s)
{
        static const int types[] = {CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS};
        static const enum step steps[] = {STEP_USERNS, STEP_NETNS, STEP_IPCNS, STEP_UTSNS};
        const char *paths[] = {s->user_path, s->netns_path, s->ipc_path, s->uts_path};
        int fds[4], saved = 0;
        enum step failed = 0;

        for (size_t i = 0; i < 4; i++) {
                fds[i] = open_ns(paths[i]);
                if (paths[i] && fds[i] < 0 && !failed)
                        failed = steps[i], saved = errno;
        }
        for (size_t i = 0; i < 4 && !failed; i++)
                if (fds[i] >= 0 && setns(fds[i], types[i]) < 0)
                        failed = steps[i], saved = errno;
        for (size_t i = 0; i < 4; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        errno = saved;
        return failed;
}

/* The process enters the pod cgroup by its own writes (cgroup/pod.h), while
 * it has one thread and is still root: a "0" into each file. */
static int enter_cgroup(const struct ps_pod_cgroup_entry *e)
{
        for (size_t k = 0; k < e->n_self; k++)
                if (write(e->self[k], "0", 1) != 1)
                        return -1;
        return 0;
}

/* `joined`: the first stage has joined the namespace paths already.
 * `entry`: the pod cgroup to enter (NULL: none, or the shim places it);
 * `born`: the process was forked into it. */
static __attribute__((noreturn)) void child_main(const struct ps_infra_spec *s, const char *helper,
                                                 int sync_rd, int report, bool joined,
                                                 const struct ps_pod_cgroup_entry *entry, bool born)
{
        enum step step;
        sigset_t set;
        char c;
        int null, later = entry ? entry->later : -1;

        if (read(sync_rd, &c, 1) != 1)
                child_fail(report, STEP_SYNC);
        if (entry && !born && enter_cgroup(entry) < 0)
                child_fail(report, STEP_CGROUP);
        if (!joined && (step = join_paths(s)) != 0)
                child_fail(report, step);
        if (s->new_uts && s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
                child_fail(report, STEP_HOSTNAME);
        for (size_t i = 0; i < s->n_sysctls; i++)
                if (write_sysctl(s->sysctls[i].key, s->sysctls[i].value) < 0)
                        child_fail(report, STEP_SYSCTL);
        if (drop_bounding_set() < 0)
                child_fail(report, STEP_CAPS);
        if (drop_groups() < 0 || setresgid(s->gid, s->gid, s->gid) < 0 ||
            setresuid(s->uid, s->uid, s->uid) < 0)
                child_fail(report, STEP_IDS);
        if (drop_caps() < 0)
                child_fail(report, STEP_CAPS);
        /* The helper inherits exactly the mask it waits with, none of the
         * shim's; the handlers it needs as pid 1 are its own to install. */
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_SETMASK, &set, NULL);
        signal(SIGPIPE, SIG_DFL);
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                if (null > 2)
                        close(null);
        }
        if (helper) {
                char fd[16], *argv[] = {HELPER_NAME, later >= 0 ? fd : NULL, NULL},
                             *envp[] = {NULL};

                /* Every shim fd is O_CLOEXEC: exec drops the listener, the
                 * connections and the report pipe (whose EOF means success);
                 * the helper inherits `later` alone and writes it itself. */
                snprintf(fd, sizeof(fd), "%d", later);
                if (later >= 0 && fcntl(later, F_SETFD, 0) < 0)
                        child_fail(report, STEP_EXEC);
                execve(helper, argv, envp);
                child_fail(report, STEP_EXEC);
        }
        /* In place the report's EOF comes with close_range: the shim has
         * it before the membership write waits. */
        if (later >= 0) {
                if (dup2(later, 3) < 0)
                        child_fail(report, STEP_CGROUP);
                later = 3;
        }
        syscall(SYS_close_range, 4, ~0U, 0);
        ps_infra_join_later(later);
        ps_infra_reap_loop();
}

static unsigned long new_ns_flags(const struct ps_infra_spec *s)
{
        return (s->new_user ? CLONE_NEWUSER : 0) | (s->new_pid ? CLONE_NEWPID : 0) |
               (s->new_ipc ? CLONE_NEWIPC : 0) | (s->new_uts ? CLONE_NEWUTS : 0) |
               (s->new_net ? CLONE_NEWNET : 0);
}

/* What the first stage tells the shim: the infra process's pid, or the
 * step that failed and its errno. */
struct stage_msg {
        pid_t pid;
        int step, errnum;
};

/* The first stage of a pod with a user namespace (see the header). It ends
 * right after one write to a pipe the shim never lets fill up. */
static __attribute__((noreturn)) void stage1_main(const struct ps_infra_spec *s, const char *helper,
                                                  int sync_rd, int report, int stage_wr)
{
        struct stage_msg msg = {0};
        enum step step = join_paths(s);

        if (step) {
                msg = (struct stage_msg){.step = step, .errnum = errno};
        } else {
                /* CLONE_PARENT: the exit signal is this process's own,
                 * SIGCHLD, so the reaper sees the infra process exit. */
                pid_t pid =
                    (pid_t)syscall(SYS_clone, CLONE_PARENT | new_ns_flags(s), NULL, NULL, NULL, 0);
                if (pid == 0) {
                        close(stage_wr);
                        child_main(s, helper, sync_rd, report, true, NULL, false);
                }
                if (pid > 0)
                        msg.pid = pid;
                else
                        msg = (struct stage_msg){.step = STEP_CLONE, .errnum = errno};
        }
        if (write(stage_wr, &msg, sizeof(msg)) != (ssize_t)sizeof(msg) && msg.pid > 0)
                kill(msg.pid, SIGKILL); /* unreported, it would never be released */
        _exit(msg.pid > 0 ? 0 : 126);
}

/* Runs the first stage and returns the infra process's pid. The first
 * stage is this shim's child with the usual SIGCHLD; it is reaped here,
 * before the loop (and so the reaper) runs again, which is why the reaper
 * never sees it. The wait is bounded: the first stage never blocks. */
static pid_t spawn_two_stage(const struct ps_infra_spec *s, const char *helper, int sync_rd,
                             int sync_wr, int report, struct ps_err **err)
{
        _cleanup_close_ int rd = -1, wr = -1;
        struct stage_msg msg = {0};
        int p[2], st = 0;
        pid_t first;
        ssize_t n;

        /* non-blocking: the infra process holds a copy of the write end
         * until it closes it, so a missing message must not mean a wait */
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pipe");
        rd = p[0], wr = p[1];
        first = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
        if (first < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "clone the infra process");
        if (first == 0) {
                /* Only the shim may hold the release pipe's write end: if
                 * this stage dies before it reports, the shim gives up and
                 * closes it, and the infra process it may have cloned
                 * reads EOF and exits instead of waiting for good. */
                close(sync_wr);
                stage1_main(s, helper, sync_rd, report, wr);
        }
        wr = ps_close(wr);
        while (waitpid(first, &st, 0) < 0 && errno == EINTR)
                ;
        n = read(rd, &msg, sizeof(msg));
        if (n != (ssize_t)sizeof(msg))
                return ps_err_set(err, PS_INTERNAL,
                                  "infra process: its first stage ended without a report "
                                  "(wait status 0x%x)",
                                  (unsigned)st);
        if (msg.pid <= 0) {
                int step = msg.step > 0 && msg.step <= STEP_EXEC ? msg.step : STEP_SYNC;
                return ps_err_errno(err, msg.errnum, PS_UNKNOWN, "infra process: %s",
                                    step_names[step]);
        }
        return msg.pid;
}

/* A joined user namespace: the spec's maps, if it gives any, must be the
 * namespace's own (runc's rule), and the infra process's ids mapped. */
static int check_joined_maps(const struct ps_infra_spec *s, pid_t pid, struct ps_err **err)
{
        _cleanup_free_ struct ps_idmap *um = NULL, *gm = NULL;
        size_t nu = 0, ng = 0;
        uint32_t host;

        if (ps_userns_read_map(pid, "uid_map", &um, &nu, err) < 0 ||
            ps_userns_read_map(pid, "gid_map", &gm, &ng, err) < 0)
                return ps_err_prefix(err, "infra process");
        if ((s->n_uid_map || s->n_gid_map) && (!ps_idmap_equal(um, nu, s->uid_map, s->n_uid_map) ||
                                               !ps_idmap_equal(gm, ng, s->gid_map, s->n_gid_map)))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "user namespace %s: its maps differ from linux.uidMappings and "
                                  "gidMappings",
                                  s->user_path);
        if (!ps_idmap_to_host(um, nu, s->uid, &host) || !ps_idmap_to_host(gm, ng, s->gid, &host))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "user namespace %s does not map uid %u or gid %u of the infra "
                                  "process",
                                  s->user_path, (unsigned)s->uid, (unsigned)s->gid);
        return 0;
}

/* The parent's part of the user namespace, before the release. */
static int user_ns_setup(const struct ps_infra_spec *s, pid_t pid, struct ps_err **err)
{
        if (s->new_user &&
            ps_userns_write_maps(pid, s->uid_map, s->n_uid_map, "linux.uidMappings", s->gid_map,
                                 s->n_gid_map, "linux.gidMappings", err) < 0)
                return ps_err_prefix(err, "infra process");
        if (s->user_path)
                return check_joined_maps(s, pid, err);
        return 0;
}

static int set_oom_score_adj(pid_t pid, int adj, struct ps_err **err)
{
        char path[64], val[16];
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
        snprintf(val, sizeof(val), "%d", adj);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        /* Lowering needs CAP_SYS_RESOURCE; without it keep the inherited
         * score rather than fail the pod. */
        if (fd >= 0) {
                if (write(fd, val, strlen(val)) < 0 && errno != EACCES && errno != EPERM) {
                        int e = errno;
                        close(fd);
                        return ps_err_errno(err, e, PS_UNKNOWN, "set oom_score_adj");
                }
                close(fd);
        }
        return 0;
}

/* fork() semantics with new namespaces: the child is pid 1 of its pid
 * namespace and a direct child of the shim; born in cgroup_fd's cgroup
 * when one is given and the kernel can (*placed says so, in both). */
static pid_t clone_child(unsigned long flags, int cgroup_fd, bool *placed)
{
        *placed = false;
        if (cgroup_fd >= 0) {
                struct clone_args a = {.flags = (flags & ~0xffUL) | CLONE_INTO_CGROUP,
                                       .exit_signal = flags & 0xff,
                                       .cgroup = (uint64_t)cgroup_fd};
                pid_t pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));

                if (pid >= 0) {
                        *placed = true;
                        return pid;
                }
                /* no clone3, or none that knows CLONE_INTO_CGROUP: the
                 * child enters by its own write */
                if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
                        return -1;
        }
        return (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
}

pid_t ps_infra_spawn(const struct ps_infra_spec *s, const char *helper,
                     const struct ps_pod_cgroup_entry *entry, ps_infra_place_fn place, void *data,
                     int *ret_report, struct ps_err **err)
{
        bool born = false, userns = s->new_user || s->user_path;
        _cleanup_close_ int sync_rd = -1, sync_wr = -1, rep_rd = -1, rep_wr = -1;
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pipe");
        sync_rd = p[0], sync_wr = p[1];
        /* the shim reads the report from its loop: non-blocking */
        if (pipe2(p, O_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pipe");
        rep_rd = p[0], rep_wr = p[1];
        if (fcntl(rep_rd, F_SETFL, O_NONBLOCK) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "report pipe");
        if (userns) {
                pid = spawn_two_stage(s, helper, sync_rd, sync_wr, rep_wr, err);
                if (pid < 0)
                        return -1;
        } else {
                pid = clone_child(SIGCHLD | new_ns_flags(s), entry ? entry->dir : -1, &born);
                if (pid < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "clone the infra process");
                if (pid == 0) {
                        close(sync_wr); /* EOF, not a wait, if the shim goes */
                        child_main(s, helper, sync_rd, rep_wr, false, entry, born);
                }
        }
        rep_wr = ps_close(rep_wr);
        if ((userns && entry && place && place(data, pid, err) < 0) ||
            (s->has_oom_score_adj && set_oom_score_adj(pid, s->oom_score_adj, err) < 0) ||
            user_ns_setup(s, pid, err) < 0) {
                kill(pid, SIGKILL);
                return -1;
        }
        if (write(sync_wr, "x", 1) != 1) {
                kill(pid, SIGKILL);
                return ps_err_errno(err, errno, PS_UNKNOWN, "release the infra process");
        }
        *ret_report = TAKE_FD(rep_rd);
        return pid;
}

int ps_infra_report(int report, pid_t pid, struct ps_err **err)
{
        int msg[2] = {0, 0}, step;
        ssize_t n;

        do
                n = read(report, msg, sizeof(msg));
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return 1;
        if (n == 0)
                return 0;   /* the exec closed the pipe: running */
        kill(pid, SIGKILL); /* its exit goes to the reaper's unclaimed cache */
        if (n != (ssize_t)sizeof(msg))
                return ps_err_errno(err, n < 0 ? errno : EIO, PS_UNKNOWN,
                                    "infra process: read its report");
        step = msg[0] > 0 && msg[0] <= STEP_EXEC ? msg[0] : STEP_SYNC;
        return ps_err_errno(err, msg[1], PS_UNKNOWN, "infra process: %s", step_names[step]);
}
