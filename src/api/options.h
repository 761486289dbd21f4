/* Runtime options from the wire: the options Any of a Create request (or of
 * the start action's and -info's stdin), parsed by its type URL:
 *   - containerd.runc.v1.Options: runc-v2's options, which containerd 2.x
 *     also sends to other runtime types (user-namespace pods, the shim
 *     sandboxer) with task_api_address/_version, which podshim accepts and
 *     has no use for (the Create already came to the pod's socket);
 *   - runtimeoptions.v1.Options: CRI's options for a non-runc runtime type,
 *     config_path naming podshim's config file or (1.7+) config_body the
 *     handler's options table itself, both in the TOML of oci/options.h;
 *   - containerd.linux.runc.CreateOptions: the 1.x client's options for
 *     runtimes not named io.containerd.runc.*;
 *   - none (no Any, or an empty one): the defaults.
 * Whatever podshim would not apply is INVALID_ARGUMENT naming it, never
 * ignored: another type URL, a field this build does not know, a
 * CreateOptions criu flag, a config key podshim does not have. */
#ifndef PS_API_OPTIONS_H
#define PS_API_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "oci/options.h"

/* The Any's two fields; type_url may be NULL or "" (then value must be
 * empty: no options). */
int ps_options_decode(const char *type_url, const uint8_t *value, size_t len,
                      struct ps_options *ret, struct ps_err **err);
/* A marshalled google.protobuf.Any (len 0: no options). */
int ps_options_decode_any(const uint8_t *buf, size_t len, struct ps_options *ret,
                          struct ps_err **err);
/* The same under the profile of the runtime type the shim serves
 * (oci/options.h): explicit options go on ps_options_profile_base(p), no
 * options are p's defaults. NULL p is the two above. */
int ps_options_decode_for(const struct ps_options_profile *p, const char *type_url,
                          const uint8_t *value, size_t len, struct ps_options *ret,
                          struct ps_err **err);
int ps_options_decode_any_for(const struct ps_options_profile *p, const uint8_t *buf, size_t len,
                              struct ps_options *ret, struct ps_err **err);

#endif
