#include "agent/client.h"

#include <errno.h>
#include <stdlib.h>

#include "agent/service.h"
#include "base/version.h"
#include "podshim/agent/v1/agent.pb-c.h"
#include "ttrpc/client.h"

struct ps_agent_client {
        struct ttrpc_client *ttrpc;
};

/* One call in flight: the caller's callback, freed when it has run. */
struct pending {
        union {
                ps_agent_hello_fn hello;
                ps_agent_done_fn done;
        } fn;
        void *data;
};

struct ps_agent_client *ps_agent_client_new(struct event_base *base, const char *socket_path,
                                            struct ps_err **err)
{
        struct ps_agent_client *c = calloc(1, sizeof(*c));

        if (!c) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "agent client");
                return NULL;
        }
        c->ttrpc = ttrpc_client_new(base, socket_path, err);
        if (!c->ttrpc) {
                free(c);
                return NULL;
        }
        return c;
}

struct ps_agent_client *ps_agent_client_free(struct ps_agent_client *c)
{
        if (!c)
                return NULL;
        ttrpc_client_free(c->ttrpc);
        free(c);
        return NULL;
}

static struct pending *pending_new(void *data, struct ps_err **err)
{
        struct pending *p = calloc(1, sizeof(*p));

        if (!p) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "agent call");
                return NULL;
        }
        p->data = data;
        return p;
}

static void on_hello(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_hello_fn fn = p->fn.hello;
        void *fn_data = p->data;
        Podshim__Agent__V1__HelloResponse *resp = NULL;
        struct ps_agent_hello h;

        free(p);
        if (err)
                return fn(fn_data, err, NULL);
        resp = podshim__agent__v1__hello_response__unpack(NULL, len, payload);
        if (!resp) {
                struct ps_err bad = {.code = PS_INTERNAL,
                                     .msg = (char *)(uintptr_t) "agent: malformed HelloResponse"};

                return fn(fn_data, &bad, NULL);
        }
        h = (struct ps_agent_hello){.version = resp->version,
                                    .kernel_release = resp->kernel_release,
                                    .boot_id = resp->boot_id,
                                    .pid = resp->pid};
        fn(fn_data, NULL, &h);
        podshim__agent__v1__hello_response__free_unpacked(resp, NULL);
}

int ps_agent_client_hello(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_hello_fn fn,
                          void *data, struct ps_err **err)
{
        Podshim__Agent__V1__HelloRequest req = PODSHIM__AGENT__V1__HELLO_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.hello = fn;
        req.host_version = (char *)(uintptr_t)ps_build_version;
        if (ttrpc_client_call(c->ttrpc, PS_AGENT_SERVICE_NAME, "Hello", &req.base, NULL, 0,
                              timeout_ms, on_hello, p, err) < 0) {
                free(p);
                return -1;
        }
        return 0;
}

static void on_done(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_done_fn fn = p->fn.done;
        void *fn_data = p->data;

        (void)payload;
        (void)len;
        free(p);
        fn(fn_data, err);
}

int ps_agent_client_shutdown(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_done_fn fn,
                             void *data, struct ps_err **err)
{
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.done = fn;
        if (ttrpc_client_call(c->ttrpc, PS_AGENT_SERVICE_NAME, "Shutdown", NULL, NULL, 0,
                              timeout_ms, on_done, p, err) < 0) {
                free(p);
                return -1;
        }
        return 0;
}
