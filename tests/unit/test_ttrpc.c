/* The ttrpc server and client over real unix sockets and a real event loop.
 * The raw-socket tests build and parse frames by hand, independently of
 * src/ttrpc/frame.c, so a codec bug cannot hide on both sides. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "check.h"
#include "support/sock.h"
#include "containerd/task/v2/task.pb-c.h"
#include "ttrpc/client.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"
#include "ttrpc/ttrpc.pb-c.h"

#define TASK "containerd.task.v2.Task"

struct fixture {
        char dir[32];
        char path[96];
        struct event_base *base;
        struct ttrpc_server *srv;
        struct ttrpc_call *parked;
        int cancelled;
        int handled;
        int held; /* "hold" calls: parked without a cancel callback */
        char ns[64];
};

/* --- the test service ---------------------------------------------------- */

static void on_cancel(struct ttrpc_call *call, void *data)
{
        struct fixture *fx = data;

        CHECK(call == fx->parked);
        fx->parked = NULL;
        fx->cancelled++;
}

static void reply_connect(struct ttrpc_call *call, uint32_t task_pid)
{
        Containerd__Task__V2__ConnectResponse resp;
        containerd__task__v2__connect_response__init(&resp);

        resp.shim_pid = 4242;
        resp.task_pid = task_pid;
        ttrpc_call_reply(call, &resp.base);
}

static void h_connect(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        const Containerd__Task__V2__ConnectRequest *req = (const void *)msg;
        struct fixture *fx = data;
        const char *ns = ttrpc_call_metadata(call, "containerd-namespace-ttrpc");

        fx->handled++;
        snprintf(fx->ns, sizeof(fx->ns), "%s", ns ? ns : "");
        CHECK_STREQ(ttrpc_call_method(call), "Connect");
        if (strcmp(req->id, "hold") == 0) {
                fx->held++;
                return;
        }
        if (strcmp(req->id, "park") == 0) {
                fx->parked = call;
                ttrpc_call_on_cancel(call, on_cancel, fx);
                return;
        }
        reply_connect(call, (uint32_t)strlen(req->id));
}

static void h_shutdown(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        ttrpc_call_reply(call, NULL);
}

static void h_kill(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        ttrpc_call_failf(call, PS_NOT_FOUND, "process does not exist %s: not found", "x");
}

static const struct ttrpc_method task_methods[] = {
    {"Connect", &containerd__task__v2__connect_request__descriptor, h_connect},
    {"Shutdown", &containerd__task__v2__shutdown_request__descriptor, h_shutdown},
    {"Kill", &containerd__task__v2__kill_request__descriptor, h_kill},
};

/* --- plumbing -------------------------------------------------------------- */

static struct ttrpc_service svc;

static void fx_setup(struct fixture *fx)
{
        memset(fx, 0, sizeof(*fx));
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/ttrpc-test-XXXXXX");
        CHECK(mkdtemp(fx->dir) != NULL);
        snprintf(fx->path, sizeof(fx->path), "%s/s.sock", fx->dir);
        fx->base = event_base_new();
        svc = (struct ttrpc_service){TASK, task_methods, 3, fx};
        fx->srv = ttrpc_server_new(fx->base, test_listen_at(fx->path), &svc, 1, NULL);
        CHECK(fx->srv != NULL);
}

static void fx_teardown(struct fixture *fx)
{
        fx->srv = ttrpc_server_free(fx->srv);
        event_base_free(fx->base);
        unlink(fx->path);
        rmdir(fx->dir);
}

static void pump(struct fixture *fx, int ms)
{
        for (int i = 0; i < ms; i++) {
                event_base_loop(fx->base, EVLOOP_NONBLOCK);
                usleep(1000);
        }
}

static int raw_connect(struct fixture *fx)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->path);
        CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
        pump(fx, 2); /* accept */
        return fd;
}

static void put32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Builds header + body of a request frame with the client deadline
 * `timeout_nano` (0: none); returns its total length. */
