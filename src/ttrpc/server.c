#include "ttrpc/server.h"
#include "ttrpc/strings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/list.h"
#include "base/log.h"
#include "ttrpc/frame.h"
#include "ttrpc/ttrpc.pb-c.h"

/* A peer that stops reading while we keep answering would otherwise make us
 * buffer without bound. */
#define CONN_MAX_PENDING_OUT (16u << 20)
#define ACCEPT_BATCH         16
/* Only same-uid peers get in, so these bound mistakes, not attackers: a
 * client that leaks connections or parks calls without end. containerd uses
 * a handful of connections per shim and one parked Wait per process. */
#define SRV_MAX_CONNS  256
#define CONN_MAX_CALLS 4096
/* How often a port whose peer is away looks for it again (see
 * ttrpc_server_adopt_port). */
#define PORT_PEER_POLL_MS 20

struct conn {
        struct ps_list link; /* in srv->conns */
        struct ttrpc_server *srv;
        int fd;
        struct event *ev_read, *ev_write;
        struct ttrpc_reader rd;
        struct ttrpc_buf out;
        struct ps_list calls; /* unanswered calls */
        size_t n_calls;
        struct ttrpc_call *dispatched; /* the call in its handler, until answered */
        bool dispatching;              /* inside the frame loop: closing must wait */
        bool broken;                   /* close at the next safe point */
        bool closing;                  /* being torn down: output is dropped */
        bool port;                     /* a character device: EOF is "peer away" */
        struct event *ev_peer;         /* port only: look for the peer again */
};

struct ttrpc_call {
        struct ps_list link; /* in conn->calls */
        struct conn *conn;   /* NULL while the cancel callback runs */
        uint32_t stream;
        const struct ttrpc_method *method;
        Ttrpc__Request *envelope; /* kept for metadata; payload freed */
        ProtobufCMessage *req;
        ttrpc_cancel_fn cancel;
        void *cancel_data;
        struct event *ev_deadline; /* the request's timeout_nano; NULL if none */
};

struct ttrpc_server {
        struct event_base *base;
        int listen_fd;
        struct event *ev_listen, *ev_retry;
        const struct ttrpc_service *services;
        size_t n_services;
        struct ps_list conns;
        size_t n_conns;
};

static void call_free(struct ttrpc_call *call)
{
        ps_list_remove(&call->link);
        if (call->conn) {
                call->conn->n_calls--;
                if (call->conn->dispatched == call)
                        call->conn->dispatched = NULL;
        }
        if (call->ev_deadline)
                event_free(call->ev_deadline);
        if (call->req)
                protobuf_c_message_free_unpacked(call->req, NULL);
        if (call->envelope)
                ttrpc__request__free_unpacked(call->envelope, NULL);
        free(call);
}

static void conn_destroy(struct conn *c)
{
        c->closing = true;
        ps_list_remove(&c->link);
        c->srv->n_conns--;
        event_free(c->ev_read);
        event_free(c->ev_write);
        if (c->ev_peer)
                event_free(c->ev_peer);
        c->fd = ps_close(c->fd);
        /* Pop one at a time: a cancel callback may answer other calls of this
         * connection, which unlinks them (their replies are dropped). */
        while (!ps_list_empty(&c->calls)) {
                struct ttrpc_call *call = ps_list_first(&c->calls, struct ttrpc_call, link);

                ps_list_remove(&call->link);
                c->n_calls--;
                call->conn = NULL;
                if (call->cancel)
                        call->cancel(call, call->cancel_data);
                call_free(call);
        }
        ttrpc_reader_release(&c->rd);
        ttrpc_buf_release(&c->out);
        free(c);
}

/* Closes now, or right after the frame loop if a handler is running. */
static void conn_break(struct conn *c)
{
        if (c->broken || c->closing)
                return;
        c->broken = true;
        if (!c->dispatching)
                event_active(c->ev_write, EV_WRITE, 1);
}

/* Writes pending output now: the socket almost always takes it, which saves
 * arming write readiness (epoll_ctl, one more loop turn, epoll_ctl) per reply.
 * Only what the socket refuses waits for EV_WRITE. */
