/* Runtime options from the wire: the options Any of a Create request (or of
 * the start action's stdin) in any of the three forms containerd clients
 * send: containerd.runc.v1.Options, containerd.linux.runc.CreateOptions, or
 * runtimeoptions.v1.Options whose config_path names podshim's config file
 * (oci/options.h). An absent Any gives the defaults; an unknown type URL is
 * INVALID_ARGUMENT. */
#ifndef PS_API_OPTIONS_H
#define PS_API_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "oci/options.h"

int ps_options_decode(const char *type_url, const uint8_t *value, size_t len,
                      struct ps_options *ret, struct ps_err **err);

#endif
