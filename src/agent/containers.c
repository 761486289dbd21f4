#include "agent/containers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/containers_impl.h"
#include "agent/streams.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/spawn.h"
#include "cgroup/cgfile.h"
#include "cgroup/oom.h"
#include "cgroup/paths.h"
#include "cgroup/stats.h"
#include "core/reaper.h"
#include "oci/console_socket.h"
#include "oci/runtime_cli.h"

#define PIDS_MAX (1u << 20)
#define CG_ROOT  "/sys/fs/cgroup/" PS_AGENT_CGROUP_PARENT

static const char *const run_op[] = {"create", "start", "kill", "delete", "exec"};

struct ps_agent_containers *
ps_agent_containers_new(struct event_base *base, struct ps_reaper *reaper, const char *bundles_dir,
                        const char *runtime_dir, const char *runtime_root,
                        ps_agent_exit_queued_fn on_exit, void *data, struct ps_err **err)
{
        struct ps_agent_containers *t = calloc(1, sizeof(*t));

        if (!t || (runtime_dir && !(t->runtime_dir = strdup(runtime_dir))) ||
            (bundles_dir && !(t->bundles_dir = strdup(bundles_dir))) ||
            !(t->runtime_root = strdup(runtime_root ? runtime_root : PS_AGENT_RUNTIME_ROOT))) {
                if (t) {
                        free(t->runtime_dir);
                        free(t->bundles_dir);
                }
                free(t);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "agent containers");
                return NULL;
        }
        t->base = base;
        t->reaper = reaper;
        t->on_exit = on_exit;
        t->data = data;
        ps_list_init(&t->containers);
        ps_list_init(&t->runs);
        ps_list_init(&t->exits);
        return t;
}

void ps_agent_ct_free(struct ps_agent_containers *t, struct container *ct)
{
        while (!ps_list_empty(&ct->execs))
                ps_agent_exec_free(ps_list_first(&ct->execs, struct exec, link));
        if (ct->pid > 0)
                ps_reaper_unwatch(t->reaper, ct->pid);
        ps_oom_watch_free(ct->oom);
        ps_list_remove(&ct->link);
        t->n_containers--;
        ps_agent_streams_free(ct->streams); /* answers the waiting calls */
        ps_console_socket_close(&ct->console);
        free(ct->id);
        free(ct->bundle);
        free(ct->runtime);
        free(ct);
}

static void exit_free(struct ps_agent_exit *e)
{
        ps_list_remove(&e->link);
        free(e->id);
        free(e->exec_id);
        free(e);
}

struct ps_agent_containers *ps_agent_containers_free(struct ps_agent_containers *t)
{
        struct ps_list *pos, *tmp;

        if (!t)
                return NULL;
        ps_list_for_each_safe(pos, tmp, &t->runs)
        {
                struct run *r = ps_list_entry(pos, struct run, link);

                ps_reaper_unwatch(t->reaper, r->pid);
                ps_list_remove(&r->link);
                free(r);
        }
        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                ps_agent_ct_free(t, ps_list_entry(pos, struct container, link));
        }
        ps_list_for_each_safe(pos, tmp, &t->exits)
        {
                exit_free(ps_list_entry(pos, struct ps_agent_exit, link));
        }
        free(t->runtime_dir);
        free(t->bundles_dir);
        free(t->runtime_root);
        free(t);
        return NULL;
}

int ps_agent_ct_check_id(const char *id, const char *what, struct ps_err **err)
{
        size_t n = id ? strlen(id) : 0;

        if (n == 0 || n > PS_AGENT_ID_MAX ||
            strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_.-") != n ||
            id[0] == '.')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bad %s id '%.*s'", what,
                                  PS_AGENT_ID_MAX, id ? id : "");
        return 0;
}

static struct container *find(struct ps_agent_containers *t, const char *id)
{
        struct ps_list *pos;

        for (pos = t->containers.next; pos != &t->containers; pos = pos->next) {
                struct container *ct = ps_list_entry(pos, struct container, link);

                if (!ct->deleted && strcmp(ct->id, id) == 0)
                        return ct;
        }
        return NULL;
}

