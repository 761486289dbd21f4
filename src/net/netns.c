/* rtnetlink in another process' network namespace; see netns.h for the
 * setns() discipline. */
#include "net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "base/cleanup.h"
#include "base/log.h"

/* The kernel answers rtnetlink at once; the timeout only bounds a
 * pathological stall so the event loop can never hang on it. */
#define NL_TIMEOUT_SEC 1

static inline void nl_sockp(struct nl_sock **sk)
{
        if (*sk)
                nl_socket_free(*sk); /* closes the adopted fd too */
}

static inline void nl_cachep(struct nl_cache **c)
{
        if (*c)
                nl_cache_free(*c);
}

static inline void rtnl_linkp(struct rtnl_link **l)
{
        if (*l)
                rtnl_link_put(*l);
}

#define _cleanup_nlsock_  _cleanup_(nl_sockp)
#define _cleanup_nlcache_ _cleanup_(nl_cachep)
#define _cleanup_link_    _cleanup_(rtnl_linkp)

/* A libnl error code (negative NLE_*) as a ps_err. */
static int nl_fail(struct ps_err **err, int nlerr, const char *what)
{
        enum ps_code code;

        switch (nlerr < 0 ? -nlerr : nlerr) {
        case NLE_OBJ_NOTFOUND:
        case NLE_NODEV:
                code = PS_NOT_FOUND;
                break;
        case NLE_PERM:
                code = PS_PERMISSION_DENIED;
                break;
        case NLE_NOMEM:
                code = PS_RESOURCE_EXHAUSTED;
                break;
        case NLE_INVAL:
        case NLE_RANGE:
                code = PS_INVALID_ARGUMENT;
                break;
        case NLE_AGAIN:
                code = PS_DEADLINE_EXCEEDED;
                break;
        default:
                code = PS_INTERNAL;
        }
        return ps_err_set(err, code, "%s: %s", what, nl_geterror(nlerr));
}

static int open_netns(pid_t pid, int *ret_fd, struct ps_err **err)
{
        char path[64];

        if (pid <= 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid pid %d", (int)pid);
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                /* ENOENT also covers a zombie: its namespaces are gone. */
                return ps_err_errno(err, errno, PS_UNKNOWN, "network namespace of pid %d",
                                    (int)pid);
        *ret_fd = fd;
        return 0;
}

static int same_file(int a, int b, bool *ret, struct ps_err **err)
{
        struct stat sa, sb;

        if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "fstat netns");
        *ret = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
        return 0;
}

/* A NETLINK_ROUTE socket created inside the network namespace of `pid`. The
 * thread is in that namespace only for the socket() call: nothing else may
 * run there, and the way back is checked before anything else happens. */
static int route_fd_in(pid_t pid, int *ret_fd, struct ps_err **err)
{
        _cleanup_close_ int target = -1, self = -1;
        bool same = false;

        if (open_netns(pid, &target, err) < 0)
                return -1;
        /* setns() is per thread; thread-self is exact even if threads appear. */
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "open own network namespace");
        if (same_file(target, self, &same, err) < 0)
                return -1;
        if (!same && setns(target, CLONE_NEWNET) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "enter network namespace of pid %d",
                                    (int)pid);

        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        int saved = errno;

        if (!same && setns(self, CLONE_NEWNET) < 0) {
                int e = errno;
                ps_close(fd);
                ps_log_error("net: cannot return to the shim's network namespace after entering "
                             "pid %d's: %s; the shim is now running in the wrong namespace",
                             (int)pid, strerror(e));
                return ps_err_errno(err, e, PS_INTERNAL,
                                    "return to own network namespace (from pid %d's)", (int)pid);
        }
        if (fd < 0)
                return ps_err_errno(err, saved, PS_UNKNOWN, "netlink socket in netns of pid %d",
                                    (int)pid);
        *ret_fd = fd;
        return 0;
}

