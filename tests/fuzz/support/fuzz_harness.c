#include "fuzz_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "fuzz_conn.h"
#include "ttrpc/ttrpc.pb-c.h"

/* Steps per input: longer programs add little but time per execution. */
#define MAX_STEPS 256

void fuzz_harness_init(struct fuzz_harness *h, const struct fuzz_target *target, void *data)
{
        ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        h->target = target;
        h->data = data;
        snprintf(h->dir, sizeof(h->dir), "%s", target->dir_template);
        if (!mkdtemp(h->dir))
                abort();
        h->base = event_base_new();
        if (!h->base)
                abort();
}

void fuzz_harness_serve(struct fuzz_harness *h, const struct ttrpc_service *services, size_t n)
{
        h->srv = fuzz_conn_server_new(h->base, services, n);
}

void fuzz_harness_bundle(const struct fuzz_harness *h, const char *id, const char *cri_type)
{
        char path[160];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", h->dir, id);
        mkdir(path, 0700);
        if (!cri_type)
                return;
        snprintf(path, sizeof(path), "%s/%s/config.json", h->dir, id);
        f = fopen(path, "w");
        if (!f)
                abort();
        fprintf(f,
                "{\"process\":{\"args\":[\"x\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},"
                "\"annotations\":{\"io.kubernetes.cri.container-type\":\"%s\","
                "\"io.kubernetes.cri.sandbox-id\":\"pod\"}}",
                cri_type);
        fclose(f);
}

/* A fresh registry on a fresh fake backend, so that no input sees what an
 * earlier one left behind. */
static void registry_init(struct fuzz_harness *h)
{
        fake_backend_init(&h->fb);
        fake_events_init(&h->ev);
        ps_sandboxes_init(&h->sbs, &h->ev.sink, h->target->sandbox_events, h->base, NULL, "fuzz",
                          h->dir);
        h->sbs.pod_ops = &h->fb.ops;
        h->sbs.container_ops = &h->fb.ops;
        h->sbs.be_ctx = &h->fb;
}

/* The frame header is written here by hand, not with ttrpc_header_encode(),
 * so that the server's decoder is checked against an encoder of its own. */
void fuzz_harness_call(struct fuzz_harness *h, int fd, const char *service, const char *method,
                       const ProtobufCMessage *msg)
{
        Ttrpc__Request req = TTRPC__REQUEST__INIT;
        uint8_t payload[4096], frame[8192];
        size_t plen = msg ? protobuf_c_message_get_packed_size(msg) : 0, len;

        if (plen > sizeof(payload))
                return;
        if (msg)
                protobuf_c_message_pack(msg, payload);
        req.service = (char *)(uintptr_t)service;
        req.method = (char *)(uintptr_t)method;
        req.payload.data = payload;
        req.payload.len = plen;
        len = ttrpc__request__get_packed_size(&req);
        if (len + 10 > sizeof(frame))
                return;
        frame[0] = (uint8_t)(len >> 24);
        frame[1] = (uint8_t)(len >> 16);
        frame[2] = (uint8_t)(len >> 8);
        frame[3] = (uint8_t)len;
        h->stream += 2;
        frame[4] = (uint8_t)(h->stream >> 24);
        frame[5] = (uint8_t)(h->stream >> 16);
        frame[6] = (uint8_t)(h->stream >> 8);
        frame[7] = (uint8_t)h->stream;
        frame[8] = 1; /* request */
        frame[9] = 0;
        ttrpc__request__pack(&req, frame + 10);
        if (write(fd, frame, len + 10) < 0 && errno != EAGAIN)
                return;
}

void fuzz_harness_release(struct fuzz_harness *h, uint8_t a)
{
        struct ps_err *e = NULL;

        if (!h->fb.n_held)
                return;
        if (a & 1)
                ps_err_set(&e, PS_UNKNOWN, "fuzzed failure");
        fake_release(&h->fb, a % h->fb.n_held, e); /* takes e */
}

void fuzz_harness_mood(struct fuzz_harness *h, uint8_t a)
{
        h->fb.mode = (enum fake_mode)(a % 3);
}

void fuzz_harness_drains(struct fuzz_harness *h, uint8_t a)
{
        fake_release_drains(&h->fb);
        h->fb.hold_drain = a & 1;
}

void fuzz_harness_junk(int fd, uint8_t a)
{
        uint8_t junk[16];

        memset(junk, a, sizeof(junk));
        if (write(fd, junk, 1 + a % sizeof(junk)) < 0 && errno != EAGAIN)
                return;
}

/* Completes every held call and ends every drain, with the backend answering
 * at once from now on; returns whether there was anything to finish. */
static bool finish_held(struct fuzz_harness *h)
{
        bool changed = false;

        h->fb.mode = FAKE_OK;
        h->fb.hold_drain = false;
        while (h->fb.n_held) {
                fake_release(&h->fb, 0, NULL);
                changed = true;
        }
        if (h->fb.n_drains) {
                fake_release_drains(&h->fb);
                changed = true;
        }
        return changed;
}

/* Lets the backend finish everything. Finishing one thing can leave more to
 * finish (a held start, once done, leaves a live process to exit; a target
 * may exit one process a round), so rounds repeat until one changes nothing;
 * the bound only guards against a core that never settles. */
static void settle(struct fuzz_harness *h)
{
        for (int round = 0; round < 64; round++) {
                bool changed = finish_held(h);

                if (h->target->exit_rest(h->data))
                        changed = true;
                if (!changed)
                        return;
        }
}

void fuzz_harness_run(struct fuzz_harness *h, const uint8_t *data, size_t size)
{
        int fd;

        registry_init(h);
        h->stream = 1;
        fd = fuzz_conn_open(h->srv);
        for (size_t i = 0; i + 1 < size && i < 2 * MAX_STEPS; i += 2) {
                h->target->step(h->data, fd, data[i], data[i + 1]);
                fuzz_conn_pump(h->base, fd);
        }
        settle(h);
        fuzz_conn_pump(h->base, fd);
        fuzz_conn_hang_up(h->base, h->srv, fd);
        close(fd);
        /* what is left is freed by destroy, as when the shim exits */
        ps_sandboxes_destroy(&h->sbs);
}
