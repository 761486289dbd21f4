#include "sandbox/pod_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

static const char *mode_name(int m)
{
        static const char *const names[] = {"POD", "CONTAINER", "NODE", "TARGET"};

        return m >= 0 && m < 4 ? names[m] : "unknown";
}

static int check_mode(const char *what, int mode, bool container_ok, struct ps_err **err)
{
        if (mode == PS_POD_NS_POD || mode == PS_POD_NS_NODE ||
            (container_ok && mode == PS_POD_NS_CONTAINER))
                return 0;
        return ps_err_set(err, PS_INVALID_ARGUMENT,
                          "pod config: %s namespace mode %s (%d) is not a mode a pod can have",
                          what, mode_name(mode), mode);
}

static bool has_dotdot(const char *path)
{
        for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
                if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
                        return true;
        return false;
}

static int check_path(const char *what, const char *path, bool absolute, struct ps_err **err)
{
        if (strlen(path) > PS_SPEC_MAX_PATH || has_dotdot(path) || (absolute && path[0] != '/'))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s '%.200s': not a clean %spath", what,
                                  path, absolute ? "absolute " : "");
        return 0;
}

/* One resolv.conf token list: bounded, and no entry that could end its
 * line or hold a second token (a newline would inject a directive). */
static int check_dns_list(const char *what, char *const *v, size_t n, struct ps_err **err)
{
        if (n > PS_POD_MAX_DNS_ENTRIES)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "pod config: more than %u DNS %s",
                                  PS_POD_MAX_DNS_ENTRIES, what);
        for (size_t i = 0; i < n; i++) {
                size_t len = v[i] ? strlen(v[i]) : 0;

                if (!len || len > PS_POD_MAX_DNS_ENTRY)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "pod config: DNS %s entry %zu is empty or longer than "
                                          "%u bytes",
                                          what, i, PS_POD_MAX_DNS_ENTRY);
                for (const char *c = v[i]; *c; c++)
                        if ((unsigned char)*c <= ' ' || *c == 0x7f)
                                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                                  "pod config: DNS %s entry %zu holds a blank or "
                                                  "control character",
                                                  what, i);
        }
        return 0;
}

static int check_config(const char *netns_path, const struct ps_pod_config *cfg,
                        struct ps_err **err)
{
        if (check_mode("network", cfg->network, false, err) < 0 ||
            check_mode("pid", cfg->pid, true, err) < 0 ||
            check_mode("ipc", cfg->ipc, false, err) < 0)
                return -1;
        if (cfg->has_userns && cfg->userns == PS_POD_NS_POD) {
                if (!cfg->n_uid_map || !cfg->n_gid_map)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "pod config: a user namespace for the pod needs uid "
                                          "and gid mappings");
                if (ps_idmap_check(cfg->uid_map, cfg->n_uid_map, "pod config: uid mappings", err) <
                        0 ||
                    ps_idmap_check(cfg->gid_map, cfg->n_gid_map, "pod config: gid mappings", err) <
                        0)
                        return -1;
        } else if (cfg->has_userns && cfg->userns != PS_POD_NS_NODE) {
                return check_mode("user", cfg->userns, false, err);
        }
        if (netns_path && *netns_path) {
                if (cfg->network == PS_POD_NS_NODE)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "netns_path %.200s given for a pod on the host network",
                                          netns_path);
                if (check_path("netns_path", netns_path, true, err) < 0)
                        return -1;
        }
        if (cfg->hostname && strlen(cfg->hostname) > PS_SPEC_MAX_HOSTNAME)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "pod config: hostname longer than %u bytes",
                                  PS_SPEC_MAX_HOSTNAME);
        if (cfg->cgroup_parent && check_path("cgroup_parent", cfg->cgroup_parent, false, err) < 0)
                return -1;
        if ((cfg->has_run_as_user && (cfg->run_as_user < 0 || cfg->run_as_user >= UINT32_MAX)) ||
            (cfg->has_run_as_group && (cfg->run_as_group < 0 || cfg->run_as_group >= UINT32_MAX)))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "pod config: run_as_user/run_as_group out of range");
        if (check_dns_list("servers", cfg->dns_servers, cfg->n_dns_servers, err) < 0 ||
            check_dns_list("searches", cfg->dns_searches, cfg->n_dns_searches, err) < 0 ||
            check_dns_list("options", cfg->dns_options, cfg->n_dns_options, err) < 0)
                return -1;
        if (cfg->n_sysctls > PS_SPEC_MAX_SYSCTLS)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "pod config: more than %u sysctls",
                                  PS_SPEC_MAX_SYSCTLS);
        for (size_t i = 0; i < cfg->n_sysctls; i++)
                if (strlen(cfg->sysctls[i].key) > PS_SPEC_MAX_SYSCTL_KEY ||
                    strlen(cfg->sysctls[i].value) > PS_SPEC_MAX_SYSCTL_VALUE)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "pod config: sysctl %.64s: key or value too long",
                                          cfg->sysctls[i].key);
        return 0;
}