static void conn_flush(struct conn *c)
{
        int r;

        if (c->closing || c->broken || c->out.len == 0)
                return;
        r = ttrpc_buf_send(&c->out, c->fd);
        if (r > 0) {
                event_add(c->ev_write, NULL);
        } else if (r < 0) {
                ps_log_debug("ttrpc: write: %m");
                conn_break(c);
        } else {
                ttrpc_buf_shrink(&c->out, 0);
        }
}

static void conn_send(struct conn *c, uint32_t stream, const Ttrpc__Response *resp)
{
        struct ttrpc_header h = {.stream = stream, .type = TTRPC_TYPE_RESPONSE};
        size_t len;
        uint8_t *p;

        if (c->closing || c->broken)
                return;
        len = ttrpc__response__get_packed_size(resp);
        if (c->out.len + TTRPC_HEADER_SIZE + len > CONN_MAX_PENDING_OUT) {
                ps_log_warn("ttrpc: peer does not read its replies, closing the connection");
                conn_break(c);
                return;
        }
        p = ttrpc_buf_reserve(&c->out, TTRPC_HEADER_SIZE + len);
        if (!p) {
                conn_break(c);
                return;
        }
        h.len = (uint32_t)len;
        ttrpc_header_encode(p, &h);
        ttrpc__response__pack(resp, p + TTRPC_HEADER_SIZE);
        c->out.len += TTRPC_HEADER_SIZE + len;
        /* Replies made while reading are sent together after the frame loop. */
        if (!c->dispatching)
                conn_flush(c);
}

static void conn_send_status(struct conn *c, uint32_t stream, enum ps_code code, const char *msg)
{
        Google__Rpc__Status st;
        Ttrpc__Response resp;
        _cleanup_free_ char *text = strdup(msg ? msg : "");

        google__rpc__status__init(&st);
        ttrpc__response__init(&resp);
        st.code = code == PS_OK ? PS_UNKNOWN : (int32_t)code;
        /* Messages may quote client input; Go rejects non-UTF-8 strings. */
        if (text)
                ttrpc_utf8_sanitize(text);
        st.message = text ? text : (char *)(uintptr_t) "out of memory";
        resp.status = &st;
        conn_send(c, stream, &resp);
}

static void conn_send_statusf(struct conn *c, uint32_t stream, enum ps_code code, const char *fmt,
                              ...) __attribute__((format(printf, 4, 5)));
static void conn_send_statusf(struct conn *c, uint32_t stream, enum ps_code code, const char *fmt,
                              ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        conn_send_status(c, stream, code, msg ? msg : "out of memory");
}

static const struct ttrpc_service *srv_find_service(const struct ttrpc_server *srv,
                                                    const char *name)
{
        for (size_t i = 0; i < srv->n_services; i++)
                if (strcmp(srv->services[i].name, name) == 0)
                        return &srv->services[i];
        return NULL;
}

static const struct ttrpc_method *svc_find_method(const struct ttrpc_service *svc, const char *name)
{
        for (size_t i = 0; i < svc->n_methods; i++)
                if (strcmp(svc->methods[i].name, name) == 0 && svc->methods[i].handler)
                        return &svc->methods[i];
        return NULL;
}

/* Finds the handler for a request, or answers the error the Go server would. */
static const struct ttrpc_method *conn_route(struct conn *c, uint32_t stream,
                                             const Ttrpc__Request *env, void **ret_data)
{
        const struct ttrpc_service *svc = srv_find_service(c->srv, env->service);
        const struct ttrpc_method *m;

        if (!svc) {
                conn_send_statusf(c, stream, PS_UNIMPLEMENTED, "service %s", env->service);
                return NULL;
        }
        m = svc_find_method(svc, env->method);
        if (!m) {
                conn_send_statusf(c, stream, PS_UNIMPLEMENTED, "method %s", env->method);
                return NULL;
        }
        *ret_data = svc->data;
        return m;
}

/* The client's deadline passed with the call still parked: as a Go server's
 * handler context would, the call ends with DEADLINE_EXCEEDED; its parker
 * is told through the cancel callback first, like on a hang-up. */
