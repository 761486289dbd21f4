#include "base/backoff.h"

#include <errno.h>
#include <time.h>

unsigned ps_backoff_next(struct ps_backoff *b)
{
        if (b->cur_ms == 0)
                b->cur_ms = b->min_ms;
        else if (b->cur_ms < b->max_ms)
                b->cur_ms = b->cur_ms > b->max_ms / 2 ? b->max_ms : b->cur_ms * 2;
        b->tries++;
        return b->cur_ms;
}

void ps_backoff_reset(struct ps_backoff *b)
{
        b->cur_ms = 0;
        b->tries = 0;
}

struct timeval ps_ms_timeval(unsigned ms)
{
        return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

void ps_sleep_ms(unsigned ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
