/* What the ttrpc services of api/ share: a call parked until an operation
 * answers, the one place a failure is logged and turned into a Status, and
 * times on the wire.
 *
 * Ownership: a ps_rpc belongs to the operation it was handed to; it does
 * not own the call (the server does), it only drops its pointer when the
 * call is cancelled (the connection closed, the deadline passed). */
#ifndef PS_API_RPC_H
#define PS_API_RPC_H

#include <time.h>

#include "base/error.h"
#include "containerd/types/mount.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "task/backend.h"
#include "ttrpc/server.h"

struct ps_rpc {
        struct ttrpc_call *call; /* NULL once cancelled */
        int kind;                /* which answer to build: the service's own enum */
        void *owner;             /* the service, for what it does after answering */
};

/* Parks `call`. On failure the call is answered RESOURCE_EXHAUSTED here and
 * NULL returned. */
struct ps_rpc *ps_rpc_new(struct ttrpc_call *call, int kind);
/* Frees r; the call, if still there, is the caller's to answer. */
void ps_rpc_free(struct ps_rpc *r);

/* Answers call with e (not freed), logging it: at warning level when it is
 * an UNKNOWN error (something broke), at debug level otherwise (the client
 * asked for something that cannot be). */
void ps_rpc_fail(struct ttrpc_call *call, const struct ps_err *e);

/* t as a Timestamp in ts, or NULL for a zero time (absent decodes as Go's
 * zero time). */
Google__Protobuf__Timestamp *ps_rpc_time(const struct timespec *t, Google__Protobuf__Timestamp *ts);

/* The n wire mounts as plain structs whose strings point into them; the
 * caller frees the array (never NULL on success, also for n 0). */
struct ps_mount *ps_rpc_mounts(Containerd__Types__Mount *const *src, size_t n, struct ps_err **err);

#endif
