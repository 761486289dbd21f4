/* libFuzzer target: the OCI config.json loader (ps_spec_parse) on arbitrary
 * bytes, exactly as read from a bundle: not NUL-terminated, any length up to
 * the 4 MiB limit.
 *
 * Beyond "no crash, no leak, no sanitizer report", a spec that parses must
 * hold what the header promises: cwd and root.path set, every string and
 * array within its bound, the namespace and annotation invariants; every
 * string is read to its end (under ASan) to prove it is a live copy. The
 * infra process's view of the spec (ps_infra_spec_from) is taken too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "oci/spec.h"
#include "sandbox/linux/infra_process.h"

static void check_str(const char *s, size_t max, bool nonempty)
{
        if (!s || strlen(s) > max || (nonempty && !*s))
                abort();
}

static void check_kv(const struct ps_spec_kv *kv, size_t n, size_t max_n, size_t max_key,
                     size_t max_value)
{
        if (n > max_n || (n && !kv))
                abort();
        for (size_t i = 0; i < n; i++) {
                check_str(kv[i].key, max_key, false);
                check_str(kv[i].value, max_value, false);
        }
}

static void check_spec(const struct ps_spec *s)
{
        struct ps_infra_spec is;
        struct ps_err *e = NULL;

        check_str(s->cwd, PS_SPEC_MAX_PATH, false);
        check_str(s->root_path, PS_SPEC_MAX_PATH, false);
        if (s->hostname)
                check_str(s->hostname, PS_SPEC_MAX_HOSTNAME, true);
        if (s->cgroups_path)
                check_str(s->cgroups_path, PS_SPEC_MAX_PATH, true);
        if (s->has_oom_score_adj ? s->oom_score_adj < -1000 || s->oom_score_adj > 1000
                                 : s->oom_score_adj != 0)
                abort();
        for (int t = 0; t < PS_SPEC_NS_COUNT; t++) {
                if (s->ns[t].path && !s->ns[t].present)
                        abort();
                if (s->ns[t].path)
                        check_str(s->ns[t].path, PS_SPEC_MAX_PATH, true);
        }
        if (s->n_uid_mappings > PS_SPEC_MAX_ID_MAPPINGS ||
            s->n_gid_mappings > PS_SPEC_MAX_ID_MAPPINGS ||
            (s->n_uid_mappings && !s->uid_mappings) || (s->n_gid_mappings && !s->gid_mappings))
                abort();
        check_kv(s->sysctls, s->n_sysctls, PS_SPEC_MAX_SYSCTLS, PS_SPEC_MAX_SYSCTL_KEY,
                 PS_SPEC_MAX_SYSCTL_VALUE);
        check_kv(s->annotations, s->n_annotations, PS_SPEC_MAX_ANNOTATIONS,
                 PS_SPEC_MAX_ANNOTATION_KEY, PS_SPEC_MAX_ANNOTATION_VALUE);
        /* every annotation is found, as its first occurrence */
        for (size_t i = 0; i < s->n_annotations; i++) {
                const char *v = ps_spec_annotation(s, s->annotations[i].key);
                size_t first = 0;

                while (strcmp(s->annotations[first].key, s->annotations[i].key) != 0)
                        first++;
                if (v != s->annotations[first].value)
                        abort();
        }
        (void)ps_spec_annotation(s, "io.kubernetes.cri.container-type");
        (void)ps_spec_annotation(s, "");
        /* the infra view: a refusal is INVALID_ARGUMENT; an acceptance
         * borrows the spec's sysctls and never runs as root */
        if (ps_infra_spec_from(s, &is, &e) < 0) {
                if (!e || e->code != PS_INVALID_ARGUMENT)
                        abort();
                ps_err_free(e);
                return;
        }
        if (is.uid == 0 || is.gid == 0 || is.sysctls != s->sysctls || is.n_sysctls != s->n_sysctls)
                abort();
        /* a user namespace: new with both maps, or joined; maps that map
         * the infra ids and that the kernel takes (formatting re-checks) */
        if (is.new_user && (is.user_path || !is.n_uid_map || !is.n_gid_map))
                abort();
        if (!is.new_user && !is.user_path && (is.n_uid_map || is.n_gid_map))
                abort();
        if (is.new_user || is.user_path) {
                uint32_t host;
                char *text = NULL;
                size_t len;

                if ((is.n_uid_map && !ps_idmap_to_host(is.uid_map, is.n_uid_map, is.uid, &host)) ||
                    (is.n_gid_map && !ps_idmap_to_host(is.gid_map, is.n_gid_map, is.gid, &host)))
                        abort();
                if (ps_idmap_format(is.uid_map, is.n_uid_map, "u", &text, &len, NULL) < 0 ||
                    len > PS_IDMAP_MAX_TEXT)
                        abort();
                free(text);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ps_spec *s = NULL;
        struct ps_err *e = NULL;
        static int once;

        if (!once++)
                ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        if (ps_spec_parse((const char *)data, size, &s, &e) < 0) {
                /* a failure says why, as INVALID_ARGUMENT (containerd branches
                 * on the code), and sets nothing */
                if (!e || !ps_err_msg(e) || e->code != PS_INVALID_ARGUMENT || s)
                        abort();
                ps_err_free(e);
                return 0;
        }
        if (e)
                abort();
        check_spec(s);
        ps_spec_free(s);
        return 0;
}
