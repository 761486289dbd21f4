/* ttrpc v1.1 client on libevent, used by the shim to publish events to
 * containerd's ttrpc events service.
 *
 * One connection, any number of calls in flight, matched by odd stream ids
 * (1, 3, 5, ...). The client connects lazily on the first call and never
 * blocks the loop: a unix-socket connect completes or fails at once.
 *
 * Ownership: the client owns its pending calls; each completion callback runs
 * exactly once, either with the reply or with an error (connection refused,
 * closed, timed out, or ttrpc_client_free()).
 */
#ifndef PS_TTRPC_CLIENT_H
#define PS_TTRPC_CLIENT_H

#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "base/error.h"

struct event_base;
struct ttrpc_client;

/* On success err is NULL and `payload`/`len` hold the response payload bytes
 * (valid only during the callback). On failure err says why: UNAVAILABLE for
 * transport problems (the connection is then closed and the next call
 * reconnects), DEADLINE_EXCEEDED on timeout, or the server's status code. */
typedef void (*ttrpc_client_done_fn)(void *data, const struct ps_err *err, const uint8_t *payload,
                                     size_t len);

/* `path` is a socket path; a leading "unix://" is stripped. */
struct ttrpc_client *ttrpc_client_new(struct event_base *base, const char *path,
                                      struct ps_err **err);

/* Fails every pending call (callbacks run with CANCELLED) and frees. NULL ok.
 * Must not be called from one of this client's completion callbacks. */
struct ttrpc_client *ttrpc_client_free(struct ttrpc_client *c);

struct ttrpc_kv {
        const char *key, *value;
};

/* Sends one request. `timeout_ms` 0 means none; otherwise it is both sent
 * as timeout_nano and enforced locally. Returns 0 if the call was queued
 * (the callback will run later, never from within this function), or -1
 * with err set if it could not even be queued. */
int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
                      const ProtobufCMessage *req, const struct ttrpc_kv *md, size_t n_md,
                      unsigned timeout_ms, ttrpc_client_done_fn done, void *data,
                      struct ps_err **err);

#endif
