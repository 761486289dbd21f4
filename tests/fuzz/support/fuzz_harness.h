/* What the service fuzz targets (fuzz_task_service, fuzz_sandbox_service)
 * share: the real sandbox layer and task core over the unit tests' fake
 * backend (tests/unit/support/fake_backend.h), served by a real ttrpc server
 * to a client that plays a program the input encodes.
 *
 * An input is a sequence of (op, argument) byte pairs, at most 256 of them;
 * the target's step() interprets each one, and the event loop runs after
 * every step. What an op number means is the target's own (its seed corpus
 * is written in it): the harness only offers the steps both targets have
 * (fuzz_harness_release ... fuzz_harness_junk) and the request framing.
 * After the program the backend finishes everything (held calls complete,
 * drains end, processes exit, until nothing changes), the client hangs up,
 * the server must drop the connection, and the registry is destroyed, as
 * when the shim exits; ASan/LSan see what is left over. */
#ifndef PS_FUZZ_HARNESS_H
#define PS_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <protobuf-c/protobuf-c.h>

#include "fake_backend.h"
#include "sandbox/sandbox.h"
#include "ttrpc/server.h"

/* What makes one target: constant, defined once per target. */
struct fuzz_target {
        const char *dir_template; /* for mkdtemp(): where the bundles go */
        /* handed to ps_sandboxes_init(); NULL for none */
        const struct ps_sandbox_events *sandbox_events;
        /* One step of the program on the client's fd: op and its argument. */
        void (*step)(void *data, int fd, uint8_t op, uint8_t a);
        /* Makes processes that may still exit do so (one or all); returns
         * whether any did. Called until nothing changes any more. */
        bool (*exit_rest)(void *data);
};

struct fuzz_harness {
        struct event_base *base;
        struct ttrpc_server *srv;
        struct fake_backend fb;  /* made afresh for every input */
        struct fake_events ev;   /* made afresh for every input */
        struct ps_sandboxes sbs; /* made afresh for every input, destroyed after it */
        char dir[64];            /* one bundle directory per id below it */
        uint32_t stream;         /* the client's last stream id in this input */
        const struct fuzz_target *target;
        void *data; /* passed to the target's functions */
};

/* Sets up logging, the bundle directory and the event base. The target then
 * makes its bundles and services (on &h->sbs, which each input makes
 * afresh) and calls fuzz_harness_serve(). Aborts on failure. */
void fuzz_harness_init(struct fuzz_harness *h, const struct fuzz_target *target, void *data);

/* Serves `services` (n of them; they must outlive the harness). */
void fuzz_harness_serve(struct fuzz_harness *h, const struct ttrpc_service *services, size_t n);

/* Makes the bundle directory of id; with a CRI container type ("sandbox",
 * "container") also a config.json for a member of the pod "pod", without
 * one only the directory. */
void fuzz_harness_bundle(const struct fuzz_harness *h, const char *id, const char *cri_type);

/* Plays one input (see above). */
void fuzz_harness_run(struct fuzz_harness *h, const uint8_t *data, size_t size);

/* Writes a request frame for service.method with msg (NULL: no payload) on
 * the next odd stream id. A message too big for the frame is not sent; a
 * full socket drops the frame, as the loop runs between steps anyway. */
void fuzz_harness_call(struct fuzz_harness *h, int fd, const char *service, const char *method,
                       const ProtobufCMessage *msg);

/* The steps both targets have, each from its argument byte a: */
/* a held backend call (a % number held) completes, or fails if a is odd */
void fuzz_harness_release(struct fuzz_harness *h, uint8_t a);
/* the backend answers ok, fails or holds from now on (a % 3) */
void fuzz_harness_mood(struct fuzz_harness *h, uint8_t a);
/* the held drains end, and new ones are held if a is odd */
void fuzz_harness_drains(struct fuzz_harness *h, uint8_t a);
/* 1 + a % 16 bytes of value a from the client: a broken frame */
void fuzz_harness_junk(int fd, uint8_t a);

#endif
