/* Retry delays and short waits, written once.
 *
 * A ps_backoff doubles from min_ms to max_ms, one step per failed try; the
 * event loop arms a timer with ps_backoff_next() (libevent wants a
 * timeval: ps_ms_timeval). ps_sleep_ms() is for code that may block: the
 * short-lived `delete` action and the daemon's last moments after it stopped
 * serving; never the event loop while it serves. */
#ifndef PS_BASE_BACKOFF_H
#define PS_BASE_BACKOFF_H

#include <sys/time.h>

struct ps_backoff {
        unsigned min_ms, max_ms;
        unsigned cur_ms; /* 0 until the first failure */
        unsigned tries;  /* failures since the last reset */
};

/* The delay before the next try: min_ms, then doubled each time up to
 * max_ms. Counts a try. */
unsigned ps_backoff_next(struct ps_backoff *b);
void ps_backoff_reset(struct ps_backoff *b);

struct timeval ps_ms_timeval(unsigned ms);

/* Sleeps ms milliseconds, resuming after signals. */
void ps_sleep_ms(unsigned ms);

#endif