/* A libnl socket, bound and ready, talking to the netns of `pid`. */
static int route_connect(pid_t pid, struct nl_sock **ret, struct ps_err **err)
{
        _cleanup_close_ int fd = -1;
        const struct timeval tv = {.tv_sec = NL_TIMEOUT_SEC};
        const struct sockaddr_nl local = {.nl_family = AF_NETLINK}; /* kernel picks the port */

        if (route_fd_in(pid, &fd, err) < 0)
                return -1;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "netlink socket timeouts");
        if (bind(fd, (const struct sockaddr *)&local, sizeof(local)) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "bind netlink socket");

        _cleanup_nlsock_ struct nl_sock *sk = nl_socket_alloc();
        if (!sk)
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "nl_socket_alloc: out of memory");
        int r = nl_socket_set_fd(sk, NETLINK_ROUTE, fd);
        if (r < 0)
                return nl_fail(err, r, "adopt netlink socket");
        TAKE_FD(fd); /* now owned by sk */
        *ret = TAKE_PTR(sk);
        return 0;
}

static void link_fill(struct ps_link_stats *s, struct rtnl_link *l)
{
        const char *name = rtnl_link_get_name(l);

        snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
        s->rx_bytes = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES);
        s->rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
        s->rx_errors = rtnl_link_get_stat(l, RTNL_LINK_RX_ERRORS);
        s->rx_dropped = rtnl_link_get_stat(l, RTNL_LINK_RX_DROPPED);
        s->tx_bytes = rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES);
        s->tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
        s->tx_errors = rtnl_link_get_stat(l, RTNL_LINK_TX_ERRORS);
        s->tx_dropped = rtnl_link_get_stat(l, RTNL_LINK_TX_DROPPED);
}

int ps_net_link_stats(pid_t pid, struct ps_link_stats **ret, size_t *ret_n, struct ps_err **err)
{
        _cleanup_nlsock_ struct nl_sock *sk = NULL;
        _cleanup_nlcache_ struct nl_cache *cache = NULL;

        if (route_connect(pid, &sk, err) < 0)
                return ps_err_prefix(err, "link stats");
        int r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
        if (r < 0)
                return nl_fail(err, r, "dump links");

        int total = nl_cache_nitems(cache);
        size_t cap = total > PS_NET_MAX_LINKS ? PS_NET_MAX_LINKS : (size_t)(total > 0 ? total : 1);
        _cleanup_free_ struct ps_link_stats *v = calloc(cap, sizeof(*v));
        if (!v)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "link stats");

        size_t n = 0;
        for (struct nl_object *o = nl_cache_get_first(cache); o && n < cap;
             o = nl_cache_get_next(o)) {
                struct rtnl_link *l = (struct rtnl_link *)o;
                if (rtnl_link_get_flags(l) & IFF_LOOPBACK)
                        continue;
                link_fill(&v[n++], l);
        }
        if (total > PS_NET_MAX_LINKS)
                ps_log_debug("net: pid %d has %d links, reporting %zu", (int)pid, total, n);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int ps_net_link_up(pid_t pid, const char *ifname, struct ps_err **err)
{
        _cleanup_nlsock_ struct nl_sock *sk = NULL;
        _cleanup_link_ struct rtnl_link *link = NULL, *change = NULL;

        if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid interface name");
        if (route_connect(pid, &sk, err) < 0)
                return ps_err_prefix(err, "bring %s up", ifname);
        int r = rtnl_link_get_kernel(sk, 0, ifname, &link);
        if (r < 0)
                return nl_fail(err, r, ifname);
        if (rtnl_link_get_flags(link) & IFF_UP)
                return 0;
        change = rtnl_link_alloc();
        if (!change)
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "rtnl_link_alloc: out of memory");
        rtnl_link_set_flags(change, IFF_UP);
        r = rtnl_link_change(sk, link, change, 0);
        if (r < 0)
                return nl_fail(err, r, ifname);
        return 0;
}
