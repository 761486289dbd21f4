/* User-namespace id mappings: the OCI spec's linux.uidMappings and
 * linux.gidMappings, and the text of the kernel's /proc/<pid>/uid_map and
 * gid_map files that carry them.
 *
 * Pure data: nothing here opens a file. Writing a map is one write(2) of
 * the whole text (the kernel takes a map in a single write only, once per
 * namespace); sandbox/linux does that.
 *
 * What the kernel accepts (kernel/user_namespace.c, map_write), and
 * therefore what ps_idmap_check requires:
 *  - at most PS_IDMAP_MAX lines, and the whole text shorter than one page
 *    (PS_IDMAP_MAX_TEXT: the smallest page size; one write must hold it);
 *  - per line: size >= 1, neither id is 4294967295, and neither range
 *    wraps past 2^32 (id + size <= 2^32);
 *  - no two lines' container ranges overlap, nor their host ranges.
 */
#ifndef PS_OCI_IDMAP_H
#define PS_OCI_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* The kernel's UID_GID_MAP_MAX_EXTENTS (since Linux 4.15; 5 before). */
#define PS_IDMAP_MAX 340u
/* One page minus the NUL a write of the text may not reach. */
#define PS_IDMAP_MAX_TEXT 4095u

/* One line: ids [container_id, container_id + size) inside the namespace
 * are [host_id, host_id + size) in its parent. */
struct ps_idmap {
        uint32_t container_id, host_id, size;
};

/* Checks mappings against the kernel's rules above; `what` names them in
 * the message ("linux.uidMappings"). An empty set is valid here: whether a
 * set may be empty is the caller's rule. INVALID_ARGUMENT. */
int ps_idmap_check(const struct ps_idmap *m, size_t n, const char *what, struct ps_err **err);

/* The uid_map/gid_map text of m: "<container> <host> <size>\n" per line, in
 * order. Checks m first (ps_idmap_check), so the text is always one the
 * kernel can take in one write. On success the caller owns *ret (NUL
 * terminated, *ret_len bytes without the NUL). */
int ps_idmap_format(const struct ps_idmap *m, size_t n, const char *what, char **ret,
                    size_t *ret_len, struct ps_err **err);

/* Parses the text of a /proc/<pid>/uid_map or gid_map file: lines of three
 * unsigned decimal 32-bit numbers separated by blanks (the kernel pads them
 * with spaces), each line ending in '\n' (the last may lack it). At most
 * PS_IDMAP_MAX lines; an empty text is zero lines (a namespace whose map is
 * not written yet). On success *ret is a malloc'ed array of *ret_n entries
 * (NULL when 0) the caller frees. Malformed text: INVALID_ARGUMENT. */
int ps_idmap_parse(const char *text, size_t len, struct ps_idmap **ret, size_t *ret_n,
                   struct ps_err **err);

/* Parses the value of a rootfs mount option "uidmap=" or "gidmap=" as
 * containerd's snapshotters write it (core/mount: "<container>:<host>:<size>"
 * per line, lines joined by ','), then checks it (ps_idmap_check). On
 * success the caller frees *ret. Anything else: INVALID_ARGUMENT. */
int ps_idmap_parse_option(const char *value, const char *what, struct ps_idmap **ret, size_t *ret_n,
                          struct ps_err **err);

/* The same lines in the same order: runc's rule for a spec that names both
 * a user namespace to join and its mappings (a split or reordered map
 * counts as different). */
bool ps_idmap_equal(const struct ps_idmap *a, size_t na, const struct ps_idmap *b, size_t nb);

/* The host id of `id` inside the namespace; false when no line maps it. */
bool ps_idmap_to_host(const struct ps_idmap *m, size_t n, uint32_t id, uint32_t *ret_host);

#endif
