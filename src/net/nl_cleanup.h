/* _cleanup_() functions (base/cleanup.h) for libnl objects: each drops the
 * reference it points at, if any. Shared by the host's netlink code (net/)
 * and the guest agent's (agent/network.c). */
#ifndef PS_NET_NL_CLEANUP_H
#define PS_NET_NL_CLEANUP_H

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

static inline void ps_nl_sock_freep(struct nl_sock **s)
{
        if (*s)
                nl_socket_free(*s);
}

static inline void ps_nl_addr_putp(struct nl_addr **a)
{
        if (*a)
                nl_addr_put(*a);
}

static inline void ps_rtnl_link_putp(struct rtnl_link **l)
{
        if (*l)
                rtnl_link_put(*l);
}

static inline void ps_nl_cache_freep(struct nl_cache **c)
{
        if (*c)
                nl_cache_free(*c);
}

#endif