static size_t build_request_deadline(uint8_t *out, size_t cap, uint32_t stream, const char *service,
                                     const char *method, const ProtobufCMessage *msg,
                                     int64_t timeout_nano)
{
        Ttrpc__Request req;
        ttrpc__request__init(&req);
        Ttrpc__KeyValue kv;
        ttrpc__key_value__init(&kv);
        Ttrpc__KeyValue *kvs[1] = {&kv};
        uint8_t payload[512];
        size_t len;

        req.service = (char *)(uintptr_t)service;
        req.method = (char *)(uintptr_t)method;
        req.timeout_nano = timeout_nano;
        if (msg) {
                req.payload.len = protobuf_c_message_pack(msg, payload);
                req.payload.data = payload;
        }
        kv.key = (char *)"containerd-namespace-ttrpc";
        kv.value = (char *)"k8s.io";
        req.n_metadata = 1;
        req.metadata = kvs;
        len = ttrpc__request__get_packed_size(&req);
        CHECK(len + 10 <= cap);
        put32(out, (uint32_t)len);
        put32(out + 4, stream);
        out[8] = 1;
        out[9] = 0;
        ttrpc__request__pack(&req, out + 10);
        return len + 10;
}

static size_t build_request(uint8_t *out, size_t cap, uint32_t stream, const char *service,
                            const char *method, const ProtobufCMessage *msg)
{
        return build_request_deadline(out, cap, stream, service, method, msg, 0);
}

static size_t build_connect_deadline(uint8_t *out, size_t cap, uint32_t stream, const char *id,
                                     int64_t timeout_nano)
{
        Containerd__Task__V2__ConnectRequest req;

        containerd__task__v2__connect_request__init(&req);
        req.id = (char *)(uintptr_t)id;
        return build_request_deadline(out, cap, stream, TASK, "Connect", &req.base, timeout_nano);
}

static size_t build_connect(uint8_t *out, size_t cap, uint32_t stream, const char *id)
{
        Containerd__Task__V2__ConnectRequest req;
        containerd__task__v2__connect_request__init(&req);

        req.id = (char *)(uintptr_t)id;
        return build_request(out, cap, stream, TASK, "Connect", &req.base);
}

static void write_all(struct fixture *fx, int fd, const uint8_t *p, size_t len)
{
        while (len) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EAGAIN) {
                        pump(fx, 1);
                        continue;
                }
                CHECK(n > 0);
                if (n <= 0)
                        return;
                p += n;
                len -= (size_t)n;
        }
}

struct reply {
        uint32_t stream;
        uint8_t type;
        uint32_t len;
        Ttrpc__Response *resp;
};

/* Reads one whole frame from the raw client, pumping the server meanwhile.
 * Returns 0, or -1 on EOF/timeout. */
static int read_reply(struct fixture *fx, int fd, struct reply *r)
{
        uint8_t buf[1024];
        size_t have = 0, need = 10;

        memset(r, 0, sizeof(*r));
        for (int i = 0; i < 3000 && have < need; i++) {
                ssize_t n = read(fd, buf + have, need - have);

                if (n == 0)
                        return -1;
                if (n < 0) {
                        pump(fx, 1);
                        continue;
                }
                have += (size_t)n;
                if (have == 10 && need == 10) {
                        need = 10 + get32(buf);
                        if (need > sizeof(buf))
                                return -1;
                }
        }
        if (have < need)
                return -1;
        r->len = get32(buf);
        r->stream = get32(buf + 4);
        r->type = buf[8];
        r->resp = ttrpc__response__unpack(NULL, r->len, buf + 10);
        return r->resp ? 0 : -1;
}

static void reply_free(struct reply *r)
{
        if (r->resp)
                ttrpc__response__free_unpacked(r->resp, NULL);
        r->resp = NULL;
}

