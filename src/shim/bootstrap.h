/* What `start` answers containerd: the bootstrap reply.
 *
 * Version 2 is a plain "unix://<socket>" line, which containerd 1.6, 1.7
 * and 2.x all accept (2.x then speaks containerd.task.v2.Task). Version 3
 * is the BootstrapParams JSON {"version":3,"protocol":"ttrpc","address":..}
 * that only 2.x accepts (1.7 fails every task with "unsupported shim
 * version (3)"); 2.x then speaks containerd.task.v3.Task and, for the pod's
 * later containers, skips `start` and `delete` and calls Create on the
 * pod's socket directly (grouped mode).
 *
 * So version 3 is opt-in through PODSHIM_BOOTSTRAP_VERSION=3 in the shim's
 * environment, which only a 2.x configuration can set (the shim manager's
 * `env`, [plugins.'io.containerd.shim.v1.manager']). A shim that finds its
 * pod's socket served answers with the version that pod's shim was
 * bootstrapped with, as containerd recorded it in the pod bundle's
 * bootstrap.json, so one pod never mixes the two modes. */
#ifndef PS_SHIM_BOOTSTRAP_H
#define PS_SHIM_BOOTSTRAP_H

#include "base/error.h"

#define PS_BOOTSTRAP_ENV "PODSHIM_BOOTSTRAP_VERSION"

/* The version `value` (the environment variable's, NULL when unset) asks
 * for: 2 when unset or empty; "2" or "3"; anything else is
 * INVALID_ARGUMENT naming the variable. */
int ps_bootstrap_version_parse(const char *value, int *ret, struct ps_err **err);

/* The reply for `version` and `address` ("unix://..."). Caller frees. */
char *ps_bootstrap_reply(int version, const char *address);

/* The version in a bootstrap.json text as containerd 2.x writes it
 * ({"version":N,"address":..,"protocol":..}); a reply without a version,
 * or below 2, is 2, as containerd reads it. A text that is not a JSON
 * object is INVALID_ARGUMENT. */
int ps_bootstrap_json_version(const char *text, int *ret, struct ps_err **err);

/* The bootstrap version containerd recorded for task `id`, whose bundle is
 * a sibling of the current directory (start runs in its own bundle, and
 * containerd keeps a namespace's bundles in one directory):
 * ../<id>/bootstrap.json. Returns 0 with *ret set; 1 when there is none (a
 * bundle made by 1.x, no such task, or an `id` that is not a plain file
 * name); -1 on an unreadable or malformed file. */
int ps_bootstrap_version_of_sibling(const char *id, int *ret, struct ps_err **err);

#endif
