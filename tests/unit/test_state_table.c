/* Every (state, operation) pair, for an init and for an exec, through the
 * task module's real entry points.
 *
 * The expectations below are written independently of src/task/process.c's
 * tables: the five states containerd sees (created, running, paused,
 * stopped, deleting) follow containerd-shim-runc-v2 1.6, whose answers
 * tests/e2e/test_failure_paths.py checks live; the transient ones are
 * podshim's own (an operation in flight). For each pair the test builds a
 * fresh container in that state and calls the operation:
 *  - a refused pair must fail at once with the expected code, leave the
 *    state untouched and ask the backend nothing;
 *  - an allowed pair must get past the state check. The fake backend fails
 *    whatever it is asked, so the completion must then run exactly once
 *    with an error or a result (never neither) and leave the process in the
 *    state it started from (or STOPPED for an exec whose start failed).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check.h"
#include "fake_backend.h"
#include "task/container.h"
#include "task/process.h"

#define S(x) PS_PROC_##x

enum { A = 0, P = PS_FAILED_PRECONDITION, N = PS_NOT_FOUND };

/* op order: STATE START KILL DELETE WAIT RESIZE CLOSE_IO EXEC PAUSE RESUME
 * UPDATE CHECKPOINT PIDS STATS */
static const int want_init[PS_PROC_N_STATES][PS_OP_N] = {
    [S(CREATING)] = {N, P, P, P, N, N, N, N, N, N, N, N, N, N},
    [S(CREATED)] = {A, A, A, A, A, A, A, A, P, P, A, P, A, A},
    [S(STARTING)] = {A, P, A, P, A, A, A, A, P, P, A, P, A, A},
    [S(RUNNING)] = {A, P, A, P, A, A, A, A, A, P, A, A, A, A},
    [S(PAUSING)] = {A, P, A, P, A, A, A, P, P, P, A, P, A, A},
    [S(PAUSED)] = {A, P, A, P, A, A, A, P, P, A, A, A, A, A},
    [S(STOPPED)] = {A, P, N, A, A, A, A, P, P, P, P, P, A, A},
    [S(DELETING)] = {A, P, N, N, A, P, A, P, P, P, P, P, N, A},
};

/* An exec answers only the process operations (the first seven). */
static const int want_exec[PS_PROC_N_STATES][PS_OP_EXEC] = {
    [S(CREATING)] = {N, P, P, P, N, N, N}, [S(CREATED)] = {A, A, P, A, A, A, A},
    [S(STARTING)] = {A, P, P, P, A, A, A}, [S(RUNNING)] = {A, P, A, P, A, A, A},
    [S(PAUSING)] = {A, P, A, P, A, A, A},  [S(PAUSED)] = {A, P, A, P, A, A, A},
    [S(STOPPED)] = {A, P, N, A, A, P, A},  [S(DELETING)] = {A, P, N, N, A, P, A},
};

static struct fake_backend fb;
static struct fake_events events;
static struct ps_tasks tasks;

/* What the completion saw. */
struct outcome {
        int calls;
        bool had_err, had_res;
        enum ps_code code;
};

static void on_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        struct outcome *o = data;

        o->calls++;
        o->had_err = err != NULL;
        o->had_res = res != NULL;
        o->code = err ? err->code : PS_OK;
        ps_err_free(err);
}

static void on_pids(void *data, struct ps_err *err, const struct ps_pid_info *pids, size_t n)
{
        struct outcome *o = data;

        o->calls++;
        o->had_err = err != NULL;
        o->had_res = err == NULL;
        o->code = err ? err->code : PS_OK;
        ps_err_free(err);
}

static void setup(void)
{
        struct ps_task_env env;

        fake_backend_init(&fb);
        fake_events_init(&events);
        env = (struct ps_task_env){.events = &events.sink};
        ps_tasks_init(&tasks, &env);
}

static void teardown(void)
{
        ps_tasks_destroy(&tasks);
}

static void created(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        CHECK(!err);
        ps_err_free(err);
}

/* A container whose init is put in `init_state` directly (the fixture may
 * write the state; nothing else does); the backend fails from then on. */