/* Expects a successful Connect reply on `stream` with task_pid `pid`. */
static void expect_connect(struct fixture *fx, int fd, uint32_t stream, uint32_t pid)
{
        Containerd__Task__V2__ConnectResponse *cr;
        struct reply r;

        CHECK(read_reply(fx, fd, &r) == 0);
        if (!r.resp)
                return;
        CHECK_INTEQ(r.stream, stream);
        CHECK_INTEQ(r.type, 2);
        CHECK(r.resp->status == NULL);
        cr = containerd__task__v2__connect_response__unpack(NULL, r.resp->payload.len,
                                                            r.resp->payload.data);
        CHECK(cr != NULL);
        if (cr) {
                CHECK_INTEQ(cr->shim_pid, 4242);
                CHECK_INTEQ(cr->task_pid, pid);
                containerd__task__v2__connect_response__free_unpacked(cr, NULL);
        }
        reply_free(&r);
}

static void expect_status(struct fixture *fx, int fd, uint32_t stream, int code, const char *msg)
{
        struct reply r;

        CHECK(read_reply(fx, fd, &r) == 0);
        if (!r.resp)
                return;
        CHECK_INTEQ(r.stream, stream);
        CHECK(r.resp->status != NULL);
        if (r.resp->status) {
                CHECK_INTEQ(r.resp->status->code, code);
                CHECK(strncmp(r.resp->status->message, msg, strlen(msg)) == 0);
        }
        CHECK_INTEQ(r.resp->payload.len, 0);
        reply_free(&r);
}

/* --- server tests ---------------------------------------------------------- */

static void test_frame_codec(void)
{
        uint8_t b[10];
        struct ttrpc_header h = {.len = 0x01020304, .stream = 0xa0b0c0d1, .type = 2, .flags = 7};
        struct ttrpc_header d;
        struct ttrpc_reader rd;
        struct ttrpc_frame f;

        ttrpc_header_encode(b, &h);
        CHECK(memcmp(b, "\x01\x02\x03\x04\xa0\xb0\xc0\xd1\x02\x07", 10) == 0);
        ttrpc_header_decode(b, &d);
        CHECK(d.len == h.len && d.stream == h.stream && d.type == 2 && d.flags == 7);

        /* The protocol notes' example frame, fed one byte at a time. */
        static const uint8_t ex[] = "\x00\x00\x00\x28\x00\x00\x00\x01\x01\x00"
                                    "\x0a\x17" TASK "\x12\x07"
                                    "Connect\x1a\x04\x0a\x02p1";
        ttrpc_reader_init(&rd, 64);
        for (size_t i = 0; i < sizeof(ex) - 2; i++) {
                CHECK(ttrpc_reader_feed(&rd, ex + i, 1) == 0);
                CHECK(ttrpc_reader_next(&rd, &f) == TTRPC_READ_NEED_MORE);
        }
        CHECK(ttrpc_reader_feed(&rd, ex + sizeof(ex) - 2, 1) == 0);
        CHECK(ttrpc_reader_next(&rd, &f) == TTRPC_READ_FRAME);
        CHECK_INTEQ(f.hdr.len, 40);
        CHECK(memcmp(f.body, ex + 10, 40) == 0);
        CHECK(ttrpc_reader_next(&rd, &f) == TTRPC_READ_NEED_MORE);
        /* Over the (small) limit: reported once, body skipped, then in sync. */
        CHECK(ttrpc_reader_feed(&rd, (const uint8_t *)"\x00\x00\x00\x50\x00\x00\x00\x03\x01\x00",
                                10) == 0);
        CHECK(ttrpc_reader_next(&rd, &f) == TTRPC_READ_OVERSIZE);
        CHECK_INTEQ(f.hdr.stream, 3);
        uint8_t junk[0x50];
        memset(junk, 0xee, sizeof(junk));
        CHECK(ttrpc_reader_feed(&rd, junk, sizeof(junk)) == 0);
        CHECK(ttrpc_reader_feed(&rd, ex, sizeof(ex) - 1) == 0);
        CHECK(ttrpc_reader_next(&rd, &f) == TTRPC_READ_FRAME);
        CHECK_INTEQ(f.hdr.stream, 1);
        CHECK(rd.buf.cap <= TTRPC_READER_INITIAL);
        ttrpc_reader_release(&rd);
}

