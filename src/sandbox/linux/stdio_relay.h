/* Private to the stdio module: one event-driven, one-way copy from an input
 * fd to an output fd.
 *
 * Two engines: splice(2) when both ends are pipes or FIFOs (the pipe itself
 * is the buffer, nothing is copied through user space), otherwise a bounded
 * 32 KiB buffer (pty master, regular files). Either way the relay waits for
 * input readiness while it can write and for output readiness only while the
 * output is full, so a slow reader stops the relay (and, through the full
 * pipe, the writer) instead of growing memory, and nothing ever spins.
 *
 * The relay never owns its fds: several relays may share one (stdout and
 * stderr into one FIFO; both directions of a pty master). libevent refuses to
 * mix edge- and level-triggered events on one fd, hence the per-side `*_et`
 * flags; the pty master uses edge triggering on both sides so a hung-up
 * master (EIO/EPOLLHUP while no slave is open) never wakes the loop in a
 * busy loop.
 *
 * `end` runs from the loop, exactly once, when the copy is over; the relay is
 * stopped by then and the callback may free it.
 */
#ifndef PS_SANDBOX_LINUX_STDIO_RELAY_H
#define PS_SANDBOX_LINUX_STDIO_RELAY_H

#include <stdbool.h>

#include "base/error.h"

struct event_base;
struct ps_relay;

enum ps_relay_end {
        PS_RELAY_EOF,   /* input at EOF: every writer is gone (or EIO once told so) */
        PS_RELAY_EPIPE, /* the output has no reader any more */
        PS_RELAY_ERROR, /* any other error (errnum says which) */
};

typedef void (*ps_relay_end_fn)(void *data, struct ps_relay *r, enum ps_relay_end why, int errnum);

struct ps_relay_opts {
        int in_fd, out_fd; /* non-blocking; not owned */
        bool in_et, out_et;
        bool eio_pause; /* EIO on read: no pty slave open right now; wait */
        /* An output error other than EPIPE (a full disk) switches to reading
         * and dropping, so the writer never blocks on a dead relay. */
        bool discard_on_error;
};

/* Starts copying at once (the first attempt runs from the loop). */
struct ps_relay *ps_relay_new(struct event_base *base, const struct ps_relay_opts *o,
                              ps_relay_end_fn end, void *data, struct ps_err **err);

/* From now on EIO on read means EOF (the process has exited, so a vanished
 * slave will not come back). Retries the read from the loop. */
void ps_relay_eio_is_eof(struct ps_relay *r);

/* Stops and frees; no callback. NULL ok. */
struct ps_relay *ps_relay_free(struct ps_relay *r);

#endif