static void call_on_deadline(evutil_socket_t fd, short what, void *arg)
{
        struct ttrpc_call *call = arg;
        struct conn *c = call->conn;
        ttrpc_cancel_fn cancel = call->cancel;

        (void)fd;
        (void)what;
        call->cancel = NULL;
        if (cancel) {
                call->conn = NULL; /* answers from inside the callback are dropped */
                cancel(call, call->cancel_data);
                call->conn = c;
        }
        ps_log_debug("ttrpc: %s: deadline exceeded", call->method->name);
        conn_send_status(c, call->stream, PS_DEADLINE_EXCEEDED, "context deadline exceeded");
        call_free(call);
}

static void call_arm_deadline(struct ttrpc_call *call, int64_t timeout_nano)
{
        struct timeval tv = {.tv_sec = (time_t)(timeout_nano / 1000000000),
                             .tv_usec = (suseconds_t)(timeout_nano % 1000000000 / 1000)};

        call->ev_deadline = evtimer_new(call->conn->srv->base, call_on_deadline, call);
        /* Without a timer the call merely lives until answered or hung up. */
        if (call->ev_deadline && evtimer_add(call->ev_deadline, &tv) < 0) {
                event_free(call->ev_deadline);
                call->ev_deadline = NULL;
        }
}

/* The request's own `id` and `exec_id` (the Task API names the task and
 * exec so), formatted for a debug line: " id=x exec_id=y", or "". */
static void request_ids(const ProtobufCMessage *req, char *buf, size_t cap)
{
        static const char *const names[] = {"id", "exec_id"};
        size_t n = 0;

        buf[0] = '\0';
        for (size_t i = 0; req && i < sizeof(names) / sizeof(names[0]); i++) {
                const ProtobufCFieldDescriptor *fd =
                    protobuf_c_message_descriptor_get_field_by_name(req->descriptor, names[i]);
                const char *v;
                int r;

                if (!fd || fd->type != PROTOBUF_C_TYPE_STRING ||
                    fd->label == PROTOBUF_C_LABEL_REPEATED)
                        continue;
                v = *(char *const *)(const void *)((const char *)req + fd->offset);
                if (!v || !*v)
                        continue;
                r = snprintf(buf + n, cap - n, " %s=%s", names[i], v);
                if (r < 0 || (size_t)r >= cap - n)
                        return;
                n += (size_t)r;
        }
}