struct container *ps_agent_ct_get(struct ps_agent_containers *t, const char *id,
                                  struct ps_err **err)
{
        struct container *ct;

        if (ps_agent_ct_check_id(id, "container", err) < 0)
                return NULL;
        ct = find(t, id);
        if (!ct)
                ps_err_set(err, PS_NOT_FOUND, "container %s: not found", id);
        return ct;
}

/* The runtime the host names, as a path to run: only runc or crun, so a
 * request can never make the agent run another program. */
static char *runtime_path(const struct ps_agent_containers *t, const char *name,
                          struct ps_err **err)
{
        const char *base = name ? strrchr(name, '/') : NULL;
        char *path = NULL;

        base = base ? base + 1 : name;
        if (!base || (strcmp(base, "runc") != 0 && strcmp(base, "crun") != 0) ||
            (base != name && name[0] != '/')) {
                ps_err_set(err, PS_INVALID_ARGUMENT,
                           "runtime '%.256s': runc or crun (a name or an absolute path)",
                           name ? name : "");
                return NULL;
        }
        if (t->runtime_dir ? asprintf(&path, "%s/%s", t->runtime_dir, base) < 0
                           : !(path = strdup(name))) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "runtime");
                return NULL;
        }
        return path;
}

/* ---- exits ---------------------------------------------------------------- */

/* Appends a record to the FIFO (the oldest dropped beyond the limit) and
 * tells the owner. */
