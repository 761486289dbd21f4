/* The task core over the fake backend: the order of exits and events,
 * parked Waits, every exec's TaskExit and TaskDelete. Nothing runs; the
 * test plays the backend (fake_exit, fake_release). */
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

static struct fixture f;

struct outcome {
        int calls;
        bool err;
        pid_t pid;
};

static void on_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        struct outcome *o = data;

        o->calls++;
        o->err = err != NULL;
        o->pid = res ? res->pid : 0;
        CHECK((err != NULL) != (res != NULL));
        ps_err_free(err);
}

static void setup(void)
{
        struct ps_task_env env;

        memset(&f, 0, sizeof(f));
        fake_backend_init(&f.fb);
        fake_events_init(&f.ev);
        env = (struct ps_task_env){.events = &f.ev.sink};
        ps_tasks_init(&f.tasks, &env);
}

static void teardown(void)
{
        ps_tasks_destroy(&f.tasks);
}

/* A running container `id`. */
static struct ps_container *running(const char *id)
{
        struct ps_create_request req = fake_request(id, "/tmp");
        struct outcome o = {0};
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_container *c;

        CHECK(ps_container_create(&f.tasks, &req, &f.fb.ops, &f.fb, NULL, on_done, &o, &e) == 0);
        c = ps_tasks_find(&f.tasks, id);
        CHECK(c && ps_process_start(c->init, on_done, &o, &e) == 0);
        CHECK_INTEQ(o.calls, 2);
        CHECK_INTEQ(c->init->state, PS_PROC_RUNNING);
        return c;
}

static struct ps_process *exec_started(struct ps_container *c, const char *id)
{
        static const uint8_t spec[] = "{\"args\":[\"sleep\"]}";
        struct ps_exec_request er = {.exec_id = id, .spec = spec, .spec_len = sizeof(spec) - 1};
        struct outcome o = {0};
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_process *p;

        CHECK(ps_container_exec(c, &er, &e) == 0);
        p = ps_tasks_process(&f.tasks, c->id, id, &e);
        CHECK(p && ps_process_start(p, on_done, &o, &e) == 0);
        CHECK(o.calls == 1 && !o.err);
        return p;
}

/* The log from `from` on, to compare a sequence of events. */
static const char *log_after(const char *from)
{
        const char *at = strstr(f.ev.log, from);

        return at ? at : "";
}

static void test_init_exit_waits_for_its_execs(void)
{
        setup();
        struct ps_container *c = running("c1");
        struct ps_process *x1 = exec_started(c, "x1");
        struct ps_process *x2 = exec_started(c, "x2");

        fake_exit(c->init, 137);
        /* the init's exit is held while execs may still exit */
        CHECK(strstr(f.ev.log, "exit c1") == NULL);
        CHECK(ps_process_live(c->init));
        fake_exit(x2, 1);
        CHECK(strstr(f.ev.log, "exit c1") == NULL);
        fake_exit(x1, 0);
        CHECK_STREQ(log_after("exit x2"), "exit x2 1\nexit x1 0\nexit c1 137\n");
        CHECK(ps_process_exited(c->init));
        teardown();
}

static void test_exit_during_start_follows_task_start(void)
{
        struct outcome o = {0};
        _cleanup_err_ struct ps_err *e = NULL;

        setup();
        struct ps_create_request req = fake_request("c1", "/tmp");
        CHECK(ps_container_create(&f.tasks, &req, &f.fb.ops, &f.fb, NULL, on_done, &o, &e) == 0);
        struct ps_container *c = ps_tasks_find(&f.tasks, "c1");
        f.fb.mode = FAKE_HOLD;
        CHECK(ps_process_start(c->init, on_done, &o, &e) == 0);
        fake_exit(c->init, 3); /* the process died before start returned */
        CHECK(strstr(f.ev.log, "exit c1") == NULL);
        fake_release(&f.fb, 0, NULL);
        CHECK_STREQ(log_after("start c1"), "start c1\nexit c1 3\n");
        CHECK_INTEQ(o.calls, 2);
        teardown();
}

static int waits_released;

