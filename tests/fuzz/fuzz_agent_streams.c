/* libFuzzer target: the guest agent's container stdio (agent/streams.h)
 * driven by hostile sequences of what the host asks and what the container
 * does, on real pipes and a real event loop: the host's ReadOutput at
 * offsets around what it acknowledged (below, at, beyond), any max_bytes,
 * WriteStdin at offsets around what was taken, CloseStdin; the container
 * writing stdout and stderr, closing them, reading its stdin. Every byte
 * the container writes follows a known pattern, so each answer is checked
 * against what must be at its offset (and next = offset + n), and every
 * byte the container reads from stdin against what the host sent at that
 * offset: a wrong, lost-then-reordered or doubled byte aborts. fuzz_agent_
 * service reaches the same functions through ttrpc, but has no container
 * that outlives its failed create.
 *
 * Input: one byte per operation (its low 3 bits pick it), the next byte its
 * argument. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "agent/streams.h"
#include "base/log.h"

#define PATTERN(i) ((uint8_t)(((i)*7u + 3u) % 251u))

struct read_op {
        enum ps_agent_stream which;
        uint64_t offset;
        size_t max;
        uint64_t *acked; /* where a successful answer's next goes */
};

struct write_op {
        uint64_t *taken; /* bytes of stdin known to be in the pipe */
        uint64_t offset;
        size_t n;
};

static struct event_base *base;

static void on_read(void *data, const struct ps_err *err, const uint8_t *bytes, size_t n,
                    uint64_t next, bool eof)
{
        struct read_op *r = data;

        if (!err) {
                if (next != r->offset + n || n > r->max || n > PS_AGENT_READ_MAX || (!n && !eof))
                        abort();
                for (size_t i = 0; i < n; i++)
                        if (bytes[i] != PATTERN(r->offset + i))
                                abort();
                if (next > *r->acked)
                        *r->acked = next;
        }
        free(r);
}

static void on_write(void *data, const struct ps_err *err, size_t taken)
{
        struct write_op *w = data;

        if (!err) {
                if (taken == 0 || taken > w->n)
                        abort();
                if (w->offset + taken > *w->taken)
                        *w->taken = w->offset + taken;
        }
        free(w);
}

static void write_pattern(int fd, uint64_t *written, size_t n)
{
        uint8_t buf[4096];
        ssize_t k;

        if (fd < 0)
                return;
        if (n > sizeof(buf))
                n = sizeof(buf);
        for (size_t i = 0; i < n; i++)
                buf[i] = PATTERN(*written + i);
        k = write(fd, buf, n);
        if (k > 0)
                *written += (uint64_t)k;
}

static void nonblock(int fd)
{
        if (fd >= 0)
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const bool want[3] = {true, true, true};
        struct ps_agent_streams *s;
        uint64_t written[2] = {0, 0}, acked[2] = {0, 0}, taken = 0, consumed = 0;
        int fds[3], ours[3];

        if (!base) {
                ps_log_setup(PS_LOG_ERROR, NULL, NULL);
                base = event_base_new();
        }
        s = ps_agent_streams_new(base, want, NULL);
        if (!s)
                abort();
        ps_agent_streams_fds(s, fds);
        for (int i = 0; i < 3; i++) {
                ours[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3); /* the container's ends */
                nonblock(ours[i]);
        }
        ps_agent_streams_started(s);
        for (size_t i = 0; i + 1 < size; i += 2) {
                uint8_t op = data[i] & 7, arg = data[i + 1];
                int st = arg & 1;

                switch (op) {
                case 0: /* the container writes */
                        write_pattern(ours[1 + st], &written[st], (size_t)arg * 64 + 1);
                        break;
                case 1: /* ... and closes an output */
                        if (arg < 32 && ours[1 + st] >= 0) {
                                close(ours[1 + st]);
                                ours[1 + st] = -1;
                        }
                        break;
                case 2:
                case 3: { /* ReadOutput around what was acknowledged */
                        struct read_op *r = malloc(sizeof(*r));
                        struct ps_err *err = NULL;

                        *r = (struct read_op){.which = (enum ps_agent_stream)st,
                                              .offset = acked[st] + (uint64_t)(arg >> 5) - 1,
                                              .max = op == 2 ? 0 : (size_t)(arg >> 1) * 97,
                                              .acked = &acked[st]};
                        if (arg >> 5 == 0 && acked[st] == 0)
                                r->offset = 0;
                        if (r->max == 0 || r->max > PS_AGENT_READ_MAX)
                                r->max = PS_AGENT_READ_MAX;
                        if (ps_agent_streams_read(s, r->which, r->offset, op == 2 ? 0 : r->max,
                                                  on_read, r, &err) < 0) {
                                free(r);
                                err = ps_err_free(err);
                        }
                        break;
                }
                case 4: { /* WriteStdin around what was taken */
                        uint8_t buf[2048];
                        struct write_op *w = malloc(sizeof(*w));
                        struct ps_err *err = NULL;
                        uint64_t off = taken + (arg >> 6);

                        off = off >= 1 ? off - 1 : 0;
                        *w = (struct write_op){.taken = &taken, .offset = off, .n = arg * 8u};
                        for (size_t j = 0; j < w->n; j++)
                                buf[j] = PATTERN(off + j);
                        if (ps_agent_streams_write(s, off, buf, w->n, on_write, w, &err) < 0) {
                                free(w);
                                err = ps_err_free(err);
                        }
                        break;
                }
                case 5: /* CloseStdin */
                        if (arg < 16)
                                ps_agent_streams_close_stdin(s, NULL);
                        break;
                case 6: { /* the container reads its stdin */
                        uint8_t buf[8192];
                        ssize_t k = ours[0] >= 0 ? read(ours[0], buf, sizeof(buf)) : -1;

                        for (ssize_t j = 0; j < k; j++)
                                if (buf[j] != PATTERN(consumed + (uint64_t)j))
                                        abort();
                        if (k > 0)
                                consumed += (uint64_t)k;
                        break;
                }
                default:
                        event_base_loop(base, EVLOOP_NONBLOCK);
                }
        }
        event_base_loop(base, EVLOOP_NONBLOCK);
        ps_agent_streams_free(s); /* answers what still waits */
        for (int i = 0; i < 3; i++)
                if (ours[i] >= 0)
                        close(ours[i]);
        return 0;
}
