#include "agent/streams.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/log.h"

#define FIRST_ALLOC (64u << 10) /* a buffer grows from this to PS_AGENT_STREAM_BUFFER */
/* Reads per wakeup before yielding to the loop's other events: a container
 * writing as fast as we read must not starve the agent's calls. */
#define ROUNDS 16

enum { IN = 0, OUT = 1, ERR = 2 };

struct out {
        int fd; /* our read end; -1 without one, or once at EOF */
        struct event *ev;
        bool present, reading, eof;
        uint8_t *buf; /* bytes [base, base + len) of the stream at buf + start */
        size_t start, len, alloc;
        uint64_t base;
        ps_agent_read_fn fn; /* the waiting read: its offset is base */
        void *data;
        size_t max;
        bool s_pty; /* reads a pty master, whose end is EIO */
};

struct ps_agent_streams {
        int cfds[3]; /* the container ends, until started */
        struct out out[2];
        int in_fd; /* our write end of stdin; -1 without one or once closed */
        struct event *in_ev;
        bool in_present;
        uint64_t in_taken;     /* bytes of stdin in the pipe so far */
        uint8_t *wbuf;         /* the waiting write's bytes not taken yet */
        size_t wlen, wprefix;  /* and how many of its request were taken before */
        ps_agent_write_fn wfn; /* the waiting write */
        void *wdata;
        int pty; /* a terminal's master (resize); -1 for pipes */
};

static const struct ps_err not_found = {.code = PS_NOT_FOUND,
                                        .msg = (char *)(uintptr_t) "the container is gone"};
static const struct ps_err took_over = {.code = PS_FAILED_PRECONDITION,
                                        .msg = (char *)(uintptr_t) "a newer call took over"};
static const struct ps_err stdin_closed = {.code = PS_FAILED_PRECONDITION,
                                           .msg = (char *)(uintptr_t) "stdin is closed"};

static int set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);

        return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- output -------------------------------------------------------------- */

static void out_set_reading(struct out *o)
{
        bool want = o->fd >= 0 && o->len < PS_AGENT_STREAM_BUFFER;

        if (want == o->reading)
                return;
        if (want)
                event_add(o->ev, NULL);
        else
                event_del(o->ev);
        o->reading = want;
}

/* Answers the waiting read if bytes at its offset exist or the stream ended. */
static void out_answer(struct out *o)
{
        ps_agent_read_fn fn = o->fn;
        size_t n = o->len < o->max ? o->len : o->max;

        if (!fn || (n == 0 && !o->eof))
                return;
        o->fn = NULL;
        fn(o->data, NULL, n ? o->buf + o->start : NULL, n, o->base + n, o->eof && n == o->len);
}

/* Room behind the buffered bytes: moved to the front, or grown. */
static size_t out_room(struct out *o)
{
        if (o->start + o->len == o->alloc && o->start > 0) {
                memmove(o->buf, o->buf + o->start, o->len);
                o->start = 0;
        }
        if (o->start + o->len == o->alloc && o->alloc < PS_AGENT_STREAM_BUFFER) {
                size_t grown = o->alloc ? o->alloc * 2 : FIRST_ALLOC;
                uint8_t *b;

                if (grown > PS_AGENT_STREAM_BUFFER)
                        grown = PS_AGENT_STREAM_BUFFER;
                b = realloc(o->buf, grown);
                if (b) {
                        o->buf = b;
                        o->alloc = grown;
                }
        }
        return o->alloc - o->start - o->len;
}

static void out_ended(struct out *o, const char *why)
{
        if (why)
                ps_log_warn("agent: reading a container's output: %s", why);
        o->eof = true;
        event_del(o->ev);
        o->reading = false;
        o->fd = ps_close(o->fd);
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
        struct out *o = arg;

        for (int i = 0; i < ROUNDS && o->fd >= 0; i++) {
                size_t room = o->len < PS_AGENT_STREAM_BUFFER ? out_room(o) : 0;
                ssize_t n;

                if (room == 0)
                        break; /* full (or out of memory): the pipe holds the rest */
                n = read(o->fd, o->buf + o->start + o->len, room);
                if (n > 0) {
                        o->len += (size_t)n;
                } else if (n == 0) {
                        out_ended(o, NULL);
                } else if (errno == EAGAIN) {
                        break;
                } else if (errno == EIO && o->s_pty) {
                        out_ended(o, NULL); /* a pty master: the last slave fd closed */
                } else if (errno != EINTR) {
                        out_ended(o, strerror(errno));
                }
        }
        out_set_reading(o);
        out_answer(o);
}

