/* The event publisher: an ordered, bounded FIFO of task events forwarded to
 * containerd's ttrpc events service (containerd.services.events.ttrpc.v1.Events
 * /Forward at $TTRPC_ADDRESS).
 *
 * Events leave strictly in the order they were published, one Forward in
 * flight at a time. While containerd is unreachable (restarting, socket gone)
 * the head event is retried with back-off (100 ms doubling to 5 s) and the
 * queue keeps growing up to PS_PUBLISHER_MAX_QUEUE; nothing is dropped unless
 * that bound is hit (then the oldest is dropped and logged as an error).
 * A Forward that containerd rejects with INVALID_ARGUMENT is logged and
 * dropped (retrying cannot help).
 *
 * Every Envelope carries a non-zero timestamp (the publish time), the shim's
 * namespace, the topic, and the event as Any{type_url = message full name,
 * e.g. "containerd.events.TaskExit"}; each request carries the metadata
 * containerd-namespace-ttrpc=<ns>.
 *
 * Ownership: the root object owns the publisher; publish() copies the event.
 */
#ifndef PS_CORE_PUBLISHER_H
#define PS_CORE_PUBLISHER_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "base/error.h"

#define PS_PUBLISHER_MAX_QUEUE 65536

struct event_base;
struct ps_publisher;

/* `ttrpc_address` may be NULL or empty: events are then counted and dropped
 * with a warning (a shim started by hand, not by containerd). */
struct ps_publisher *ps_publisher_new(struct event_base *base, const char *ttrpc_address,
                                      const char *ns, struct ps_err **err);
struct ps_publisher *ps_publisher_free(struct ps_publisher *p);

/* Queues one event, stamped now. `topic` like "/tasks/exit". */
void ps_publisher_publish(struct ps_publisher *p, const char *topic, const ProtobufCMessage *event);

/* Calls done(data) once the queue is empty, or after timeout_ms, whichever
 * comes first (the shim calls it before exiting). Runs from the loop, never
 * from inside this function. */
void ps_publisher_flush(struct ps_publisher *p, unsigned timeout_ms, void (*done)(void *data),
                        void *data);

/* Events queued and not yet acknowledged by containerd. */
size_t ps_publisher_pending(const struct ps_publisher *p);

#endif
