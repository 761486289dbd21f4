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

#include "agent/streams.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/spawn.h"
#include "core/reaper.h"
#include "oci/console_socket.h"
#include "oci/runtime_cli.h"

#define ID_MAX   128
#define PIDS_MAX (1u << 20)
#define CG_ROOT  "/sys/fs/cgroup/" PS_AGENT_CGROUP_PARENT

struct container {
        struct ps_list link; /* in t->containers */
        struct ps_agent_containers *t;
        char *id, *bundle, *runtime;
        pid_t pid;     /* the init while it runs; 0 before create and after its exit */
        bool deleted;  /* removed by the host: kept only until its init's exit is in */
        unsigned runs; /* runtime calls in flight */
        bool terminal; /* its stdio is a pty: the master from the console socket */
        struct ps_console_socket console; /* until runc create handed the master over */
        struct ps_agent_streams *streams; /* NULL for a terminal until created */
        struct ps_list execs;             /* struct exec */
};

/* An exec of a container: from ExecProcess until DeleteExec (or its
 * container's end). */
struct exec {
        struct ps_list link; /* in ct->execs */
        struct container *ct;
        char *id;
        char *spec_path, *pid_path; /* <bundle>/.exec-<id>.json, .exec-<id>.pid */
        pid_t pid;                  /* while it runs */
        bool starting;              /* runtime exec in flight */
        bool deleted;               /* kept only until its exit (or its exec's end) is in */
        bool terminal;              /* its stdio is a pty: the master from the console socket */
        struct ps_console_socket console; /* until runc exec handed the master over */
        struct ps_agent_streams *streams;
};

enum run_kind { RUN_CREATE, RUN_START, RUN_KILL, RUN_DELETE, RUN_EXEC };

struct run {
        struct ps_list link; /* in t->runs */
        struct ps_agent_containers *t;
        struct container *ct;
        struct exec *ex; /* RUN_EXEC */
        enum run_kind kind;
        pid_t pid;
        ps_agent_run_fn done;
        void *data;
};

struct ps_agent_containers {
        struct event_base *base;
        struct ps_reaper *reaper;
        char *bundles_dir, *runtime_dir;
        ps_agent_exit_queued_fn on_exit;
        void *data;
        struct ps_list containers, runs, exits;
        size_t n_containers, n_exits, n_execs;
        uint64_t seq;
};

static const char *const run_op[] = {"create", "start", "kill", "delete", "exec"};

struct ps_agent_containers *
ps_agent_containers_new(struct event_base *base, struct ps_reaper *reaper, const char *bundles_dir,
                        const char *runtime_dir, ps_agent_exit_queued_fn on_exit, void *data,
                        struct ps_err **err)
{
        struct ps_agent_containers *t = calloc(1, sizeof(*t));

        if (!t || (runtime_dir && !(t->runtime_dir = strdup(runtime_dir))) ||
            (bundles_dir && !(t->bundles_dir = strdup(bundles_dir)))) {
                if (t)
                        free(t->runtime_dir);
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

static void exec_free(struct exec *ex)
{
        struct ps_agent_containers *t = ex->ct->t;

        if (ex->pid > 0)
                ps_reaper_unwatch(t->reaper, ex->pid);
        ps_list_remove(&ex->link);
        t->n_execs--;
        ps_agent_streams_free(ex->streams); /* answers the waiting calls */
        ps_console_socket_close(&ex->console);
        if (ex->spec_path)
                unlink(ex->spec_path);
        if (ex->pid_path)
                unlink(ex->pid_path);
        free(ex->spec_path);
        free(ex->pid_path);
        free(ex->id);
        free(ex);
}

static void container_free(struct ps_agent_containers *t, struct container *ct)
{
        while (!ps_list_empty(&ct->execs))
                exec_free(ps_list_first(&ct->execs, struct exec, link));
        if (ct->pid > 0)
                ps_reaper_unwatch(t->reaper, ct->pid);
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
                container_free(t, ps_list_entry(pos, struct container, link));
        }
        ps_list_for_each_safe(pos, tmp, &t->exits)
        {
                exit_free(ps_list_entry(pos, struct ps_agent_exit, link));
        }
        free(t->runtime_dir);
        free(t->bundles_dir);
        free(t);
        return NULL;
}

static int check_id(const char *id, const char *what, struct ps_err **err)
{
        size_t n = id ? strlen(id) : 0;

        if (n == 0 || n > ID_MAX ||
            strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_.-") != n ||
            id[0] == '.')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bad %s id '%.*s'", what, ID_MAX,
                                  id ? id : "");
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

static struct container *get(struct ps_agent_containers *t, const char *id, struct ps_err **err)
{
        struct container *ct;