int ps_agent_streams_read(struct ps_agent_streams *s, enum ps_agent_stream which, uint64_t offset,
                          size_t max, ps_agent_read_fn fn, void *data, struct ps_err **err)
{
        struct out *o = (unsigned)which <= PS_AGENT_STDERR ? &s->out[which] : NULL;
        uint64_t k;

        if (!o || !o->present)
                return ps_err_set(err, PS_NOT_FOUND, "no %s pipe",
                                  which == PS_AGENT_STDERR ? "stderr" : "such output");
        if (offset < o->base)
                return ps_err_set(err, PS_OUT_OF_RANGE,
                                  "offset %llu: bytes below %llu were acknowledged",
                                  (unsigned long long)offset, (unsigned long long)o->base);
        if (offset - o->base > o->len)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "offset %llu: only %llu bytes so far",
                                  (unsigned long long)offset,
                                  (unsigned long long)(o->base + o->len));
        k = offset - o->base; /* acknowledged: freed */
        o->start = o->len == k ? 0 : o->start + k;
        o->len -= k;
        o->base = offset;
        out_set_reading(o);
        if (o->fn) {
                ps_agent_read_fn old = o->fn;

                o->fn = NULL;
                old(o->data, &took_over, NULL, 0, 0, false);
        }
        o->fn = fn;
        o->data = data;
        o->max = max == 0 || max > PS_AGENT_READ_MAX ? PS_AGENT_READ_MAX : max;
        out_answer(o);
        return 0;
}

/* ---- stdin --------------------------------------------------------------- */

/* Ends the waiting write with err (NULL: answered with what it took). */
static void in_answer(struct ps_agent_streams *s, const struct ps_err *err, size_t taken)
{
        ps_agent_write_fn fn = s->wfn;

        s->wfn = NULL;
        free(s->wbuf);
        s->wbuf = NULL;
        s->wlen = 0;
        if (s->in_ev)
                event_del(s->in_ev);
        if (fn)
                fn(s->wdata, err, taken);
}

static void in_close(struct ps_agent_streams *s)
{
        if (s->wfn)
                in_answer(s, &stdin_closed, 0);
        s->in_fd = ps_close(s->in_fd);
}

/* One write to the pipe: >0 taken, 0 full, -1 broken (stdin closed). */
static ssize_t in_put(struct ps_agent_streams *s, const uint8_t *bytes, size_t n)
{
        ssize_t k;

        do
                k = write(s->in_fd, bytes, n);
        while (k < 0 && errno == EINTR);
        if (k > 0) {
                s->in_taken += (uint64_t)k;
                return k;
        }
        if (k < 0 && errno == EAGAIN)
                return 0;
        ps_log_debug("agent: a container's stdin: %m");
        return -1;
}

static void on_in(evutil_socket_t fd, short what, void *arg)
{
        struct ps_agent_streams *s = arg;
        ssize_t k;

        if (!s->wfn)
                return;
        k = in_put(s, s->wbuf, s->wlen);
        if (k > 0)
                in_answer(s, NULL, s->wprefix + (size_t)k);
        else if (k < 0)
                in_close(s);
}

int ps_agent_streams_write(struct ps_agent_streams *s, uint64_t offset, const uint8_t *bytes,
                           size_t n, ps_agent_write_fn fn, void *data, struct ps_err **err)
{
        size_t skip;
        ssize_t k;

        if (!s->in_present)
                return ps_err_set(err, PS_NOT_FOUND, "no stdin pipe");
        if (n == 0 || n > PS_AGENT_STDIN_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%zu bytes: 1 to %u at a time", n,
                                  PS_AGENT_STDIN_MAX);
        if (offset > s->in_taken)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "offset %llu: only %llu bytes so far",
                                  (unsigned long long)offset, (unsigned long long)s->in_taken);
        if (s->wfn)
                in_answer(s, &took_over, 0);
        if (s->in_fd < 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "stdin is closed");
        skip = (size_t)(s->in_taken - offset);
        if (skip >= n) {
                fn(data, NULL, n); /* all of it was taken before */
                return 0;
        }
        k = in_put(s, bytes + skip, n - skip);
        if (k < 0) {
                in_close(s);
                return ps_err_set(err, PS_FAILED_PRECONDITION, "the container closed its stdin");
        }
        if (k > 0) {
                fn(data, NULL, skip + (size_t)k);
                return 0;
        }
        s->wbuf = malloc(n - skip);
        if (!s->wbuf)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "stdin");
        memcpy(s->wbuf, bytes + skip, n - skip);
        s->wlen = n - skip;
        s->wprefix = skip;
        s->wfn = fn;
        s->wdata = data;
        event_add(s->in_ev, NULL);
        return 0;
}

