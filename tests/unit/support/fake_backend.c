#include "fake_backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void logf_(char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(char *log, const char *fmt, ...)
{
        size_t n = strlen(log);
        va_list ap;

        if (n + 2 >= FAKE_LOG_SIZE)
                return;
        va_start(ap, fmt);
        vsnprintf(log + n, FAKE_LOG_SIZE - n - 1, fmt, ap);
        va_end(ap);
        n = strlen(log);
        log[n] = '\n';
        log[n + 1] = '\0';
}

static struct fake_backend *fb_of(const struct ps_container *c)
{
        return c->be_ctx;
}

/* Answers now or holds, per the fake's mode. */
static int answer(struct fake_backend *fb, const char *op, struct ps_container *c,
                  struct ps_process *p, ps_backend_fn done, ps_backend_pids_fn pids_done,
                  void *data, pid_t pid)
{
        struct ps_backend_result res = {.pid = pid};
        struct ps_err *e = NULL;

        if (fb->mode == FAKE_HOLD && fb->n_held < FAKE_MAX_HELD) {
                struct fake_held *h = &fb->held[fb->n_held++];
                *h = (struct fake_held){
                    .c = c, .p = p, .done = done, .pids_done = pids_done, .data = data};
                snprintf(h->op, sizeof(h->op), "%s", op);
                return 0;
        }
        if (fb->mode == FAKE_FAIL)
                ps_err_set(&e, PS_UNKNOWN, "fake %s failed", op);
        if (pids_done)
                pids_done(data, e, e ? NULL : &pid, e ? 0 : 1);
        else
                done(data, e, e ? NULL : &res);
        return 0;
}

void fake_release(struct fake_backend *fb, size_t i, struct ps_err *err)
{
        struct fake_held h = fb->held[i];
        struct ps_backend_result res = {.pid = h.p ? h.p->pid : 0};

        memmove(&fb->held[i], &fb->held[i + 1], (fb->n_held - i - 1) * sizeof(fb->held[0]));
        fb->n_held--;
        if (strcmp(h.op, "create") == 0 || strcmp(h.op, "exec") == 0)
                res.pid = fb->next_pid++;
        if (h.pids_done)
                h.pids_done(h.data, err, err ? NULL : &res.pid, err ? 0 : 1);
        else
                h.done(h.data, err, err ? NULL : &res);
}

void fake_release_drains(struct fake_backend *fb)
{
        while (fb->n_drains) {
                size_t i = --fb->n_drains;
                fb->drain_done[i](fb->drain_data[i]);
        }
}

void fake_exit(struct ps_process *p, unsigned status)
{
        ps_task_process_exited(p, status);
}

static int f_create(struct ps_container *c, const struct ps_create_request *req, ps_backend_fn done,
                    void *data, struct ps_err **err)
{
        struct fake_backend *fb = fb_of(c);

        logf_(fb->log, "create %s", c->id);
        c->private_pid_ns = true;
        return answer(fb, "create", c, c->init, done, NULL, data,
                      fb->mode == FAKE_HOLD ? 0 : fb->next_pid++);
}

static int f_start(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err)
{
        logf_(fb_of(c)->log, "start %s", c->id);
        return answer(fb_of(c), "start", c, c->init, done, NULL, data, c->init->pid);
}

static int f_exec(struct ps_process *p, ps_backend_fn done, void *data, struct ps_err **err)
{
        struct fake_backend *fb = fb_of(p->c);

        logf_(fb->log, "exec %s", p->exec_id);
        return answer(fb, "exec", p->c, p, done, NULL, data,
                      fb->mode == FAKE_HOLD ? 0 : fb->next_pid++);
}

static int f_signal(struct ps_process *p, int sig, bool all, ps_backend_fn done, void *data,
                    struct ps_err **err)
{
        logf_(fb_of(p->c)->log, "signal %s %d%s", ps_process_name(p), sig, all ? " all" : "");
        return answer(fb_of(p->c), "signal", p->c, p, done, NULL, data, p->pid);
}

static int f_delete(struct ps_container *c, bool force, ps_backend_fn done, void *data,
                    struct ps_err **err)
{
        logf_(fb_of(c)->log, "delete %s%s", c->id, force ? " force" : "");
        return answer(fb_of(c), "delete", c, c->init, done, NULL, data, c->init->pid);
}

