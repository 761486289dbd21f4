/* A vm pod's network (docs/vm-backend.md, "The pod's network, as built"):
 * the host end (net/vmnic.h: a tap in CNI's namespace joined to eth0 by
 * tc, its fd QEMU's) and the guest's end (Agent.SetupNetwork with eth0's
 * MAC, addresses, MTU and routes, right after the agent's Hello, before the
 * pod's Create answers).
 *
 * A pod whose sandbox spec names no network namespace path (a host-network
 * pod) gets no NIC, as before, but its guest's lo is set up all the same;
 * a container in a VM of its own (solo) gets neither: its spec asks for
 * namespaces of its own in the guest.
 */
#ifndef PS_SANDBOX_VM_POD_NET_H
#define PS_SANDBOX_VM_POD_NET_H

#include "base/error.h"

struct ps_agent_client;
struct ps_spec;
struct ps_vm_config;
struct ps_vmnic;

/* The nic for the spec's network namespace (NULL in *ret when the spec
 * names none), with cfg's nic_mac and tap_fd set for QEMU. */
int ps_vm_pod_net_open(const struct ps_spec *spec, struct ps_vm_config *cfg, struct ps_vmnic **ret,
                       struct ps_err **err);

/* Sends SetupNetwork for nic to the agent (nic NULL: no interface, which
 * sets the guest's lo up only); fn runs once with its answer. */
int ps_vm_pod_net_setup(struct ps_agent_client *agent, const struct ps_vmnic *nic,
                        void (*fn)(void *data, const struct ps_err *err), void *data,
                        struct ps_err **err);

#endif
