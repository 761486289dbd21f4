/* Scratch directories of the unit tests. */
#ifndef PS_TEST_SCRATCH_H
#define PS_TEST_SCRATCH_H

#include <stddef.h>

/* Removes `dir` and everything below it (`rm -rf`, waited for). */
void test_rm_rf(const char *dir);

/* For a test that mounts: enters a mount namespace of its own whose mounts
 * are private (nothing mounted afterwards reaches the host) and makes
 * `dir` (`size` bytes) a new directory /tmp/NAME.XXXXXX with a tmpfs of
 * this namespace on it, so that the host keeps no directory that was a
 * mount point here. Returns what main returns when it cannot go on: 77
 * (skipped) without root, 2 on a failure (said on stderr); 0 otherwise. */
int test_private_tmpfs(const char *name, char *dir, size_t size);

/* The tmpfs and its directory, gone. */
void test_private_tmpfs_end(const char *dir);

#endif
