/* A VM pod's tap joined to CNI's eth0 by tc; see vmnic.h. */
#include "net/vmnic.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/addr.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>

#include "base/cleanup.h"
#include "net/nl_cleanup.h"
#include "net/netns.h"

#define INGRESS_HANDLE 0xffff0000U /* ffff: (libnl's TC_HANDLE shifts an int) */

struct ps_vmnic {
        struct ps_netns *ns;
        int tap_fd;
        int eth_index, tap_index;
        bool qdisc_eth; /* eth0's ingress qdisc is ours to remove */
        struct ps_vmnic_info info;
};

/* An address as "addr/len" (len: the given prefix, or the address's). */
static void cidr(char *buf, size_t len, struct nl_addr *a, int prefix)
{
        char ip[INET6_ADDRSTRLEN] = "";
        int fam = nl_addr_get_family(a);
        unsigned char zero[16] = {0};
        const void *bin = nl_addr_get_len(a) ? nl_addr_get_binary_addr(a) : zero;

        inet_ntop(fam, bin, ip, sizeof(ip));
        snprintf(buf, len, "%s/%d", ip, prefix >= 0 ? prefix : (int)nl_addr_get_prefixlen(a));
}

/* ifindex, MAC and MTU of `name`; NOT_FOUND when there is none. */
static int get_link(struct ps_vmnic *nic, const char *name, int *ret_index, struct ps_err **err)
{
        _cleanup_(ps_rtnl_link_putp) struct rtnl_link *l = NULL;
        struct nl_sock *sk = ps_netns_nl(nic->ns, err);
        int r;

        if (!sk)
                return -1;
        r = rtnl_link_get_kernel(sk, 0, name, &l);
        if (r >= 0 && !l)
                r = -NLE_MSG_TRUNC;
        if (ps_netns_nl_done(nic->ns, r, name, err) < 0)
                return -1;
        *ret_index = rtnl_link_get_ifindex(l);
        if (strcmp(name, PS_VMNIC_POD_IF) == 0) {
                struct nl_addr *mac = rtnl_link_get_addr(l);

                if (!mac || nl_addr_get_len(mac) != ETH_ALEN)
                        return ps_err_set(err, PS_FAILED_PRECONDITION, "%s has no MAC address",
                                          name);
                nl_addr2str(mac, nic->info.mac, sizeof(nic->info.mac));
                nic->info.mtu = rtnl_link_get_mtu(l);
                snprintf(nic->info.name, sizeof(nic->info.name), "%s", name);
        }
        return 0;
}

static void on_addr(struct nl_object *obj, void *arg)
{
        struct ps_vmnic *nic = arg;
        struct rtnl_addr *a = (struct rtnl_addr *)obj;
        struct nl_addr *local = rtnl_addr_get_local(a);
        struct ps_vmnic_info *i = &nic->info;

        if (rtnl_addr_get_ifindex(a) != nic->eth_index || !local ||
            rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE || i->n_addrs == PS_VMNIC_MAX_ADDRS)
                return;
        cidr(i->addrs[i->n_addrs++], PS_VMNIC_CIDR_LEN, local, rtnl_addr_get_prefixlen(a));
}

static void on_route(struct nl_object *obj, void *arg)
{
        struct ps_vmnic *nic = arg;
        struct rtnl_route *rt = (struct rtnl_route *)obj;
        struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
        struct ps_vmnic_info *i = &nic->info;
        struct ps_vmnic_route *out;
        struct nl_addr *gw;

        if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || rtnl_route_get_type(rt) != RTN_UNICAST ||
            rtnl_route_get_protocol(rt) == RTPROT_KERNEL || !nh ||
            rtnl_route_nh_get_ifindex(nh) != nic->eth_index || i->n_routes == PS_VMNIC_MAX_ROUTES)
                return;
        gw = rtnl_route_nh_get_gateway(nh);
        out = &i->routes[i->n_routes++];
        cidr(out->dst, sizeof(out->dst), rtnl_route_get_dst(rt), -1);
        out->gw[0] = '\0';
        if (gw && nl_addr_get_len(gw))
                inet_ntop(nl_addr_get_family(gw), nl_addr_get_binary_addr(gw), out->gw,
                          sizeof(out->gw));
}

/* Directly reachable destinations first: a gateway must be reachable when
 * its route is added. */