        if (check_id(id, "container", err) < 0)
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

static void queue_exit(struct ps_agent_containers *t, const char *id, const char *exec_id,
                       pid_t pid, int status)
{
        struct ps_agent_exit *e = calloc(1, sizeof(*e));
        struct timespec ts;

        if (!e || !(e->id = strdup(id)) || (exec_id && !(e->exec_id = strdup(exec_id)))) {
                if (e)
                        free(e->id);
                free(e);
                ps_log_error("agent: out of memory: the exit of %s (pid %d) is lost", id, pid);
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
        e->status = ps_exit_code(status);
        e->exited_at_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        ps_list_add_tail(&t->exits, &e->link);
        t->n_exits++;
        if (t->on_exit)
                t->on_exit(t->data);
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

static void on_init_exit(void *data, pid_t pid, int status)
{
        struct container *ct = data;
        struct ps_agent_containers *t = ct->t;

        ct->pid = 0;
        ps_log_debug("agent: container %s (pid %d) exited, status %d", ct->id, pid, status);
        queue_exit(t, ct->id, NULL, pid, status);
        if (ct->deleted && ct->runs == 0)
                container_free(t, ct);
}

/* ---- the runtime ---------------------------------------------------------- */

static struct ps_err *runtime_error(const struct container *ct, const char *op, int st)
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
static struct ps_err *pty_streams(struct ps_agent_containers *t, struct ps_console_socket *cs,
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
        return NULL;
}

static void exec_ran(struct run *r, int status);

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
                return exec_ran(r, status);
        if (status != 0)
                e = runtime_error(ct, run_op[r->kind], status);
        else if (r->kind == RUN_CREATE && !(e = created(ct))) {
                if (ct->terminal && (e = pty_streams(t, &ct->console, &ct->streams)))
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
                container_free(t, ct);
        r->done(r->data, e, ret);
        free(r);
}

/* Runs `<runtime> --root ... --log <bundle>/log.json ... args` for ct;
 * stdio[] become its 0, 1, 2 (NULL or -1: /dev/null). */
static int run(struct container *ct, struct exec *ex, enum run_kind kind, char *const *args,
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
        ps_runtime_argv(&o, (char *)(uintptr_t)PS_AGENT_RUNTIME_ROOT, log, args, argv);
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

        if (check_id(req->id, "container", err) < 0)
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
                container_free(t, ct);
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
                container_free(t, ct);
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
        if (r < 0 || run(ct, NULL, RUN_CREATE, args, fds, done, data, err) < 0) {
                container_free(t, ct);
                return ps_err_prefix(err, "container %s", req->id);
        }
        return 0;
}

int ps_agent_container_start(struct ps_agent_containers *t, const char *id, ps_agent_run_fn done,
                             void *data, struct ps_err **err)
{
        struct container *ct = get(t, id, err);
        char *args[] = {"start", NULL, NULL};

        if (!ct)
                return -1;
        if (ct->pid <= 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "container %s: not created", id);
        args[1] = ct->id;
        return run(ct, NULL, RUN_START, args, NULL, done, data, err);
}

static struct exec *get_exec(struct ps_agent_containers *t, const char *id, const char *exec_id,
                             struct ps_err **err);

int ps_agent_container_signal(struct ps_agent_containers *t, const char *id, const char *exec_id,
                              int sig, bool all, ps_agent_run_fn done, void *data,
                              struct ps_err **err)
{
        struct container *ct = get(t, id, err);
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
                if (!(ex = get_exec(t, id, exec_id, err)))
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
        return run(ct, NULL, RUN_KILL, args, NULL, done, data, err);
}

int ps_agent_container_delete(struct ps_agent_containers *t, const char *id, ps_agent_run_fn done,
                              void *data, struct ps_err **err)
{
        struct container *ct = get(t, id, err);
        char *args[] = {"delete", "--force", NULL, NULL};

        if (!ct)
                return -1;
        args[2] = ct->id;
        return run(ct, NULL, RUN_DELETE, args, NULL, done, data, err);
}

int ps_agent_container_pids(struct ps_agent_containers *t, const char *id, pid_t **ret_pids,
                            size_t *ret_n, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        struct container *ct = get(t, id, err);
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
                if (!(ex = get_exec(t, id, exec_id, err)))
                        return NULL;
                if (!ex->streams) /* a terminal's, until runc handed its master over */
                        ps_err_set(err, PS_FAILED_PRECONDITION, "exec %s: not started", exec_id);
                return ex->streams;
        }
        ct = get(t, id, err);
        if (ct && !ct->streams) /* a terminal's, until runc handed its master over */
                ps_err_set(err, PS_FAILED_PRECONDITION, "container %s: not created", id);
        return ct ? ct->streams : NULL;
}

/* ---- execs ------------------------------------------------------------------- */

static struct exec *find_exec(struct container *ct, const char *exec_id)
{
        struct ps_list *pos;

        for (pos = ct->execs.next; pos != &ct->execs; pos = pos->next) {
                struct exec *ex = ps_list_entry(pos, struct exec, link);

                if (!ex->deleted && strcmp(ex->id, exec_id) == 0)
                        return ex;
        }
        return NULL;
}

static struct exec *get_exec(struct ps_agent_containers *t, const char *id, const char *exec_id,
                             struct ps_err **err)
{
        struct container *ct = get(t, id, err);
        struct exec *ex;

        if (!ct || check_id(exec_id, "exec", err) < 0)
                return NULL;
        ex = find_exec(ct, exec_id);
        if (!ex)
                ps_err_set(err, PS_NOT_FOUND, "exec %s of container %s: not found", exec_id, id);
        return ex;
}

static void on_exec_exit(void *data, pid_t pid, int status)
{
        struct exec *ex = data;

        ex->pid = 0;
        ps_log_debug("agent: exec %s/%s (pid %d) exited, status %d", ex->ct->id, ex->id, pid,
                     status);
        queue_exit(ex->ct->t, ex->ct->id, ex->id, pid, status);
        if (ex->deleted)
                exec_free(ex);
}

/* The runtime ran the exec: its pid from the pid file, watched from now
 * on (an exit before this waits in the reaper's cache). */
static struct ps_err *exec_watch(struct exec *ex)
{
        struct ps_err *e = NULL;
        pid_t pid;

        if (ps_read_pid_file(ex->pid_path, &pid, &e) < 0)
                return e;
        if (ps_reaper_watch(ex->ct->t->reaper, pid, on_exec_exit, ex, &e) < 0) {
                kill(pid, SIGKILL); /* nobody would report it: it must not run */
                return e;
        }
        ex->pid = pid;
        return NULL;
}

static void exec_ran(struct run *r, int status)
{
        struct exec *ex = r->ex;
        struct container *ct = r->ct;
        struct ps_err *e = NULL;
        pid_t pid = 0;

        ex->starting = false;
        unlink(ex->spec_path);
        if (status != 0)
                e = runtime_error(ct, run_op[RUN_EXEC], status);
        else if (!(e = exec_watch(ex))) {
                if (ex->terminal && !ex->deleted)
                        e = pty_streams(ct->t, &ex->console, &ex->streams);
                else if (ex->streams) /* the exec has its ends */
                        ps_agent_streams_started(ex->streams);
                /* deleted while it started, or no terminal for it: nobody
                 * wants it (its exit is queued, then it is freed) */
                if (e || ex->deleted)
                        kill(ex->pid, SIGKILL);
                pid = e ? 0 : ex->pid;
        }
        if (e)
                ex->deleted = true; /* a failed exec leaves nothing */
        if (ex->deleted && ex->pid == 0)
                exec_free(ex);
        if (ct->deleted && ct->runs == 0 && ct->pid == 0)
                container_free(ct->t, ct);
        r->done(r->data, e, pid);
        free(r);
}

/* The process JSON the host sent: an object with non-empty string args
 * whose terminal is the request's. */
static int check_process(const struct ps_agent_exec *req, struct ps_err **err)
{
        _cleanup_json_ cJSON *j = NULL;
        const cJSON *args, *a;

        if (req->process_len == 0 || req->process_len > PS_AGENT_EXEC_SPEC_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec %s: process must be 1..%u bytes",
                                  req->exec_id, PS_AGENT_EXEC_SPEC_MAX);
        j = cJSON_ParseWithLength((const char *)req->process, req->process_len);
        if (!cJSON_IsObject(j))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec %s: process is no JSON object",
                                  req->exec_id);
        args = cJSON_GetObjectItemCaseSensitive(j, "args");
        if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) == 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec %s: process has no args",
                                  req->exec_id);
        cJSON_ArrayForEach(a, args)
        {
                if (!cJSON_IsString(a))
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "exec %s: process args must be strings", req->exec_id);
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "terminal")) != req->terminal)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "exec %s: process.terminal disagrees with the request's "
                                  "terminal (%s)",
                                  req->exec_id, req->terminal ? "true" : "false");
        return 0;
}