int ps_agent_streams_close_stdin(struct ps_agent_streams *s, struct ps_err **err)
{
        if (!s->in_present)
                return ps_err_set(err, PS_NOT_FOUND, "no stdin pipe");
        in_close(s);
        return 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

/* A pipe: the container's end blocking (it expects an ordinary fd), ours
 * non-blocking; both close-on-exec (the runtime gets its copy by dup2). */
static int make_pipe(bool to_container, int *ret_container, int *ret_ours, struct ps_err **err)
{
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_RESOURCE_EXHAUSTED, "pipe");
        *ret_container = to_container ? p[0] : p[1];
        *ret_ours = to_container ? p[1] : p[0];
        if (set_nonblock(*ret_ours) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "pipe");
        return 0;
}

struct ps_agent_streams *ps_agent_streams_new(struct event_base *base, const bool want[3],
                                              struct ps_err **err)
{
        struct ps_agent_streams *s = calloc(1, sizeof(*s));

        if (!s) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "stdio");
                return NULL;
        }
        *s = (struct ps_agent_streams){.cfds = {-1, -1, -1},
                                       .out = {{.fd = -1}, {.fd = -1}},
                                       .in_fd = -1,
                                       .in_present = want[IN],
                                       .pty = -1};
        if (want[IN] && (make_pipe(true, &s->cfds[IN], &s->in_fd, err) < 0 ||
                         !(s->in_ev = event_new(base, s->in_fd, EV_WRITE | EV_PERSIST, on_in, s))))
                goto fail;
        for (int i = OUT; i <= ERR; i++) {
                struct out *o = &s->out[i - OUT];

                if (!want[i])
                        continue;
                o->present = true;
                if (make_pipe(false, &s->cfds[i], &o->fd, err) < 0 ||
                    !(o->ev = event_new(base, o->fd, EV_READ | EV_PERSIST, on_out, o)))
                        goto fail;
                out_set_reading(o);
        }
        return s;
fail:
        if (err && !*err)
                ps_err_set(err, PS_RESOURCE_EXHAUSTED, "stdio events");
        return ps_agent_streams_free(s);
}

struct ps_agent_streams *ps_agent_streams_new_pty(struct event_base *base, int master,
                                                  struct ps_err **err)
{
        struct ps_agent_streams *s = calloc(1, sizeof(*s));
        struct out *o = s ? &s->out[0] : NULL;

        if (!s) {
                ps_close(master);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "stdio");
                return NULL;
        }
        *s = (struct ps_agent_streams){.cfds = {-1, -1, -1},
                                       .out = {{.fd = -1}, {.fd = -1}},
                                       .in_present = true,
                                       .pty = master};
        /* one open file description: O_NONBLOCK is set for all three */
        s->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
        o->fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
        o->present = o->s_pty = true;
        if (s->in_fd < 0 || o->fd < 0 || set_nonblock(master) < 0) {
                ps_err_errno(err, errno, PS_RESOURCE_EXHAUSTED, "pty");
                return ps_agent_streams_free(s);
        }
        s->in_ev = event_new(base, s->in_fd, EV_WRITE | EV_PERSIST, on_in, s);
        o->ev = event_new(base, o->fd, EV_READ | EV_PERSIST, on_out, o);
        if (!s->in_ev || !o->ev) {
                ps_err_set(err, PS_RESOURCE_EXHAUSTED, "stdio events");
                return ps_agent_streams_free(s);
        }
        out_set_reading(o);
        return s;
}

int ps_agent_streams_resize(struct ps_agent_streams *s, uint32_t width, uint32_t height,
                            struct ps_err **err)
{
        struct winsize ws = {.ws_row = (unsigned short)height, .ws_col = (unsigned short)width};

        if (s->pty < 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "no terminal");
        if (width > 0xffff || height > 0xffff)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%ux%u: too large", width, height);
        if (ioctl(s->pty, TIOCSWINSZ, &ws) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "resize the terminal");
        return 0;
}

void ps_agent_streams_fds(const struct ps_agent_streams *s, int fds[3])
{
        memcpy(fds, s->cfds, sizeof(s->cfds));
}

void ps_agent_streams_started(struct ps_agent_streams *s)
{
        for (int i = 0; i < 3; i++)
                s->cfds[i] = ps_close(s->cfds[i]);
}

struct ps_agent_streams *ps_agent_streams_free(struct ps_agent_streams *s)
{
        if (!s)
                return NULL;
        if (s->wfn)
                in_answer(s, &not_found, 0);
        for (int i = 0; i < 2; i++) {
                struct out *o = &s->out[i];
                ps_agent_read_fn fn = o->fn;

                o->fn = NULL;
                if (fn)
                        fn(o->data, &not_found, NULL, 0, 0, false);
                if (o->ev)
                        event_free(o->ev);
                ps_close(o->fd);
                free(o->buf);
        }
        if (s->in_ev)
                event_free(s->in_ev);
        ps_close(s->in_fd);
        ps_close(s->pty);
        for (int i = 0; i < 3; i++)
                ps_close(s->cfds[i]);
        free(s);
        return NULL;
}