static void order_routes(struct ps_vmnic_info *i)
{
        struct ps_vmnic_route tmp[PS_VMNIC_MAX_ROUTES];
        size_t n = 0;

        memset(tmp, 0, sizeof(tmp));
        for (int pass = 0; pass < 2; pass++)
                for (size_t k = 0; k < i->n_routes; k++)
                        if ((i->routes[k].gw[0] != '\0') == (pass == 1))
                                tmp[n++] = i->routes[k];
        memcpy(i->routes, tmp, n * sizeof(tmp[0]));
}

static int read_config(struct ps_vmnic *nic, struct ps_err **err)
{
        _cleanup_(ps_nl_cache_freep) struct nl_cache *addrs = NULL, *routes = NULL;
        struct nl_sock *sk;
        int r;

        if (get_link(nic, PS_VMNIC_POD_IF, &nic->eth_index, err) < 0)
                return -1;
        if (!(sk = ps_netns_nl(nic->ns, err)))
                return -1;
        r = rtnl_addr_alloc_cache(sk, &addrs);
        if (ps_netns_nl_done(nic->ns, r, "dump addresses", err) < 0)
                return -1;
        nl_cache_foreach(addrs, on_addr, nic);
        if (!(sk = ps_netns_nl(nic->ns, err)))
                return -1;
        r = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes);
        if (ps_netns_nl_done(nic->ns, r, "dump routes", err) < 0)
                return -1;
        nl_cache_foreach(routes, on_route, nic);
        order_routes(&nic->info);
        return 0;
}

/* The tap up with eth0's MTU. */
static int tap_up(struct ps_vmnic *nic, struct ps_err **err)
{
        _cleanup_(ps_rtnl_link_putp) struct rtnl_link *l = NULL, *change = rtnl_link_alloc();
        struct nl_sock *sk;
        int r;

        if (!change)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "tap");
        if (!(sk = ps_netns_nl(nic->ns, err)))
                return -1;
        rtnl_link_set_flags(change, IFF_UP);
        if (nic->info.mtu)
                rtnl_link_set_mtu(change, nic->info.mtu);
        r = rtnl_link_get_kernel(sk, nic->tap_index, NULL, &l);
        if (r >= 0 && !l)
                r = -NLE_MSG_TRUNC;
        if (r >= 0)
                r = rtnl_link_change(sk, l, change, 0);
        return ps_netns_nl_done(nic->ns, r, "bring the tap up", err);
}

static struct rtnl_qdisc *ingress_qdisc(int ifindex)
{
        struct rtnl_qdisc *q = rtnl_qdisc_alloc();

        if (!q)
                return NULL;
        rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
        rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
        rtnl_tc_set_handle(TC_CAST(q), INGRESS_HANDLE);
        if (rtnl_tc_set_kind(TC_CAST(q), "ingress") < 0) {
                rtnl_qdisc_put(q);
                return NULL;
        }
        return q;
}

/* u32 matching every packet on from's ingress, redirected to to's egress. */
static struct rtnl_cls *redirect_filter(int from, int to, int *ret_nlerr)
{
        struct rtnl_cls *cls = rtnl_cls_alloc();
        struct rtnl_act *act = rtnl_act_alloc();
        int r = -NLE_NOMEM;

        if (cls && act) {
                rtnl_tc_set_ifindex(TC_CAST(cls), from);
                rtnl_tc_set_parent(TC_CAST(cls), INGRESS_HANDLE);
                rtnl_cls_set_protocol(cls, ETH_P_ALL);
                rtnl_cls_set_prio(cls, 1);
                r = rtnl_tc_set_kind(TC_CAST(cls), "u32");
                if (r >= 0)
                        r = rtnl_tc_set_kind(TC_CAST(act), "mirred");
                if (r >= 0)
                        r = rtnl_mirred_set_action(act, TCA_EGRESS_REDIR);
                if (r >= 0)
                        r = rtnl_mirred_set_policy(act, TC_ACT_STOLEN);
                if (r >= 0)
                        r = rtnl_mirred_set_ifindex(act, (uint32_t)to);
                if (r >= 0) /* value 0 under mask 0 at offset 0: every packet */
                        r = rtnl_u32_add_key_uint32(cls, 0, 0, 0, 0);
                if (r >= 0)
                        r = rtnl_u32_set_cls_terminal(cls);
                if (r >= 0)
                        r = rtnl_u32_add_action(cls, act); /* takes its own reference */
        }
        if (act)
                rtnl_act_put(act);
        if (r < 0 && cls) {
                rtnl_cls_put(cls);
                cls = NULL;
        }
        *ret_nlerr = r;
        return cls;
}

