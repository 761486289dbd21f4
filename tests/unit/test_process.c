/* The process state machine and exit bookkeeping, on a real container
 * record (no runtime is run). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "check.h"
#include "containerd/types/task.pb-c.h"
#include "core/publisher.h"
#include "core/reaper.h"
#include "task/container.h"
#include "task/process.h"

struct fixture {
        struct event_base *base;
        struct ps_reaper *reaper;
        struct ps_publisher *pub;
        struct ps_tasks tasks;
        struct ps_container c;
};

static void setup(struct fixture *f)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_task_env env;

        memset(f, 0, sizeof(*f));
        f->base = event_base_new();
        f->reaper = ps_reaper_new(f->base, &e);
        f->pub = ps_publisher_new(f->base, NULL, "test", &e);
        env =
            (struct ps_task_env){.base = f->base, .reaper = f->reaper, .pub = f->pub, .ns = "test"};
        ps_tasks_init(&f->tasks, &env);
        f->c.tasks = &f->tasks;
        f->c.id = "c1";
        ps_list_init(&f->c.execs);
}

static void teardown(struct fixture *f)
{
        ps_publisher_free(f->pub);
        ps_reaper_free(f->reaper);
        event_base_free(f->base);
}

static void test_transitions(void)
{
        struct fixture f;
        _cleanup_err_ struct ps_err *e = NULL;

        setup(&f);
        struct ps_process *p = ps_process_new(&f.c, NULL, "", "/x/out", "", false, &e);
        CHECK(p != NULL);
        CHECK_INTEQ(p->state, PS_PROC_CREATING);
        CHECK_INTEQ(ps_process_status(p), CONTAINERD__V1__TYPES__STATUS__CREATED);
        CHECK(ps_process_set_state(p, PS_PROC_RUNNING, NULL) == 0); /* restore path */
        CHECK(ps_process_set_state(p, PS_PROC_CREATED, NULL) < 0);  /* never back */
        CHECK_INTEQ(p->state, PS_PROC_RUNNING);
        CHECK(ps_process_set_state(p, PS_PROC_PAUSING, NULL) == 0);
        CHECK_INTEQ(ps_process_status(p), CONTAINERD__V1__TYPES__STATUS__PAUSING);
        CHECK(ps_process_set_state(p, PS_PROC_PAUSED, NULL) == 0);
        CHECK(ps_process_set_state(p, PS_PROC_DELETING, NULL) < 0); /* paused cannot be deleted */
        CHECK(ps_process_set_state(p, PS_PROC_RUNNING, NULL) == 0);
        CHECK(ps_process_live(p));
        CHECK_STREQ(ps_process_name(p), "c1");
        CHECK_STREQ(p->stdout_path, "/x/out");
        ps_process_free(p);
        teardown(&f);
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

        setup(&f);
        struct ps_process *p = ps_process_new(&f.c, "e1", NULL, NULL, NULL, false, &e);
        CHECK(p && strcmp(ps_process_name(p), "e1") == 0);
        CHECK(ps_process_set_state(p, PS_PROC_CREATED, NULL) == 0);
        CHECK(ps_process_set_state(p, PS_PROC_STARTING, NULL) == 0);
        CHECK(ps_process_set_state(p, PS_PROC_RUNNING, NULL) == 0);
        released = 0;
        CHECK(ps_process_add_waiter(p, on_released, NULL, &e) != NULL);
        struct ps_waiter *w2 = ps_process_add_waiter(p, on_released, NULL, &e);
        ps_process_remove_waiter(w2); /* a cancelled Wait is never called */
        CHECK(!ps_process_exited(p));
        ps_process_record_exit(p, SIGKILL);
        CHECK_INTEQ(released, 1);
        CHECK_INTEQ(released_status, 137);
        CHECK(ps_process_exited(p));
        CHECK_INTEQ(ps_process_status(p), CONTAINERD__V1__TYPES__STATUS__STOPPED);
        CHECK_INTEQ(ps_publisher_pending(f.pub), 0); /* no containerd: dropped, not queued */
        ps_process_free(p);
        teardown(&f);
}

static void test_failed_start(void)
{
        struct fixture f;
        _cleanup_err_ struct ps_err *e = NULL;

        setup(&f);
        struct ps_process *p = ps_process_new(&f.c, "e2", NULL, NULL, NULL, false, &e);
        CHECK(ps_process_set_state(p, PS_PROC_CREATED, NULL) == 0);
        CHECK(ps_process_set_state(p, PS_PROC_STARTING, NULL) == 0);
        released = 0;
        ps_process_add_waiter(p, on_released, NULL, &e);
        ps_process_fail_start(p);
        CHECK_INTEQ(released, 1);
        CHECK_INTEQ(p->exit_status, 255);
        CHECK_INTEQ(p->state, PS_PROC_STOPPED);
        /* Signalling a never-started process is a precondition failure. */
        CHECK(ps_process_signal(p, SIGTERM, &e) < 0);
        CHECK(e && e->code == PS_FAILED_PRECONDITION);
        ps_process_free(p);
        teardown(&f);
}

int main(void)
{
        RUN(test_transitions);
        RUN(test_exit_releases_waiters);
        RUN(test_failed_start);
        return check_summary();
}
