/* The event publisher against a fake containerd: our own ttrpc server
 * implementing containerd.services.events.ttrpc.v1.Events/Forward on a real
 * unix socket, started late or rejecting events on purpose. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "check.h"
#include "containerd/events/forward.pb-c.h"
#include "containerd/events/task.pb-c.h"
#include "core/publisher.h"
#include "ttrpc/server.h"

#define MAX_SEEN 64

struct seen {
        char topic[64];
        char ns[64];
        char md_ns[64];
        char type_url[64];
        int64_t ts_sec;
        uint32_t pid;
};

struct fake {
        char dir[32];
        char path[96];
        struct event_base *base;
        struct ttrpc_server *srv;
        struct ttrpc_service svc;
        struct seen seen[MAX_SEEN];
        int n_seen;
        int reject_next; /* answer the next N Forwards with INVALID_ARGUMENT */
        int flushed;
};

static void h_forward(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        const Containerd__Services__Events__Ttrpc__V1__ForwardRequest *req = (const void *)msg;
        const Containerd__Services__Events__Ttrpc__V1__Envelope *env = req->envelope;
        struct fake *f = data;
        struct seen *s;
        const char *md = ttrpc_call_metadata(call, "containerd-namespace-ttrpc");

        if (f->reject_next > 0) {
                f->reject_next--;
                ttrpc_call_failf(call, PS_INVALID_ARGUMENT, "bad event");
                return;
        }
        CHECK(env && env->timestamp && env->event);
        if (!env || !env->timestamp || !env->event || f->n_seen == MAX_SEEN) {
                ttrpc_call_failf(call, PS_INVALID_ARGUMENT, "envelope missing");
                return;
        }
        s = &f->seen[f->n_seen++];
        snprintf(s->topic, sizeof(s->topic), "%s", env->topic);
        snprintf(s->ns, sizeof(s->ns), "%s", env->namespace_);
        snprintf(s->md_ns, sizeof(s->md_ns), "%s", md ? md : "");
        snprintf(s->type_url, sizeof(s->type_url), "%s", env->event->type_url);
        s->ts_sec = env->timestamp->seconds;
        Containerd__Events__TaskExit *ev = containerd__events__task_exit__unpack(
            NULL, env->event->value.len, env->event->value.data);
        CHECK(ev != NULL);
        if (ev) {
                s->pid = ev->pid;
                containerd__events__task_exit__free_unpacked(ev, NULL);
        }
        ttrpc_call_reply(call, NULL);
}

static const struct ttrpc_method events_methods[] = {
    {"Forward", &containerd__services__events__ttrpc__v1__forward_request__descriptor, h_forward},
};

static void fake_init(struct fake *f)
{
        memset(f, 0, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/pub-test-XXXXXX");
        CHECK(mkdtemp(f->dir) != NULL);
        snprintf(f->path, sizeof(f->path), "%s/containerd.sock.ttrpc", f->dir);
        f->base = event_base_new();
        f->svc = (struct ttrpc_service){"containerd.services.events.ttrpc.v1.Events",
                                        events_methods, 1, f};
}

static void fake_start(struct fake *f)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
        CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 8) == 0);
        f->srv = ttrpc_server_new(f->base, fd, &f->svc, 1, NULL);
        CHECK(f->srv != NULL);
}

static void fake_fini(struct fake *f)
{
        f->srv = ttrpc_server_free(f->srv);
        event_base_free(f->base);
        unlink(f->path);
        rmdir(f->dir);
}

