#include "api/rpc.h"

#include <errno.h>
#include <stdlib.h>

#include "base/log.h"

static void rpc_cancelled(struct ttrpc_call *call, void *data)
{
        struct ps_rpc *r = data;

        r->call = NULL;
}

struct ps_rpc *ps_rpc_new(struct ttrpc_call *call, int kind)
{
        struct ps_rpc *r = calloc(1, sizeof(*r));

        if (!r) {
                ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                return NULL;
        }
        r->call = call;
        r->kind = kind;
        ttrpc_call_on_cancel(call, rpc_cancelled, r);
        return r;
}

void ps_rpc_free(struct ps_rpc *r)
{
        if (r->call)
                ttrpc_call_on_cancel(r->call, NULL, NULL);
        free(r);
}

void ps_rpc_fail(struct ttrpc_call *call, const struct ps_err *e)
{
        if (e && e->code == PS_UNKNOWN)
                ps_log_warn("%s: %s", ttrpc_call_method(call), ps_err_msg(e));
        else
                ps_log_debug("%s: %s", ttrpc_call_method(call), ps_err_msg(e));
        ttrpc_call_fail(call, e);
}

Google__Protobuf__Timestamp *ps_rpc_time(const struct timespec *t, Google__Protobuf__Timestamp *ts)
{
        if (t->tv_sec == 0)
                return NULL;
        ts->seconds = t->tv_sec;
        ts->nanos = (int32_t)t->tv_nsec;
        return ts;
}

struct ps_mount *ps_rpc_mounts(Containerd__Types__Mount *const *src, size_t n, struct ps_err **err)
{
        struct ps_mount *m = calloc(n + 1, sizeof(*m));

        if (!m)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "mounts"), NULL;
        for (size_t i = 0; i < n; i++)
                m[i] = (struct ps_mount){.type = src[i]->type,
                                         .source = src[i]->source,
                                         .target = src[i]->target,
                                         .options = src[i]->options,
                                         .n_options = src[i]->n_options};
        return m;
}