static void queue_record(struct ps_agent_containers *t, const char *id, const char *exec_id,
                         pid_t pid, int status, bool oom)
{
        struct ps_agent_exit *e = calloc(1, sizeof(*e));
        struct timespec ts;

        if (!e || !(e->id = strdup(id)) || (exec_id && !(e->exec_id = strdup(exec_id)))) {
                if (e)
                        free(e->id);
                free(e);
                ps_log_error("agent: out of memory: the %s of %s (pid %d) is lost",
                             oom ? "OOM kill" : "exit", id, pid);
                return;
        }
        if (t->n_exits >= PS_AGENT_MAX_EXITS) {
                struct ps_agent_exit *old = ps_list_first(&t->exits, struct ps_agent_exit, link);

                ps_log_error("agent: %zu exits unacknowledged: dropping seq %llu (%s)", t->n_exits,
                             (unsigned long long)old->seq, old->id);
                exit_free(old);
                t->n_exits--;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        e->seq = ++t->seq;
        e->pid = pid;
        e->status = oom ? 0 : ps_exit_code(status);
        e->oom = oom;
        e->exited_at_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        ps_list_add_tail(&t->exits, &e->link);
        t->n_exits++;
        if (t->on_exit)
                t->on_exit(t->data);
}

void ps_agent_ct_queue_exit(struct ps_agent_containers *t, const char *id, const char *exec_id,
                            pid_t pid, int status)
{
        queue_record(t, id, exec_id, pid, status, false);
}

const struct ps_agent_exit *ps_agent_exits_ack(struct ps_agent_containers *t, uint64_t ack)
{
        struct ps_agent_exit *e;

        while ((e = ps_list_first(&t->exits, struct ps_agent_exit, link)) && e->seq <= ack) {
                exit_free(e);
                t->n_exits--;
        }
        return e;
}

const struct ps_agent_exit *ps_agent_exit_next(struct ps_agent_containers *t,
                                               const struct ps_agent_exit *e)
{
        return e->link.next == &t->exits ? NULL
                                         : ps_list_entry(e->link.next, struct ps_agent_exit, link);
}

/* ---- OOM kills ------------------------------------------------------------ */

/* The oom_kill count of the container's cgroup; -1 if unreadable (gone,
 * no memory controller, a host without cgroup2 in a test). */
static int read_oom_kills(const struct container *ct, uint64_t *ret)
{
        _cleanup_free_ char *dir = NULL, *buf = NULL;
        _cleanup_err_ struct ps_err *e = NULL;

        if (asprintf(&dir, CG_ROOT "/%s", ct->id) < 0) {
                dir = NULL;
                return -1;
        }
        if (ps_cgfile_read(dir, "memory.events", &buf, &e) <= 0)
                return -1;
        return ps_cgfile_kv_get(buf, "oom_kill", ret);
}

/* The watch's wakeups and the exits all land here, so a kill is reported
 * once, whichever notices it first. */
void ps_agent_ct_oom_check(struct container *ct)
{
        uint64_t kills;

        if (read_oom_kills(ct, &kills) < 0 || kills <= ct->oom_kills)
                return;
        ps_log_debug("agent: container %s: oom_kill %llu", ct->id, (unsigned long long)kills);
        ct->oom_kills = kills;
        queue_record(ct->t, ct->id, NULL, 0, 0, true);
}

static void on_oom(void *data)
{
        ps_agent_ct_oom_check(data);
}

/* Best effort, as on the host: a container without a watch still runs. */
static void oom_watch(struct container *ct)
{
        _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *p = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_err_ struct ps_err *e = NULL;
        const char *ctrls[] = {""};

        if (asprintf(&dir, CG_ROOT "/%s", ct->id) < 0) {
                dir = NULL;
                return;
        }
        if (ps_cgroup_paths_from(ctrls, (const char *const *)&dir, 1, &p, &e) == 0)
                ct->oom = ps_oom_watch_new_at(ct->t->base, p, on_oom, ct, &e);
        if (!ct->oom) {
                ps_log_debug("agent: container %s: no OOM watch: %s", ct->id, ps_err_msg(e));
                return;
        }
        /* the baseline after the watch: a kill in between is seen by both,
         * and reported once */
        if (read_oom_kills(ct, &ct->oom_kills) < 0)
                ct->oom_kills = 0;
}

static void on_init_exit(void *data, pid_t pid, int status)
{
        struct container *ct = data;
        struct ps_agent_containers *t = ct->t;

        ct->pid = 0;
        ps_log_debug("agent: container %s (pid %d) exited, status %d", ct->id, pid, status);
        /* an OOM kill of the init is counted before it can die, but the
         * watch's wakeup may come after this one: look now, so the host
         * hears of the OOM before the exit */
        ps_agent_ct_oom_check(ct);
        ct->oom = ps_oom_watch_free(ct->oom);
        ps_agent_ct_queue_exit(t, ct->id, NULL, pid, status);
        if (ct->deleted && ct->runs == 0)
                ps_agent_ct_free(t, ct);
}

/* ---- the runtime ---------------------------------------------------------- */

struct ps_err *ps_agent_ct_runtime_error(const struct container *ct, const char *op, int st)
{
        _cleanup_free_ char *log = NULL, *msg = NULL;
        struct ps_err *e = NULL;

        if (asprintf(&log, "%s/log.json", ct->bundle) >= 0)
                msg = ps_runtime_last_error(log);
        if (msg)
                ps_err_set(&e, PS_UNKNOWN, "OCI runtime %s failed: %s", op, msg);
        else
                ps_err_set(&e, PS_UNKNOWN, "OCI runtime %s failed: status %u", op,
                           ps_exit_code(st));
        return e;
}

/* A terminal's pty master, which runc sent through cs before it exited
 * (queued by then), as the process's streams (agent/streams.h). */
struct ps_err *ps_agent_ct_pty_streams(struct ps_agent_containers *t, struct ps_console_socket *cs,
                                       struct ps_agent_streams **ret)
{
        struct ps_err *e = NULL;
        int master;

        if (ps_console_socket_recv(cs, &master, &e) == 0)
                *ret = ps_agent_streams_new_pty(t->base, master, &e);
        ps_console_socket_close(cs);
        if (e)
                ps_err_prefix(&e, "terminal");
        return e;
}

/* A created init: its pid from the pid file, watched from now on. */
static struct ps_err *created(struct container *ct)
{
        _cleanup_free_ char *path = NULL;
        struct ps_err *e = NULL;
        pid_t pid;

        if (asprintf(&path, "%s/init.pid", ct->bundle) < 0) {
                ps_err_errno(&e, ENOMEM, PS_RESOURCE_EXHAUSTED, "pid file");
                return e;
        }
        if (ps_read_pid_file(path, &pid, &e) < 0)
                return e;
        if (ps_reaper_watch(ct->t->reaper, pid, on_init_exit, ct, &e) < 0)
                return e;
        ct->pid = pid;
        oom_watch(ct);
        return NULL;
}

static void on_run_exit(void *data, pid_t pid, int status)
{
        struct run *r = data;
        struct container *ct = r->ct;
        struct ps_agent_containers *t = r->t;
        struct ps_err *e = NULL;
        pid_t ret = 0;

        (void)pid;
        ps_list_remove(&r->link);
        ct->runs--;
        if (r->kind == RUN_EXEC)
                return ps_agent_exec_ran(r, status);
        if (status != 0)
                e = ps_agent_ct_runtime_error(ct, run_op[r->kind], status);
        else if (r->kind == RUN_CREATE && !(e = created(ct))) {
                if (ct->terminal && (e = ps_agent_ct_pty_streams(t, &ct->console, &ct->streams)))
                        kill(ct->pid, SIGKILL); /* no terminal, no container */
                else if (!ct->terminal)         /* the init has them: ours would hold off EOF */
                        ps_agent_streams_started(ct->streams);
                ret = e ? 0 : ct->pid;
        } else if (r->kind == RUN_START)
                ret = ct->pid;
        else if (r->kind == RUN_DELETE)
                ct->deleted = true;
        if (r->kind == RUN_CREATE && e)
                ct->deleted = true; /* a failed create leaves no container */
        if (ct->deleted && ct->runs == 0 && ct->pid == 0)
                ps_agent_ct_free(t, ct);
        r->done(r->data, e, ret);
        free(r);
}

/* Runs `<runtime> --root ... --log <bundle>/log.json ... args` for ct;
 * stdio[] become its 0, 1, 2 (NULL or -1: /dev/null). */
int ps_agent_ct_run(struct container *ct, struct exec *ex, enum run_kind kind, char *const *args,
                    const int *stdio, ps_agent_run_fn done, void *data, struct ps_err **err)
{
        struct ps_agent_containers *t = ct->t;
        _cleanup_free_ char *log = NULL;
        struct ps_options o = {.binary_name = ct->runtime};
        struct ps_spawn_opts so = {.cwd = ct->bundle, .stdio = {-1, -1, -1}};
        char *argv[PS_RUNTIME_MAX_ARGS];
        struct run *r;

        if (asprintf(&log, "%s/log.json", ct->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "runtime");
        ps_runtime_argv(&o, t->runtime_root, log, args, argv);
        if (stdio)
                memcpy(so.stdio, stdio, sizeof(so.stdio));
        r = calloc(1, sizeof(*r));
        if (!r)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "runtime");
        *r = (struct run){.t = t, .ct = ct, .ex = ex, .kind = kind, .done = done, .data = data};
        so.path = argv[0];
        so.argv = argv;
        r->pid = ps_spawn(&so, err);
        if (r->pid < 0) {
                free(r);
                return ps_err_prefix(err, "OCI runtime %s failed", run_op[kind]);
        }
        if (ps_reaper_watch(t->reaper, r->pid, on_run_exit, r, err) < 0) {
                kill(r->pid, SIGKILL); /* its exit goes to the reaper's cache */
                free(r);
                return -1;
        }
        ps_list_add_tail(&t->runs, &r->link);
        ct->runs++;
        return 0;
}

/* ---- the operations ------------------------------------------------------- */

/* path is <dir>/<name> (name: `name`, or any plain file name) */
static bool in_dir(const char *path, const char *dir, const char *name)
{
        size_t n = strlen(dir);
        const char *rest;

        if (strncmp(path, dir, n) != 0 || path[n] != '/')
                return false;
        rest = path + n + 1;
        if (name)
                return strcmp(rest, name) == 0;
        return rest[0] && !strchr(rest, '/') && strcmp(rest, ".") != 0 && strcmp(rest, "..") != 0;
}

static struct container *container_new(struct ps_agent_containers *t,
                                       const struct ps_agent_create *req, struct ps_err **err)
{
        struct container *ct;

        if (ps_agent_ct_check_id(req->id, "container", err) < 0)
                return NULL;
        if (!t->bundles_dir) {
                ps_err_set(err, PS_FAILED_PRECONDITION, "no bundle directory shared");
                return NULL;
        }
        if (!in_dir(req->bundle, t->bundles_dir, req->id)) {
                ps_err_set(err, PS_INVALID_ARGUMENT, "container %s: the bundle must be %s/%s",
                           req->id, t->bundles_dir, req->id);
                return NULL;
        }
        if (find(t, req->id)) {
                ps_err_set(err, PS_ALREADY_EXISTS, "container %s: already exists", req->id);
                return NULL;
        }
        if (t->n_containers >= PS_AGENT_MAX_CONTAINERS) {
                ps_err_set(err, PS_RESOURCE_EXHAUSTED, "%u containers already",
                           PS_AGENT_MAX_CONTAINERS);
                return NULL;
        }
        ct = calloc(1, sizeof(*ct));
        if (!ct || !(ct->id = strdup(req->id)) || !(ct->bundle = strdup(req->bundle))) {
                if (ct)
                        free(ct->id);
                free(ct);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "container");
                return NULL;
        }
        ct->t = t;
        ct->console.fd = -1;
        ps_list_init(&ct->execs);
        ps_list_add_tail(&t->containers, &ct->link);
        t->n_containers++;
        ct->runtime = runtime_path(t, req->runtime, err);
        if (!ct->runtime) {
                ps_agent_ct_free(t, ct);
                return NULL;
        }
        return ct;
}

