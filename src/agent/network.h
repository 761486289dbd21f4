/* The guest's side of the pod's network (docs/vm-backend.md, "The pod's
 * network, as built"): Agent.SetupNetwork configures the guest's
 * interfaces as the host read them from CNI's eth0 in the pod's network
 * namespace (net/vmnic.h), through rtnetlink with libnl-route in the
 * agent's own (the guest's root) namespace, which the pod's containers
 * share (sandbox/vm/container.c drops the pod netns from their spec).
 *
 * ps_agent_net_check() validates a request without touching anything
 * (names, MACs, addresses, counts); ps_agent_net_apply() checks, then sets
 * lo up, finds each interface by its MAC (the host gave QEMU's virtio-net
 * eth0's MAC), renames it, sets its MTU, up, adds its addresses, then the
 * routes in order. Addresses and routes that exist already are no error,
 * so a request sent again (its answer lost) succeeds. It blocks on netlink
 * for the kernel's answers only (microseconds: the guest's own namespace).
 */
#ifndef PS_AGENT_NETWORK_H
#define PS_AGENT_NETWORK_H

#include "base/error.h"
#include "podshim/agent/v1/agent.pb-c.h"

#define PS_AGENT_NET_MAX_IFS    8
#define PS_AGENT_NET_MAX_ADDRS  16
#define PS_AGENT_NET_MAX_ROUTES 64

int ps_agent_net_check(const Podshim__Agent__V1__SetupNetworkRequest *req, struct ps_err **err);

int ps_agent_net_apply(const Podshim__Agent__V1__SetupNetworkRequest *req, struct ps_err **err);

#endif