static struct exec *exec_new(struct container *ct, const char *exec_id, struct ps_err **err)
{
        struct ps_agent_containers *t = ct->t;
        struct exec *ex = calloc(1, sizeof(*ex));

        if (!ex || !(ex->id = strdup(exec_id)) ||
            asprintf(&ex->spec_path, "%s/.exec-%s.json", ct->bundle, exec_id) < 0 ||
            asprintf(&ex->pid_path, "%s/.exec-%s.pid", ct->bundle, exec_id) < 0) {
                if (ex) {
                        free(ex->id);
                        free(ex->spec_path);
                }
                free(ex);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "exec %s", exec_id);
                return NULL;
        }
        ex->ct = ct;
        ex->console.fd = -1;
        ps_list_add_tail(&ct->execs, &ex->link);
        t->n_execs++;
        return ex;
}

/* The checks of ps_agent_exec_create: the request's own fields first
 * (ids, the process), then the container's state. */
static struct container *exec_target(struct ps_agent_containers *t, const struct ps_agent_exec *req,
                                     struct ps_err **err)
{
        struct container *ct;

        if (check_id(req->id, "container", err) < 0 || check_id(req->exec_id, "exec", err) < 0)
                return NULL;
        if (check_process(req, err) < 0 || !(ct = get(t, req->id, err)))
                return NULL;
        if (ct->pid <= 0) {
                ps_err_set(err, PS_FAILED_PRECONDITION, "container %s: not running", req->id);
                return NULL;
        }
        if (find_exec(ct, req->exec_id)) {
                ps_err_set(err, PS_ALREADY_EXISTS, "exec %s of container %s: already exists",
                           req->exec_id, req->id);
                return NULL;
        }
        if (t->n_execs >= PS_AGENT_MAX_EXECS) {
                ps_err_set(err, PS_RESOURCE_EXHAUSTED, "%u execs already", PS_AGENT_MAX_EXECS);
                return NULL;
        }
        return ct;
}

