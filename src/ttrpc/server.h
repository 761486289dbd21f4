/* ttrpc v1.1 server on libevent.
 *
 * One listening unix socket, many connections, many concurrent calls per
 * connection. Each decoded request becomes a `struct ttrpc_call`, handed to
 * the method's handler. The handler either answers at once or parks the call
 * (a Wait) and answers later from another callback; the event loop never
 * blocks on a call. A handler may answer other parked calls of any
 * connection. Answering a call from inside its own cancel callback is a
 * no-op (the connection is gone).
 *
 * Ownership: the server owns every connection and every call. A call stays
 * valid until exactly one of ttrpc_call_reply()/ttrpc_call_fail() is invoked,
 * or until its connection closes or its deadline passes, in which case the
 * call's cancel callback (if set) runs first and the call is then freed: a
 * parker must drop its pointer in that callback.
 *
 * Protocol rules implemented here (containerd 1.6 / ttrpc v1.1.1):
 *  - frames: 10-byte big-endian header {len u32, stream u32, type u8, flags u8}
 *    then `len` bytes; type 1 = request, 2 = response; other types ignored;
 *  - a frame over 4 MiB is discarded and answered RESOURCE_EXHAUSTED;
 *  - an even stream id is answered INVALID_ARGUMENT; connection stays open;
 *  - unknown service/method: UNIMPLEMENTED "service X" / "method X";
 *  - an undecodable request or payload: INVALID_ARGUMENT;
 *  - the peer must have the server's euid (SO_PEERCRED), else it is closed;
 *  - a call still parked when the request's timeout_nano runs out is
 *    cancelled (its cancel callback runs) and answered DEADLINE_EXCEEDED;
 *  - at most 256 connections (more are closed at accept) and 4096 pending
 *    calls per connection (more are answered RESOURCE_EXHAUSTED);
 *  - errors never close a connection; only a protocol-level read failure or
 *    a peer hang-up does.
 */
#ifndef PS_TTRPC_SERVER_H
#define PS_TTRPC_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "base/error.h"

struct event_base;
struct ttrpc_server;
struct ttrpc_call;

#define TTRPC_MAX_MESSAGE (4u << 20)

/* `req` is the decoded request message; it belongs to the call and stays
 * valid until the call is answered or cancelled. */
typedef void (*ttrpc_handler_fn)(void *service_data, struct ttrpc_call *call,
                                 const ProtobufCMessage *req);

struct ttrpc_method {
        const char *name;                        /* bare RPC name, e.g. "Create" */
        const ProtobufCMessageDescriptor *input; /* request message type; NULL: the
                                                  * payload is ignored, req is NULL */
        ttrpc_handler_fn handler;
};

struct ttrpc_service {
        const char *name; /* full name, e.g. "containerd.task.v2.Task" */
        const struct ttrpc_method *methods;
        size_t n_methods;
        void *data; /* passed to every handler */
};

/* Starts serving on an already-listening socket; takes ownership of listen_fd.
 * listen_fd -1: no listener, connections come through the adopt functions
 * only (the guest agent). `services` must outlive the server. */
struct ttrpc_server *ttrpc_server_new(struct event_base *base, int listen_fd,
                                      const struct ttrpc_service *services, size_t n_services,
                                      struct ps_err **err);

/* Stops accepting, closes every connection (cancelling parked calls) and
 * frees the server. Accepts NULL; returns NULL. Must not be called from a
 * handler or a cancel callback of this server. */
struct ttrpc_server *ttrpc_server_free(struct ttrpc_server *srv);

/* Serves an already-connected unix socket as if it had been accepted (the
 * peer-credential check included); takes ownership of fd, also on failure.
 * For tests and fuzzers, and for a socket inherited from a parent. */
int ttrpc_server_adopt(struct ttrpc_server *srv, int fd, struct ps_err **err);

/* Serves an already-open character device that carries one byte stream to a
 * single peer (a virtio-serial port in a guest) as a connection; takes
 * ownership of fd, also on failure. There is no peer credential to check:
 * whoever holds the host end of the port is the peer. A port reads EOF
 * while that end is closed (the host has not connected yet, or reconnects),
 * so EOF does not close this connection: reading pauses and resumes every
 * 20 ms until data comes. Only a read error or ttrpc_server_free() closes
 * it. */
int ttrpc_server_adopt_port(struct ttrpc_server *srv, int fd, struct ps_err **err);

/* Stops accepting new connections (closes the listener) but keeps serving
 * the existing ones, so a final Shutdown reply can still be written. */
void ttrpc_server_stop_listening(struct ttrpc_server *srv);

/* Number of open connections (for tests and for diagnostics). */
size_t ttrpc_server_connections(const struct ttrpc_server *srv);

/* Answers with `resp` (packed with protobuf-c; NULL means google.protobuf.Empty)
 * and frees the call. */
void ttrpc_call_reply(struct ttrpc_call *call, const ProtobufCMessage *resp);

/* Answers with a Status {err->code, err->msg} and frees the call. */
void ttrpc_call_fail(struct ttrpc_call *call, const struct ps_err *err);

/* Convenience: fail with a code and a formatted message. */
void ttrpc_call_failf(struct ttrpc_call *call, enum ps_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Metadata value of the request for `key`, or NULL. */
const char *ttrpc_call_metadata(const struct ttrpc_call *call, const char *key);

/* Bytes of replies the call's connection has not sent yet (0 once it is
 * gone): a service answering with large replies sizes them by it, so that
 * many answers at once stay under the connection's bound on its output. */
size_t ttrpc_call_backlog(const struct ttrpc_call *call);

/* The method name ("Create"), for logging. */
const char *ttrpc_call_method(const struct ttrpc_call *call);

/* Registers the callback run (once) if the call's connection closes, or its
 * deadline passes, before the call is answered. The call is freed right
 * after it returns; answering it from inside the callback is a no-op. */
typedef void (*ttrpc_cancel_fn)(struct ttrpc_call *call, void *data);
void ttrpc_call_on_cancel(struct ttrpc_call *call, ttrpc_cancel_fn fn, void *data);

#endif