static struct ps_container *container_in(enum ps_proc_state init_state)
{
        struct ps_create_request req = fake_request("walk", "/tmp");
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_container *c;

        fb.mode = FAKE_OK;
        CHECK(ps_container_create(&tasks, &req, &fb.ops, &fb, NULL, created, NULL, &e) == 0);
        c = ps_tasks_find(&tasks, "walk");
        c->init->state = init_state;
        if (init_state == S(CREATING))
                c->init->pid = 0;
        if (init_state == S(STOPPED) || init_state == S(DELETING)) {
                c->init->exited_at.tv_sec = 1;
                c->init->drained = true;
        }
        fb.mode = FAKE_FAIL;
        return c;
}

static struct ps_process *exec_in(struct ps_container *c, enum ps_proc_state state)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_process *p = ps_process_new(c, "x1", "", "", "", false, &e);

        CHECK(p != NULL);
        p->state = state;
        p->spec_json = strdup("{\"args\":[\"true\"],\"cwd\":\"/\"}");
        if (state >= S(RUNNING))
                p->pid = 2000;
        if (state == S(STOPPED) || state == S(DELETING)) {
                p->exited_at.tv_sec = 1;
                p->drained = true;
        }
        ps_list_add_tail(&c->execs, &p->link);
        return p;
}

/* Calls `op` on p (or its container); returns the synchronous result:
 * -1 (err set), 0 (completion later), 1 (done at once). */
static int call_op(struct ps_process *p, enum ps_proc_op op, struct outcome *o, struct ps_err **err)
{
        struct ps_container *c = p->c;
        static const uint8_t spec[] = "{\"args\":[\"true\"],\"cwd\":\"/\"}";
        struct ps_exec_request ereq = {
            .exec_id = "probe", .spec = spec, .spec_len = sizeof(spec) - 1};
        struct ps_checkpoint_request creq = {.path = "/tmp/ckpt"};
        _cleanup_(ps_metrics_clear) struct ps_metrics metrics = {0};

        switch (op) {
        case PS_OP_STATE:
        case PS_OP_WAIT: /* answered by the Task service from the check alone */
                return ps_process_check(p, op, err) < 0 ? -1 : 1;
        case PS_OP_START:
                return ps_process_start(p, on_done, o, err);
        case PS_OP_KILL:
                return ps_process_kill(p, SIGCONT, false, on_done, o, err);
        case PS_OP_DELETE:
                return ps_process_delete(p, on_done, o, err);
        case PS_OP_RESIZE:
                return ps_process_resize(p, 80, 24, on_done, o, err);
        case PS_OP_CLOSE_IO:
                return ps_process_close_io(p, true, err) < 0 ? -1 : 1;
        case PS_OP_EXEC:
                return ps_container_exec(c, &ereq, err) < 0 ? -1 : 1;
        case PS_OP_PAUSE:
                return ps_container_pause(c, on_done, o, err);
        case PS_OP_RESUME:
                return ps_container_resume(c, on_done, o, err);
        case PS_OP_UPDATE:
                return ps_container_update(c, "{}", 2, on_done, o, err);
        case PS_OP_CHECKPOINT:
                return ps_container_checkpoint(c, &creq, on_done, o, err);
        case PS_OP_PIDS:
                return ps_container_pids(c, on_pids, o, err);
        case PS_OP_STATS:
                return ps_container_stats(c, &metrics, err) < 0 ? -1 : 1;
        default:
                return ps_err_set(err, PS_INTERNAL, "no such op");
        }
}

static bool still_listed(const struct ps_container *c)
{
        struct ps_list *pos;

        for (pos = tasks.containers.next; pos != &tasks.containers; pos = pos->next)
                if (pos == &c->link)
                        return true;
        return false;
}

static bool exec_listed(const struct ps_container *c, const struct ps_process *p)
{
        struct ps_list *pos;

        for (pos = c->execs.next; pos != &c->execs; pos = pos->next)
                if (pos == &p->link)
                        return true;
        return false;
}

