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
#include "base/log.h"
#include "base/spawn.h"
#include "cgroup/stats.h"
#include "core/reaper.h"
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
        struct ps_agent_streams *streams;
};

enum run_kind { RUN_CREATE, RUN_START, RUN_KILL, RUN_DELETE };

struct run {
        struct ps_list link; /* in t->runs */
        struct ps_agent_containers *t;
        struct container *ct;
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
        size_t n_containers, n_exits;
        uint64_t seq;
};

static const char *const run_op[] = {"create", "start", "kill", "delete"};

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

static void container_free(struct ps_agent_containers *t, struct container *ct)
{
        if (ct->pid > 0)
                ps_reaper_unwatch(t->reaper, ct->pid);
        ps_list_remove(&ct->link);
        t->n_containers--;
        ps_agent_streams_free(ct->streams); /* answers the waiting calls */
        free(ct->id);
        free(ct->bundle);
        free(ct->runtime);
        free(ct);
}

static void exit_free(struct ps_agent_exit *e)
{
        ps_list_remove(&e->link);
        free(e->id);
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

static int check_id(const char *id, struct ps_err **err)
{
        size_t n = id ? strlen(id) : 0;

        if (n == 0 || n > ID_MAX ||
            strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_.-") != n ||
            id[0] == '.')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bad container id '%.*s'", ID_MAX,
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

        if (check_id(id, err) < 0)
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

static void queue_exit(struct ps_agent_containers *t, const char *id, pid_t pid, int status)
{
        struct ps_agent_exit *e = calloc(1, sizeof(*e));
        struct timespec ts;

        if (!e || !(e->id = strdup(id))) {
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
        queue_exit(t, ct->id, pid, status);
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
        if (status != 0)
                e = runtime_error(ct, run_op[r->kind], status);
        else if (r->kind == RUN_CREATE && !(e = created(ct))) {
                ret = ct->pid;
                /* the init has them: our copies would hold off EOF */
                ps_agent_streams_started(ct->streams);
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
static int run(struct container *ct, enum run_kind kind, char *const *args, const int *stdio,
               ps_agent_run_fn done, void *data, struct ps_err **err)
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
        *r = (struct run){.t = t, .ct = ct, .kind = kind, .done = done, .data = data};
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

        if (check_id(req->id, err) < 0)
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
        char *args[] = {"create", "--bundle", NULL, "--pid-file", NULL, NULL, NULL};
        const bool want[3] = {req->stdin_pipe, req->stdout_pipe, req->stderr_pipe};
        int fds[3];

        if (!ct)
                return -1;
        if (asprintf(&pid_file, "%s/init.pid", ct->bundle) < 0) {
                pid_file = NULL;
                container_free(t, ct);
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "container");
        }
        args[2] = ct->bundle;
        args[4] = pid_file;
        args[5] = ct->id;
        ct->streams = ps_agent_streams_new(t->base, want, err);
        if (ct->streams)
                ps_agent_streams_fds(ct->streams, fds);
        if (!ct->streams || run(ct, RUN_CREATE, args, fds, done, data, err) < 0) {
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
        return run(ct, RUN_START, args, NULL, done, data, err);
}

int ps_agent_container_signal(struct ps_agent_containers *t, const char *id, int sig, bool all,
                              ps_agent_run_fn done, void *data, struct ps_err **err)
{
        struct container *ct = get(t, id, err);
        char num[16];
        char *args[] = {"kill", "--all", NULL, num, NULL};

        if (!ct)
                return -1;
        if (sig <= 0 || sig >= NSIG)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "signal %d", sig);
        if (!all) {
                if (ct->pid <= 0)
                        return ps_err_set(err, PS_NOT_FOUND, "container %s: process not running",
                                          id);
                if (kill(ct->pid, sig) < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "kill %d", ct->pid);
                done(data, NULL, 0);
                return 0;
        }
        snprintf(num, sizeof(num), "%d", sig);
        args[2] = ct->id;
        return run(ct, RUN_KILL, args, NULL, done, data, err);
}

int ps_agent_container_delete(struct ps_agent_containers *t, const char *id, ps_agent_run_fn done,
                              void *data, struct ps_err **err)
{
        struct container *ct = get(t, id, err);
        char *args[] = {"delete", "--force", NULL, NULL};

        if (!ct)
                return -1;
        args[2] = ct->id;
        return run(ct, RUN_DELETE, args, NULL, done, data, err);
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
                                                    struct ps_err **err)
{
        struct container *ct = get(t, id, err);

        return ct ? ct->streams : NULL;
}

int ps_agent_container_stats(struct ps_agent_containers *t, const char *id,
                             struct ps_cgroup_metrics *ret, struct ps_err **err)
{
        _cleanup_free_ char *dir = NULL;
        struct container *ct = get(t, id, err);

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
