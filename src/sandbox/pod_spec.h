/* A pod made through the Sandbox API (containerd 2.x's shim sandboxer):
 * what CRI asks of it, as plain values, and the OCI spec of its infra task
 * derived from that.
 *
 * In podsandbox mode CRI writes the pod's spec itself (the pause
 * container's config.json) and the Linux backend reads it. With the shim
 * sandboxer there is no spec: CRI hands over its PodSandboxConfig and the
 * pod's network namespace path, and the shim derives the same spec CRI
 * would have written for the pause container, as far as the infra process
 * reads one (internal/cri/server/podsandbox/sandbox_run_linux.go of 2.1):
 *  - namespaces: network joined at the netns path (a new one when the pod
 *    network is the pod's own but no path came), none for host network;
 *    uts with the network (CRI leaves both out for host network); pid
 *    unless NODE; ipc unless NODE;
 *  - hostname (in the pod's own uts namespace only);
 *  - cgroupsPath from cgroup_parent exactly as CRI forms it (getCgroupsPath:
 *    "<slice>:cri-containerd:<id>" under a systemd slice, <parent>/<id>
 *    otherwise), cpu shares 2 (DefaultSandboxCPUshares);
 *  - the user from run_as_user / run_as_group;
 *  - oomScoreAdj -998, never below the shim's own (CRI's
 *    restrict_oom_score_adj: lowering it needs a privilege the pod must not
 *    depend on);
 *  - the sysctls;
 *  - with linux.resources, the annotations io.kubernetes.cri.sandbox-cpu-period,
 *    -cpu-quota, -cpu-shares and -memory (in bytes) CRI puts on a pause
 *    spec (podsandbox/sandbox_run_linux.go), which the VM backend sizes
 *    its VM from exactly as in podsandbox mode.
 *  - a user namespace (userns POD) with the config's uid and gid maps,
 *    joined or new (ps_pod_spec_build); the infra process runs inside it.
 * What the infra process cannot honour is refused, never dropped: a mode
 * that is no pod mode, a user namespace without maps or with maps the
 * kernel would refuse (INVALID_ARGUMENT).
 *
 * Ownership: a ps_pod_config borrows every string and array (from the
 * decoded wire message); the spec built from it owns copies. */
#ifndef PS_SANDBOX_POD_SPEC_H
#define PS_SANDBOX_POD_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "oci/spec.h"

/* CRI's NamespaceMode values. */
enum ps_pod_ns_mode {
        PS_POD_NS_POD = 0,
        PS_POD_NS_CONTAINER = 1,
        PS_POD_NS_NODE = 2,
        PS_POD_NS_TARGET = 3,
};

/* CRI's default oom_score_adj for a sandbox (kubernetes#47938). */
#define PS_POD_OOM_SCORE_ADJ -998
/* Bounds on the DNS config (kubelet's own are 3 servers and 32 search
 * domains; a resolver reads lines of at most a few hundred bytes). */
#define PS_POD_MAX_DNS_ENTRIES 32u
#define PS_POD_MAX_DNS_ENTRY   253u
/* CRI's DefaultSandboxCPUshares. */
#define PS_POD_CPU_SHARES 2

struct ps_pod_config {
        /* metadata: for logs and the verbose status */
        const char *name, *uid, *kube_namespace;
        const char *hostname;
        const char *cgroup_parent;
        int network, pid, ipc; /* enum ps_pod_ns_mode, as sent */
        bool has_userns;
        int userns;
        /* userns POD: the pod's id maps (oci/idmap.h) */
        const struct ps_idmap *uid_map, *gid_map;
        size_t n_uid_map, n_gid_map;
        bool has_run_as_user, has_run_as_group;
        int64_t run_as_user, run_as_group;
        const struct ps_spec_kv *sysctls;
        size_t n_sysctls;
        /* DNS: the pod's resolv.conf (sandbox/pod_files.h); none given means
         * the host's, as CRI does it */
        bool has_dns;
        char *const *dns_servers, *const *dns_searches, *const *dns_options;
        size_t n_dns_servers, n_dns_searches, n_dns_options;
        /* linux.resources: the sum of the containers' limits (kubelet
         * 1.23+), which a VM pod is sized from (sandbox/vm/sizing.h) */
        bool has_resources;
        int64_t cpu_period, cpu_quota, cpu_shares, memory_limit;
};

/* The infra task's spec for pod `id` (see above). netns_path: the network
 * namespace to join, NULL or "" for none. userns_path: for a pod with a
 * user namespace (userns POD), the one to join (containerd 2.x makes the
 * pod's network namespace inside it: its owner), NULL for a new one with
 * the config's maps (a host-network pod). oom_floor: the lowest
 * oomScoreAdj the pod may get (the shim's own). */
int ps_pod_spec_build(const char *id, const char *netns_path, const char *userns_path,
                      const struct ps_pod_config *cfg, int oom_floor, struct ps_spec **ret,
                      struct ps_err **err);

/* Whether CRI's cgroups path for this parent is systemd's slice:prefix:name
 * form (the parent's last component ends in ".slice"). */
bool ps_pod_cgroup_parent_is_slice(const char *cgroup_parent);

#endif
