#include "sandbox/vm/stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "agent/client.h"
#include "base/cleanup.h"
#include "base/log.h"

#define READ_MAX   (256u << 10) /* agent/streams.h PS_AGENT_READ_MAX */
#define STDIN_MAX  (64u << 10)  /* bytes per WriteStdin */
#define RETRY_MS   100          /* a call that failed is sent again after this */
#define CLOSE_MS   10000        /* CloseStdin's deadline */
#define DRAIN_MS   2000         /* as the Linux backend's drain */
#define STALL_MS   2000         /* output end: no byte moved for this long */
#define OUT_END_MS 10000        /* output end: at the latest */
#define CHECK_MS   250

/* A call in flight. Freeing the stdio only unhooks it (o = NULL): the
 * client runs every callback once, and this is what it finds then. */
struct ticket {
        void *o;
};

struct vm_out {
        struct ps_vm_stdio *s;
        int stream;       /* 0 stdout, 1 stderr */
        int fd;           /* the pipe's write end; -1 without one, or once ended */
        struct event *ev; /* writable, while buf waits */
        struct event *retry;
        struct ticket *t;
        uint64_t offset; /* the next byte to ask for */
        uint8_t *buf;    /* an answer's bytes the pipe has not taken yet */
        size_t off, len;
        bool eof; /* the guest's stream ended at offset */
};

struct vm_in {
        struct ps_vm_stdio *s;
        int fd; /* the stdin pipe's read end; -1 without one, or once ended */
        struct event *ev, *retry;
        struct ticket *t;
        uint64_t offset; /* of buf[0] in the guest's stdin */
        uint8_t *buf;    /* STDIN_MAX bytes, only with a stdin */
        size_t len;
        bool eof, closed; /* the pipe's EOF; CloseStdin answered */
};

struct ps_vm_stdio {
        struct event_base *base;
        struct ps_stdio *local; /* the Linux backend's: FIFOs, relays, drain */
        char *id;
        char *exec_id; /* NULL: the container's init */
        ps_vm_agent_fn agent;
        void *agent_data;
        bool started, cut;
        struct vm_out out[2];
        struct vm_in in;
        void (*end_fn)(void *data); /* ps_vm_stdio_on_output_end */
        void *end_data;
        struct event *end_check, *end_fire;
        uint64_t end_since, last_move; /* CLOCK_MONOTONIC ms */
};

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void in_later(struct event *ev, unsigned ms)
{
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

        evtimer_add(ev, &tv);
}

static struct ticket *ticket_new(void *o)
{
        struct ticket *t = calloc(1, sizeof(*t));

        if (t)
                t->o = o;
        return t;
}

/* The callback's object, or NULL when the stdio is gone (t freed then). */
static void *ticket_take(struct ticket *t)
{
        void *o = t->o;

        free(t);
        return o;
}

static struct ps_agent_client *agent(const struct ps_vm_stdio *s)
{
        return s->cut || !s->agent ? NULL : s->agent(s->agent_data);
}

/* A transport error (or a newer call that took over): ask again. */
static bool transient(const struct ps_err *err)
{
        return err->code == PS_UNAVAILABLE || err->code == PS_CANCELLED ||
               err->code == PS_DEADLINE_EXCEEDED || err->code == PS_FAILED_PRECONDITION ||
               err->code == PS_RESOURCE_EXHAUSTED;
}

/* ---- output end ---------------------------------------------------------- */

static bool outputs_ended(const struct ps_vm_stdio *s)
{
        return s->out[0].fd < 0 && s->out[1].fd < 0;
}

static void end_check(struct ps_vm_stdio *s)
{
        uint64_t now = now_ms();

        if (!s->end_fn)
                return;
        if (outputs_ended(s) || now - s->last_move >= STALL_MS || now - s->end_since >= OUT_END_MS)
                event_active(s->end_fire, 0, 0);
}

static void on_end_fire(evutil_socket_t fd, short what, void *arg)
{
        struct ps_vm_stdio *s = arg;
        void (*fn)(void *) = s->end_fn;

        s->end_fn = NULL;
        evtimer_del(s->end_check);
        if (!outputs_ended(s))
                ps_log_debug("%s: reporting the exit before the guest's output ended", s->id);
        if (fn)
                fn(s->end_data);
}

static void on_end_check(evutil_socket_t fd, short what, void *arg)
{
        struct ps_vm_stdio *s = arg;

        end_check(s);
        if (s->end_fn)
                in_later(s->end_check, CHECK_MS);
}

