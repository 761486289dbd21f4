/* A scripted backend for unit tests of the task core and the sandbox layer
 * (task/backend.h): no process is ever run. Each operation either answers
 * at once (success with a made-up pid, or a failure) or is held until the
 * test releases it; exits are the test's to report (fake_exit). Every call
 * is logged ("create c1", "signal c1 9 all", ...), and so is every event the
 * core publishes when the recorder sink is used ("exit x1 137"). */
#ifndef PS_TEST_FAKE_BACKEND_H
#define PS_TEST_FAKE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "task/backend.h"
#include "task/container.h"
#include "task/events.h"

enum fake_mode {
        FAKE_OK,   /* done at once, with a result */
        FAKE_FAIL, /* done at once, with an error */
        FAKE_HOLD, /* held until fake_release() */
};

#define FAKE_MAX_HELD 32
#define FAKE_LOG_SIZE 8192

struct fake_held {
        char op[16];
        struct ps_container *c;
        struct ps_process *p;
        ps_backend_fn done;
        ps_backend_pids_fn pids_done;
        void *data;
};

struct fake_backend {
        struct ps_backend_ops ops; /* the table handed to the core; NULL an op to drop it */
        enum fake_mode mode;
        pid_t next_pid;
        struct fake_held held[FAKE_MAX_HELD];
        size_t n_held;
        bool hold_drain; /* drains wait for fake_release_drains() */
        void (*drain_done[FAKE_MAX_HELD])(void *data);
        void *drain_data[FAKE_MAX_HELD];
        size_t n_drains;
        char log[FAKE_LOG_SIZE];
};

/* The backend context is the fake itself (c->be_ctx). */
void fake_backend_init(struct fake_backend *fb);

/* Completes held call i (in the order they were made) with success (err
 * NULL) or err (taken). */
void fake_release(struct fake_backend *fb, size_t i, struct ps_err *err);
void fake_release_drains(struct fake_backend *fb);

/* A resize_async (not in the table by default: a test sets ops.resize_async
 * to it), answered or held as the other operations. */
int fake_resize_async(struct ps_process *p, uint32_t w, uint32_t h, ps_backend_fn done, void *data,
                      struct ps_err **err);

/* Reports p's exit, as a backend would. */
void fake_exit(struct ps_process *p, unsigned status);

/* An event sink that logs into `log` (one line per event). */
struct fake_events {
        struct ps_task_events sink;
        char log[FAKE_LOG_SIZE];
};
void fake_events_init(struct fake_events *ev);

/* A create request for id with a bundle (must exist: /tmp is fine). */
struct ps_create_request fake_request(const char *id, const char *bundle);

#endif
