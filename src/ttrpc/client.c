#include "ttrpc/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/list.h"
#include "base/log.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"
#include "ttrpc/ttrpc.pb-c.h"

struct pcall {
        struct ps_list link; /* in client->calls */
        uint32_t stream;
        ttrpc_client_done_fn done;
        void *data;
        struct event *timer; /* the deadline, or the deferred failure */
        struct ps_err *fail; /* set: fail with this when the timer fires */
};

struct ttrpc_client {
        struct event_base *base;
        char *path;
        int fd; /* -1: not connected; the next call connects */
        bool connected;
        bool freeing;
        struct event *ev_read, *ev_write;
        struct ttrpc_reader rd;
        struct ttrpc_buf out;
        uint32_t next_stream;
        struct ps_list calls;
};

/* Unlinks and frees the call, then runs its callback last, so a callback
 * that issues a new call sees consistent state. */
static void pcall_finish(struct pcall *pc, const struct ps_err *err, const uint8_t *payload,
                         size_t len)
{
        ttrpc_client_done_fn done = pc->done;
        void *data = pc->data;

        ps_list_remove(&pc->link);
        event_free(pc->timer);
        ps_err_free(pc->fail);
        free(pc);
        done(data, err, payload, len);
}

static void pcall_fail(struct pcall *pc, enum ps_code code, const char *msg)
{
        struct ps_err e = {.code = code, .msg = (char *)(uintptr_t)msg};

        pcall_finish(pc, &e, NULL, 0);
}

/* Drops the connection and fails every pending call with `code`. */
static void client_disconnect(struct ttrpc_client *c, enum ps_code code, const char *why)
{
        struct ps_list doomed;

        if (c->ev_read)
                event_free(c->ev_read);
        if (c->ev_write)
                event_free(c->ev_write);
        c->ev_read = c->ev_write = NULL;
        c->fd = ps_close(c->fd);
        c->connected = false;
        ttrpc_reader_release(&c->rd);
        ttrpc_buf_release(&c->out);
        /* Callbacks may start new calls (on a new connection): fail only the
         * calls that were pending on this one. */
        ps_list_init(&doomed);
        if (!ps_list_empty(&c->calls)) {
                doomed.next = c->calls.next;
                doomed.prev = c->calls.prev;
                doomed.next->prev = &doomed;
                doomed.prev->next = &doomed;
                ps_list_init(&c->calls);
        }
        while (!ps_list_empty(&doomed)) {
                struct pcall *pc = ps_list_first(&doomed, struct pcall, link);

                if (pc->fail) {
                        struct ps_err *e = TAKE_PTR(pc->fail);

                        pcall_finish(pc, e, NULL, 0);
                        ps_err_free(e);
                } else {
                        pcall_fail(pc, code, why);
                }
        }
}

static struct pcall *client_find(struct ttrpc_client *c, uint32_t stream)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &c->calls)
        {
                struct pcall *pc = ps_list_entry(pos, struct pcall, link);

                if (pc->stream == stream && !pc->fail)
                        return pc;
        }
        return NULL;
}

static void client_handle_frame(struct ttrpc_client *c, const struct ttrpc_frame *f)
{
        struct pcall *pc = client_find(c, f->hdr.stream);
        Ttrpc__Response *resp;

        if (!pc || f->hdr.type != TTRPC_TYPE_RESPONSE)
                return; /* timed out already, or not a reply */
        resp = ttrpc__response__unpack(NULL, f->hdr.len, f->body);
        if (!resp)
                return pcall_fail(pc, PS_UNKNOWN, "malformed ttrpc.Response");
        if (resp->status && resp->status->code != 0) {
                struct ps_err e = {.code = (enum ps_code)resp->status->code,
                                   .msg = resp->status->message};

                pcall_finish(pc, &e, NULL, 0);
        } else {
                pcall_finish(pc, NULL, resp->payload.data, resp->payload.len);
        }
        ttrpc__response__free_unpacked(resp, NULL);
}

