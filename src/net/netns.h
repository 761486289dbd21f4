/* Links of a pod's network namespace, through rtnetlink with libnl-3 and
 * libnl-route-3 (linked statically: CMakeLists.txt says why).
 *
 * A ps_netns is a handle on one network namespace: the namespace file of
 * the process it was opened for, and a netlink socket created inside that
 * namespace. The shim's only thread never changes namespace (issue 15 item
 * 6): a socket stays bound to the namespace it was created in, so the
 * socket is created by a short-lived helper child that enters the
 * namespace and hands the socket back. Nothing that fails can leave the
 * daemon in a foreign namespace.
 *
 * The helper. clone(CLONE_VM | CLONE_VFORK) with exit signal 0, on a small
 * stack inside the caller's suspended frame: no page tables are copied and
 * the caller sleeps until the child has exited. The child runs with every
 * signal blocked (a handler must never run on the shim's memory), makes only
 * raw system calls (setns, socket, sendmsg, exit: no malloc, no libc state,
 * no sanitizer interceptors) and passes the socket, or its errno, over a
 * SOCK_SEQPACKET socketpair with SCM_RIGHTS. Sharing the fd table
 * (CLONE_FILES) would save the socketpair, but valgrind refuses that clone
 * (and the valgrind stage runs these tests); SCM_RIGHTS also works when a
 * tool turns the clone into a plain fork.
 *
 * Reaping. Exit signal 0 makes the helper a "clone" child: it sends no
 * SIGCHLD (the reaper's signalfd never wakes for it) and waitpid(-1, WNOHANG)
 * without __WCLONE, the reaper's only call, never returns it. The helper is
 * reaped right here by waitpid(its pid, __WCLONE), which can match nothing
 * else: the one exception to "the reaper is the only wait*() caller". The
 * wait is bounded: CLONE_VFORK releases the caller from the child's exit
 * path, after its last system call. No zombie or stray child remains.
 *
 * Why a handle, kept for the pod's life, and not a helper per call: a new
 * task is placed on the idlest CPU, and waking an idle (virtual) CPU can take
 * a scheduler tick: opening takes ~0.1 ms at the median but 2-4 ms at p99 on
 * a 2-vCPU guest, while a request on an open socket takes ~20 us. So the
 * helper runs once per pod, and again only after a failed exchange, from
 * the namespace file the handle holds (never from a pid that may have been
 * reused meanwhile). Considered and not taken: setns() on the daemon thread and back (what item 6
 * forbids); a persistent helper process per pod (a process and a channel
 * per pod for a call every few seconds, and the same cross-CPU wakeup per
 * call); IFLA_TARGET_NETNSID (assigns a lasting nsid for the pod namespace
 * in the host namespace).
 *
 * libnl wraps the socket the helper made (nl_socket_set_fd: libnl never
 * creates a socket here, so none is ever made in the wrong namespace). The
 * socket is bound to a port the kernel picks and connected to the kernel,
 * so the kernel refuses whatever another process of the pod (one with
 * CAP_NET_ADMIN may) sends to that port.
 *
 * Bounded time (issue 15 item 8). The socket is non-blocking and nothing
 * waits for the kernel: rtnetlink handles a request inside sendmsg(), where
 * the answer (an ACK, or the first part of a dump) is queued before sendmsg
 * returns, and each recvmsg() that empties the queue makes the kernel queue
 * the next part of a dump. So libnl's reads find their data queued, and
 * "nothing queued" (NLE_AGAIN) is an error (UNAVAILABLE), never a wait. A
 * dump stops after PS_NET_MAX_LINKS reported links (its socket, with the
 * rest unread, is then remade for the next call), and an exchange after a
 * fixed number of messages whatever their content. What remains is the kernel's own work, under
 * rtnl_lock: ~15 us per link on a 2-vCPU guest (a veth's message carries
 * ~2.8 KiB of attributes), so ~20 us for a pod's usual 1-3 links and 2-4 ms
 * for PS_NET_MAX_LINKS of them; a task that holds rtnl_lock for long delays
 * us as it delays `ip link`. test_net prints the figures.
 *
 * Ownership: the caller owns the handle (one per pod: the infra container);
 * it pins the namespace until ps_netns_free(). ps_netns_link_stats hands the
 * caller a malloc'ed array.
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

struct ps_netns;

struct ps_link_stats {
        char name[IFNAMSIZ];
        uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
        uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};

/* A handle on the network namespace of `pid` (/proc/<pid>/ns/net) with a
 * netlink socket in it; the helper child runs unless the namespace is the
 * shim's own. A pid that does not exist (or is a zombie, whose namespaces
 * are gone) gives NOT_FOUND. */
struct ps_netns *ps_netns_open(pid_t pid, struct ps_err **err);

/* The same for a namespace file (a CNI netns bind mount, e.g.
 * /var/run/netns/cni-...). A missing file is NOT_FOUND. */
struct ps_netns *ps_netns_open_path(const char *path, struct ps_err **err);

/* Creates tap device `ifname` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, not
 * persistent: it goes when its last fd is closed) in the namespace, by the
 * helper child (TUNSETIFF makes the device in the caller's namespace), and
 * gives its fd (O_CLOEXEC), which works from any namespace. EBUSY when a
 * device of that name exists. */
int ps_netns_tap_create(struct ps_netns *ns, const char *ifname, int *ret_fd, struct ps_err **err);

/* For other modules of this layer (net/vmnic.c): the handle's libnl socket,
 * made if needed, with the exchange's message count reset; NULL with err.
 * Every exchange on it ends with ps_netns_nl_done(ns, the libnl result
 * (< 0 a NLE_* error), what, err), which drops a socket a failure may have
 * left dirty and turns the libnl error into a ps_err (returns -1 then). */
struct nl_sock;
struct nl_sock *ps_netns_nl(struct ps_netns *ns, struct ps_err **err);
int ps_netns_nl_done(struct ps_netns *ns, int nlerr, const char *what, struct ps_err **err);

/* Closes the socket and releases the namespace; accepts NULL, returns NULL. */
struct ps_netns *ps_netns_free(struct ps_netns *ns);

static inline void ps_netns_freep(struct ps_netns **ns)
{
        ps_netns_free(*ns);
}

/* Interface statistics of every link in the namespace, loopback links
 * excluded, in the order the kernel dumps them, as containerd's cgroups v1
 * NetworkStat wants them.
 *
 * On success *ret is a malloc'ed array of *ret_n entries (possibly 0 entries,
 * *ret still non-NULL) that the caller frees with free(). */
int ps_netns_link_stats(struct ps_netns *ns, struct ps_link_stats **ret, size_t *ret_n,
                        struct ps_err **err);

/* Sets IFF_UP on link `ifname` (used for "lo" of namespaces the shim
 * creates). A link that is already up is left alone. A missing link gives
 * NOT_FOUND. */
int ps_netns_link_up(struct ps_netns *ns, const char *ifname, struct ps_err **err);

#endif