/* Decodes one request frame into a call and hands it to its handler. */
static void conn_dispatch(struct conn *c, const struct ttrpc_frame *f)
{
        const struct ttrpc_method *m;
        ProtobufCMessage *req = NULL;
        struct ttrpc_call *call;
        Ttrpc__Request *env;
        const char *bad = NULL;
        void *data = NULL;

        if (f->hdr.stream % 2 == 0)
                return conn_send_status(c, f->hdr.stream, PS_INVALID_ARGUMENT,
                                        "StreamID must be odd for client initiated streams");
        if (f->hdr.type != TTRPC_TYPE_REQUEST)
                return;
        if (c->n_calls >= CONN_MAX_CALLS)
                return conn_send_statusf(c, f->hdr.stream, PS_RESOURCE_EXHAUSTED,
                                         "%u calls already pending on this connection",
                                         CONN_MAX_CALLS);
        if (!ttrpc_strings_valid(&ttrpc__request__descriptor, f->body, f->hdr.len, &bad))
                return conn_send_statusf(c, f->hdr.stream, PS_INVALID_ARGUMENT,
                                         "unmarshal request error: ttrpc.Request.%s is not valid "
                                         "UTF-8 without NUL",
                                         bad);
        env = ttrpc__request__unpack(NULL, f->hdr.len, f->body);
        if (!env)
                return conn_send_status(c, f->hdr.stream, PS_INVALID_ARGUMENT,
                                        "unmarshal request error: malformed ttrpc.Request");
        m = conn_route(c, f->hdr.stream, env, &data);
        if (m && m->input &&
            !ttrpc_strings_valid(m->input, env->payload.data, env->payload.len, &bad)) {
                conn_send_statusf(c, f->hdr.stream, PS_INVALID_ARGUMENT,
                                  "unmarshal request error: %s.%s is not valid UTF-8 without NUL",
                                  m->input->name, bad);
                m = NULL;
        }
        if (m && m->input) {
                req =
                    protobuf_c_message_unpack(m->input, NULL, env->payload.len, env->payload.data);
                if (!req) {
                        conn_send_statusf(c, f->hdr.stream, PS_INVALID_ARGUMENT,
                                          "unmarshal request error: malformed %s", m->input->name);
                        m = NULL;
                }
        }
        call = m ? calloc(1, sizeof(*call)) : NULL;
        if (!call) {
                if (m)
                        conn_send_status(c, f->hdr.stream, PS_RESOURCE_EXHAUSTED, "out of memory");
                if (req)
                        protobuf_c_message_free_unpacked(req, NULL);
                ttrpc__request__free_unpacked(env, NULL);
                return;
        }
        /* A parked call keeps the metadata but not a second copy of the payload. */
        free(env->payload.data);
        env->payload.data = NULL;
        env->payload.len = 0;
        *call = (struct ttrpc_call){
            .conn = c, .stream = f->hdr.stream, .method = m, .envelope = env, .req = req};
        ps_list_add_tail(&c->calls, &call->link);
        c->n_calls++;
        c->dispatched = call;
        if (ps_log_enabled(PS_LOG_DEBUG)) {
                char ids[200];

                request_ids(req, ids, sizeof(ids));
                ps_log_debug("ttrpc: %s/%s%s", env->service, env->method, ids);
        }
        m->handler(data, call, req);
        /* Most calls are answered inside their handler; only a parked one
         * needs its deadline timer. */
        if (c->dispatched == call && env->timeout_nano > 0)
                call_arm_deadline(call, env->timeout_nano);
        c->dispatched = NULL;
}

static void conn_process(struct conn *c)
{
        struct ttrpc_frame f;
        enum ttrpc_read_result r;

        while (!c->broken && (r = ttrpc_reader_next(&c->rd, &f)) != TTRPC_READ_NEED_MORE) {
                if (r == TTRPC_READ_OVERSIZE)
                        conn_send_statusf(c, f.hdr.stream, PS_RESOURCE_EXHAUSTED,
                                          "message length %u exceed maximum message size of %u",
                                          f.hdr.len, TTRPC_MAX_MESSAGE);
                else
                        conn_dispatch(c, &f);
        }
}

/* A port reads EOF, and polls as readable (EPOLLHUP), for as long as
 * nobody holds the host end: reading is paused and retried on a timer, so
 * the loop does not spin, and the connection (with its calls) stays. */
static void conn_port_peer_away(struct conn *c)
{
        struct timeval tv = {.tv_usec = PORT_PEER_POLL_MS * 1000};

        /* a write also waits (EAGAIN) while the peer is away, and HUP
         * would wake it up at once */
        event_del(c->ev_read);
        event_del(c->ev_write);
        if (evtimer_add(c->ev_peer, &tv) < 0)
                conn_break(c);
}

static void conn_on_peer_poll(evutil_socket_t fd, short what, void *arg)
{
        struct conn *c = arg;

        if (event_add(c->ev_read, NULL) < 0 || (c->out.len && event_add(c->ev_write, NULL) < 0))
                conn_destroy(c);
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
        struct conn *c = arg;
        size_t room = 0;
        uint8_t *p = ttrpc_reader_space(&c->rd, &room);
        ssize_t n;

        if (!p) {
                conn_destroy(c);
                return;
        }
        n = read(fd, p, room);
        if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                        return;
                ps_log_debug("ttrpc: read: %m");
                conn_destroy(c);
                return;
        }
        ttrpc_reader_commit(&c->rd, (size_t)n);
        /* Frames already received are answered even when EOF follows them;
         * the replies are then dropped with the connection. */
        c->dispatching = true;
        conn_process(c);
        c->dispatching = false;
        if (n > 0 && !event_pending(c->ev_write, EV_WRITE, NULL))
                conn_flush(c);
        if (n == 0 && c->port && !c->broken)
                conn_port_peer_away(c);
        else if (n == 0 || c->broken)
                conn_destroy(c);
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
        struct conn *c = arg;
        int r;

        if (c->broken) {
                conn_destroy(c);
                return;
        }
        r = ttrpc_buf_send(&c->out, fd);
        if (r > 0)
                return;
        if (r < 0) {
                ps_log_debug("ttrpc: write: %m");
                conn_destroy(c);
                return;
        }
        /* Write interest only while output is pending. */
        event_del(c->ev_write);
        ttrpc_buf_shrink(&c->out, 0);
}