static void on_wait(void *data, const struct ps_process *p)
{
        waits_released++;
        CHECK_INTEQ(p->exit_status, *(unsigned *)data);
}

static void test_waits_park_until_the_exit(void)
{
        unsigned want = 42;
        _cleanup_err_ struct ps_err *e = NULL;

        setup();
        struct ps_container *c = running("c1");
        struct ps_process *x = exec_started(c, "x1");
        waits_released = 0;
        CHECK(ps_process_add_waiter(x, on_wait, &want, &e) != NULL);
        CHECK(ps_process_add_waiter(x, on_wait, &want, &e) != NULL);
        CHECK_INTEQ(waits_released, 0);
        fake_exit(x, 42);
        CHECK_INTEQ(waits_released, 2);
        /* a Wait for an exited process is answered by the service at once:
         * its state says stopped */
        CHECK_INTEQ(x->state, PS_PROC_STOPPED);
        teardown();
}

static void test_every_exec_gets_exit_and_delete(void)
{
        struct outcome o = {0};
        _cleanup_err_ struct ps_err *e = NULL;

        setup();
        struct ps_container *c = running("c1");
        struct ps_process *x1 = exec_started(c, "x1");
        exec_started(c, "x2");
        static const uint8_t spec[] = "{\"args\":[\"true\"]}";
        struct ps_exec_request never = {
            .exec_id = "x3", .spec = spec, .spec_len = sizeof(spec) - 1};
        CHECK(ps_container_exec(c, &never, &e) == 0);
        fake_exit(x1, 0);
        CHECK(ps_process_delete(x1, on_done, &o, &e) == 0 && o.calls == 1 && !o.err);
        CHECK(strstr(f.ev.log, "exit x1 0\ndelete x1\n") != NULL);
        /* the container goes with its other execs: each gets its TaskExit
         * (x2 killed with the container) and its TaskDelete */
        struct ps_process *x2 = ps_tasks_process(&f.tasks, "c1", "x2", &e);
        fake_exit(x2, 137);
        fake_exit(c->init, 137);
        o = (struct outcome){0};
        CHECK(ps_process_delete(c->init, on_done, &o, &e) == 0 && o.calls == 1 && !o.err);
        CHECK(strstr(f.ev.log, "delete x2\n") && strstr(f.ev.log, "delete x3\n") &&
              strstr(f.ev.log, "exit x2 137\n") && strstr(f.ev.log, "delete c1\n"));
        CHECK(strstr(f.ev.log, "delete c1\n") > strstr(f.ev.log, "delete x2\n"));
        CHECK(ps_tasks_find(&f.tasks, "c1") == NULL);
        teardown();
}

static void test_delete_waits_for_the_drain(void)
{
        struct outcome o = {0};
        _cleanup_err_ struct ps_err *e = NULL;

        setup();
        struct ps_container *c = running("c1");
        f.fb.hold_drain = true;
        fake_exit(c->init, 0);
        CHECK(ps_process_delete(c->init, on_done, &o, &e) == 0);
        CHECK_INTEQ(o.calls, 0); /* output still being relayed */
        CHECK(strstr(f.fb.log, "delete c1") == NULL);
        fake_release_drains(&f.fb);
        CHECK_INTEQ(o.calls, 1);
        CHECK(strstr(f.fb.log, "delete c1") != NULL);
        teardown();
}

/* The backend may hold a process until its operation answers (an async
 * Kill, e.g. a VM agent's): the exec cannot be deleted, and so freed, in
 * the meantime, even though it has exited. Found by fuzz_task_service. */