void ps_vm_stdio_on_output_end(struct ps_vm_stdio *s, void (*fn)(void *data), void *data)
{
        s->end_fn = fn;
        s->end_data = data;
        s->end_since = s->last_move = now_ms();
        in_later(s->end_check, CHECK_MS);
        end_check(s);
}

/* ---- output -------------------------------------------------------------- */

static void out_ask(struct vm_out *o);

/* Nothing more goes into this pipe: the relay reads EOF after the rest. */
static void out_end(struct vm_out *o)
{
        o->fd = ps_close(o->fd);
        if (o->ev)
                event_del(o->ev);
        if (o->retry)
                evtimer_del(o->retry);
        o->len = 0;
        o->s->last_move = now_ms();
        end_check(o->s);
}

/* Writes what waits into the pipe: 1 all of it, 0 the pipe is full, -1 the
 * pipe is broken (the stream ended). */
static int out_flush(struct vm_out *o, const uint8_t *bytes, size_t *len)
{
        while (*len > 0) {
                ssize_t k = write(o->fd, bytes, *len);

                if (k > 0) {
                        bytes += k;
                        *len -= (size_t)k;
                        o->s->last_move = now_ms();
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return 0;
                ps_log_debug("%s: output pipe: %m", o->s->id);
                return -1;
        }
        return 1;
}

/* The answer's bytes are all in the pipe: EOF, or the next question. */
static void out_next(struct vm_out *o)
{
        if (o->eof)
                out_end(o);
        else
                out_ask(o);
}

static void on_out_writable(evutil_socket_t fd, short what, void *arg)
{
        struct vm_out *o = arg;
        size_t len = o->len;
        int r = out_flush(o, o->buf + o->off, &len);

        o->off += o->len - len;
        o->len = len;
        if (r < 0)
                return out_end(o);
        if (r == 0)
                return; /* still full: the event stays */
        event_del(o->ev);
        out_next(o);
}

/* An answer: into the pipe as far as it goes, the rest kept for later. */
static void out_take(struct vm_out *o, const uint8_t *bytes, size_t n)
{
        size_t left = n;
        int r = out_flush(o, bytes, &left);

        if (r < 0)
                return out_end(o);
        if (r == 0) {
                uint8_t *b = realloc(o->buf, left);

                if (!b) {
                        ps_log_warn("%s: out of memory: output lost", o->s->id);
                        return out_end(o);
                }
                o->buf = b;
                memcpy(b, bytes + (n - left), left);
                o->off = 0;
                o->len = left;
                event_add(o->ev, NULL);
                return;
        }
        out_next(o);
}

static void on_output(void *data, const struct ps_err *err, const uint8_t *bytes, size_t n,
                      uint64_t next, bool eof)
{
        struct vm_out *o = ticket_take(data);

        if (!o)
                return; /* the stdio is gone */
        o->t = NULL;
        if (err) {
                if (transient(err) && agent(o->s)) {
                        ps_log_debug("%s: ReadOutput: %s", o->s->id, ps_err_msg(err));
                        return in_later(o->retry, RETRY_MS);
                }
                if (err->code != PS_NOT_FOUND && err->code != PS_CANCELLED)
                        ps_log_warn("%s: output from the guest: %s", o->s->id, ps_err_msg(err));
                return out_end(o); /* the container or the VM is gone */
        }
        if (next != o->offset + n || (n == 0 && !eof) || n > READ_MAX) {
                ps_log_warn("%s: a malformed ReadOutput answer: output ends here", o->s->id);
                return out_end(o);
        }
        o->offset = next;
        o->eof = eof;
        o->s->last_move = now_ms();
        out_take(o, bytes, n);
}

static void out_ask(struct vm_out *o)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_client *a = agent(o->s);

        if (o->fd < 0 || o->t || o->len > 0)
                return;
        if (!a)
                return out_end(o); /* the VM is gone: so is the guest's end */
        o->t = ticket_new(o);
        if (!o->t || ps_agent_client_read_output(a, o->s->id, o->s->exec_id, o->stream, o->offset,
                                                 READ_MAX, on_output, o->t, &err) < 0) {
                ps_log_debug("%s: ReadOutput: %s", o->s->id, err ? ps_err_msg(err) : "no memory");
                free(o->t);
                o->t = NULL;
                in_later(o->retry, RETRY_MS);
        }
}

static void on_out_retry(evutil_socket_t fd, short what, void *arg)
{
        out_ask(arg);
}

/* ---- stdin --------------------------------------------------------------- */

static void in_send(struct vm_in *in);

/* Nothing more goes to the guest: the pipe's read end closed, so the
 * relay from the FIFO ends with EPIPE as on the host. */
