/* Small file-system helpers with bounded reads and atomic writes. */
#ifndef PS_BASE_FS_H
#define PS_BASE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

/* Reads at most `max` bytes of a file into a NUL-terminated buffer that the
 * caller frees. A larger file fails with RESOURCE_EXHAUSTED. */
int ps_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len,
                 struct ps_err **err);

/* Same, relative to a directory fd. */
int ps_read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len,
                    struct ps_err **err);

/* Writes `path` atomically: a temporary file in the same directory, fsync-free
 * (tmpfs state), then rename. */
int ps_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct ps_err **err);

/* mkdir -p with `mode` for each created component. */
int ps_mkdir_p(const char *path, mode_t mode, struct ps_err **err);

/* Removes a directory of files (no subdirectory): each entry, then the
 * directory; one that does not exist is no error. A link is not followed
 * (ELOOP): nothing outside the directory is removed. Errors are INTERNAL. */
int ps_remove_flat_dir(const char *dir, struct ps_err **err);

/* Reads a decimal pid written by runc --pid-file. */
int ps_read_pid_file(const char *path, pid_t *ret_pid, struct ps_err **err);

/* Writes all of buf to a blocking fd, retrying on EINTR and short writes. */
int ps_write_all(int fd, const void *buf, size_t len);

/* Returns true if `s` is a valid containerd identifier for tasks and execs:
 * 1..76 characters of [A-Za-z0-9] separated by single '.', '_' or '-'. */
bool ps_id_valid(const char *s);

#endif
