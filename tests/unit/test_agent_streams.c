/* agent/streams.c on real pipes and a real event loop: the container's ends
 * are written and read here as a container would. Output: answers from an
 * offset, acknowledgement frees, the buffer's bound stops reading (and so
 * the writer) and resumes, EOF after the last byte, bad offsets refused, a
 * newer read ends an older one, freeing answers NOT_FOUND. Stdin: taken
 * bytes reach the pipe once, a write sent again is skipped, a full pipe
 * parks the write until the container reads, CloseStdin is EOF. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "agent/streams.h"
#include "base/cleanup.h"
#include "check.h"

struct answer {
        bool done, eof;
        enum ps_code code;
        uint8_t *bytes;
        size_t n, taken;
        uint64_t next;
};

static void on_read(void *data, const struct ps_err *err, const uint8_t *bytes, size_t n,
                    uint64_t next, bool eof)
{
        struct answer *a = data;

        a->done = true;
        a->code = err ? err->code : PS_OK;
        free(a->bytes);
        a->bytes = malloc(n ? n : 1);
        if (n)
                memcpy(a->bytes, bytes, n);
        a->n = n;
        a->next = next;
        a->eof = eof;
}

static void on_write(void *data, const struct ps_err *err, size_t taken)
{
        struct answer *a = data;

        a->done = true;
        a->code = err ? err->code : PS_OK;
        a->taken = taken;
}

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool run_until(struct event_base *base, const bool *flag, long ms)
{
        long end = now_ms() + ms;
        struct timeval slice = {0, 10000};

        while (!*flag && now_ms() < end) {
                event_base_loopexit(base, &slice);
                event_base_dispatch(base);
        }
        return *flag;
}

static void run_for(struct event_base *base, long ms)
{
        bool never = false;

        run_until(base, &never, ms);
}

static void reset(struct answer *a)
{
        free(a->bytes);
        *a = (struct answer){0};
}

static void test_output(void)
{
        struct event_base *base = event_base_new();
        const bool want[3] = {false, true, true};
        struct ps_agent_streams *s = ps_agent_streams_new(base, want, NULL);
        struct answer a = {0}, b = {0};
        struct ps_err *err = NULL;
        int fds[3];

        CHECK(s != NULL);
        ps_agent_streams_fds(s, fds);
        CHECK(fds[0] == -1 && fds[1] >= 0 && fds[2] >= 0);
        fds[1] = dup(fds[1]); /* the container's copies */
        fds[2] = dup(fds[2]);
        ps_agent_streams_started(s);
        /* parked until there are bytes */
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 0, 0, on_read, &a, NULL), 0);
        run_for(base, 30);
        CHECK(!a.done);
        CHECK_INTEQ(write(fds[1], "hello ", 6), 6);
        CHECK(run_until(base, &a.done, 2000));
        CHECK_INTEQ(a.n, 6);
        CHECK_INTEQ(a.next, 6);
        CHECK(!a.eof && a.bytes && memcmp(a.bytes, "hello ", 6) == 0);
        /* the same offset again (a lost answer) gets the same bytes */
        reset(&a);
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 0, 3, on_read, &a, NULL), 0);
        CHECK(a.done && a.n == 3 && a.next == 3 && memcmp(a.bytes, "hel", 3) == 0);
        /* acknowledging up to 3 frees them: below is out of range */
        reset(&a);
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 3, 0, on_read, &a, NULL), 0);
        CHECK(a.done && a.n == 3 && memcmp(a.bytes, "lo ", 3) == 0);
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 2, 0, on_read, &b, &err), -1);
        CHECK(err && err->code == PS_OUT_OF_RANGE);
        err = ps_err_free(err);
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 7, 0, on_read, &b, &err), -1);
        CHECK(err && err->code == PS_INVALID_ARGUMENT);
        err = ps_err_free(err);
        CHECK_INTEQ(ps_agent_streams_read(s, 2, 0, 0, on_read, &b, &err), -1);
        CHECK(err && err->code == PS_NOT_FOUND);
        err = ps_err_free(err);
        /* a newer read ends a parked one */
        reset(&a);
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 6, 0, on_read, &a, NULL), 0);
        CHECK(!a.done);
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 6, 0, on_read, &b, NULL), 0);
        CHECK(a.done && a.code == PS_FAILED_PRECONDITION);
        /* the last writer gone: the rest, then EOF */
        CHECK_INTEQ(write(fds[1], "world", 5), 5);
        close(fds[1]);
        CHECK(run_until(base, &b.done, 2000));
        CHECK(b.n == 5 && b.next == 11 && memcmp(b.bytes, "world", 5) == 0);
        if (!b.eof) {
                reset(&b);
                CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 11, 0, on_read, &b, NULL), 0);
                CHECK(run_until(base, &b.done, 2000));
                CHECK(b.n == 0);
        }
        CHECK(b.eof && b.code == PS_OK);
        /* stderr still open: its parked read ends NOT_FOUND with the streams */
        reset(&a);
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDERR, 0, 0, on_read, &a, NULL), 0);
        CHECK(!a.done);
        ps_agent_streams_free(s);
        CHECK(a.done && a.code == PS_NOT_FOUND);
        close(fds[2]);
        reset(&a);
        reset(&b);
        event_base_free(base);
}

/* A writer faster than the host is held at the buffer's bound and loses
 * nothing: every byte arrives in order once the host reads on. */