static int redirect(struct ps_vmnic *nic, int from, int to, bool *added_qdisc, struct ps_err **err)
{
        struct rtnl_qdisc *q = ingress_qdisc(from);
        struct rtnl_cls *cls = NULL;
        struct nl_sock *sk;
        int r = -NLE_NOMEM;

        if (!(sk = ps_netns_nl(nic->ns, err))) {
                if (q)
                        rtnl_qdisc_put(q);
                return -1;
        }
        if (q)
                r = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
        if (r >= 0)
                *added_qdisc = true;
        if (r >= 0)
                cls = redirect_filter(from, to, &r);
        if (cls)
                r = rtnl_cls_add(sk, cls, NLM_F_CREATE | NLM_F_EXCL);
        if (q)
                rtnl_qdisc_put(q);
        if (cls)
                rtnl_cls_put(cls);
        return ps_netns_nl_done(nic->ns, r, "tc redirect", err);
}

/* eth0's ingress qdisc (its filter goes with it); NOT_FOUND is no error:
 * CNI may have deleted the veth, and the qdisc with it. */
static void remove_eth_qdisc(struct ps_vmnic *nic)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct rtnl_qdisc *q = ingress_qdisc(nic->eth_index);
        struct nl_sock *sk = ps_netns_nl(nic->ns, &e);
        int r = -NLE_NOMEM;

        if (sk && q)
                r = rtnl_qdisc_delete(sk, q);
        if (sk)
                ps_netns_nl_done(nic->ns, r, "remove ingress qdisc", &e);
        if (q)
                rtnl_qdisc_put(q);
}

struct ps_vmnic *ps_vmnic_open(const char *netns_path, struct ps_err **err)
{
        struct ps_vmnic *nic = calloc(1, sizeof(*nic));

        if (!nic)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm nic"), NULL;
        nic->tap_fd = -1;
        nic->ns = ps_netns_open_path(netns_path, err);
        if (!nic->ns || read_config(nic, err) < 0 ||
            ps_netns_tap_create(nic->ns, PS_VMNIC_TAP, &nic->tap_fd, err) < 0 ||
            get_link(nic, PS_VMNIC_TAP, &nic->tap_index, err) < 0 || tap_up(nic, err) < 0 ||
            redirect(nic, nic->eth_index, nic->tap_index, &nic->qdisc_eth, err) < 0) {
                ps_err_prefix(err, "vm network");
                return ps_vmnic_free(nic);
        }
        /* The tap's own qdisc goes with the tap: not remembered. */
        bool tap_qdisc = false;
        if (redirect(nic, nic->tap_index, nic->eth_index, &tap_qdisc, err) < 0) {
                ps_err_prefix(err, "vm network");
                return ps_vmnic_free(nic);
        }
        return nic;
}

const struct ps_vmnic_info *ps_vmnic_info(const struct ps_vmnic *nic)
{
        return &nic->info;
}

int ps_vmnic_tap_fd(const struct ps_vmnic *nic)
{
        return nic->tap_fd;
}

int ps_vmnic_link_stats(struct ps_vmnic *nic, struct ps_link_stats **ret, size_t *ret_n,
                        struct ps_err **err)
{
        struct ps_link_stats *v = NULL;
        size_t n = 0, kept = 0;

        if (ps_netns_link_stats(nic->ns, &v, &n, err) < 0)
                return -1;
        for (size_t k = 0; k < n; k++)
                if (strcmp(v[k].name, PS_VMNIC_POD_IF) == 0)
                        v[kept++] = v[k];
        *ret = v;
        *ret_n = kept;
        return 0;
}

void ps_vmnic_close_tap(struct ps_vmnic *nic)
{
        nic->tap_fd = ps_close(nic->tap_fd);
}

struct ps_vmnic *ps_vmnic_free(struct ps_vmnic *nic)
{
        if (!nic)
                return NULL;
        if (nic->qdisc_eth && nic->ns)
                remove_eth_qdisc(nic);
        ps_close(nic->tap_fd);
        ps_netns_free(nic->ns);
        free(nic);
        return NULL;
}
