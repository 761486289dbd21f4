#include "agent/network.h"

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>

#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "base/cleanup.h"
#include "net/nl_cleanup.h"

static int nl_err(struct ps_err **err, int r, const char *what, const char *name)
{
        enum ps_code code = PS_UNKNOWN;

        if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
                code = PS_NOT_FOUND;
        else if (r == -NLE_INVAL || r == -NLE_RANGE)
                code = PS_INVALID_ARGUMENT;
        return ps_err_set(err, code, "%s %s: %s", what, name, nl_geterror(r));
}

static bool good_name(const char *s)
{
        return s && *s && strlen(s) < IFNAMSIZ && !strpbrk(s, "/ \t\n:") && strcmp(s, ".") != 0 &&
               strcmp(s, "..") != 0;
}

/* An address "a.b.c.d/len" or "v6/len" of family inet or inet6. */
static int parse_ip(const char *s, bool cidr, struct nl_addr **ret, struct ps_err **err)
{
        struct nl_addr *a = NULL;
        int fam;

        if (!s || !*s || strlen(s) > 64 || (cidr && !strchr(s, '/')) ||
            nl_addr_parse(s, AF_UNSPEC, &a) < 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bad address '%s'", s ? s : "");
        fam = nl_addr_get_family(a);
        if (fam != AF_INET && fam != AF_INET6) {
                nl_addr_put(a);
                return ps_err_set(err, PS_INVALID_ARGUMENT, "'%s' is no IP address", s);
        }
        *ret = a;
        return 0;
}

static int parse_mac(const char *s, struct nl_addr **ret, struct ps_err **err)
{
        struct nl_addr *a = NULL;

        if (!s || strlen(s) != 17 || nl_addr_parse(s, AF_LLC, &a) < 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bad MAC address '%s'", s ? s : "");
        *ret = a;
        return 0;
}

int ps_agent_net_check(const Podshim__Agent__V1__SetupNetworkRequest *req, struct ps_err **err)
{
        if (req->n_interfaces > PS_AGENT_NET_MAX_IFS || req->n_routes > PS_AGENT_NET_MAX_ROUTES)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "too many interfaces or routes");
        for (size_t i = 0; i < req->n_interfaces; i++) {
                const Podshim__Agent__V1__NetworkInterface *f = req->interfaces[i];
                _cleanup_(ps_nl_addr_putp) struct nl_addr *mac = NULL;

                if (!good_name(f->name))
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "bad interface name '%s'",
                                          f->name ? f->name : "");
                if (parse_mac(f->mac, &mac, err) < 0)
                        return -1;
                if (f->mtu != 0 && (f->mtu < 68 || f->mtu > 65535))
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "bad MTU %u", f->mtu);
                if (f->n_addresses > PS_AGENT_NET_MAX_ADDRS)
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "too many addresses");
                for (size_t k = 0; k < f->n_addresses; k++) {
                        _cleanup_(ps_nl_addr_putp) struct nl_addr *a = NULL;

                        if (parse_ip(f->addresses[k], true, &a, err) < 0)
                                return -1;
                }
        }
        for (size_t i = 0; i < req->n_routes; i++) {
                const Podshim__Agent__V1__NetworkRoute *r = req->routes[i];
                _cleanup_(ps_nl_addr_putp) struct nl_addr *dst = NULL, *gw = NULL;

                if (!good_name(r->device))
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "route: bad device '%s'",
                                          r->device ? r->device : "");
                if (parse_ip(r->destination, true, &dst, err) < 0 ||
                    (r->gateway && *r->gateway && parse_ip(r->gateway, false, &gw, err) < 0))
                        return ps_err_prefix(err, "route");
        }
        return 0;
}

/* Renames the link whose MAC is mac to name, sets its MTU and IFF_UP. */
static int setup_link(struct nl_sock *sk, const char *mac_text, const char *name, unsigned mtu,
                      struct ps_err **err)
{
        _cleanup_(ps_nl_cache_freep) struct nl_cache *links = NULL;
        _cleanup_(ps_nl_addr_putp) struct nl_addr *mac = NULL;
        _cleanup_(ps_rtnl_link_putp) struct rtnl_link *change = NULL;
        struct rtnl_link *found = NULL;
        int r;

        if (parse_mac(mac_text, &mac, err) < 0)
                return -1;
        r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
        if (r < 0)
                return nl_err(err, r, "dump links for", mac_text);
        for (struct nl_object *o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
                struct nl_addr *a = rtnl_link_get_addr((struct rtnl_link *)o);

                if (a && nl_addr_cmp(a, mac) == 0) {
                        found = (struct rtnl_link *)o;
                        break;
                }
        }
        if (!found)
                return ps_err_set(err, PS_NOT_FOUND, "no interface with MAC %s", mac_text);
        change = rtnl_link_alloc();
        if (!change)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "link");
        /* The kernel renames before it sets IFF_UP (do_setlink's order),
         * and the link is down since boot. */
        if (strcmp(rtnl_link_get_name(found), name) != 0)
                rtnl_link_set_name(change, name);
        if (mtu)
                rtnl_link_set_mtu(change, mtu);
        rtnl_link_set_flags(change, IFF_UP);
        r = rtnl_link_change(sk, found, change, 0);
        return r < 0 ? nl_err(err, r, "set up", name) : 0;
}