static void test_valid_request(void)
{
        struct fixture fx;
        uint8_t buf[512];
        size_t n;
        int fd;

        fx_setup(&fx);
        fd = raw_connect(&fx);
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 1);
        n = build_connect(buf, sizeof(buf), 1, "p1");
        write_all(&fx, fd, buf, n);
        expect_connect(&fx, fd, 1, 2);
        CHECK_STREQ(fx.ns, "k8s.io");

        /* The same request, one byte per write. */
        n = build_connect(buf, sizeof(buf), 3, "abc");
        for (size_t i = 0; i < n; i++) {
                write_all(&fx, fd, buf + i, 1);
                pump(&fx, 1);
        }
        expect_connect(&fx, fd, 3, 3);

        /* Two requests in one write. */
        n = build_connect(buf, sizeof(buf), 5, "four");
        n += build_connect(buf + n, sizeof(buf) - n, 7, "fiver");
        write_all(&fx, fd, buf, n);
        expect_connect(&fx, fd, 5, 4);
        expect_connect(&fx, fd, 7, 5);
        CHECK_INTEQ(fx.handled, 4);
        close(fd);
        pump(&fx, 5);
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 0);
        fx_teardown(&fx);
}

static void test_empty_reply_and_errors(void)
{
        Containerd__Task__V2__ShutdownRequest sd;
        containerd__task__v2__shutdown_request__init(&sd);
        struct fixture fx;
        struct reply r;
        uint8_t buf[512];
        size_t n;
        int fd;

        fx_setup(&fx);
        fd = raw_connect(&fx);
        /* Empty reply: a frame of length 0. */
        n = build_request(buf, sizeof(buf), 1, TASK, "Shutdown", &sd.base);
        write_all(&fx, fd, buf, n);
        CHECK(read_reply(&fx, fd, &r) == 0);
        CHECK_INTEQ(r.len, 0);
        CHECK_INTEQ(r.stream, 1);
        reply_free(&r);

        n = build_request(buf, sizeof(buf), 3, TASK, "Kill", NULL);
        write_all(&fx, fd, buf, n);
        expect_status(&fx, fd, 3, PS_NOT_FOUND, "process does not exist x: not found");

        n = build_request(buf, sizeof(buf), 5, "no.such.Service", "Connect", NULL);
        write_all(&fx, fd, buf, n);
        expect_status(&fx, fd, 5, PS_UNIMPLEMENTED, "service no.such.Service");

        n = build_request(buf, sizeof(buf), 7, TASK, "Nope", NULL);
        write_all(&fx, fd, buf, n);
        expect_status(&fx, fd, 7, PS_UNIMPLEMENTED, "method Nope");

        /* A payload that is not a ConnectRequest (truncated varint field). */
        Ttrpc__Request req;
        ttrpc__request__init(&req);
        req.service = (char *)TASK;
        req.method = (char *)"Connect";
        req.payload.data = (uint8_t *)"\x0a\x7f\x01";
        req.payload.len = 3;
        n = ttrpc__request__pack(&req, buf + 10);
        put32(buf, (uint32_t)n);
        put32(buf + 4, 9);
        buf[8] = 1;
        buf[9] = 0;
        write_all(&fx, fd, buf, n + 10);
        expect_status(&fx, fd, 9, PS_INVALID_ARGUMENT, "unmarshal request error");

        /* An envelope that is not a ttrpc.Request at all. */
        write_all(&fx, fd, (const uint8_t *)"\x00\x00\x00\x03\x00\x00\x00\x0b\x01\x00\xff\xff\xff",
                  13);
        expect_status(&fx, fd, 11, PS_INVALID_ARGUMENT, "unmarshal request error");

        /* Even stream id: an error, and the connection stays usable. */
        n = build_connect(buf, sizeof(buf), 12, "x");
        write_all(&fx, fd, buf, n);
        expect_status(&fx, fd, 12, PS_INVALID_ARGUMENT,
                      "StreamID must be odd for client initiated streams");

        /* A frame of another type is ignored. */
        n = build_connect(buf, sizeof(buf), 13, "x");
        buf[8] = 2;
        n += build_connect(buf + n, sizeof(buf) - n, 15, "xy");
        write_all(&fx, fd, buf, n);
        expect_connect(&fx, fd, 15, 2);
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 1);
        close(fd);
        fx_teardown(&fx);
}

