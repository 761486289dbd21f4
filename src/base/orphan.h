/* A process the shim started and no longer supervises: its shim was killed,
 * and the `delete` action (shim/delete.c) or the next start of the same
 * pod finds the pid file the shim wrote when it started the process.
 *
 * A pid may have been reused since, so the process is killed only while it
 * is provably the one the file was written for: it started no later than
 * the file's mtime (+1 s: /proc's start time is in clock ticks from a boot
 * time in whole seconds). The check and the signal go through a pidfd
 * where the kernel has one, so the process checked is the process killed.
 * It is not our child (its parent died), so its end is seen through the
 * pidfd's readability (an exited process, zombie or reaped), not waitpid.
 */
#ifndef PS_BASE_ORPHAN_H
#define PS_BASE_ORPHAN_H

#include <sys/types.h>

#include "base/error.h"

/* Start of `pid` in seconds since the epoch, from /proc; -1 if unknown. */
long long ps_proc_start_time(pid_t pid);

/* SIGKILLs the process `pid_file` names if it is still the one the file
 * was written for, and with wait_ms > 0 waits up to that long for it to
 * have exited (polling only: nothing here reaps). Returns 1 when it was
 * killed (and, with wait_ms, is gone), 0 when there was nothing to kill
 * (no file, a bad one, no such process, a reused pid, ourselves), -1 with
 * err when the kill failed or the process still ran after wait_ms
 * (DEADLINE_EXCEEDED). *ret_pid (may be NULL) is the file's pid, 0 if
 * none. */
int ps_orphan_kill(const char *pid_file, unsigned wait_ms, pid_t *ret_pid, struct ps_err **err);

#endif
