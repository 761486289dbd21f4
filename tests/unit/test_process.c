/* The process state machine and exit bookkeeping, on containers of the
 * task core driven by the fake backend (no process is run). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check.h"
#include "fake_backend.h"
#include "task/container.h"
#include "task/process.h"

struct fixture {
        struct fake_backend fb;
        struct fake_events ev;
        struct ps_tasks tasks;
};

static void ok_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        int *calls = data;

        (*calls)++;
        CHECK(err == NULL && res != NULL);
        ps_err_free(err);
}

static void fail_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        int *calls = data;

        (*calls)++;
        CHECK(err != NULL && res == NULL);
        ps_err_free(err);
}

static void setup(struct fixture *f)
{
        struct ps_task_env env;

        memset(f, 0, sizeof(*f));
        fake_backend_init(&f->fb);
        fake_events_init(&f->ev);
        env = (struct ps_task_env){.events = &f->ev.sink};
        ps_tasks_init(&f->tasks, &env);
}

static struct ps_container *created(struct fixture *f, const char *id)
{
        struct ps_create_request req = fake_request(id, "/tmp");
        _cleanup_err_ struct ps_err *e = NULL;
        int calls = 0;

        CHECK(ps_container_create(&f->tasks, &req, &f->fb.ops, &f->fb, NULL, ok_done, &calls, &e) ==
              0);
        CHECK_INTEQ(calls, 1);
        return ps_tasks_find(&f->tasks, id);
}

static void test_transitions(void)
{
        struct fixture f;
        _cleanup_err_ struct ps_err *e = NULL;

        setup(&f);
        struct ps_container *c = created(&f, "c1");
        struct ps_process *p = c->init;
        CHECK_INTEQ(p->state, PS_PROC_CREATED);
        CHECK_INTEQ(ps_process_status(p), PS_TASK_CREATED);
        CHECK(ps_process_set_state(p, PS_PROC_STARTING, NULL) == 0);
        CHECK(ps_process_set_state(p, PS_PROC_RUNNING, NULL) == 0);
        CHECK(ps_process_set_state(p, PS_PROC_CREATED, &e) < 0); /* never back */
        CHECK(e && e->code == PS_INTERNAL);
        CHECK_INTEQ(p->state, PS_PROC_RUNNING);
        CHECK(ps_process_set_state(p, PS_PROC_PAUSING, NULL) == 0);
        CHECK_INTEQ(ps_process_status(p), PS_TASK_PAUSING);
        CHECK(ps_process_set_state(p, PS_PROC_PAUSED, NULL) == 0);
        CHECK(ps_process_set_state(p, PS_PROC_DELETING, NULL) < 0); /* paused cannot be deleted */
        CHECK(ps_process_set_state(p, PS_PROC_RUNNING, NULL) == 0);
        CHECK(ps_process_live(p));
        CHECK_STREQ(ps_process_name(p), "c1");
        ps_tasks_destroy(&f.tasks);
}

static int released;
static unsigned released_status;

static void on_released(void *data, const struct ps_process *p)
{
        released++;
        released_status = p->exit_status;
}

static void test_exit_releases_waiters(void)
{
        struct fixture f;
        _cleanup_err_ struct ps_err *e = NULL;
        int calls = 0;

        setup(&f);
        struct ps_container *c = created(&f, "c1");
        struct ps_process *p = c->init;
        CHECK(ps_process_start(p, ok_done, &calls, &e) == 0 && calls == 1);
        released = 0;
        CHECK(ps_process_add_waiter(p, on_released, NULL, &e) != NULL);
        struct ps_waiter *w2 = ps_process_add_waiter(p, on_released, NULL, &e);
        ps_process_remove_waiter(w2); /* a cancelled Wait is never called */
        CHECK(!ps_process_exited(p));
        fake_exit(p, 137);
        CHECK_INTEQ(released, 1);
        CHECK_INTEQ(released_status, 137);
        CHECK(ps_process_exited(p));
        CHECK_INTEQ(ps_process_status(p), PS_TASK_STOPPED);
        CHECK(strstr(f.ev.log, "exit c1 137") != NULL);
        ps_tasks_destroy(&f.tasks);
}

static void test_failed_start(void)
{
        struct fixture f;
        _cleanup_err_ struct ps_err *e = NULL;
        int calls = 0;

        setup(&f);
        struct ps_container *c = created(&f, "c1");
        CHECK(ps_process_start(c->init, ok_done, &calls, &e) == 0);
        struct ps_exec_request er = {
            .exec_id = "e2", .spec = (const uint8_t *)"{\"args\":[\"x\"]}", .spec_len = 14};
        CHECK(ps_container_exec(c, &er, &e) == 0);
        struct ps_process *p = ps_tasks_process(&f.tasks, "c1", "e2", &e);
        CHECK(p != NULL);
        released = 0;
        ps_process_add_waiter(p, on_released, NULL, &e);
        f.fb.mode = FAKE_FAIL;
        calls = 0;
        CHECK(ps_process_start(p, fail_done, &calls, &e) == 0); /* fails in done */
        CHECK_INTEQ(calls, 1);
        CHECK_INTEQ(released, 1);
        CHECK_INTEQ(p->exit_status, 255);
        CHECK_INTEQ(p->state, PS_PROC_STOPPED);
        CHECK(p->drained);                          /* Delete need not wait */
        CHECK(strstr(f.ev.log, "exit e2") == NULL); /* it never ran: no TaskExit */
        ps_tasks_destroy(&f.tasks);
}

int main(void)
{
        RUN(test_transitions);
        RUN(test_exit_releases_waiters);
        RUN(test_failed_start);
        return check_summary();
}
