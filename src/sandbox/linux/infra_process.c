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

#include "base/cleanup.h"
#include "base/fs.h"
#include "infra/reap.h"

#define HELPER_NAME "podshim-infra"

/* Steps of the child's setup, reported with errno on failure. */
enum step {
        STEP_SYNC = 1,
        STEP_NETNS,
        STEP_IPCNS,
        STEP_UTSNS,
        STEP_HOSTNAME,
        STEP_SYSCTL,
        STEP_CAPS,
        STEP_IDS,
        STEP_EXEC
};

static const char *const step_names[] = {
    [STEP_SYNC] = "wait for the shim",       [STEP_NETNS] = "join the network namespace",
    [STEP_IPCNS] = "join the ipc namespace", [STEP_UTSNS] = "join the uts namespace",
    [STEP_HOSTNAME] = "set the hostname",    [STEP_SYSCTL] = "set a sysctl",
    [STEP_CAPS] = "drop capabilities",       [STEP_IDS] = "become unprivileged",
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

int ps_infra_spec_from(const struct ps_spec *spec, struct ps_infra_spec *ret, struct ps_err **err)
{
        const struct ps_spec_ns *ns = spec->ns;
        struct ps_infra_spec s = {0};

        if (ns[PS_SPEC_NS_PID].path)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "an infra task cannot join another pid namespace (%s)",
                                  ns[PS_SPEC_NS_PID].path);
        if (ns[PS_SPEC_NS_USER].present)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "user namespaces are not supported for an infra task");
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

static int join(const char *path, int nstype)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return -1;
        r = setns(fd, nstype);
        close(fd);
        return r;
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

static __attribute__((noreturn)) void child_main(const struct ps_infra_spec *s, const char *helper,
                                                 int sync_rd, int report)
{
        sigset_t set;
        char c;
        int null;

        if (read(sync_rd, &c, 1) != 1)
                child_fail(report, STEP_SYNC);
        if (s->netns_path && join(s->netns_path, CLONE_NEWNET) < 0)
                child_fail(report, STEP_NETNS);
        if (s->ipc_path && join(s->ipc_path, CLONE_NEWIPC) < 0)
                child_fail(report, STEP_IPCNS);
        if (s->uts_path && join(s->uts_path, CLONE_NEWUTS) < 0)
                child_fail(report, STEP_UTSNS);
        if (s->new_uts && s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
                child_fail(report, STEP_HOSTNAME);
        for (size_t i = 0; i < s->n_sysctls; i++)
                if (write_sysctl(s->sysctls[i].key, s->sysctls[i].value) < 0)
                        child_fail(report, STEP_SYSCTL);
        if (drop_bounding_set() < 0)
                child_fail(report, STEP_CAPS);
        if (setgroups(0, NULL) < 0 || setresgid(s->gid, s->gid, s->gid) < 0 ||
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
                char *argv[] = {HELPER_NAME, NULL}, *envp[] = {NULL};
                /* Every shim fd is O_CLOEXEC: exec drops the listener, the
                 * connections and the report pipe (whose EOF means success). */
                execve(helper, argv, envp);
                child_fail(report, STEP_EXEC);
        }
        syscall(SYS_close_range, 3, ~0U, 0);
        ps_infra_reap_loop();
}

pid_t ps_infra_spawn(const struct ps_infra_spec *s, const char *helper, ps_infra_place_fn place,
                     void *data, int *ret_report, struct ps_err **err)
{
        _cleanup_close_ int sync_rd = -1, sync_wr = -1, rep_rd = -1, rep_wr = -1;
        unsigned long flags = SIGCHLD;
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
        flags |= s->new_pid ? CLONE_NEWPID : 0;
        flags |= s->new_ipc ? CLONE_NEWIPC : 0;
        flags |= s->new_uts ? CLONE_NEWUTS : 0;
        flags |= s->new_net ? CLONE_NEWNET : 0;
        /* fork() semantics with new namespaces: the child is pid 1 of its
         * pid namespace and a direct child of the shim. */
        pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
        if (pid < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "clone the infra process");
        if (pid == 0)
                child_main(s, helper, sync_rd, rep_wr);
        rep_wr = ps_close(rep_wr);
        if (place && place(data, pid, err) < 0) {
                kill(pid, SIGKILL);
                return -1;
        }
        if (s->has_oom_score_adj) {
                char path[64], val[16];
                int fd;

                snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
                snprintf(val, sizeof(val), "%d", s->oom_score_adj);
                fd = open(path, O_WRONLY | O_CLOEXEC);
                /* Lowering needs CAP_SYS_RESOURCE; without it keep the
                 * inherited score rather than fail the pod. */
                if (fd >= 0) {
                        if (write(fd, val, strlen(val)) < 0 && errno != EACCES && errno != EPERM) {
                                close(fd);
                                kill(pid, SIGKILL);
                                return ps_err_errno(err, errno, PS_UNKNOWN, "set oom_score_adj");
                        }
                        close(fd);
                }
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