static void in_end(struct vm_in *in)
{
        in->fd = ps_close(in->fd);
        if (in->ev)
                event_del(in->ev);
        if (in->retry)
                evtimer_del(in->retry);
        in->len = 0;
        in->closed = true;
}

static void in_retry_or_end(struct vm_in *in, const struct ps_err *err, const char *what)
{
        if (transient(err) && err->code != PS_FAILED_PRECONDITION && agent(in->s)) {
                ps_log_debug("%s: %s: %s", in->s->id, what, ps_err_msg(err));
                return in_later(in->retry, RETRY_MS);
        }
        ps_log_debug("%s: stdin ends: %s: %s", in->s->id, what, ps_err_msg(err));
        in_end(in);
}

static void on_closed(void *data, const struct ps_err *err)
{
        struct vm_in *in = ticket_take(data);

        if (!in)
                return;
        in->t = NULL;
        if (err)
                return in_retry_or_end(in, err, "CloseStdin");
        in_end(in);
}

static void on_taken(void *data, const struct ps_err *err, size_t taken)
{
        struct vm_in *in = ticket_take(data);

        if (!in)
                return;
        in->t = NULL;
        if (err)
                return in_retry_or_end(in, err, "WriteStdin");
        if (taken == 0 || taken > in->len) {
                ps_log_warn("%s: a malformed WriteStdin answer: stdin ends here", in->s->id);
                return in_end(in);
        }
        in->offset += taken;
        in->len -= taken;
        memmove(in->buf, in->buf + taken, in->len);
        if (in->len > 0 || in->eof)
                return in_send(in);
        event_add(in->ev, NULL); /* the next chunk */
}

/* Sends what waits in buf, or CloseStdin after the pipe's EOF. */
static void in_send(struct vm_in *in)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_client *a = agent(in->s);
        int r;

        if (in->closed || in->t || (in->len == 0 && !in->eof))
                return;
        if (!a)
                return in_end(in);
        in->t = ticket_new(in);
        if (!in->t)
                r = ps_err_set(&err, PS_RESOURCE_EXHAUSTED, "out of memory");
        else if (in->len > 0)
                r = ps_agent_client_write_stdin(a, in->s->id, in->s->exec_id, in->offset, in->buf,
                                                in->len, on_taken, in->t, &err);
        else
                r = ps_agent_client_close_stdin(a, in->s->id, in->s->exec_id, CLOSE_MS, on_closed,
                                                in->t, &err);
        if (r < 0) {
                free(in->t);
                in->t = NULL;
                in_retry_or_end(in, err, "stdin");
        }
}

static void on_in_readable(evutil_socket_t fd, short what, void *arg)
{
        struct vm_in *in = arg;
        ssize_t n = read(in->fd, in->buf, STDIN_MAX);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        event_del(in->ev); /* until the agent took this chunk */
        if (n > 0) {
                in->len = (size_t)n;
        } else {
                /* EOF: the client closed the FIFO after CloseIO (or an error) */
                in->eof = true;
                in->fd = ps_close(in->fd);
        }
        in_send(in);
}

