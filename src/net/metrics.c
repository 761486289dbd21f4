/* NetworkStat entries spliced into a packed cgroups v1 Metrics. */
#include "net/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "cgroups/v1/metrics.pb-c.h"

typedef Io__Containerd__Cgroups__V1__Metrics V1Metrics;
typedef Io__Containerd__Cgroups__V1__NetworkStat V1NetworkStat;

static inline void v1_metricsp(V1Metrics **m)
{
        if (*m)
                io__containerd__cgroups__v1__metrics__free_unpacked(*m, NULL);
}

/* Drops the message's network entries. Everything in an unpacked message
 * comes from the default (malloc) allocator, and so does everything we add,
 * so free_unpacked() frees either kind. */
static void network_clear(V1Metrics *m)
{
        for (size_t i = 0; i < m->n_network; i++)
                io__containerd__cgroups__v1__network_stat__free_unpacked(m->network[i], NULL);
        free(m->network);
        m->network = NULL;
        m->n_network = 0;
}

static V1NetworkStat *network_stat_new(const struct ps_link_stats *l)
{
        V1NetworkStat *s = malloc(sizeof(*s));

        if (!s)
                return NULL;
        io__containerd__cgroups__v1__network_stat__init(s);
        s->name = strndup(l->name, sizeof(l->name) - 1);
        if (!s->name) {
                free(s);
                return NULL;
        }
        s->rx_bytes = l->rx_bytes;
        s->rx_packets = l->rx_packets;
        s->rx_errors = l->rx_errors;
        s->rx_dropped = l->rx_dropped;
        s->tx_bytes = l->tx_bytes;
        s->tx_packets = l->tx_packets;
        s->tx_errors = l->tx_errors;
        s->tx_dropped = l->tx_dropped;
        return s;
}

int ps_net_add_to_metrics(const uint8_t *packed_v1_metrics, size_t len,
                          const struct ps_link_stats *links, size_t n, uint8_t **ret,
                          size_t *ret_len, struct ps_err **err)
{
        static const uint8_t empty[1];

        if (n > PS_NET_MAX_LINKS || (n && !links) || (len && !packed_v1_metrics))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "add network stats: bad arguments");
        _cleanup_(v1_metricsp) V1Metrics *m = io__containerd__cgroups__v1__metrics__unpack(
            NULL, len, len ? packed_v1_metrics : empty);
        if (!m)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "add network stats: malformed v1 Metrics");

        network_clear(m);
        if (n) {
                m->network = calloc(n, sizeof(*m->network));
                if (!m->network)
                        return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "network stats");
                /* n_network counts only finished entries, so a failure midway
                 * leaves a message free_unpacked() can release. */
                for (size_t i = 0; i < n; i++) {
                        m->network[i] = network_stat_new(&links[i]);
                        if (!m->network[i])
                                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED,
                                                    "network stats");
                        m->n_network = i + 1;
                }
        }

        size_t size = io__containerd__cgroups__v1__metrics__get_packed_size(m);
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "pack v1 Metrics");
        io__containerd__cgroups__v1__metrics__pack(m, buf);
        *ret = buf;
        *ret_len = size;
        return 0;
}
