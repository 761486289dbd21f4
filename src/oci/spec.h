/* The OCI runtime spec of a bundle (<bundle>/config.json), parsed once into
 * a typed struct: only the fields the shim reads, each checked and copied;
 * the JSON tree is freed before the parse returns, and nothing outside this
 * module sees it.
 *
 * The parsed spec is needed only while a task is created (and by the start
 * action, for its annotations): callers free it then, nothing keeps it per
 * container.
 *
 * Validation (every failure is INVALID_ARGUMENT; a missing file NOT_FOUND):
 *  - the file is at most PS_SPEC_MAX_SIZE bytes and one JSON object, with
 *    nothing but blanks after it;
 *  - "process" is an object with "cwd" (a string) and, if given, "args"
 *    (an array of strings); "root" is an object with "path" (a string);
 *  - every field the shim reads has its JSON type, integers are integral
 *    and within their OCI (Go) type's range (oomScoreAdj within the
 *    kernel's -1000..1000); JSON null counts as absent, as it does for runc
 *    (Go's encoding/json); fields the shim does not read are not looked at;
 *  - linux.namespaces names each type at most once, and only types Linux
 *    has (runc and crun refuse the others too);
 *  - the bounds below hold for every string and array the spec carries.
 *
 * Ownership: the struct owns every string and array in it; ps_spec_free()
 * frees them all. */
#ifndef PS_OCI_SPEC_H
#define PS_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "oci/idmap.h"

struct cJSON;

#define PS_SPEC_MAX_SIZE (4u << 20)

/* Longest strings, in bytes without the NUL. Paths (root.path, process.cwd,
 * linux.cgroupsPath, namespace paths): PATH_MAX with its NUL. hostname:
 * HOST_NAME_MAX, the most sethostname() takes. A sysctl value: one page
 * with its NUL (the kernel reads one page per write). An annotation value:
 * what Kubernetes allows all the annotations of an object together. */
#define PS_SPEC_MAX_PATH             4095u
#define PS_SPEC_MAX_HOSTNAME         64u
#define PS_SPEC_MAX_SYSCTL_KEY       255u
#define PS_SPEC_MAX_SYSCTL_VALUE     4095u
#define PS_SPEC_MAX_ANNOTATION_KEY   1024u
#define PS_SPEC_MAX_ANNOTATION_VALUE (256u << 10)

/* Largest arrays; a spec with more is refused, not truncated. Id mappings:
 * as many lines as the kernel takes (oci/idmap.h). */
#define PS_SPEC_MAX_SYSCTLS     64u
#define PS_SPEC_MAX_ANNOTATIONS 1024u
#define PS_SPEC_MAX_ID_MAPPINGS PS_IDMAP_MAX

enum ps_spec_ns_type {
        PS_SPEC_NS_PID,
        PS_SPEC_NS_NETWORK,
        PS_SPEC_NS_MOUNT,
        PS_SPEC_NS_IPC,
        PS_SPEC_NS_UTS,
        PS_SPEC_NS_USER,
        PS_SPEC_NS_CGROUP,
        PS_SPEC_NS_TIME,
        PS_SPEC_NS_COUNT
};

/* One entry of linux.namespaces. */
struct ps_spec_ns {
        bool present; /* the type is listed */
        char *path;   /* a namespace to join; NULL (also for "") means a new one */
};

/* An entry of a string map (linux.sysctl, annotations), in file order. */
struct ps_spec_kv {
        char *key, *value;
};

/* linux.resources, the part the shim applies itself (a pod cgroup). 0 means
 * not set; a negative quota or limit is the OCI "unlimited". */
struct ps_spec_resources {
        uint64_t cpu_shares;  /* cpu.shares */
        int64_t cpu_quota;    /* cpu.quota */
        uint64_t cpu_period;  /* cpu.period */
        int64_t memory_limit; /* memory.limit */
};

struct ps_spec {
        /* process */
        char *cwd; /* never NULL */
        bool terminal;
        uint32_t uid, gid; /* process.user; 0 when absent */
        bool has_oom_score_adj;
        int oom_score_adj; /* -1000..1000 */
        /* root */
        char *root_path; /* never NULL */
        bool root_readonly;
        char *hostname; /* NULL when absent or empty */
        /* linux */
        char *cgroups_path; /* NULL when absent or empty */
        struct ps_spec_ns ns[PS_SPEC_NS_COUNT];
        /* linux.uidMappings / gidMappings: {containerID, hostID, size},
         * each a uint32, in file order; NULL and 0 when absent or empty.
         * Only their types and count are checked here: what makes a valid
         * map is ps_idmap_check's to say, for the task that needs one. */
        struct ps_idmap *uid_mappings, *gid_mappings;
        size_t n_uid_mappings, n_gid_mappings;
        struct ps_spec_resources resources;
        struct ps_spec_kv *sysctls; /* linux.sysctl */
        size_t n_sysctls;
        struct ps_spec_kv *annotations;
        size_t n_annotations;
};

/* Loads and validates <bundle>/config.json (see above). A missing file is
 * NOT_FOUND, every other failure to read it what its errno says. */
int ps_spec_load(const char *bundle, struct ps_spec **ret, struct ps_err **err);

/* ps_spec_load, also giving the file's JSON tree (the caller's, cJSON_Delete
 * or base/json.h) for edits that go back into the file before the OCI
 * runtime reads it (oci/spec_binds.h): the file is read and parsed once. */
int ps_spec_load_tree(const char *bundle, struct ps_spec **ret, struct cJSON **ret_tree,
                      struct ps_err **err);

/* Parses a spec from memory: `len` bytes, not necessarily NUL-terminated. */
int ps_spec_parse(const char *json, size_t len, struct ps_spec **ret, struct ps_err **err);

/* The value of annotation `key` (the first, should the file repeat it), or
 * NULL. */
const char *ps_spec_annotation(const struct ps_spec *s, const char *key);

/* The spec asks for a new namespace of `type`: listed, without a path. */
bool ps_spec_new_ns(const struct ps_spec *s, enum ps_spec_ns_type type);

/* Frees s and everything in it, also half-built; accepts NULL, returns NULL. */
struct ps_spec *ps_spec_free(struct ps_spec *s);

static inline void ps_spec_freep(struct ps_spec **s)
{
        ps_spec_free(*s);
}

#define _cleanup_spec_ __attribute__((cleanup(ps_spec_freep)))

#endif