static void test_output_bound(void)
{
        struct event_base *base = event_base_new();
        const bool want[3] = {false, true, false};
        struct ps_agent_streams *s = ps_agent_streams_new(base, want, NULL);
        const size_t total = 3 * PS_AGENT_STREAM_BUFFER;
        size_t written = 0, got = 0;
        struct answer a = {0};
        bool in_order = true;
        int fds[3], w;

        CHECK(s != NULL);
        ps_agent_streams_fds(s, fds);
        w = dup(fds[1]);
        fcntl(w, F_SETFL, O_NONBLOCK);
        ps_agent_streams_started(s);
        /* write until the pipe refuses: the agent stopped reading at its bound */
        for (int refused = 0; refused < 20 && written < total;) {
                uint8_t chunk[4096];
                ssize_t k;

                for (size_t j = 0; j < sizeof(chunk); j++)
                        chunk[j] = (uint8_t)((written + j) % 251);
                k = write(w, chunk, sizeof(chunk));
                if (k > 0) {
                        written += (size_t)k;
                        refused = 0;
                } else {
                        run_for(base, 5);
                        refused++;
                }
        }
        CHECK(written >= PS_AGENT_STREAM_BUFFER);
        CHECK(written < total); /* held: the buffer and the pipe are full */
        /* the host reads on: everything written comes, in order */
        while (got < written) {
                reset(&a);
                if (ps_agent_streams_read(s, PS_AGENT_STDOUT, got, 0, on_read, &a, NULL) < 0 ||
                    !run_until(base, &a.done, 2000) || a.code != PS_OK)
                        break;
                CHECK(a.n <= PS_AGENT_READ_MAX);
                for (size_t j = 0; j < a.n; j++)
                        in_order = in_order && a.bytes[j] == (uint8_t)((got + j) % 251);
                got += a.n;
        }
        CHECK_INTEQ(got, written);
        CHECK(in_order);
        close(w);
        reset(&a);
        ps_agent_streams_free(s);
        event_base_free(base);
}

static void test_stdin(void)
{
        struct event_base *base = event_base_new();
        const bool want[3] = {true, false, false};
        struct ps_agent_streams *s = ps_agent_streams_new(base, want, NULL);
        struct answer a = {0}, b = {0};
        _cleanup_free_ uint8_t *big = calloc(1, PS_AGENT_STDIN_MAX);
        struct ps_err *err = NULL;
        char buf[64];
        int fds[3], r;
        size_t pipe_bytes = 0;

        CHECK(s != NULL && big != NULL);
        ps_agent_streams_fds(s, fds);
        r = dup(fds[0]);
        fcntl(r, F_SETFL, O_NONBLOCK);
        ps_agent_streams_started(s);
        CHECK_INTEQ(ps_agent_streams_write(s, 0, (const uint8_t *)"abc", 3, on_write, &a, NULL), 0);
        CHECK(a.done && a.code == PS_OK && a.taken == 3);
        /* sent again from 1 with one more byte: only the new one goes in */
        reset(&a);
        CHECK_INTEQ(ps_agent_streams_write(s, 1, (const uint8_t *)"bcd", 3, on_write, &a, NULL), 0);
        CHECK(a.done && a.taken == 3);
        CHECK_INTEQ(read(r, buf, sizeof(buf)), 4);
        CHECK(memcmp(buf, "abcd", 4) == 0);
        CHECK_INTEQ(ps_agent_streams_write(s, 9, (const uint8_t *)"x", 1, on_write, &b, &err), -1);
        CHECK(err && err->code == PS_INVALID_ARGUMENT);
        err = ps_err_free(err);
        CHECK_INTEQ(ps_agent_streams_write(s, 4, big, 0, on_write, &b, &err), -1);
        CHECK(err && err->code == PS_INVALID_ARGUMENT);
        err = ps_err_free(err);
        /* fill the pipe: the write after that waits for the container */
        for (uint64_t off = 4;;) {
                reset(&a);
                CHECK_INTEQ(
                    ps_agent_streams_write(s, off, big, PS_AGENT_STDIN_MAX, on_write, &a, NULL), 0);
                if (!a.done)
                        break;
                off += a.taken;
                pipe_bytes += a.taken;
        }
        CHECK(pipe_bytes > 0);
        while (read(r, big, PS_AGENT_STDIN_MAX) > 0)
                ;
        CHECK(run_until(base, &a.done, 2000));
        CHECK(a.code == PS_OK && a.taken > 0);
        /* CloseStdin: EOF for the container, later writes refused */
        while (read(r, big, PS_AGENT_STDIN_MAX) > 0)
                ;
        CHECK_INTEQ(ps_agent_streams_close_stdin(s, NULL), 0);
        CHECK_INTEQ(read(r, buf, sizeof(buf)), 0);
        CHECK_INTEQ(ps_agent_streams_close_stdin(s, NULL), 0);
        CHECK_INTEQ(ps_agent_streams_write(s, 0, (const uint8_t *)"x", 1, on_write, &b, &err), -1);
        CHECK(err && err->code == PS_FAILED_PRECONDITION);
        err = ps_err_free(err);
        CHECK_INTEQ(ps_agent_streams_read(s, PS_AGENT_STDOUT, 0, 0, on_read, &b, &err), -1);
        CHECK(err && err->code == PS_NOT_FOUND);
        err = ps_err_free(err);
        close(r);
        reset(&a);
        reset(&b);
        ps_agent_streams_free(s);
        event_base_free(base);
}

int main(void)
{
        RUN(test_output);
        RUN(test_output_bound);
        RUN(test_stdin);
        return check_summary();
}
