#include "api/pod_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/runtime/v1/pod_sandbox.pb-c.h"

/* protobuf-c decodes an absent string as "" (proto3): "" means unset. */
static const char *opt_str(const char *s)
{
        return s && *s ? s : NULL;
}

static int take_sysctls(struct ps_api_pod_config *c, const Runtime__V1__LinuxPodSandboxConfig *lx,
                        struct ps_err **err)
{
        if (!lx || !lx->n_sysctls)
                return 0;
        if (lx->n_sysctls > PS_SPEC_MAX_SYSCTLS)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "pod config: more than %u sysctls",
                                  PS_SPEC_MAX_SYSCTLS);
        c->sysctls = calloc(lx->n_sysctls, sizeof(*c->sysctls));
        if (!c->sysctls)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod config");
        for (size_t i = 0; i < lx->n_sysctls; i++) {
                const Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *e = lx->sysctls[i];

                c->sysctls[i] = (struct ps_spec_kv){.key = e->key, .value = e->value};
        }
        c->cfg.sysctls = c->sysctls;
        c->cfg.n_sysctls = lx->n_sysctls;
        return 0;
}

/* One of the user namespace's maps, as oci/idmap.h's lines; checked with
 * the kernel's rules when the pod spec is built. */
static int take_map(Runtime__V1__IDMapping *const *v, size_t n, const char *what,
                    struct ps_idmap **ret, size_t *ret_n, struct ps_err **err)
{
        struct ps_idmap *m;

        if (!n)
                return 0;
        if (n > PS_IDMAP_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "pod config: more than %u %s",
                                  PS_IDMAP_MAX, what);
        m = calloc(n, sizeof(*m));
        if (!m)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod config");
        for (size_t i = 0; i < n; i++)
                m[i] = (struct ps_idmap){.container_id = v[i]->container_id,
                                         .host_id = v[i]->host_id,
                                         .size = v[i]->length};
        *ret = m;
        *ret_n = n;
        return 0;
}

static int take_userns(struct ps_api_pod_config *c, const Runtime__V1__UserNamespace *u,
                       struct ps_err **err)
{
        c->cfg.has_userns = true;
        c->cfg.userns = (int)u->mode;
        if (take_map(u->uids, u->n_uids, "uid mappings", &c->uid_map, &c->cfg.n_uid_map, err) < 0 ||
            take_map(u->gids, u->n_gids, "gid mappings", &c->gid_map, &c->cfg.n_gid_map, err) < 0)
                return -1;
        c->cfg.uid_map = c->uid_map;
        c->cfg.gid_map = c->gid_map;
        return 0;
}

static void take_security(struct ps_pod_config *cfg,
                          const Runtime__V1__LinuxSandboxSecurityContext *sc)
{
        const Runtime__V1__NamespaceOption *ns = sc ? sc->namespace_options : NULL;

        if (ns) {
                cfg->network = (int)ns->network;
                cfg->pid = (int)ns->pid;
                cfg->ipc = (int)ns->ipc;
        }
        if (sc && sc->run_as_user) {
                cfg->has_run_as_user = true;
                cfg->run_as_user = sc->run_as_user->value;
        }
        if (sc && sc->run_as_group) {
                cfg->has_run_as_group = true;
                cfg->run_as_group = sc->run_as_group->value;
        }
}

int ps_api_pod_config_decode(const char *type_url, const uint8_t *value, size_t len,
                             struct ps_api_pod_config *ret, struct ps_err **err)
{
        struct ps_api_pod_config c = {0};
        Runtime__V1__PodSandboxConfig *m;
        const Runtime__V1__LinuxPodSandboxConfig *lx;

        if (!type_url || !*type_url)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "sandbox options: none given (want %s)",
                                  PS_POD_CONFIG_TYPE_URL);
        if (strcmp(type_url, PS_POD_CONFIG_TYPE_URL) != 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "sandbox options: type %.200s is not %s", type_url,
                                  PS_POD_CONFIG_TYPE_URL);
        m = runtime__v1__pod_sandbox_config__unpack(NULL, len, value);
        if (!m)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "sandbox options: not a %s message",
                                  PS_POD_CONFIG_TYPE_URL);
        c.msg = m;
        if (m->metadata) {
                c.cfg.name = opt_str(m->metadata->name);
                c.cfg.uid = opt_str(m->metadata->uid);
                c.cfg.kube_namespace = opt_str(m->metadata->namespace_);
        }
        c.cfg.hostname = opt_str(m->hostname);
        if (m->dns_config) {
                const Runtime__V1__DNSConfig *d = m->dns_config;

                c.cfg.has_dns = true;
                c.cfg.dns_servers = d->servers;
                c.cfg.n_dns_servers = d->n_servers;
                c.cfg.dns_searches = d->searches;
                c.cfg.n_dns_searches = d->n_searches;
                c.cfg.dns_options = d->options;
                c.cfg.n_dns_options = d->n_options;
        }
        lx = m->linux_config;
        if (lx) {
                c.cfg.cgroup_parent = opt_str(lx->cgroup_parent);
                take_security(&c.cfg, lx->security_context);
        }
        if (lx && lx->resources) {
                c.cfg.has_resources = true;
                c.cfg.cpu_period = lx->resources->cpu_period;
                c.cfg.cpu_quota = lx->resources->cpu_quota;
                c.cfg.cpu_shares = lx->resources->cpu_shares;
                c.cfg.memory_limit = lx->resources->memory_limit_in_bytes;
        }
        if (take_sysctls(&c, lx, err) < 0 ||
            (lx && lx->security_context && lx->security_context->namespace_options &&
             lx->security_context->namespace_options->userns_options &&
             take_userns(&c, lx->security_context->namespace_options->userns_options, err) < 0)) {
                ps_api_pod_config_clear(&c);
                return -1;
        }
        *ret = c;
        return 0;
}

void ps_api_pod_config_clear(struct ps_api_pod_config *c)
{
        if (c->msg)
                runtime__v1__pod_sandbox_config__free_unpacked(c->msg, NULL);
        free(c->sysctls);
        free(c->uid_map);
        free(c->gid_map);
        *c = (struct ps_api_pod_config){0};
}