int ps_agent_container_create(struct ps_agent_containers *t, const struct ps_agent_create *req,
                              ps_agent_run_fn done, void *data, struct ps_err **err)
{
        _cleanup_free_ char *pid_file = NULL;
        struct container *ct = container_new(t, req, err);
        char *args[9] = {"create", "--bundle", NULL, "--pid-file", NULL};
        const bool want[3] = {req->stdin_pipe, req->stdout_pipe, req->stderr_pipe};
        int fds[3] = {-1, -1, -1}, n = 5, r = -1;

        if (!ct)
                return -1;
        if (asprintf(&pid_file, "%s/init.pid", ct->bundle) < 0) {
                pid_file = NULL;
                ps_agent_ct_free(t, ct);
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "container");
        }
        args[2] = ct->bundle;
        args[4] = pid_file;
        ct->terminal = req->terminal;
        /* a terminal's pty is made by runc, its master comes back here */
        if (ct->terminal && ps_console_socket_open(NULL, &ct->console, err) == 0) {
                args[n++] = "--console-socket";
                args[n++] = ct->console.path;
                r = 0;
        } else if (!ct->terminal && (ct->streams = ps_agent_streams_new(t->base, want, err))) {
                ps_agent_streams_fds(ct->streams, fds);
                r = 0;
        }
        args[n++] = ct->id;
        args[n] = NULL;
        if (r < 0 || ps_agent_ct_run(ct, NULL, RUN_CREATE, args, fds, done, data, err) < 0) {
                ps_agent_ct_free(t, ct);
                return ps_err_prefix(err, "container %s", req->id);
        }
        return 0;
}