bool ps_pod_cgroup_parent_is_slice(const char *parent)
{
        const char *base;
        size_t len;

        if (!parent || !*parent)
                return false;
        len = strlen(parent);
        while (len > 1 && parent[len - 1] == '/')
                len--; /* path.Base ignores trailing slashes */
        base = parent + len;
        while (base > parent && base[-1] != '/')
                base--;
        return (size_t)(parent + len - base) >= 6 && memcmp(parent + len - 6, ".slice", 6) == 0;
}

/* CRI's getCgroupsPath (internal/cri/server/podsandbox/helpers_linux.go). */
static char *cgroups_path(const char *parent, const char *id)
{
        const char *base;
        size_t len = strlen(parent);
        char *out;

        if (ps_pod_cgroup_parent_is_slice(parent)) {
                while (len > 1 && parent[len - 1] == '/')
                        len--;
                base = parent + len;
                while (base > parent && base[-1] != '/')
                        base--;
                if (asprintf(&out, "%.*s:cri-containerd:%s", (int)(parent + len - base), base, id) <
                    0)
                        return NULL;
                return out;
        }
        while (len > 1 && parent[len - 1] == '/')
                len--;
        if (asprintf(&out, "%.*s%s%s", (int)len, parent, parent[len - 1] == '/' ? "" : "/", id) < 0)
                return NULL;
        return out;
}

static int copy_sysctls(struct ps_spec *s, const struct ps_pod_config *cfg)
{
        if (!cfg->n_sysctls)
                return 0;
        s->sysctls = calloc(cfg->n_sysctls, sizeof(*s->sysctls));
        if (!s->sysctls)
                return -1;
        for (size_t i = 0; i < cfg->n_sysctls; i++) {
                struct ps_spec_kv *kv = &s->sysctls[s->n_sysctls];

                kv->key = strdup(cfg->sysctls[i].key);
                kv->value = strdup(cfg->sysctls[i].value);
                s->n_sysctls++; /* counted at once: ps_spec_free frees half-built entries */
                if (!kv->key || !kv->value)
                        return -1;
        }
        return 0;
}

/* CRI's pause spec annotations of the pod's resources, as decimal text. */
static int resource_annotations(struct ps_spec *s, const struct ps_pod_config *cfg)
{
        const struct {
                const char *key;
                int64_t v;
        } ann[] = {
            {"io.kubernetes.cri.sandbox-cpu-period", cfg->cpu_period},
            {"io.kubernetes.cri.sandbox-cpu-quota", cfg->cpu_quota},
            {"io.kubernetes.cri.sandbox-cpu-shares", cfg->cpu_shares},
            {"io.kubernetes.cri.sandbox-memory", cfg->memory_limit},
        };
        size_t n = sizeof(ann) / sizeof(ann[0]);

        if (!cfg->has_resources)
                return 0;
        s->annotations = calloc(n, sizeof(*s->annotations));
        if (!s->annotations)
                return -1;
        for (size_t i = 0; i < n; i++) {
                struct ps_spec_kv *kv = &s->annotations[s->n_annotations];

                kv->key = strdup(ann[i].key);
                if (asprintf(&kv->value, "%lld", (long long)ann[i].v) < 0)
                        kv->value = NULL;
                s->n_annotations++; /* counted at once: ps_spec_free frees half-built entries */
                if (!kv->key || !kv->value)
                        return -1;
        }
        return 0;
}