static void test_oversize(void)
{
        struct fixture fx;
        uint8_t hdr[10], buf[512];
        size_t big = 5u << 20, n;
        _cleanup_free_ uint8_t *body = calloc(1, big);
        int fd;

        fx_setup(&fx);
        fd = raw_connect(&fx);
        put32(hdr, (uint32_t)big);
        put32(hdr + 4, 1);
        hdr[8] = 1;
        hdr[9] = 0;
        write_all(&fx, fd, hdr, 10);
        write_all(&fx, fd, body, big);
        n = build_connect(buf, sizeof(buf), 3, "after");
        write_all(&fx, fd, buf, n);
        expect_status(&fx, fd, 1, PS_RESOURCE_EXHAUSTED, "message length 5242880 exceed");
        expect_connect(&fx, fd, 3, 5);
        close(fd);
        fx_teardown(&fx);
}

static void test_parked_out_of_order(void)
{
        struct fixture fx;
        uint8_t buf[512];
        size_t n;
        int fd;

        fx_setup(&fx);
        fd = raw_connect(&fx);
        n = build_connect(buf, sizeof(buf), 1, "park");
        n += build_connect(buf + n, sizeof(buf) - n, 3, "quick");
        write_all(&fx, fd, buf, n);
        expect_connect(&fx, fd, 3, 5);
        CHECK(fx.parked != NULL);
        if (fx.parked) {
                reply_connect(fx.parked, 77);
                fx.parked = NULL;
        }
        expect_connect(&fx, fd, 1, 77);
        CHECK_INTEQ(fx.cancelled, 0);

        /* Peer hangs up with a parked call: the cancel callback runs once. */
        n = build_connect(buf, sizeof(buf), 5, "park");
        write_all(&fx, fd, buf, n);
        pump(&fx, 5);
        CHECK(fx.parked != NULL);
        close(fd);
        pump(&fx, 5);
        CHECK_INTEQ(fx.cancelled, 1);
        CHECK(fx.parked == NULL);
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 0);

        /* A parked call is also cancelled when the server goes away. */
        fd = raw_connect(&fx);
        n = build_connect(buf, sizeof(buf), 1, "park");
        write_all(&fx, fd, buf, n);
        pump(&fx, 5);
        CHECK(fx.parked != NULL);
        fx.srv = ttrpc_server_free(fx.srv);
        CHECK_INTEQ(fx.cancelled, 2);
        close(fd);
        fx_teardown(&fx);
}

/* A parked call whose client deadline (timeout_nano) passes is cancelled
 * and answered DEADLINE_EXCEEDED; a call answered in time is unaffected and
 * its timer goes with it. */
static void test_deadline(void)
{
        struct fixture fx;
        uint8_t buf[512];
        size_t n;
        int fd;

        fx_setup(&fx);
        fd = raw_connect(&fx);
        n = build_connect_deadline(buf, sizeof(buf), 1, "park", 50 * 1000 * 1000);
        n += build_connect_deadline(buf + n, sizeof(buf) - n, 3, "quick", 50 * 1000 * 1000);
        write_all(&fx, fd, buf, n);
        expect_connect(&fx, fd, 3, 5);
        CHECK(fx.parked != NULL);
        CHECK_INTEQ(fx.cancelled, 0);
        expect_status(&fx, fd, 1, PS_DEADLINE_EXCEEDED, "context deadline exceeded");
        CHECK_INTEQ(fx.cancelled, 1);
        CHECK(fx.parked == NULL);

        /* Answered before its deadline: no late DEADLINE_EXCEEDED follows. */
        n = build_connect_deadline(buf, sizeof(buf), 5, "park", 100 * 1000 * 1000);
        write_all(&fx, fd, buf, n);
        pump(&fx, 5);
        CHECK(fx.parked != NULL);
        if (fx.parked) {
                reply_connect(fx.parked, 9);
                fx.parked = NULL;
        }
        expect_connect(&fx, fd, 5, 9);
        pump(&fx, 150);
        n = build_connect(buf, sizeof(buf), 7, "abc");
        write_all(&fx, fd, buf, n);
        expect_connect(&fx, fd, 7, 3); /* the next frame is this one's reply */
        CHECK_INTEQ(fx.cancelled, 1);
        close(fd);
        fx_teardown(&fx);
}

