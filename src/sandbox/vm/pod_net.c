#include "sandbox/vm/pod_net.h"

#include "agent/client.h"
#include "net/vmnic.h"
#include "oci/spec.h"
#include "sandbox/vm/qemu.h"

/* The guest answers at once (netlink in its own namespace); a TCG guest
 * under load takes longer. */
#define SETUP_TIMEOUT_MS 20000

int ps_vm_pod_net_open(const struct ps_spec *spec, struct ps_vm_config *cfg, struct ps_vmnic **ret,
                       struct ps_err **err)
{
        const struct ps_spec_ns *ns = spec ? &spec->ns[PS_SPEC_NS_NETWORK] : NULL;
        struct ps_vmnic *nic;

        *ret = NULL;
        /* No namespace listed: the host's (a host-network pod); one listed
         * without a path would be a new, empty one: nothing to carry. */
        if (!ns || !ns->present || !ns->path)
                return 0;
        nic = ps_vmnic_open(ns->path, err);
        if (!nic)
                return -1;
        cfg->nic_mac = ps_vmnic_info(nic)->mac;
        cfg->tap_fd = ps_vmnic_tap_fd(nic);
        *ret = nic;
        return 0;
}

int ps_vm_pod_net_setup(struct ps_agent_client *agent, const struct ps_vmnic *nic,
                        void (*fn)(void *data, const struct ps_err *err), void *data,
                        struct ps_err **err)
{
        static const struct ps_vmnic_info no_nic;
        const struct ps_vmnic_info *i = nic ? ps_vmnic_info(nic) : &no_nic;
        const char *addrs[PS_VMNIC_MAX_ADDRS];
        struct ps_agent_net_route routes[PS_VMNIC_MAX_ROUTES];
        struct ps_agent_net_iface iface = {
            .name = i->name, .mac = i->mac, .mtu = i->mtu, .addrs = addrs, .n_addrs = i->n_addrs};

        for (size_t k = 0; k < i->n_addrs; k++)
                addrs[k] = i->addrs[k];
        for (size_t k = 0; k < i->n_routes; k++)
                routes[k] = (struct ps_agent_net_route){
                    .dst = i->routes[k].dst, .gw = i->routes[k].gw, .dev = i->name};
        /* no nic: no interface, which sets the guest's lo up only */
        return ps_agent_client_setup_network(agent, &iface, nic ? 1 : 0, routes, i->n_routes,
                                             SETUP_TIMEOUT_MS, fn, data, err);
}
