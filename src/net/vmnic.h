/* The host end of a VM pod's network (docs/vm-backend.md, "The pod's
 * network, as built").
 *
 * CNI gave the pod a network namespace whose eth0 (a veth on the CNI
 * bridge) holds the pod's IP and routes. The VM gets that interface's
 * traffic without eth0 changing: in the namespace a tap device
 * (PS_VMNIC_TAP) is made, and tc joins the two, an ingress qdisc on each
 * with a u32 filter matching every packet whose mirred action redirects it
 * to the other's egress (eth0 -> tap -> QEMU's virtio-net -> the guest's
 * eth0, and back). The guest's eth0 takes eth0's MAC, addresses, MTU and
 * routes (read here over netlink), so to the bridge, ARP and CNI's IPAM the
 * pod looks as it did: the VM *is* the endpoint of the veth. The tap's fd
 * goes to QEMU (`-netdev tap,fd=`); QEMU stays in the host's namespaces.
 *
 * Why tc and not a bridge or macvtap in the namespace: nothing of eth0
 * changes (no address moved to a bridge, CNI's DEL finds its veth as it
 * left it), and it works whatever kind of link CNI made; production VM
 * runtimes do the same.
 *
 * All of it runs on the shim's thread through the pod netns handle
 * (net/netns.h: its socket, and the tap, made by the short-lived helper
 * child in the namespace), each request bounded as there.
 *
 * Teardown: the tap is not persistent, so it goes with the last fd (QEMU's
 * and ours), its qdisc and filter with it; ps_vmnic_free() removes eth0's
 * ingress qdisc (and so its filter) if eth0 is still there (CNI's DEL may
 * have deleted the veth first, taking the qdisc along).
 */
#ifndef PS_NET_VMNIC_H
#define PS_NET_VMNIC_H

#include <arpa/inet.h>
#include <net/if.h>
#include <stddef.h>

#include "base/error.h"
#include "net/netns.h"

#define PS_VMNIC_TAP        "tap0_podshim"
#define PS_VMNIC_POD_IF     "eth0" /* CRI's interface name for CNI */
#define PS_VMNIC_MAX_ADDRS  16
#define PS_VMNIC_MAX_ROUTES 32
#define PS_VMNIC_CIDR_LEN   (INET6_ADDRSTRLEN + 4) /* "addr/len" */

struct ps_vmnic_route {
        char dst[PS_VMNIC_CIDR_LEN]; /* "0.0.0.0/0" for a default route */
        char gw[INET6_ADDRSTRLEN];   /* "" for a directly reachable destination */
};

/* eth0 as CNI left it: what the guest's interface becomes. */
struct ps_vmnic_info {
        char name[IFNAMSIZ];
        char mac[18]; /* "aa:bb:cc:dd:ee:ff" */
        unsigned mtu;
        char addrs[PS_VMNIC_MAX_ADDRS][PS_VMNIC_CIDR_LEN]; /* "10.1.2.3/24" */
        size_t n_addrs;
        /* eth0's routes of the main table, those the kernel adds for an
         * address left out; routes without a gateway first */
        struct ps_vmnic_route routes[PS_VMNIC_MAX_ROUTES];
        size_t n_routes;
};

struct ps_vmnic;

/* Makes the tap in the namespace at netns_path and joins it to eth0.
 * NOT_FOUND when the namespace has no eth0; nothing is left on failure. */
struct ps_vmnic *ps_vmnic_open(const char *netns_path, struct ps_err **err);

const struct ps_vmnic_info *ps_vmnic_info(const struct ps_vmnic *nic);

/* The tap's fd, for QEMU's spawn; the nic keeps it until ps_vmnic_close_tap
 * or ps_vmnic_free. */
int ps_vmnic_tap_fd(const struct ps_vmnic *nic);

/* Closes the nic's copy of the tap fd (once QEMU holds its own: the tap
 * then goes when QEMU exits). */
void ps_vmnic_close_tap(struct ps_vmnic *nic);

/* Statistics of eth0 in the namespace (the VM's traffic, since every
 * packet of the tap crosses it; the tap itself is left out, not to count
 * it twice): *ret a malloc'ed array of *ret_n (0 or 1) entries. */
int ps_vmnic_link_stats(struct ps_vmnic *nic, struct ps_link_stats **ret, size_t *ret_n,
                        struct ps_err **err);

/* Removes eth0's ingress qdisc when eth0 is still there, closes the tap fd
 * and the namespace handle. Accepts NULL, returns NULL. */
struct ps_vmnic *ps_vmnic_free(struct ps_vmnic *nic);

#endif