static void client_on_read(evutil_socket_t fd, short what, void *arg)
{
        struct ttrpc_client *c = arg;
        enum ttrpc_read_result r;
        struct ttrpc_frame f;
        size_t room = 0;
        uint8_t *p = ttrpc_reader_space(&c->rd, &room);
        ssize_t n;

        if (!p)
                return client_disconnect(c, PS_UNAVAILABLE, "out of memory");
        n = read(fd, p, room);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
        if (n <= 0)
                return client_disconnect(c, PS_UNAVAILABLE, "ttrpc: closed");
        ttrpc_reader_commit(&c->rd, (size_t)n);
        /* A callback can only add calls here, never close the connection. */
        while ((r = ttrpc_reader_next(&c->rd, &f)) != TTRPC_READ_NEED_MORE) {
                struct pcall *pc;

                if (r == TTRPC_READ_FRAME) {
                        client_handle_frame(c, &f);
                        continue;
                }
                pc = client_find(c, f.hdr.stream);
                if (pc)
                        pcall_fail(pc, PS_RESOURCE_EXHAUSTED,
                                   "response exceeds the maximum message size");
        }
}

static void client_on_write(evutil_socket_t fd, short what, void *arg)
{
        struct ttrpc_client *c = arg;
        int r;

        if (!c->connected) {
                int soerr = 0;
                socklen_t len = sizeof(soerr);

                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                        soerr = errno;
                if (soerr)
                        return client_disconnect(c, PS_UNAVAILABLE, strerror(soerr));
                c->connected = true;
        }
        r = ttrpc_buf_send(&c->out, fd);
        if (r > 0)
                return;
        if (r < 0)
                return client_disconnect(c, PS_UNAVAILABLE, strerror(errno));
        event_del(c->ev_write);
        ttrpc_buf_shrink(&c->out, 0);
}

static int client_connect(struct ttrpc_client *c, struct ps_err **err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        int r;

        if (strlen(c->path) >= sizeof(sa.sun_path))
                return ps_err_set(err, PS_UNAVAILABLE, "socket path too long: %s", c->path);
        memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNAVAILABLE, "socket");
        /* A unix connect never waits on the peer: it succeeds or fails now
         * (EAGAIN means the backlog is full, which we treat as unavailable). */
        r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        if (r < 0 && errno != EINPROGRESS)
                return ps_err_errno(err, errno, PS_UNAVAILABLE, "connect %s", c->path);
        c->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST, client_on_read, c);
        c->ev_write = event_new(c->base, fd, EV_WRITE | EV_PERSIST, client_on_write, c);
        if (!c->ev_read || !c->ev_write || event_add(c->ev_read, NULL) < 0) {
                if (c->ev_read)
                        event_free(c->ev_read);
                if (c->ev_write)
                        event_free(c->ev_write);
                c->ev_read = c->ev_write = NULL;
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "ttrpc client events");
        }
        c->fd = TAKE_FD(fd);
        c->connected = r == 0;
        c->next_stream = 1;
        ttrpc_reader_init(&c->rd, TTRPC_MAX_MESSAGE);
        return 0;
}

static void pcall_on_timer(evutil_socket_t fd, short what, void *arg)
{
        struct pcall *pc = arg;
        struct ps_err *e = TAKE_PTR(pc->fail);

        if (e) {
                pcall_finish(pc, e, NULL, 0);
                ps_err_free(e);
        } else {
                pcall_fail(pc, PS_DEADLINE_EXCEEDED, "ttrpc call timed out");
        }
}

struct ttrpc_client *ttrpc_client_new(struct event_base *base, const char *path,
                                      struct ps_err **err)
{
        struct ttrpc_client *c;

        if (!path || !*path) {
                ps_err_set(err, PS_INVALID_ARGUMENT, "empty ttrpc address");
                return NULL;
        }
        if (strncmp(path, "unix://", 7) == 0)
                path += 7;
        c = calloc(1, sizeof(*c));
        if (!c || !(c->path = strdup(path))) {
                free(c);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "ttrpc client");
                return NULL;
        }
        c->base = base;
        c->fd = -1;
        ps_list_init(&c->calls);
        return c;
}