static void set_namespaces(struct ps_spec *s, const struct ps_pod_config *cfg)
{
        bool own_net = cfg->network != PS_POD_NS_NODE;

        s->ns[PS_SPEC_NS_NETWORK].present = own_net;
        s->ns[PS_SPEC_NS_UTS].present = own_net;
        s->ns[PS_SPEC_NS_PID].present = cfg->pid != PS_POD_NS_NODE;
        s->ns[PS_SPEC_NS_IPC].present = cfg->ipc != PS_POD_NS_NODE;
        s->ns[PS_SPEC_NS_MOUNT].present = true;
}

/* The pod's user namespace: joined at `path` or new, with its maps. */
static int set_userns(struct ps_spec *s, const char *path, const struct ps_pod_config *cfg)
{
        s->ns[PS_SPEC_NS_USER].present = true;
        if (path && !(s->ns[PS_SPEC_NS_USER].path = strdup(path)))
                return -1;
        s->uid_mappings = calloc(cfg->n_uid_map, sizeof(*s->uid_mappings));
        s->gid_mappings = calloc(cfg->n_gid_map, sizeof(*s->gid_mappings));
        if (!s->uid_mappings || !s->gid_mappings)
                return -1;
        memcpy(s->uid_mappings, cfg->uid_map, cfg->n_uid_map * sizeof(*cfg->uid_map));
        memcpy(s->gid_mappings, cfg->gid_map, cfg->n_gid_map * sizeof(*cfg->gid_map));
        s->n_uid_mappings = cfg->n_uid_map;
        s->n_gid_mappings = cfg->n_gid_map;
        return 0;
}

int ps_pod_spec_build(const char *id, const char *netns_path, const char *userns_path,
                      const struct ps_pod_config *cfg, int oom_floor, struct ps_spec **ret,
                      struct ps_err **err)
{
        _cleanup_spec_ struct ps_spec *s = NULL;
        bool own_net = cfg->network != PS_POD_NS_NODE;

        if (check_config(netns_path, cfg, err) < 0)
                return -1;
        s = calloc(1, sizeof(*s));
        if (!s || !(s->cwd = strdup("/")) || !(s->root_path = strdup("")))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod spec");
        set_namespaces(s, cfg);
        if (own_net && netns_path && *netns_path &&
            !(s->ns[PS_SPEC_NS_NETWORK].path = strdup(netns_path)))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod spec");
        if (own_net && cfg->hostname && *cfg->hostname && !(s->hostname = strdup(cfg->hostname)))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod spec");
        if (cfg->cgroup_parent && *cfg->cgroup_parent &&
            !(s->cgroups_path = cgroups_path(cfg->cgroup_parent, id)))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod spec");
        s->resources.cpu_shares = PS_POD_CPU_SHARES;
        s->uid = cfg->has_run_as_user ? (uint32_t)cfg->run_as_user : 0;
        s->gid = cfg->has_run_as_group ? (uint32_t)cfg->run_as_group : 0;
        s->has_oom_score_adj = true;
        s->oom_score_adj = oom_floor > PS_POD_OOM_SCORE_ADJ ? oom_floor : PS_POD_OOM_SCORE_ADJ;
        if (s->oom_score_adj > 1000)
                s->oom_score_adj = 1000;
        if (copy_sysctls(s, cfg) < 0 || resource_annotations(s, cfg) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod spec");
        if (cfg->has_userns && cfg->userns == PS_POD_NS_POD && set_userns(s, userns_path, cfg) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod spec");
        *ret = TAKE_PTR(s);
        return 0;
}