/* One connection cannot park calls without bound, and the server does not
 * keep connections without bound; both limits leave the others served. */
static void test_limits(void)
{
        struct fixture fx;
        uint8_t buf[512];
        int fds[257], fd;
        size_t n;
        char c;

        fx_setup(&fx);
        fd = raw_connect(&fx);
        for (uint32_t i = 0; i < 4096; i++) {
                n = build_connect(buf, sizeof(buf), 2 * i + 1, "hold");
                write_all(&fx, fd, buf, n);
        }
        pump(&fx, 20);
        CHECK_INTEQ(fx.held, 4096);
        n = build_connect(buf, sizeof(buf), 2 * 4096 + 1, "quick");
        write_all(&fx, fd, buf, n);
        expect_status(&fx, fd, 2 * 4096 + 1, PS_RESOURCE_EXHAUSTED, "4096 calls already pending");
        CHECK_INTEQ(fx.handled, 4096);
        close(fd); /* frees the held calls (ASan and valgrind see leaks) */
        pump(&fx, 5);

        for (int i = 0; i < 256; i++)
                fds[i] = raw_connect(&fx);
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 256);
        fds[256] = raw_connect(&fx);
        pump(&fx, 5);
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 256);
        CHECK(fcntl(fds[256], F_SETFL, 0) == 0);
        CHECK(read(fds[256], &c, 1) == 0); /* closed by the server */
        n = build_connect(buf, sizeof(buf), 1, "abcd");
        write_all(&fx, fds[0], buf, n);
        expect_connect(&fx, fds[0], 1, 4);
        for (int i = 0; i < 257; i++)
                close(fds[i]);
        fx_teardown(&fx);
}

/* A peer with another uid is turned away (SO_PEERCRED). */
static void test_peer_uid(void)
{
        struct fixture fx;
        pid_t pid;
        int status = 0;

        if (geteuid() != 0) {
                fprintf(stderr, "skip test_peer_uid: needs root\n");
                return;
        }
        fx_setup(&fx);
        chmod(fx.dir, 0755);
        chmod(fx.path, 0777);
        pid = fork();
        if (pid == 0) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                char c;
                int fd;

                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx.path);
                fd = socket(AF_UNIX, SOCK_STREAM, 0);
                if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        _exit(3);
                /* The server must hang up on us. */
                _exit(read(fd, &c, 1) == 0 ? 0 : 4);
        }
        for (int i = 0; i < 3000 && waitpid(pid, &status, WNOHANG) == 0; i++)
                pump(&fx, 1);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 0);
        fx_teardown(&fx);
}

/* --- client tests ---------------------------------------------------------- */

struct result {
        int calls;
        int code;
        uint32_t task_pid;
        char msg[128];
};

static void on_done(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct result *r = data;
        Containerd__Task__V2__ConnectResponse *cr;

        r->calls++;
        r->code = err ? (int)err->code : 0;
        snprintf(r->msg, sizeof(r->msg), "%s", err && err->msg ? err->msg : "");
        if (err)
                return;
        cr = containerd__task__v2__connect_response__unpack(NULL, len, payload);
        if (cr) {
                r->task_pid = cr->task_pid;
                containerd__task__v2__connect_response__free_unpacked(cr, NULL);
        }
}

static int call_connect(struct ttrpc_client *c, const char *id, unsigned timeout_ms,
                        struct result *r)
{
        Containerd__Task__V2__ConnectRequest req;
        containerd__task__v2__connect_request__init(&req);
        struct ttrpc_kv md = {"containerd-namespace-ttrpc", "client-ns"};

        req.id = (char *)(uintptr_t)id;
        return ttrpc_client_call(c, TASK, "Connect", &req.base, &md, 1, timeout_ms, on_done, r,
                                 NULL);
}