struct ttrpc_client *ttrpc_client_free(struct ttrpc_client *c)
{
        if (!c)
                return NULL;
        c->freeing = true;
        client_disconnect(c, PS_CANCELLED, "ttrpc client closed");
        free(c->path);
        free(c);
        return NULL;
}

/* Appends the request frame for `pc` to the output queue. */
static int client_queue(struct ttrpc_client *c, const char *service, const char *method,
                        const ProtobufCMessage *req, const struct ttrpc_kv *md, size_t n_md,
                        unsigned timeout_ms, uint32_t stream, struct ps_err **err)
{
        Ttrpc__Request env;
        _cleanup_free_ Ttrpc__KeyValue *kvs = NULL;
        _cleanup_free_ Ttrpc__KeyValue **kvp = NULL;
        _cleanup_free_ uint8_t *payload = NULL;
        struct ttrpc_header h = {.stream = stream, .type = TTRPC_TYPE_REQUEST};
        size_t plen = req ? protobuf_c_message_get_packed_size(req) : 0, len;
        uint8_t *p;

        ttrpc__request__init(&env);
        if (plen > TTRPC_MAX_MESSAGE)
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "request too large");
        payload = malloc(plen ? plen : 1);
        kvs = calloc(n_md ? n_md : 1, sizeof(*kvs));
        kvp = calloc(n_md ? n_md : 1, sizeof(*kvp));
        if (!payload || !kvs || !kvp)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "ttrpc request");
        if (req)
                protobuf_c_message_pack(req, payload);
        for (size_t i = 0; i < n_md; i++) {
                ttrpc__key_value__init(&kvs[i]);
                kvs[i].key = (char *)(uintptr_t)md[i].key;
                kvs[i].value = (char *)(uintptr_t)md[i].value;
                kvp[i] = &kvs[i];
        }
        env.service = (char *)(uintptr_t)service;
        env.method = (char *)(uintptr_t)method;
        env.payload.data = payload;
        env.payload.len = plen;
        env.timeout_nano = (int64_t)timeout_ms * 1000000;
        env.n_metadata = n_md;
        env.metadata = kvp;
        len = ttrpc__request__get_packed_size(&env);
        if (len > TTRPC_MAX_MESSAGE)
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "request too large");
        p = ttrpc_buf_reserve(&c->out, TTRPC_HEADER_SIZE + len);
        if (!p)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "ttrpc request");
        h.len = (uint32_t)len;
        ttrpc_header_encode(p, &h);
        ttrpc__request__pack(&env, p + TTRPC_HEADER_SIZE);
        c->out.len += TTRPC_HEADER_SIZE + len;
        return 0;
}

int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
                      const ProtobufCMessage *req, const struct ttrpc_kv *md, size_t n_md,
                      unsigned timeout_ms, ttrpc_client_done_fn done, void *data,
                      struct ps_err **err)
{
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        struct pcall *pc;

        if (c->freeing)
                return ps_err_set(err, PS_CANCELLED, "ttrpc client closed");
        pc = calloc(1, sizeof(*pc));
        if (!pc || !(pc->timer = evtimer_new(c->base, pcall_on_timer, pc))) {
                free(pc);
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "ttrpc call");
        }
        pc->done = done;
        pc->data = data;
        if (c->fd < 0 && client_connect(c, &pc->fail) < 0) {
                /* Report the failure from the loop, never from here. */
                struct timeval now = {0, 0};

                ps_list_add_tail(&c->calls, &pc->link);
                evtimer_add(pc->timer, &now);
                return 0;
        }
        pc->stream = c->next_stream;
        if (client_queue(c, service, method, req, md, n_md, timeout_ms, pc->stream, err) < 0) {
                event_free(pc->timer);
                free(pc);
                return -1;
        }
        c->next_stream += 2;
        ps_list_add_tail(&c->calls, &pc->link);
        event_add(c->ev_write, NULL);
        if (timeout_ms)
                evtimer_add(pc->timer, &tv);
        return 0;
}