int ps_agent_container_start(struct ps_agent_containers *t, const char *id, ps_agent_run_fn done,
                             void *data, struct ps_err **err)
{
        struct container *ct = ps_agent_ct_get(t, id, err);
        char *args[] = {"start", NULL, NULL};

        if (!ct)
                return -1;
        if (ct->pid <= 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "container %s: not created", id);
        args[1] = ct->id;
        return ps_agent_ct_run(ct, NULL, RUN_START, args, NULL, done, data, err);
}

int ps_agent_container_signal(struct ps_agent_containers *t, const char *id, const char *exec_id,
                              int sig, bool all, ps_agent_run_fn done, void *data,
                              struct ps_err **err)
{
        struct container *ct = ps_agent_ct_get(t, id, err);
        const struct exec *ex = NULL;
        char num[16];
        char *args[] = {"kill", "--all", NULL, num, NULL};
        pid_t pid;

        if (!ct)
                return -1;
        if (sig <= 0 || sig >= NSIG)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "signal %d", sig);
        if (exec_id && exec_id[0]) {
                if (all)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "exec %s: `all` is for a container's init", exec_id);
                if (!(ex = ps_agent_exec_get(t, id, exec_id, err)))
                        return -1;
        }
        if (!all) {
                pid = ex ? ex->pid : ct->pid;
                if (pid <= 0)
                        return ps_err_set(err, PS_NOT_FOUND, "%s %s: process not running",
                                          ex ? "exec" : "container", ex ? exec_id : id);
                if (kill(pid, sig) < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "kill %d", pid);
                done(data, NULL, 0);
                return 0;
        }
        snprintf(num, sizeof(num), "%d", sig);
        args[2] = ct->id;
        return ps_agent_ct_run(ct, NULL, RUN_KILL, args, NULL, done, data, err);
}

