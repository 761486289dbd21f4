/* CreateSandboxRequest.options as containerd 2.x sends it: CRI's
 * runtime.v1.PodSandboxConfig in an Any, decoded by api/pod_config.c into
 * the plain pod config; and what is refused with which code. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/pod_config.h"
#include "base/cleanup.h"
#include "check.h"
#include "cri/runtime/v1/pod_sandbox.pb-c.h"

static uint8_t buf[8192];

/* A config as kubelet fills it for a pod on the pod network. */
static size_t pack(int network, bool userns, size_t n_sysctls)
{
        Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
        Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
        Runtime__V1__LinuxPodSandboxConfig lx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
        Runtime__V1__LinuxSandboxSecurityContext sc =
            RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
        Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
        Runtime__V1__UserNamespace un = RUNTIME__V1__USER_NAMESPACE__INIT;
        Runtime__V1__Int64Value user = RUNTIME__V1__INT64_VALUE__INIT;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry e[100];
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *ep[100];
        char keys[100][32];
        Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
        Runtime__V1__LinuxContainerResources res = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        char *servers[] = {"10.96.0.10"}, *searches[] = {"default.svc", "svc"};

        md.name = "web";
        md.uid = "u-1";
        md.namespace_ = "default";
        ns.network = (Runtime__V1__NamespaceMode)network;
        ns.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
        ns.ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
        if (userns) {
                un.mode = RUNTIME__V1__NAMESPACE_MODE__POD;
                ns.userns_options = &un;
        }
        user.value = 1000;
        sc.namespace_options = &ns;
        sc.run_as_user = &user;
        for (size_t i = 0; i < n_sysctls && i < 100; i++) {
                runtime__v1__linux_pod_sandbox_config__sysctls_entry__init(&e[i]);
                snprintf(keys[i], sizeof(keys[i]), "net.ipv4.k%zu", i);
                e[i].key = keys[i];
                e[i].value = "1";
                ep[i] = &e[i];
        }
        lx.cgroup_parent = "/kubepods/podu-1";
        lx.security_context = &sc;
        lx.sysctls = ep;
        lx.n_sysctls = n_sysctls;
        if (n_sysctls) { /* the pod's resources with the first form */
                res.cpu_period = 100000;
                res.cpu_quota = 150000;
                res.memory_limit_in_bytes = 128 << 20;
                lx.resources = &res;
        }
        c.metadata = &md;
        c.hostname = "web-0";
        dns.servers = servers;
        dns.n_servers = 1;
        dns.searches = searches;
        dns.n_searches = 2;
        c.dns_config = &dns;
        c.linux_config = &lx;
        CHECK(runtime__v1__pod_sandbox_config__get_packed_size(&c) <= sizeof(buf));
        return runtime__v1__pod_sandbox_config__pack(&c, buf);
}

static void test_decode(void)
{
        struct ps_api_pod_config pc;
        _cleanup_err_ struct ps_err *e = NULL;
        size_t len = pack(PS_POD_NS_POD, false, 2);

        CHECK(ps_api_pod_config_decode(PS_POD_CONFIG_TYPE_URL, buf, len, &pc, &e) == 0);
        CHECK_STREQ(pc.cfg.name, "web");
        CHECK_STREQ(pc.cfg.uid, "u-1");
        CHECK_STREQ(pc.cfg.kube_namespace, "default");
        CHECK_STREQ(pc.cfg.hostname, "web-0");
        CHECK_STREQ(pc.cfg.cgroup_parent, "/kubepods/podu-1");
        CHECK(pc.cfg.network == PS_POD_NS_POD && pc.cfg.pid == PS_POD_NS_CONTAINER);
        CHECK(pc.cfg.ipc == PS_POD_NS_POD && !pc.cfg.has_userns);
        CHECK(pc.cfg.has_run_as_user && pc.cfg.run_as_user == 1000 && !pc.cfg.has_run_as_group);
        CHECK(pc.cfg.n_sysctls == 2);
        CHECK_STREQ(pc.cfg.sysctls[1].key, "net.ipv4.k1");
        CHECK(pc.cfg.has_dns && pc.cfg.n_dns_servers == 1 && pc.cfg.n_dns_searches == 2);
        CHECK(pc.cfg.n_dns_options == 0);
        CHECK_STREQ(pc.cfg.dns_servers[0], "10.96.0.10");
        CHECK_STREQ(pc.cfg.dns_searches[1], "svc");
        CHECK(pc.cfg.has_resources && pc.cfg.cpu_period == 100000 && pc.cfg.cpu_quota == 150000);
        CHECK(pc.cfg.memory_limit == 128 << 20 && pc.cfg.cpu_shares == 0);
        ps_api_pod_config_clear(&pc);

        /* an empty message is a config of defaults: the pod network, no
         * hostname, no cgroup parent */
        CHECK(ps_api_pod_config_decode(PS_POD_CONFIG_TYPE_URL, buf, 0, &pc, &e) == 0);
        CHECK(pc.cfg.hostname == NULL && pc.cfg.cgroup_parent == NULL);
        CHECK(!pc.cfg.has_dns); /* the host's resolv.conf */
        CHECK(!pc.cfg.has_resources);
        CHECK(pc.cfg.network == PS_POD_NS_POD);
        ps_api_pod_config_clear(&pc);

        len = pack(PS_POD_NS_NODE, true, 0);
        CHECK(ps_api_pod_config_decode(PS_POD_CONFIG_TYPE_URL, buf, len, &pc, &e) == 0);
        CHECK(pc.cfg.network == PS_POD_NS_NODE);
        CHECK(pc.cfg.has_userns && pc.cfg.userns == PS_POD_NS_POD);
        ps_api_pod_config_clear(&pc);
}

static void refused(const char *type_url, const uint8_t *value, size_t len, const char *needle)
{
        struct ps_api_pod_config pc = {0};
        _cleanup_err_ struct ps_err *e = NULL;

        CHECK(ps_api_pod_config_decode(type_url, value, len, &pc, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        CHECK(e && strstr(ps_err_msg(e), needle) != NULL);
        CHECK(pc.msg == NULL && pc.sysctls == NULL);
}

static void test_refusals(void)
{
        size_t len = pack(PS_POD_NS_POD, false, 0);

        refused(NULL, NULL, 0, "none given");
        refused("", NULL, 0, "none given");
        refused("containerd.runc.v1.Options", buf, len, "containerd.runc.v1.Options");
        refused("type.googleapis.com/runtime.v1.PodSandboxConfig", buf, len, "is not");
        refused(PS_POD_CONFIG_TYPE_URL, (const uint8_t *)"\x0a\xff\xff", 3, "not a");
        len = pack(PS_POD_NS_POD, false, 65);
        refused(PS_POD_CONFIG_TYPE_URL, buf, len, "more than 64 sysctls");
}

int main(void)
{
        RUN(test_decode);
        RUN(test_refusals);
        return check_summary();
}
