/* What containerd writes to a shim action's stdin: the options Any
 * (protobuf google.protobuf.Any, or nothing), for `start` and `-info`. */
#ifndef PS_SHIM_STDIN_H
#define PS_SHIM_STDIN_H

#include <stddef.h>

#include "base/error.h"

#define PS_STDIN_MAX (1u << 20)

/* Reads fd 0 to EOF, at most PS_STDIN_MAX bytes (more is
 * INVALID_ARGUMENT). A closed fd 0 reads as empty. *ret_buf is owned by the
 * caller (NULL when empty). */
int ps_read_stdin(char **ret_buf, size_t *ret_len, struct ps_err **err);

#endif
