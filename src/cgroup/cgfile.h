/* Reading cgroup interface files: bounded reads, values that may be "max",
 * and "key value" lines (memory.stat, cpu.stat, memory.events ...). */
#ifndef PS_CGROUP_CGFILE_H
#define PS_CGROUP_CGFILE_H

#include <stdint.h>

#include "base/error.h"

/* Largest cgroup file we accept; cpuacct.usage_percpu on a 4096-CPU host
 * or blkio files with many devices stay well below this. */
#define PS_CGFILE_MAX (1024 * 1024)

/* Reads `dir`/`name`. Returns 1 and sets *ret_buf (caller frees) when read,
 * 0 when the file does not exist (optional interface files), -1 on error. */
int ps_cgfile_read(const char *dir, const char *name, char **ret_buf, struct ps_err **err);

/* Same, relative to an open cgroup directory. */
int ps_cgfile_read_at(int dirfd, const char *name, char **ret_buf, struct ps_err **err);

/* Parses a decimal value, optionally followed by whitespace; "max" means
 * unlimited and gives UINT64_MAX. Returns -1 (errno EINVAL) on junk. */
int ps_cgfile_parse_u64(const char *s, uint64_t *ret);

/* Reads a single-value file: 1 and *ret set, 0 if missing, -1 on error. */
int ps_cgfile_read_u64(const char *dir, const char *name, uint64_t *ret, struct ps_err **err);

/* Looks up `key` among "key value" lines; 0 and *ret set if found with a
 * valid value, -1 otherwise. */
int ps_cgfile_kv_get(const char *buf, const char *key, uint64_t *ret);

#endif
