/* The OCI runtime spec of a bundle (<bundle>/config.json), parsed with cJSON.
 * Only what the shim needs is extracted; the JSON tree stays available.
 *
 * Ownership: ps_spec_free() frees the spec and its tree; the const char *
 * fields point into the tree. */
#ifndef PS_OCI_SPEC_H
#define PS_OCI_SPEC_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "base/error.h"

#define PS_SPEC_MAX_SIZE (4u << 20)

struct ps_spec {
        cJSON *json;
        bool terminal;            /* process.terminal */
        const char *root_path;    /* root.path */
        bool root_readonly;       /* root.readonly */
        const char *hostname;     /* may be NULL */
        const char *cgroups_path; /* linux.cgroupsPath, may be NULL */
        bool private_pid_ns;      /* a pid namespace entry without a path */
        const char *netns_path;   /* linux.namespaces[type=network].path, may be NULL */
        bool has_netns;           /* a network namespace entry exists */
};

/* Loads and validates <bundle>/config.json: must be a JSON object with a
 * "process" object (args array of strings, cwd string) and "root" with a
 * "path". Bad or missing -> INVALID_ARGUMENT (missing file -> NOT_FOUND). */
int ps_spec_load(const char *bundle, struct ps_spec **ret, struct ps_err **err);

/* Parses a spec from memory (same validation). */
int ps_spec_parse(const char *json, size_t len, struct ps_spec **ret, struct ps_err **err);

/* Annotation value or NULL. */
const char *ps_spec_annotation(const struct ps_spec *s, const char *key);

struct ps_spec *ps_spec_free(struct ps_spec *s);

#endif