static void on_in_retry(evutil_socket_t fd, short what, void *arg)
{
        in_send(arg);
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Our copy of a process end of the host's pipes, non-blocking. */
static int take_end(int fd, int *ret, struct ps_err **err)
{
        int d, fl;

        *ret = -1;
        if (fd < 0)
                return 0;
        d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (d < 0 || (fl = fcntl(d, F_GETFL)) < 0 || fcntl(d, F_SETFL, fl | O_NONBLOCK) < 0) {
                ps_close(d);
                return ps_err_errno(err, errno, PS_RESOURCE_EXHAUSTED, "stdio pipe");
        }
        *ret = d;
        return 0;
}

static int events_new(struct ps_vm_stdio *s)
{
        struct vm_in *in = &s->in;

        s->end_check = evtimer_new(s->base, on_end_check, s);
        s->end_fire = event_new(s->base, -1, 0, on_end_fire, s);
        if (!s->end_check || !s->end_fire)
                return -1;
        for (int i = 0; i < 2; i++) {
                struct vm_out *o = &s->out[i];

                if (o->fd < 0)
                        continue;
                o->ev = event_new(s->base, o->fd, EV_WRITE | EV_PERSIST, on_out_writable, o);
                o->retry = evtimer_new(s->base, on_out_retry, o);
                if (!o->ev || !o->retry)
                        return -1;
        }
        if (in->fd >= 0) {
                in->buf = malloc(STDIN_MAX);
                in->ev = event_new(s->base, in->fd, EV_READ | EV_PERSIST, on_in_readable, in);
                in->retry = evtimer_new(s->base, on_in_retry, in);
                if (!in->buf || !in->ev || !in->retry)
                        return -1;
        }
        return 0;
}

struct ps_vm_stdio *ps_vm_stdio_new(struct event_base *base, struct ps_reaper *reaper,
                                    const struct ps_stdio_config *cfg, ps_stdio_ready_fn ready,
                                    void *data, struct ps_err **err)
{
        struct ps_vm_stdio *s;
        int fds[3];

        if (cfg->terminal) {
                ps_err_set(err, PS_UNIMPLEMENTED, "a terminal in a vm pod: not yet");
                return NULL;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm stdio");
                return NULL;
        }
        s->base = base;
        s->in = (struct vm_in){.s = s, .fd = -1};
        for (int i = 0; i < 2; i++)
                s->out[i] = (struct vm_out){.s = s, .stream = i, .fd = -1};
        s->local = ps_stdio_new(base, reaper, cfg, ready, data, err);
        if (!s->local)
                return ps_vm_stdio_free(s);
        ps_stdio_runtime_fds(s->local, fds);
        if (take_end(fds[0], &s->in.fd, err) < 0 || take_end(fds[1], &s->out[0].fd, err) < 0 ||
            take_end(fds[2], &s->out[1].fd, err) < 0)
                return ps_vm_stdio_free(s);
        if (events_new(s) < 0) {
                ps_err_set(err, PS_RESOURCE_EXHAUSTED, "vm stdio events");
                return ps_vm_stdio_free(s);
        }
        return s;
}

void ps_vm_stdio_wants(const struct ps_vm_stdio *s, bool want[3])
{
        want[0] = s->in.fd >= 0;
        want[1] = s->out[0].fd >= 0;
        want[2] = s->out[1].fd >= 0;
}

int ps_vm_stdio_start(struct ps_vm_stdio *s, const char *id, const char *exec_id,
                      ps_vm_agent_fn agent_fn, void *agent_data, struct ps_err **err)
{
        if (s->started)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "vm stdio already started");
        s->id = strdup(id);
        if (s->id && exec_id)
                s->exec_id = strdup(exec_id);
        if (!s->id || (exec_id && !s->exec_id))
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm stdio");
        /* The host's relays between its pipes and the FIFOs; its copies of
         * our ends are closed there, ours stay. */
        if (ps_stdio_started(s->local, err) < 0)
                return -1;
        s->started = true;
        s->agent = agent_fn;
        s->agent_data = agent_data;
        for (int i = 0; i < 2; i++)
                out_ask(&s->out[i]);
        if (s->in.fd >= 0)
                event_add(s->in.ev, NULL);
        return 0;
}

void ps_vm_stdio_close_stdin(struct ps_vm_stdio *s)
{
        ps_stdio_close_stdin(s->local);
}

/* Stops every exchange with the guest and closes our pipe ends. */
static void stop(struct ps_vm_stdio *s)
{
        s->cut = true;
        for (int i = 0; i < 2; i++) {
                struct vm_out *o = &s->out[i];

                if (o->t)
                        o->t->o = NULL;
                o->t = NULL;
                if (o->fd >= 0)
                        out_end(o);
        }
        if (s->in.t)
                s->in.t->o = NULL;
        s->in.t = NULL;
        if (!s->in.closed)
                in_end(&s->in);
}

void ps_vm_stdio_cut(struct ps_vm_stdio *s)
{
        void (*fn)(void *) = s->end_fn;

        stop(s);
        if (!fn)
                return;
        s->end_fn = NULL;
        evtimer_del(s->end_check);
        event_del(s->end_fire);
        fn(s->end_data);
}

void ps_vm_stdio_drain(struct ps_vm_stdio *s, void (*done)(void *data), void *data)
{
        stop(s);
        ps_stdio_drain(s->local, DRAIN_MS, done, data);
}

struct ps_vm_stdio *ps_vm_stdio_free(struct ps_vm_stdio *s)
{
        if (!s)
                return NULL;
        s->end_fn = NULL;
        stop(s);
        for (int i = 0; i < 2; i++) {
                if (s->out[i].ev)
                        event_free(s->out[i].ev);
                if (s->out[i].retry)
                        event_free(s->out[i].retry);
                free(s->out[i].buf);
        }
        if (s->in.ev)
                event_free(s->in.ev);
        if (s->in.retry)
                event_free(s->in.retry);
        free(s->in.buf);
        if (s->end_check)
                event_free(s->end_check);
        if (s->end_fire)
                event_free(s->end_fire);
        ps_stdio_free(s->local);
        free(s->id);
        free(s->exec_id);
        free(s);
        return NULL;
}