static void walk_one(bool exec, enum ps_proc_state s, enum ps_proc_op op)
{
        struct ps_container *c = container_in(exec ? S(RUNNING) : s);
        struct ps_process *p = exec ? exec_in(c, s) : c->init;
        int want = exec ? want_exec[s][op] : want_init[s][op];
        struct outcome o = {0};
        struct ps_err *e = NULL;
        int rc = call_op(p, op, &o, &e);
        bool gone;

        if (want != A) {
                if (rc != -1 || !e || (int)e->code != want)
                        fprintf(stderr, "%s %s %s: want code %d, got rc %d code %d (%s)\n",
                                exec ? "exec" : "init", ps_process_state_name(s),
                                ps_process_op_name(op), want, rc, e ? (int)e->code : 0,
                                ps_err_msg(e));
                CHECK(rc == -1 && e && (int)e->code == want);
                CHECK_INTEQ(p->state, s);
                CHECK_INTEQ(c->busy, 0);
                CHECK_INTEQ(o.calls, 0);
        } else {
                if (rc == -1 && e && (e->code == PS_FAILED_PRECONDITION || e->code == PS_NOT_FOUND))
                        fprintf(stderr, "%s %s %s: refused but allowed: %s\n",
                                exec ? "exec" : "init", ps_process_state_name(s),
                                ps_process_op_name(op), ps_err_msg(e));
                CHECK(!(rc == -1 && e &&
                        (e->code == PS_FAILED_PRECONDITION || e->code == PS_NOT_FOUND)));
                if (rc == 0) { /* the fake answers before returning */
                        CHECK_INTEQ(o.calls, 1);
                        CHECK(o.had_err != o.had_res); /* an error or a result, never neither */
                }
        }
        ps_err_free(e);
        gone = !still_listed(c) || (exec && !exec_listed(c, p));
        if (!gone) {
                enum ps_proc_state now = p->state;
                bool failed_exec_start = exec && op == PS_OP_START && now == S(STOPPED);

                if (now != s && !failed_exec_start)
                        fprintf(stderr, "%s %s %s: left in %s\n", exec ? "exec" : "init",
                                ps_process_state_name(s), ps_process_op_name(op),
                                ps_process_state_name(now));
                CHECK(now == s || failed_exec_start);
                CHECK_INTEQ(c->busy, 0);
                ps_container_free(c);
        } else {
                CHECK(op == PS_OP_DELETE && want == A);
                if (still_listed(c))
                        ps_container_free(c);
        }
}

static void test_init_walk(void)
{
        setup();
        for (int s = 0; s < PS_PROC_N_STATES; s++)
                for (int op = 0; op < PS_OP_N; op++)
                        walk_one(false, (enum ps_proc_state)s, (enum ps_proc_op)op);
        teardown();
}

static void test_exec_walk(void)
{
        setup();
        for (int s = 0; s < PS_PROC_N_STATES; s++)
                for (int op = 0; op < PS_OP_EXEC; op++)
                        walk_one(true, (enum ps_proc_state)s, (enum ps_proc_op)op);
        teardown();
}

/* The wording containerd sees: runc-v2's text plus errdefs' suffix. */
static void test_wording(void)
{
        struct ps_err *e = NULL;

        setup();
        struct ps_container *c = container_in(S(RUNNING));
        CHECK(ps_process_check(c->init, PS_OP_START, &e) < 0);
        CHECK_STREQ(ps_err_msg(e), "cannot start a running process: failed precondition");
        e = ps_err_free(e);
        c->init->state = S(STOPPED);
        CHECK(ps_process_check(c->init, PS_OP_KILL, &e) < 0);
        CHECK_STREQ(ps_err_msg(e), "process already finished: not found");
        e = ps_err_free(e);
        /* a transition the table does not have is refused, state kept */
        CHECK(ps_process_set_state(c->init, S(RUNNING), &e) < 0);
        CHECK(e && e->code == PS_INTERNAL);
        CHECK_INTEQ(c->init->state, S(STOPPED));
        e = ps_err_free(e);
        ps_container_free(c);
        teardown();
}

int main(void)
{
        RUN(test_wording);
        RUN(test_init_walk);
        RUN(test_exec_walk);
        return check_summary();
}