int ps_agent_container_delete(struct ps_agent_containers *t, const char *id, ps_agent_run_fn done,
                              void *data, struct ps_err **err)
{
        struct container *ct = ps_agent_ct_get(t, id, err);
        char *args[] = {"delete", "--force", NULL, NULL};

        if (!ct)
                return -1;
        args[2] = ct->id;
        return ps_agent_ct_run(ct, NULL, RUN_DELETE, args, NULL, done, data, err);
}

int ps_agent_container_pids(struct ps_agent_containers *t, const char *id, pid_t **ret_pids,
                            size_t *ret_n, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        struct container *ct = ps_agent_ct_get(t, id, err);
        size_t n = 0, cap = 0;

        if (!ct)
                return -1;
        if (asprintf(&path, CG_ROOT "/%s/cgroup.procs", ct->id) < 0) {
                path = NULL;
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "pids");
        }
        if (ps_read_file(path, PIDS_MAX, &text, NULL, err) < 0)
                return ps_err_prefix(err, "container %s", id);
        for (char *s = text, *end; *s; s = end) {
                long v = strtol(s, &end, 10);

                if (end == s)
                        break;
                if (n == cap) {
                        pid_t *grown = realloc(pids, (cap = cap ? cap * 2 : 16) * sizeof(*pids));

                        if (!grown)
                                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "pids");
                        pids = grown;
                }
                pids[n++] = (pid_t)v;
        }
        *ret_pids = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

struct ps_agent_streams *ps_agent_container_streams(struct ps_agent_containers *t, const char *id,
                                                    const char *exec_id, struct ps_err **err)
{
        struct container *ct;
        struct exec *ex;

        if (exec_id && exec_id[0]) {
                if (!(ex = ps_agent_exec_get(t, id, exec_id, err)))
                        return NULL;
                if (!ex->streams) /* a terminal's, until runc handed its master over */
                        ps_err_set(err, PS_FAILED_PRECONDITION, "exec %s: not started", exec_id);
                return ex->streams;
        }
        ct = ps_agent_ct_get(t, id, err);
        if (ct && !ct->streams) /* a terminal's, until runc handed its master over */
                ps_err_set(err, PS_FAILED_PRECONDITION, "container %s: not created", id);
        return ct ? ct->streams : NULL;
}

int ps_agent_container_stats(struct ps_agent_containers *t, const char *id,
                             struct ps_cgroup_metrics *ret, struct ps_err **err)
{
        _cleanup_free_ char *dir = NULL;
        struct container *ct = ps_agent_ct_get(t, id, err);

        if (!ct)
                return -1;
        if (asprintf(&dir, CG_ROOT "/%s", ct->id) < 0) {
                dir = NULL;
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "stats");
        }
        if (ps_cgroup_stats_v2_dir(dir, ret, err) < 0)
                return ps_err_prefix(err, "container %s", id);
        return 0;
}