int ps_agent_exec_create(struct ps_agent_containers *t, const struct ps_agent_exec *req,
                         ps_agent_run_fn done, void *data, struct ps_err **err)
{
        struct container *ct = exec_target(t, req, err);
        const bool want[3] = {req->stdin_pipe, req->stdout_pipe, req->stderr_pipe};
        char *args[10] = {"exec", "--process", NULL, "--detach", "--pid-file", NULL};
        struct exec *ex;
        int fds[3] = {-1, -1, -1}, n = 6;

        if (!ct || !(ex = exec_new(ct, req->exec_id, err)))
                return -1;
        args[2] = ex->spec_path;
        args[5] = ex->pid_path;
        ex->terminal = req->terminal;
        if (ps_write_file_atomic(ex->spec_path, req->process, req->process_len, 0600, err) < 0)
                goto fail;
        if (ex->terminal) {
                /* the pty is made by runc; its master comes back here */
                if (ps_console_socket_open(NULL, &ex->console, err) < 0)
                        goto fail;
                args[n++] = "--console-socket";
                args[n++] = ex->console.path;
        } else {
                ex->streams = ps_agent_streams_new(t->base, want, err);
                if (!ex->streams)
                        goto fail;
                ps_agent_streams_fds(ex->streams, fds);
        }
        args[n++] = ct->id;
        args[n] = NULL;
        if (run(ct, ex, RUN_EXEC, args, fds, done, data, err) < 0)
                goto fail;
        ex->starting = true;
        return 0;
fail:
        exec_free(ex);
        return ps_err_prefix(err, "exec %s", req->exec_id);
}

int ps_agent_exec_delete(struct ps_agent_containers *t, const char *id, const char *exec_id,
                         struct ps_err **err)
{
        struct exec *ex = get_exec(t, id, exec_id, err);

        if (!ex)
                return -1;
        ex->deleted = true;
        /* its parked reads and writes end now (NOT_FOUND) */
        ex->streams = ps_agent_streams_free(ex->streams);
        if (ex->pid > 0)
                kill(ex->pid, SIGKILL); /* freed once its exit is in */
        else if (!ex->starting)
                exec_free(ex);
        return 0;
}