static int check_peer(int fd, struct ps_err **err)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return ps_err_errno(err, errno, PS_PERMISSION_DENIED, "SO_PEERCRED");
        if (cred.uid != geteuid())
                return ps_err_set(err, PS_PERMISSION_DENIED, "peer uid %u is not our euid %u",
                                  (unsigned)cred.uid, (unsigned)geteuid());
        return 0;
}

static int conn_new(struct ttrpc_server *srv, int fd, bool port, struct ps_err **err)
{
        _cleanup_close_ int cfd = fd;
        struct conn *c;
        int fl;

        if (!port && check_peer(cfd, err) < 0)
                return -1;
        fl = fcntl(cfd, F_GETFL);
        if (fl < 0 || fcntl(cfd, F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(cfd, F_SETFD, FD_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "fcntl");
        c = calloc(1, sizeof(*c));
        if (!c)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "ttrpc connection");
        c->srv = srv;
        c->fd = cfd;
        c->port = port;
        ps_list_init(&c->calls);
        ttrpc_reader_init(&c->rd, TTRPC_MAX_MESSAGE);
        c->ev_read = event_new(srv->base, cfd, EV_READ | EV_PERSIST, conn_on_read, c);
        c->ev_write = event_new(srv->base, cfd, EV_WRITE | EV_PERSIST, conn_on_write, c);
        if (port)
                c->ev_peer = evtimer_new(srv->base, conn_on_peer_poll, c);
        if (!c->ev_read || !c->ev_write || (port && !c->ev_peer) ||
            event_add(c->ev_read, NULL) < 0) {
                if (c->ev_read)
                        event_free(c->ev_read);
                if (c->ev_write)
                        event_free(c->ev_write);
                if (c->ev_peer)
                        event_free(c->ev_peer);
                free(c);
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "ttrpc connection events");
        }
        TAKE_FD(cfd);
        ps_list_add_tail(&srv->conns, &c->link);
        srv->n_conns++;
        return 0;
}

int ttrpc_server_adopt(struct ttrpc_server *srv, int fd, struct ps_err **err)
{
        return conn_new(srv, fd, false, err);
}

int ttrpc_server_adopt_port(struct ttrpc_server *srv, int fd, struct ps_err **err)
{
        return conn_new(srv, fd, true, err);
}

static void srv_on_retry(evutil_socket_t fd, short what, void *arg)
{
        struct ttrpc_server *srv = arg;

        if (srv->ev_listen)
                event_add(srv->ev_listen, NULL);
}

static void srv_on_accept(evutil_socket_t fd, short what, void *arg)
{
        struct ttrpc_server *srv = arg;

        for (int i = 0; i < ACCEPT_BATCH; i++) {
                _cleanup_err_ struct ps_err *err = NULL;
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (cfd < 0 && (errno == EINTR || errno == ECONNABORTED))
                        continue;
                if (cfd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (cfd < 0) {
                        /* EMFILE and friends: level-triggered accept would
                         * spin on the pending connection; pause a while. */
                        struct timeval tv = {.tv_usec = 100 * 1000};

                        ps_log_warn("ttrpc: accept: %m");
                        event_del(srv->ev_listen);
                        evtimer_add(srv->ev_retry, &tv);
                        return;
                }
                if (srv->n_conns >= SRV_MAX_CONNS) {
                        ps_log_warn("ttrpc: rejecting connection: %u already open", SRV_MAX_CONNS);
                        close(cfd);
                        continue;
                }
                if (ttrpc_server_adopt(srv, cfd, &err) < 0)
                        ps_log_warn("ttrpc: rejecting connection: %s", ps_err_msg(err));
        }
}

struct ttrpc_server *ttrpc_server_new(struct event_base *base, int listen_fd,
                                      const struct ttrpc_service *services, size_t n_services,
                                      struct ps_err **err)
{
        struct ttrpc_server *srv = calloc(1, sizeof(*srv));

        if (!srv) {
                ps_close(listen_fd);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "ttrpc server");
                return NULL;
        }
        srv->base = base;
        srv->listen_fd = listen_fd;
        srv->services = services;
        srv->n_services = n_services;
        ps_list_init(&srv->conns);
        if (listen_fd < 0)
                return srv; /* connections come through ttrpc_server_adopt*() only */
        srv->ev_listen = event_new(base, listen_fd, EV_READ | EV_PERSIST, srv_on_accept, srv);
        srv->ev_retry = evtimer_new(base, srv_on_retry, srv);
        if (!srv->ev_listen || !srv->ev_retry || event_add(srv->ev_listen, NULL) < 0) {
                ps_err_set(err, PS_RESOURCE_EXHAUSTED, "ttrpc server events");
                return ttrpc_server_free(srv);
        }
        return srv;
}

