#include "core/publisher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "base/list.h"
#include "base/backoff.h"
#include "base/log.h"
#include "containerd/events/forward.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "ttrpc/client.h"

#define EVENTS_SERVICE     "containerd.services.events.ttrpc.v1.Events"
#define FORWARD_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
/* Rejections other than INVALID_ARGUMENT are tried this many times before the
 * event is dropped, so one poisoned event cannot hold up the queue forever. */
#define MAX_REJECTIONS 5

/* One queued event, stored packed: a copy made at publish time, so callers
 * may free their message at once. */
struct pub_item {
        struct ps_list link;
        struct timespec ts;
        const char *type_url; /* the descriptor's full name: static storage */
        char *topic;
        size_t len;
        unsigned rejections; /* non-transport failures so far */
        uint8_t value[];     /* the packed event, then the topic string */
};

struct pub_flush {
        struct ps_list link;
        struct ps_publisher *p;
        struct event *timer;
        void (*done)(void *data);
        void *data;
};

struct ps_publisher {
        struct event_base *base;
        struct ttrpc_client *client; /* NULL: no containerd to talk to */
        char *ns;
        struct ps_list queue;
        size_t n_queued;
        size_t n_dropped;
        bool inflight; /* the head of the queue is being forwarded */
        bool closing;
        struct ps_backoff backoff;
        struct event *retry;
        struct ps_list flushes;
};

static void pub_send_head(struct ps_publisher *p);

static void item_free(struct ps_publisher *p, struct pub_item *it)
{
        ps_list_remove(&it->link);
        p->n_queued--;
        free(it);
}

/* Queue-empty or timeout: run the waiter's callback from the loop, last. */
/* Unlinks and frees a pending flush, then tells its waiter. */
static void flush_finish(struct pub_flush *fl)
{
        void (*done)(void *data) = fl->done;
        void *data = fl->data;

        ps_list_remove(&fl->link);
        event_free(fl->timer);
        free(fl);
        done(data);
}

static void flush_on_timer(evutil_socket_t fd, short what, void *arg)
{
        flush_finish(arg);
}

static void pub_wake_flushes(struct ps_publisher *p)
{
        struct ps_list *pos, *tmp;

        if (p->n_queued)
                return;
        /* Deferred, so a done() that frees the publisher cannot pull the
         * rug from under the caller. */
        ps_list_for_each_safe(pos, tmp, &p->flushes)
        {
                struct pub_flush *fl = ps_list_entry(pos, struct pub_flush, link);

                event_active(fl->timer, EV_TIMEOUT, 1);
        }
}

static void pub_schedule_retry(struct ps_publisher *p)
{
        struct timeval tv = ps_ms_timeval(ps_backoff_next(&p->backoff));

        evtimer_add(p->retry, &tv);
}

static bool code_is_transient(enum ps_code code)
{
        return code == PS_UNAVAILABLE || code == PS_DEADLINE_EXCEEDED || code == PS_CANCELLED;
}

static void pub_on_forward(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct ps_publisher *p = data;
        struct pub_item *it = ps_list_first(&p->queue, struct pub_item, link);

        p->inflight = false;
        if (p->closing || !it)
                return;
        /* Transport trouble is retried for as long as it takes; other
         * rejections a few times; INVALID_ARGUMENT never. */
        if (err && (code_is_transient(err->code) ||
                    (err->code != PS_INVALID_ARGUMENT && ++it->rejections < MAX_REJECTIONS))) {
                ps_log_debug("publisher: forward %s failed (%s), retrying", it->topic,
                             ps_err_msg(err));
                pub_schedule_retry(p);
                return;
        }
        if (err) {
                ps_log_error("publisher: dropping event %s: %s", it->topic, ps_err_msg(err));
                p->n_dropped++;
        }
        ps_backoff_reset(&p->backoff);
        item_free(p, it);
        pub_wake_flushes(p);
        pub_send_head(p);
}

static void pub_send_head(struct ps_publisher *p)
{
        Containerd__Services__Events__Ttrpc__V1__ForwardRequest req;
        Containerd__Services__Events__Ttrpc__V1__Envelope env;
        Google__Protobuf__Timestamp ts;
        Google__Protobuf__Any any;
        struct ttrpc_kv md = {"containerd-namespace-ttrpc", p->ns};
        struct pub_item *it = ps_list_first(&p->queue, struct pub_item, link);
        struct ps_err *err = NULL;

        containerd__services__events__ttrpc__v1__forward_request__init(&req);
        containerd__services__events__ttrpc__v1__envelope__init(&env);
        google__protobuf__timestamp__init(&ts);
        google__protobuf__any__init(&any);
        if (!it || p->inflight || p->closing || evtimer_pending(p->retry, NULL))
                return;
        ts.seconds = it->ts.tv_sec;
        ts.nanos = (int32_t)it->ts.tv_nsec;
        any.type_url = (char *)(uintptr_t)it->type_url;
        any.value.data = it->value;
        any.value.len = it->len;
        env.timestamp = &ts;
        env.namespace_ = p->ns;
        env.topic = it->topic;
        env.event = &any;
        req.envelope = &env;
        if (ttrpc_client_call(p->client, EVENTS_SERVICE, "Forward", &req.base, &md, 1,
                              FORWARD_TIMEOUT_MS, pub_on_forward, p, &err) < 0) {
                /* Could not even queue it (out of memory): try again later. */
                ps_log_warn("publisher: forward %s: %s", it->topic, ps_err_msg(err));
                ps_err_free(err);
                pub_schedule_retry(p);
                return;
        }
        p->inflight = true;
}