static void wait_result(struct fixture *fx, struct result *r, int want)
{
        for (int i = 0; i < 3000 && r->calls < want; i++)
                pump(fx, 1);
        CHECK_INTEQ(r->calls, want);
}

static void test_client_roundtrip(void)
{
        struct fixture fx;
        struct result r1 = {0}, r2 = {0}, r3 = {0};
        struct ttrpc_client *c;
        _cleanup_free_ char *url = NULL;

        fx_setup(&fx);
        CHECK(asprintf(&url, "unix://%s", fx.path) > 0);
        c = ttrpc_client_new(fx.base, url, NULL);
        CHECK(c != NULL);
        if (!c) {
                fx_teardown(&fx);
                return;
        }
        CHECK(call_connect(c, "hello", 1000, &r1) == 0);
        CHECK(call_connect(c, "park", 0, &r2) == 0);
        CHECK(call_connect(c, "hi", 0, &r3) == 0);
        CHECK_INTEQ(r1.calls + r2.calls + r3.calls, 0); /* never synchronous */
        wait_result(&fx, &r1, 1);
        wait_result(&fx, &r3, 1);
        CHECK_INTEQ(r1.code, 0);
        CHECK_INTEQ(r1.task_pid, 5);
        CHECK_INTEQ(r3.task_pid, 2);
        CHECK_STREQ(fx.ns, "client-ns");
        CHECK(fx.parked != NULL);
        if (fx.parked) {
                reply_connect(fx.parked, 99);
                fx.parked = NULL;
        }
        wait_result(&fx, &r2, 1);
        CHECK_INTEQ(r2.task_pid, 99);

        /* Error statuses come through with their code and message. */
        Containerd__Task__V2__KillRequest kr;
        containerd__task__v2__kill_request__init(&kr);
        struct result r4 = {0};
        CHECK(ttrpc_client_call(c, TASK, "Kill", &kr.base, NULL, 0, 0, on_done, &r4, NULL) == 0);
        wait_result(&fx, &r4, 1);
        CHECK_INTEQ(r4.code, PS_NOT_FOUND);
        CHECK_STREQ(r4.msg, "process does not exist x: not found");

        /* The server goes away: pending calls fail UNAVAILABLE; a new
         * server on the same path is reached by the next call. */
        struct result r5 = {0}, r6 = {0};
        CHECK(call_connect(c, "park", 0, &r5) == 0);
        pump(&fx, 5);
        fx.srv = ttrpc_server_free(fx.srv);
        wait_result(&fx, &r5, 1);
        CHECK_INTEQ(r5.code, PS_UNAVAILABLE);
        unlink(fx.path);
        fx.srv = ttrpc_server_new(fx.base, test_listen_at(fx.path), &svc, 1, NULL);
        CHECK(call_connect(c, "again", 0, &r6) == 0);
        wait_result(&fx, &r6, 1);
        CHECK_INTEQ(r6.code, 0);
        CHECK_INTEQ(r6.task_pid, 5);
        c = ttrpc_client_free(c);
        fx_teardown(&fx);
}

