#include "sandbox/linux/stdio_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/log.h"

#define RELAY_BUF    (32 * 1024)
#define SPLICE_CHUNK (64 * 1024)
/* Copies per wakeup before yielding to the other events of the loop: a
 * process that writes as fast as its reader reads must not starve the shim's
 * RPCs (16 splices of 64 KiB = 1 MiB per turn). */
#define ROUNDS 16

struct ps_relay {
        int in_fd, out_fd;
        bool in_et, out_et, eio_pause, eio_eof;
        bool discard_on_error, discarding;
        bool splice; /* false: copy through buf */
        bool ended;
        bool in_added, out_added;
        struct event *in_ev, *out_ev, *kick_ev;
        char *buf; /* RELAY_BUF bytes, copy engine only */
        size_t off, len;
        ps_relay_end_fn end;
        void *data;
};

enum step { STEP_PROGRESS, STEP_WAIT_IN, STEP_WAIT_OUT, STEP_END };

static bool is_pipe(int fd)
{
        struct stat st;

        return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* splice() says EAGAIN both for "input empty" and "output full"; the output's
 * poll state tells the two apart. A change between the two calls costs one
 * extra wakeup, never a missed one: both fds stay watched for what we wait on. */
static bool out_full(const struct ps_relay *r)
{
        struct pollfd p = {.fd = r->out_fd, .events = POLLOUT};

        if (poll(&p, 1, 0) < 0)
                return false;
        return !(p.revents & (POLLOUT | POLLERR | POLLHUP));
}

static int to_copy_engine(struct ps_relay *r)
{
        r->buf = malloc(RELAY_BUF);
        if (!r->buf)
                return -1;
        r->splice = false;
        r->off = r->len = 0;
        return 0;
}

static enum step fail(struct ps_relay *r, bool writing, int errnum, enum ps_relay_end *why,
                      int *ret_errnum)
{
        /* A broken output (disk full, ...) must not stop the writer for good:
         * keep reading and drop what cannot be written. */
        if (writing && r->discard_on_error && errnum != EPIPE) {
                ps_log_debug("relay output failed (%d), discarding from now on", errnum);
                r->discarding = true;
                r->off = r->len = 0;
                return STEP_PROGRESS;
        }
        *why = errnum == EPIPE ? PS_RELAY_EPIPE : PS_RELAY_ERROR;
        *ret_errnum = errnum;
        return STEP_END;
}

static enum step splice_step(struct ps_relay *r, enum ps_relay_end *why, int *errnum)
{
        ssize_t n = splice(r->in_fd, NULL, r->out_fd, NULL, SPLICE_CHUNK,
                           SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

        if (n > 0)
                return STEP_PROGRESS;
        if (n == 0) {
                *why = PS_RELAY_EOF;
                return STEP_END;
        }
        if (errno == EINTR)
                return STEP_PROGRESS;
        if (errno == EAGAIN)
                return out_full(r) ? STEP_WAIT_OUT : STEP_WAIT_IN;
        /* EINVAL: an output splice cannot write to (an O_APPEND file, some
         * file systems); copying through user space always works. */
        if ((errno == EINVAL || (errno != EPIPE && r->discard_on_error)) && to_copy_engine(r) == 0)
                return STEP_PROGRESS;
        return fail(r, false, errno, why, errnum);
}

static enum step copy_step(struct ps_relay *r, enum ps_relay_end *why, int *errnum)
{
        ssize_t n;

        if (r->discarding)
                r->len = 0;
        if (r->len > 0) {
                n = write(r->out_fd, r->buf + r->off, r->len);
                if (n >= 0) {
                        r->off += (size_t)n;
                        r->len -= (size_t)n;
                        return STEP_PROGRESS;
                }
                if (errno == EINTR)
                        return STEP_PROGRESS;
                if (errno == EAGAIN)
                        return STEP_WAIT_OUT;
                return fail(r, true, errno, why, errnum);
        }
        r->off = 0;
        n = read(r->in_fd, r->buf, RELAY_BUF);
        if (n > 0) {
                r->len = (size_t)n;
                return STEP_PROGRESS;
        }
        if (n == 0 || (errno == EIO && r->eio_pause && r->eio_eof)) {
                *why = PS_RELAY_EOF;
                return STEP_END;
        }
        if (errno == EINTR)
                return STEP_PROGRESS;
        /* EIO from a pty master: no slave is open right now. The edge-triggered
         * read event fires again when one is opened and written to. */
        if (errno == EAGAIN || (errno == EIO && r->eio_pause))
                return STEP_WAIT_IN;
        return fail(r, false, errno, why, errnum);
}

/* Level-triggered sides are watched only for what the relay waits on;
 * edge-triggered ones stay registered for good (they cannot spin). */
static void set_interest(struct ps_relay *r, bool want_out)
{
        bool want_in = r->in_et || !want_out;

        want_out = want_out || r->out_et;
        if (want_in != r->in_added) {
                if (want_in)
                        event_add(r->in_ev, NULL);
                else
                        event_del(r->in_ev);
                r->in_added = want_in;
        }
        if (want_out != r->out_added) {
                if (want_out)
                        event_add(r->out_ev, NULL);
                else
                        event_del(r->out_ev);
                r->out_added = want_out;
        }
}

static void stop(struct ps_relay *r)
{
        r->ended = true;
        event_del(r->in_ev);
        event_del(r->out_ev);
        event_del(r->kick_ev);
        r->in_added = r->out_added = false;
}

static void pump(struct ps_relay *r)
{
        enum ps_relay_end why = PS_RELAY_EOF;
        int errnum = 0;

        if (r->ended)
                return;
        for (int i = 0; i < ROUNDS; i++) {
                enum step s =
                    r->splice ? splice_step(r, &why, &errnum) : copy_step(r, &why, &errnum);
                if (s == STEP_PROGRESS)
                        continue;
                if (s == STEP_END) {
                        stop(r);
                        r->end(r->data, r, why, errnum); /* may free r: last */
                        return;
                }
                set_interest(r, s == STEP_WAIT_OUT);
                return;
        }
        event_active(r->kick_ev, 0, 0); /* more to copy: after the others */
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
        pump(arg);
}

struct ps_relay *ps_relay_new(struct event_base *base, const struct ps_relay_opts *o,
                              ps_relay_end_fn end, void *data, struct ps_err **err)
{
        struct ps_relay *r = calloc(1, sizeof(*r));
        short in_flags = EV_READ | EV_PERSIST | (o->in_et ? EV_ET : 0);
        short out_flags = EV_WRITE | EV_PERSIST | (o->out_et ? EV_ET : 0);

        if (!r)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "relay"), NULL;
        *r = (struct ps_relay){.in_fd = o->in_fd,
                               .out_fd = o->out_fd,
                               .in_et = o->in_et,
                               .out_et = o->out_et,
                               .eio_pause = o->eio_pause,
                               .discard_on_error = o->discard_on_error,
                               .splice = is_pipe(o->in_fd) && is_pipe(o->out_fd),
                               .end = end,
                               .data = data};
        if (!r->splice && to_copy_engine(r) < 0) {
                free(r);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "relay buffer"), NULL;
        }
        r->in_ev = event_new(base, o->in_fd, in_flags, on_event, r);
        r->out_ev = event_new(base, o->out_fd, out_flags, on_event, r);
        r->kick_ev = event_new(base, -1, 0, on_event, r);
        if (!r->in_ev || !r->out_ev || !r->kick_ev) {
                ps_relay_free(r);
                return ps_err_set(err, PS_INTERNAL, "cannot create relay events"), NULL;
        }
        /* Edge-triggered sides are registered before the first copy so that
         * no edge after it can be missed. */
        set_interest(r, false);
        event_active(r->kick_ev, 0, 0);
        return r;
}

void ps_relay_eio_is_eof(struct ps_relay *r)
{
        if (!r || r->ended)
                return;
        r->eio_eof = true;
        /* The EIO may already have been seen; with edge triggering nothing
         * would report it again, so retry now. */
        event_active(r->kick_ev, 0, 0);
}

struct ps_relay *ps_relay_free(struct ps_relay *r)
{
        if (!r)
                return NULL;
        if (r->in_ev)
                event_free(r->in_ev);
        if (r->out_ev)
                event_free(r->out_ev);
        if (r->kick_ev)
                event_free(r->kick_ev);
        free(r->buf);
        free(r);
        return NULL;
}