static void pub_on_retry(evutil_socket_t fd, short what, void *arg)
{
        pub_send_head(arg);
}

struct ps_publisher *ps_publisher_new(struct event_base *base, const char *ttrpc_address,
                                      const char *ns, struct ps_err **err)
{
        struct ps_publisher *p = calloc(1, sizeof(*p));

        if (!p) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "publisher");
                return NULL;
        }
        p->base = base;
        p->backoff = (struct ps_backoff){.min_ms = BACKOFF_MIN_MS, .max_ms = BACKOFF_MAX_MS};
        ps_list_init(&p->queue);
        ps_list_init(&p->flushes);
        p->ns = strdup(ns ? ns : "");
        p->retry = evtimer_new(base, pub_on_retry, p);
        if (!p->ns || !p->retry) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "publisher");
                return ps_publisher_free(p);
        }
        if (ttrpc_address && *ttrpc_address) {
                p->client = ttrpc_client_new(base, ttrpc_address, err);
                if (!p->client)
                        return ps_publisher_free(p);
        }
        return p;
}

struct ps_publisher *ps_publisher_free(struct ps_publisher *p)
{
        if (!p)
                return NULL;
        p->closing = true;
        /* Runs the in-flight callback with CANCELLED, which sees `closing`. */
        p->client = ttrpc_client_free(p->client);
        while (!ps_list_empty(&p->queue))
                item_free(p, ps_list_first(&p->queue, struct pub_item, link));
        /* Waiters still get their single done() call. */
        while (!ps_list_empty(&p->flushes))
                flush_finish(ps_list_first(&p->flushes, struct pub_flush, link));
        if (p->retry)
                event_free(p->retry);
        free(p->ns);
        free(p);
        return NULL;
}

/* Bound hit: drop the oldest event that is not on the wire. */
static void pub_drop_oldest(struct ps_publisher *p)
{
        struct ps_list *victim = p->queue.next;

        if (p->inflight)
                victim = victim->next;
        if (victim == &p->queue)
                return;
        struct pub_item *it = ps_list_entry(victim, struct pub_item, link);

        ps_log_error("publisher: queue full, dropping event %s", it->topic);
        p->n_dropped++;
        item_free(p, it);
}

void ps_publisher_publish(struct ps_publisher *p, const char *topic, const ProtobufCMessage *event)
{
        size_t len, tlen = strlen(topic) + 1;
        struct pub_item *it;

        if (!p)
                return;
        if (!p->client) {
                p->n_dropped++;
                ps_log_warn("publisher: no TTRPC_ADDRESS, dropping event %s", topic);
                return;
        }
        len = protobuf_c_message_get_packed_size(event);
        it = malloc(sizeof(*it) + len + tlen);
        if (!it) {
                p->n_dropped++;
                ps_log_error("publisher: out of memory, dropping event %s", topic);
                return;
        }
        clock_gettime(CLOCK_REALTIME, &it->ts);
        it->type_url = event->descriptor->name;
        it->len = protobuf_c_message_pack(event, it->value);
        it->topic = (char *)it->value + len;
        memcpy(it->topic, topic, tlen);
        it->rejections = 0;
        if (p->n_queued >= PS_PUBLISHER_MAX_QUEUE)
                pub_drop_oldest(p);
        ps_list_add_tail(&p->queue, &it->link);
        p->n_queued++;
        pub_send_head(p);
}

void ps_publisher_flush(struct ps_publisher *p, unsigned timeout_ms, void (*done)(void *data),
                        void *data)
{
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        struct pub_flush *fl = calloc(1, sizeof(*fl));

        if (!fl || !(fl->timer = evtimer_new(p->base, flush_on_timer, fl))) {
                /* Out of memory: better a synchronous done() than none, which
                 * would leave the shim waiting forever. */
                free(fl);
                ps_log_error("publisher: out of memory, not waiting for the queue");
                done(data);
                return;
        }
        fl->p = p;
        fl->done = done;
        fl->data = data;
        ps_list_add_tail(&p->flushes, &fl->link);
        if (!p->n_queued)
                tv = (struct timeval){0, 0};
        evtimer_add(fl->timer, &tv);
}

size_t ps_publisher_pending(const struct ps_publisher *p)
{
        return p ? p->n_queued : 0;
}
