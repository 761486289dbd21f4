/* A guest container's stdio as the agent holds it (docs/vm-backend.md,
 * slice 3): pipes in the guest, whose container ends the OCI runtime hands
 * to the container's init, and whose other ends the host reads and writes
 * through the agent (ReadOutput, WriteStdin, CloseStdin).
 *
 * Output: each of stdout and stderr is a byte stream numbered from 0. The
 * agent reads the pipe into a buffer of PS_AGENT_STREAM_BUFFER bytes and
 * stops reading while it is full, so the container's writes block on the
 * full pipe: a writer faster than the host is slowed, never loses bytes.
 * The host asks for bytes from an offset (ps_agent_streams_read); every byte
 * below it is acknowledged and freed, so an answer lost with a broken
 * connection is asked for again and comes again. A read is answered at
 * once when bytes at its offset exist or the stream has ended, else it waits
 * (one waiter per stream: a newer read ends the older with
 * FAILED_PRECONDITION).
 *
 * Stdin: also a stream numbered from 0. ps_agent_streams_write puts bytes
 * given at an offset into the container's stdin pipe, skipping those an
 * earlier write took already (its answer may have been lost: a write sent
 * again is never taken twice), and answers how many from the first on are
 * in (at least one) as soon as the pipe takes any; while the pipe is full
 * it waits (one waiter: a newer write ends the older with
 * FAILED_PRECONDITION). ps_agent_streams_close_stdin closes the pipe: the
 * container reads EOF after what it was given.
 *
 * Every callback runs exactly once, before the call returns or later from
 * the loop; the waiting ones with NOT_FOUND when the streams are freed.
 * Ownership: the container (agent/containers.c) owns its streams.
 */
#ifndef PS_AGENT_STREAMS_H
#define PS_AGENT_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct event_base;
struct ps_agent_streams;

#define PS_AGENT_STREAM_BUFFER (1u << 20)   /* output bytes held per stream */
#define PS_AGENT_READ_MAX      (256u << 10) /* bytes per read answer at most */
#define PS_AGENT_STDIN_MAX     (1u << 20)   /* bytes per write at most */
/* Above this many unsent bytes on the connection, read answers carry
 * PS_AGENT_READ_MIN bytes at most (agent/service.c). */
#define PS_AGENT_BACKLOG_MAX (4u << 20)
#define PS_AGENT_READ_MIN    (4u << 10)

enum ps_agent_stream { PS_AGENT_STDOUT = 0, PS_AGENT_STDERR = 1 };

/* bytes are valid during the call only; next = offset + n. */
typedef void (*ps_agent_read_fn)(void *data, const struct ps_err *err, const uint8_t *bytes,
                                 size_t n, uint64_t next, bool eof);
typedef void (*ps_agent_write_fn)(void *data, const struct ps_err *err, size_t taken);

/* Makes a pipe for each stream asked for (want: stdin, stdout, stderr). */
struct ps_agent_streams *ps_agent_streams_new(struct event_base *base, const bool want[3],
                                              struct ps_err **err);

/* Answers the waiting calls with NOT_FOUND, closes every pipe. NULL ok. */
struct ps_agent_streams *ps_agent_streams_free(struct ps_agent_streams *s);

/* A terminal's streams: output (PS_AGENT_STDOUT, the only one) read from
 * the pty master, stdin written to it; takes ownership of master. Its
 * output ends when the last slave fd is closed (EIO on the master). */
struct ps_agent_streams *ps_agent_streams_new_pty(struct event_base *base, int master,
                                                  struct ps_err **err);

/* The terminal's window size; FAILED_PRECONDITION for pipes. */
int ps_agent_streams_resize(struct ps_agent_streams *s, uint32_t width, uint32_t height,
                            struct ps_err **err);

/* The container ends for the runtime's 0, 1, 2 (-1: /dev/null); owned by
 * the streams until ps_agent_streams_started. */
void ps_agent_streams_fds(const struct ps_agent_streams *s, int fds[3]);

/* The runtime has handed the container ends on: our copies are closed, so
 * the output streams end when the container's last writer is gone. */
void ps_agent_streams_started(struct ps_agent_streams *s);

/* Returns 0 when fn will run (or has run), -1 with err for a bad request:
 * no such stream (NOT_FOUND), an offset below what was acknowledged
 * (OUT_OF_RANGE) or beyond what was read (INVALID_ARGUMENT). max 0 or
 * above PS_AGENT_READ_MAX means PS_AGENT_READ_MAX. */
int ps_agent_streams_read(struct ps_agent_streams *s, enum ps_agent_stream which, uint64_t offset,
                          size_t max, ps_agent_read_fn fn, void *data, struct ps_err **err);

/* As above: -1 for no stdin (NOT_FOUND), one closed or broken
 * (FAILED_PRECONDITION), an empty or too large write or an offset beyond
 * what was taken (INVALID_ARGUMENT). The bytes are copied if it waits. */
int ps_agent_streams_write(struct ps_agent_streams *s, uint64_t offset, const uint8_t *bytes,
                           size_t n, ps_agent_write_fn fn, void *data, struct ps_err **err);

/* Idempotent; a waiting write is answered FAILED_PRECONDITION. -1 with
 * NOT_FOUND when the container has no stdin. */
int ps_agent_streams_close_stdin(struct ps_agent_streams *s, struct ps_err **err);

#endif