static void pump(struct fake *f, int ms)
{
        for (int i = 0; i < ms; i++) {
                event_base_loop(f->base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
}

static void pump_until_seen(struct fake *f, int n, int max_ms)
{
        for (int i = 0; i < max_ms && f->n_seen < n; i++)
                pump(f, 1);
        CHECK_INTEQ(f->n_seen, n);
}

static void publish_exit(struct ps_publisher *p, uint32_t pid)
{
        Containerd__Events__TaskExit ev;
        containerd__events__task_exit__init(&ev);

        ev.container_id = (char *)"c1";
        ev.id = (char *)"c1";
        ev.pid = pid;
        ev.exit_status = 3;
        ps_publisher_publish(p, "/tasks/exit", &ev.base);
}

static void on_flushed(void *data)
{
        struct fake *f = data;

        f->flushed++;
}

static void check_seen(const struct fake *f, int from, int to, uint32_t first_pid)
{
        struct timespec rt;
        time_t now;

        /* the clock the publisher stamps with: time() reads the coarse
         * clock, up to a tick behind, and a stamp just past a second's
         * boundary was once "in the future" of it (CI) */
        clock_gettime(CLOCK_REALTIME, &rt);
        now = rt.tv_sec;

        for (int i = from; i < to; i++) {
                const struct seen *s = &f->seen[i];

                CHECK_INTEQ(s->pid, first_pid + (uint32_t)(i - from));
                CHECK_STREQ(s->topic, "/tasks/exit");
                CHECK_STREQ(s->ns, "k8s.io");
                CHECK_STREQ(s->md_ns, "k8s.io");
                CHECK_STREQ(s->type_url, "containerd.events.TaskExit");
                CHECK(s->ts_sec > 0 && s->ts_sec <= now && s->ts_sec > now - 60);
        }
}

static void test_in_order(void)
{
        struct fake f;
        struct ps_publisher *p;

        fake_init(&f);
        fake_start(&f);
        p = ps_publisher_new(f.base, f.path, "k8s.io", NULL);
        CHECK(p != NULL);
        for (uint32_t i = 0; i < 10; i++)
                publish_exit(p, 100 + i);
        CHECK_INTEQ(ps_publisher_pending(p), 10);
        pump_until_seen(&f, 10, 3000);
        check_seen(&f, 0, 10, 100);
        for (int i = 0; i < 100 && ps_publisher_pending(p); i++)
                pump(&f, 1);
        CHECK_INTEQ(ps_publisher_pending(p), 0);

        /* flush() on an empty queue: done() from the loop, not from flush(). */
        ps_publisher_flush(p, 5000, on_flushed, &f);
        CHECK_INTEQ(f.flushed, 0);
        pump(&f, 5);
        CHECK_INTEQ(f.flushed, 1);
        p = ps_publisher_free(p);
        fake_fini(&f);
}

static void test_containerd_late(void)
{
        struct fake f;
        struct ps_publisher *p;
        struct timespec t0, t1;

        fake_init(&f);
        p = ps_publisher_new(f.base, f.path, "k8s.io", NULL);
        for (uint32_t i = 0; i < 5; i++)
                publish_exit(p, 200 + i);
        pump(&f, 400); /* several back-off rounds against a missing socket */
        CHECK_INTEQ(ps_publisher_pending(p), 5);
        CHECK_INTEQ(f.n_seen, 0);
        publish_exit(p, 205);

        /* containerd comes up: everything arrives, in order; flush ends when
         * the queue is empty, well before its timeout. */
        fake_start(&f);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ps_publisher_flush(p, 20000, on_flushed, &f);
        for (int i = 0; i < 8000 && !f.flushed; i++)
                pump(&f, 1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        CHECK_INTEQ(f.flushed, 1);
        CHECK(t1.tv_sec - t0.tv_sec < 10);
        CHECK_INTEQ(f.n_seen, 6);
        check_seen(&f, 0, 6, 200);
        CHECK_INTEQ(ps_publisher_pending(p), 0);

        /* containerd restarts: queued events survive the reconnect. */
        f.srv = ttrpc_server_free(f.srv);
        unlink(f.path);
        publish_exit(p, 206);
        pump(&f, 150);
        CHECK_INTEQ(ps_publisher_pending(p), 1);
        fake_start(&f);
        pump_until_seen(&f, 7, 8000);
        check_seen(&f, 6, 7, 206);
        p = ps_publisher_free(p);
        fake_fini(&f);
}

static void test_invalid_dropped_and_flush_timeout(void)
{
        struct fake f;
        struct ps_publisher *p;

        fake_init(&f);
        fake_start(&f);
        p = ps_publisher_new(f.base, f.path, "k8s.io", NULL);
        f.reject_next = 1;
        publish_exit(p, 300); /* rejected: dropped, not retried */
        publish_exit(p, 301);
        publish_exit(p, 302);
        pump_until_seen(&f, 2, 3000);
        check_seen(&f, 0, 2, 301);
        pump(&f, 150);
        CHECK_INTEQ(f.n_seen, 2);
        p = ps_publisher_free(p);

        /* Nobody listening: flush gives up after its timeout. */
        f.srv = ttrpc_server_free(f.srv);
        unlink(f.path);
        p = ps_publisher_new(f.base, f.path, "k8s.io", NULL);
        publish_exit(p, 400);
        ps_publisher_flush(p, 200, on_flushed, &f);
        pump(&f, 100);
        CHECK_INTEQ(f.flushed, 0);
        for (int i = 0; i < 2000 && !f.flushed; i++)
                pump(&f, 1);
        CHECK_INTEQ(f.flushed, 1);
        CHECK_INTEQ(ps_publisher_pending(p), 1);

        /* A flush still waiting when the publisher is freed gets its done(). */
        ps_publisher_flush(p, 60000, on_flushed, &f);
        p = ps_publisher_free(p);
        CHECK_INTEQ(f.flushed, 2);
        fake_fini(&f);
}

static void test_no_address(void)
{
        struct fake f;
        struct ps_publisher *p;

        fake_init(&f);
        p = ps_publisher_new(f.base, NULL, "k8s.io", NULL);
        CHECK(p != NULL);
        publish_exit(p, 1);
        CHECK_INTEQ(ps_publisher_pending(p), 0);
        ps_publisher_flush(p, 1000, on_flushed, &f);
        pump(&f, 5);
        CHECK_INTEQ(f.flushed, 1);
        p = ps_publisher_free(p);
        ps_publisher_publish(NULL, "/tasks/exit", NULL); /* NULL publisher: no-op */
        fake_fini(&f);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        RUN(test_in_order);
        RUN(test_containerd_late);
        RUN(test_invalid_dropped_and_flush_timeout);
        RUN(test_no_address);
        return check_summary();
}