static int link_index(struct nl_sock *sk, const char *name, int *ret, struct ps_err **err)
{
        _cleanup_(ps_rtnl_link_putp) struct rtnl_link *l = NULL;
        int r = rtnl_link_get_kernel(sk, 0, name, &l);

        if (r < 0 || !l)
                return nl_err(err, r < 0 ? r : -NLE_NODEV, "interface", name);
        *ret = rtnl_link_get_ifindex(l);
        return 0;
}

static int lo_up(struct nl_sock *sk, struct ps_err **err)
{
        _cleanup_(ps_rtnl_link_putp) struct rtnl_link *l = NULL, *change = rtnl_link_alloc();
        int r;

        if (!change)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "link");
        r = rtnl_link_get_kernel(sk, 0, "lo", &l);
        if (r >= 0 && !l)
                r = -NLE_NODEV;
        rtnl_link_set_flags(change, IFF_UP);
        if (r >= 0)
                r = rtnl_link_change(sk, l, change, 0);
        return r < 0 ? nl_err(err, r, "set up", "lo") : 0;
}

static int add_address(struct nl_sock *sk, int ifindex, const char *text, struct ps_err **err)
{
        _cleanup_(ps_nl_addr_putp) struct nl_addr *local = NULL;
        struct rtnl_addr *a;
        int r;

        if (parse_ip(text, true, &local, err) < 0)
                return -1;
        a = rtnl_addr_alloc();
        if (!a)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "address");
        rtnl_addr_set_ifindex(a, ifindex);
        r = rtnl_addr_set_local(a, local);
        if (r >= 0)
                r = rtnl_addr_add(sk, a, 0);
        rtnl_addr_put(a);
        if (r < 0 && r != -NLE_EXIST)
                return nl_err(err, r, "add address", text);
        return 0;
}

static int add_route(struct nl_sock *sk, const Podshim__Agent__V1__NetworkRoute *rt,
                     struct ps_err **err)
{
        _cleanup_(ps_nl_addr_putp) struct nl_addr *dst = NULL, *gw = NULL;
        struct rtnl_route *route = NULL;
        struct rtnl_nexthop *nh = NULL;
        bool has_gw = rt->gateway && *rt->gateway;
        int ifindex, r = -NLE_NOMEM;

        if (link_index(sk, rt->device, &ifindex, err) < 0 ||
            parse_ip(rt->destination, true, &dst, err) < 0 ||
            (has_gw && parse_ip(rt->gateway, false, &gw, err) < 0))
                return ps_err_prefix(err, "route");
        route = rtnl_route_alloc();
        nh = rtnl_route_nh_alloc();
        if (route && nh) {
                rtnl_route_set_family(route, nl_addr_get_family(dst));
                rtnl_route_set_table(route, RT_TABLE_MAIN);
                rtnl_route_set_protocol(route, RTPROT_BOOT);
                rtnl_route_set_scope(route, has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
                rtnl_route_set_type(route, RTN_UNICAST);
                r = rtnl_route_set_dst(route, dst);
                rtnl_route_nh_set_ifindex(nh, ifindex);
                if (gw)
                        rtnl_route_nh_set_gateway(nh, gw);
                rtnl_route_add_nexthop(route, nh); /* the route owns it now */
                nh = NULL;
                if (r >= 0)
                        r = rtnl_route_add(sk, route, NLM_F_CREATE);
        }
        if (nh)
                rtnl_route_nh_free(nh);
        if (route)
                rtnl_route_put(route);
        if (r < 0 && r != -NLE_EXIST)
                return nl_err(err, r, "add route", rt->destination);
        return 0;
}

int ps_agent_net_apply(const Podshim__Agent__V1__SetupNetworkRequest *req, struct ps_err **err)
{
        _cleanup_(ps_nl_sock_freep) struct nl_sock *sk = NULL;
        int r;

        if (ps_agent_net_check(req, err) < 0)
                return -1;
        sk = nl_socket_alloc();
        if (!sk)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "netlink socket");
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return nl_err(err, r, "netlink", "socket");
        if (lo_up(sk, err) < 0)
                return -1;
        for (size_t i = 0; i < req->n_interfaces; i++) {
                const Podshim__Agent__V1__NetworkInterface *f = req->interfaces[i];
                int ifindex;

                if (setup_link(sk, f->mac, f->name, f->mtu, err) < 0 ||
                    link_index(sk, f->name, &ifindex, err) < 0)
                        return -1;
                for (size_t k = 0; k < f->n_addresses; k++)
                        if (add_address(sk, ifindex, f->addresses[k], err) < 0)
                                return ps_err_prefix(err, "%s", f->name);
        }
        for (size_t i = 0; i < req->n_routes; i++)
                if (add_route(sk, req->routes[i], err) < 0)
                        return -1;
        return 0;
}