void ttrpc_server_stop_listening(struct ttrpc_server *srv)
{
        if (!srv)
                return;
        if (srv->ev_listen)
                event_free(srv->ev_listen);
        if (srv->ev_retry)
                event_free(srv->ev_retry);
        srv->ev_listen = srv->ev_retry = NULL;
        srv->listen_fd = ps_close(srv->listen_fd);
}

struct ttrpc_server *ttrpc_server_free(struct ttrpc_server *srv)
{
        if (!srv)
                return NULL;
        ttrpc_server_stop_listening(srv);
        while (!ps_list_empty(&srv->conns))
                conn_destroy(ps_list_first(&srv->conns, struct conn, link));
        free(srv);
        return NULL;
}

size_t ttrpc_server_connections(const struct ttrpc_server *srv)
{
        return srv ? srv->n_conns : 0;
}

void ttrpc_call_reply(struct ttrpc_call *call, const ProtobufCMessage *resp)
{
        Ttrpc__Response r;
        _cleanup_free_ uint8_t *payload = NULL;
        size_t len;

        ttrpc__response__init(&r);
        if (!call->conn)
                return; /* being cancelled: the closer frees it */
        if (resp) {
                len = protobuf_c_message_get_packed_size(resp);
                if (len > TTRPC_MAX_MESSAGE - 16) {
                        ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED,
                                         "response of %zu bytes exceeds the message limit", len);
                        return;
                }
                payload = malloc(len ? len : 1);
                if (!payload) {
                        ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                        return;
                }
                protobuf_c_message_pack(resp, payload);
                r.payload.data = payload;
                r.payload.len = len;
        }
        conn_send(call->conn, call->stream, &r);
        call_free(call);
}

void ttrpc_call_fail(struct ttrpc_call *call, const struct ps_err *err)
{
        if (!call->conn)
                return;
        conn_send_status(call->conn, call->stream, err ? err->code : PS_UNKNOWN,
                         err ? ps_err_msg(err) : "unknown error");
        call_free(call);
}

void ttrpc_call_failf(struct ttrpc_call *call, enum ps_code code, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!call->conn)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        conn_send_status(call->conn, call->stream, code, msg ? msg : "out of memory");
        call_free(call);
}

const char *ttrpc_call_metadata(const struct ttrpc_call *call, const char *key)
{
        const Ttrpc__Request *env = call->envelope;

        for (size_t i = 0; i < env->n_metadata; i++)
                if (env->metadata[i]->key && strcmp(env->metadata[i]->key, key) == 0)
                        return env->metadata[i]->value;
        return NULL;
}

size_t ttrpc_call_backlog(const struct ttrpc_call *call)
{
        return call->conn ? call->conn->out.len : 0;
}

const char *ttrpc_call_method(const struct ttrpc_call *call)
{
        return call->method->name;
}

void ttrpc_call_on_cancel(struct ttrpc_call *call, ttrpc_cancel_fn fn, void *data)
{
        call->cancel = fn;
        call->cancel_data = data;
}