static void test_client_unavailable_and_timeout(void)
{
        struct fixture fx;
        struct result r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0};
        struct ttrpc_client *c;
        char gone[160];
        struct timespec t0, t1;

        fx_setup(&fx);
        /* No such socket. */
        snprintf(gone, sizeof(gone), "%s/absent.sock", fx.dir);
        c = ttrpc_client_new(fx.base, gone, NULL);
        CHECK(call_connect(c, "x", 0, &r1) == 0);
        CHECK_INTEQ(r1.calls, 0);
        wait_result(&fx, &r1, 1);
        CHECK_INTEQ(r1.code, PS_UNAVAILABLE);
        c = ttrpc_client_free(c);

        /* A socket file nobody listens on: connection refused. */
        close(test_listen_at(gone));
        c = ttrpc_client_new(fx.base, gone, NULL);
        CHECK(call_connect(c, "x", 0, &r2) == 0);
        wait_result(&fx, &r2, 1);
        CHECK_INTEQ(r2.code, PS_UNAVAILABLE);
        CHECK(strstr(r2.msg, "refused") != NULL);
        c = ttrpc_client_free(c);
        unlink(gone);

        /* A parked call times out locally, and at the server too, which was
         * sent the deadline; the server's late DEADLINE_EXCEEDED answer is
         * ignored by the client. */
        c = ttrpc_client_new(fx.base, fx.path, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK(call_connect(c, "park", 150, &r3) == 0);
        wait_result(&fx, &r3, 1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        CHECK_INTEQ(r3.code, PS_DEADLINE_EXCEEDED);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        CHECK(ms >= 140 && ms < 2000);
        pump(&fx, 100);
        CHECK(fx.parked == NULL);
        CHECK_INTEQ(fx.cancelled, 1);
        CHECK_INTEQ(r3.calls, 1);

        /* Freeing the client cancels what is pending. */
        CHECK(call_connect(c, "park", 0, &r4) == 0);
        pump(&fx, 5);
        c = ttrpc_client_free(c);
        CHECK_INTEQ(r4.calls, 1);
        CHECK_INTEQ(r4.code, PS_CANCELLED);
        pump(&fx, 5);
        CHECK_INTEQ(fx.cancelled, 2);
        fx_teardown(&fx);
}

/* A guest agent's port is a character device: no peer credentials, and
 * write(2) where send(2) fails with ENOTSOCK. A raw pty pair stands in for
 * it: the server holds the master, the test speaks on the slave. */
static void test_port_char_device(void)
{
        struct fixture fx;
        struct termios t;
        uint8_t buf[512];
        size_t n;
        int master, slave;

        fx_setup(&fx);
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
        slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        CHECK(slave >= 0 && tcgetattr(slave, &t) == 0);
        cfmakeraw(&t);
        CHECK(tcsetattr(slave, TCSANOW, &t) == 0);
        CHECK(ttrpc_server_adopt_port(fx.srv, master, NULL) == 0);
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 1);
        n = build_connect(buf, sizeof(buf), 1, "p1");
        write_all(&fx, slave, buf, n);
        expect_connect(&fx, slave, 1, 2);
        close(slave);
        fx_teardown(&fx);
}

/* EOF on a port means the host end is closed for now (a virtio-serial port
 * reads EOF until the host connects): the connection and its parked calls
 * stay, and an answer still goes out. A socket pair whose peer shuts down
 * its writing half shows the same EOF. */
static void test_port_survives_eof(void)
{
        struct fixture fx;
        uint8_t buf[512];
        size_t n;
        int sv[2];

        fx_setup(&fx);
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
        CHECK(ttrpc_server_adopt_port(fx.srv, sv[0], NULL) == 0);
        n = build_connect(buf, sizeof(buf), 1, "park");
        n += build_connect(buf + n, sizeof(buf) - n, 3, "p1");
        write_all(&fx, sv[1], buf, n);
        expect_connect(&fx, sv[1], 3, 2);
        CHECK(fx.parked != NULL);
        CHECK(shutdown(sv[1], SHUT_WR) == 0);
        pump(&fx, 60); /* EOF read, and read again after the 20 ms pause */
        CHECK_INTEQ(ttrpc_server_connections(fx.srv), 1);
        CHECK_INTEQ(fx.cancelled, 0);
        if (fx.parked) {
                reply_connect(fx.parked, 7);
                fx.parked = NULL;
                expect_connect(&fx, sv[1], 1, 7);
        }
        fx_teardown(&fx);
        close(sv[1]);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        RUN(test_frame_codec);
        RUN(test_valid_request);
        RUN(test_empty_reply_and_errors);
        RUN(test_oversize);
        RUN(test_parked_out_of_order);
        RUN(test_deadline);
        RUN(test_limits);
        RUN(test_peer_uid);
        RUN(test_client_roundtrip);
        RUN(test_client_unavailable_and_timeout);
        RUN(test_port_char_device);
        RUN(test_port_survives_eof);
        return check_summary();
}
