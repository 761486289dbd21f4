/* Links of a pod's network namespace, through rtnetlink (a NETLINK_ROUTE socket).
 *
 * The shim is single-threaded and its own network namespace matters to
 * everything else it does (its ttrpc socket, runc, the publisher), so these
 * functions enter the target namespace with setns() only for the socket()
 * call that creates the netlink socket (a socket stays bound to the namespace
 * it was created in) and return to the shim's namespace at once, on every
 * path. Failing to return is reported as INTERNAL and logged at error level:
 * nothing the shim does afterwards could be trusted.
 *
 * All netlink I/O happens on that socket with 1 s send/receive timeouts; the
 * kernel answers rtnetlink requests synchronously, so in practice the calls
 * take microseconds and never park the event loop.
 *
 * Ownership: ps_net_link_stats hands the caller a malloc'ed array; nothing
 * else is retained between calls.
 */
#ifndef PS_NET_NETNS_H
#define PS_NET_NETNS_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* At most this many links are reported; the rest of a larger namespace is
 * left out (a pod never has that many, and Stats replies stay bounded). */
#define PS_NET_MAX_LINKS 256

struct ps_link_stats {
        char name[IFNAMSIZ];
        uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
        uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};

/* Interface statistics of every link in the network namespace of `pid`
 * (/proc/<pid>/ns/net), loopback links excluded, in the order the kernel
 * dumps them, as containerd's cgroups v1 NetworkStat wants them. When the
 * namespace is the shim's own, no setns() happens at all.
 *
 * On success *ret is a malloc'ed array of *ret_n entries (possibly 0 entries,
 * *ret still non-NULL) that the caller frees with free(). A pid that does not
 * exist (or is a zombie, whose namespaces are gone) gives NOT_FOUND. */
int ps_net_link_stats(pid_t pid, struct ps_link_stats **ret, size_t *ret_n, struct ps_err **err);

/* Sets IFF_UP on link `ifname` in the network namespace of `pid` (used for
 * "lo" of namespaces the shim creates); same setns() discipline. A link that
 * is already up is left alone. A missing pid or link gives NOT_FOUND. */
int ps_net_link_up(pid_t pid, const char *ifname, struct ps_err **err);

#endif