static void test_exec_delete_waits_for_its_kill(void)
{
        struct outcome kill = {0}, del = {0};
        _cleanup_err_ struct ps_err *e = NULL;

        setup();
        struct ps_container *c = running("c1");
        struct ps_process *x = exec_started(c, "x1");
        f.fb.mode = FAKE_HOLD;
        CHECK(ps_process_kill(x, SIGTERM, false, on_done, &kill, &e) == 0);
        CHECK_INTEQ(f.fb.n_held, 1);
        fake_exit(x, 143);
        CHECK(ps_process_delete(x, on_done, &del, &e) < 0);
        CHECK(e && e->code == PS_FAILED_PRECONDITION);
        CHECK(e && strstr(ps_err_msg(e), "x1"));
        e = ps_err_free(e);
        CHECK(ps_tasks_process(&f.tasks, "c1", "x1", &e) == x);
        fake_release(&f.fb, 0, NULL);
        CHECK(kill.calls == 1 && !kill.err);
        f.fb.mode = FAKE_OK;
        CHECK(ps_process_delete(x, on_done, &del, &e) == 0);
        CHECK(del.calls == 1 && !del.err);
        CHECK(ps_tasks_process(&f.tasks, "c1", "x1", &e) == NULL);
        e = ps_err_free(e);
        teardown();
}

/* A backend whose terminal is elsewhere (a VM's agent) answers ResizePty
 * later: the answer waits for it and carries its error, and the exec is
 * busy meanwhile, as during a Kill (its Delete refused). */
static void test_resize_waits_for_the_backend(void)
{
        struct outcome bad = {0}, good = {0}, del = {0};
        _cleanup_err_ struct ps_err *e = NULL;

        setup();
        f.fb.ops.resize_async = fake_resize_async;
        struct ps_container *c = running("c1");
        struct ps_process *x = exec_started(c, "x1");
        f.fb.mode = FAKE_HOLD;
        CHECK(ps_process_resize(x, 70000, 40, on_done, &bad, &e) == 0);
        CHECK(ps_process_resize(x, 100, 40, on_done, &good, &e) == 0);
        CHECK_INTEQ(f.fb.n_held, 2);
        CHECK(bad.calls == 0 && good.calls == 0); /* not before the backend */
        CHECK(strstr(f.fb.log, "resize x1 100x40") != NULL);
        fake_exit(x, 0);
        CHECK(ps_process_delete(x, on_done, &del, &e) < 0);
        CHECK(e && e->code == PS_FAILED_PRECONDITION);
        e = ps_err_free(e);
        ps_err_set(&e, PS_INVALID_ARGUMENT, "70000x40: too large");
        fake_release(&f.fb, 0, TAKE_PTR(e));
        CHECK(bad.calls == 1 && bad.err);
        fake_release(&f.fb, 0, NULL);
        CHECK(good.calls == 1 && !good.err);
        CHECK_INTEQ(c->busy, 0);
        f.fb.mode = FAKE_OK;
        CHECK(ps_process_delete(x, on_done, &del, &e) == 0);
        CHECK(del.calls == 1 && !del.err);
        teardown();
}

static void test_shared_pid_ns_kills_the_rest_first(void)
{
        setup();
        struct ps_container *c = running("c1");
        c->private_pid_ns = false;
        fake_exit(c->init, 0);
        CHECK(strstr(f.fb.log, "signal c1 9 all") != NULL);
        CHECK(strstr(f.ev.log, "exit c1 0") != NULL);
        teardown();
}

static void test_backend_without_an_operation(void)
{
        struct outcome o = {0};
        _cleanup_err_ struct ps_err *e = NULL;

        setup();
        f.fb.ops.pause = NULL;
        f.fb.ops.exec = NULL;
        struct ps_container *c = running("c1");
        CHECK(ps_container_pause(c, on_done, &o, &e) < 0 && e->code == PS_UNIMPLEMENTED);
        e = ps_err_free(e);
        struct ps_exec_request er = {.exec_id = "x"};
        CHECK(ps_container_exec(c, &er, &e) < 0 && e->code == PS_UNIMPLEMENTED);
        CHECK_INTEQ(o.calls, 0);
        teardown();
}

int main(void)
{
        RUN(test_init_exit_waits_for_its_execs);
        RUN(test_exit_during_start_follows_task_start);
        RUN(test_waits_park_until_the_exit);
        RUN(test_every_exec_gets_exit_and_delete);
        RUN(test_delete_waits_for_the_drain);
        RUN(test_exec_delete_waits_for_its_kill);
        RUN(test_resize_waits_for_the_backend);
        RUN(test_shared_pid_ns_kills_the_rest_first);
        RUN(test_backend_without_an_operation);
        return check_summary();
}