#define SIMPLE(name)                                                                               \
        static int f_##name(struct ps_container *c, ps_backend_fn done, void *data,                \
                            struct ps_err **err)                                                   \
        {                                                                                          \
                logf_(fb_of(c)->log, #name " %s", c->id);                                          \
                return answer(fb_of(c), #name, c, c->init, done, NULL, data, c->init->pid);        \
        }
SIMPLE(pause)
SIMPLE(resume)

static int f_update(struct ps_container *c, const char *json, size_t len, ps_backend_fn done,
                    void *data, struct ps_err **err)
{
        logf_(fb_of(c)->log, "update %s", c->id);
        return answer(fb_of(c), "update", c, c->init, done, NULL, data, c->init->pid);
}

static int f_checkpoint(struct ps_container *c, const struct ps_checkpoint_request *req,
                        ps_backend_fn done, void *data, struct ps_err **err)
{
        logf_(fb_of(c)->log, "checkpoint %s", c->id);
        return answer(fb_of(c), "checkpoint", c, c->init, done, NULL, data, c->init->pid);
}

static int f_pids(struct ps_container *c, ps_backend_pids_fn done, void *data, struct ps_err **err)
{
        logf_(fb_of(c)->log, "pids %s", c->id);
        return answer(fb_of(c), "pids", c, c->init, NULL, done, data, c->init->pid);
}

static int f_stats(struct ps_container *c, struct ps_metrics *ret, struct ps_err **err)
{
        if (fb_of(c)->mode == FAKE_FAIL)
                return ps_err_set(err, PS_UNKNOWN, "fake stats failed");
        /* Zeros but for one process: nothing to free. */
        *ret = (struct ps_metrics){
            .cgroup = {.version = PS_CGROUP_METRICS_V2, .v2 = {.pids = {.current = 1}}}};
        return 0;
}

static int f_resize(struct ps_process *p, uint32_t w, uint32_t h, struct ps_err **err)
{
        return 0;
}

int fake_resize_async(struct ps_process *p, uint32_t w, uint32_t h, ps_backend_fn done, void *data,
                      struct ps_err **err)
{
        logf_(fb_of(p->c)->log, "resize %s %ux%u", ps_process_name(p), w, h);
        return answer(fb_of(p->c), "resize", p->c, p, done, NULL, data, p->pid);
}

static void f_close_stdin(struct ps_process *p)
{
}

static void f_drain(struct ps_process *p, void (*done)(void *data), void *data)
{
        struct fake_backend *fb = fb_of(p->c);

        if (fb->hold_drain && fb->n_drains < FAKE_MAX_HELD) {
                fb->drain_done[fb->n_drains] = done;
                fb->drain_data[fb->n_drains++] = data;
                return;
        }
        done(data);
}

/* As the real backend: a drain still running is cancelled with the
 * process (its done never runs). */
static void f_process_free(struct ps_process *p)
{
        struct fake_backend *fb = fb_of(p->c);

        for (size_t i = 0; i < fb->n_drains;) {
                if (fb->drain_data[i] == p) {
                        fb->n_drains--;
                        fb->drain_done[i] = fb->drain_done[fb->n_drains];
                        fb->drain_data[i] = fb->drain_data[fb->n_drains];
                } else {
                        i++;
                }
        }
        p->impl = NULL;
}

static void f_container_free(struct ps_container *c)
{
        c->impl = NULL;
}

void fake_backend_init(struct fake_backend *fb)
{
        memset(fb, 0, sizeof(*fb));
        fb->next_pid = 1000;
        fb->ops = (struct ps_backend_ops){.name = "fake",
                                          .create = f_create,
                                          .start = f_start,
                                          .exec = f_exec,
                                          .signal = f_signal,
                                          .delete = f_delete,
                                          .pause = f_pause,
                                          .resume = f_resume,
                                          .update = f_update,
                                          .checkpoint = f_checkpoint,
                                          .pids = f_pids,
                                          .stats = f_stats,
                                          .resize = f_resize,
                                          .close_stdin = f_close_stdin,
                                          .drain = f_drain,
                                          .process_free = f_process_free,
                                          .container_free = f_container_free};
}

/* ---- the event recorder ---------------------------------------------------- */

static void e_create(void *d, const struct ps_container *c)
{
        logf_(d, "create %s pid %d", c->id, c->init->pid);
}

static void e_start(void *d, const struct ps_container *c)
{
        logf_(d, "start %s", c->id);
}

static void e_exit(void *d, const struct ps_process *p)
{
        logf_(d, "exit %s %u", ps_process_name(p), p->exit_status);
}

static void e_delete(void *d, const struct ps_process *p)
{
        logf_(d, "delete %s", ps_process_name(p));
}

static void e_exec_added(void *d, const struct ps_process *p)
{
        logf_(d, "exec-added %s", p->exec_id);
}

static void e_exec_started(void *d, const struct ps_process *p)
{
        logf_(d, "exec-started %s", p->exec_id);
}

static void e_paused(void *d, const struct ps_container *c)
{
        logf_(d, "paused %s", c->id);
}

static void e_resumed(void *d, const struct ps_container *c)
{
        logf_(d, "resumed %s", c->id);
}

static void e_oom(void *d, const struct ps_container *c)
{
        logf_(d, "oom %s", c->id);
}

static void e_checkpointed(void *d, const struct ps_container *c, const char *path)
{
        logf_(d, "checkpointed %s", c->id);
}

void fake_events_init(struct fake_events *ev)
{
        ev->log[0] = '\0';
        ev->sink = (struct ps_task_events){.task_create = e_create,
                                           .task_start = e_start,
                                           .task_exit = e_exit,
                                           .task_delete = e_delete,
                                           .exec_added = e_exec_added,
                                           .exec_started = e_exec_started,
                                           .paused = e_paused,
                                           .resumed = e_resumed,
                                           .oom = e_oom,
                                           .checkpointed = e_checkpointed,
                                           .data = ev->log};
}

struct ps_create_request fake_request(const char *id, const char *bundle)
{
        return (struct ps_create_request){
            .id = id, .bundle = bundle, .stdin_path = "", .stdout_path = "", .stderr_path = ""};
}
