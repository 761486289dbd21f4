/* The reaper: the only caller of wait*() in the shim for children that
 * signal their exit (net/netns.c reaps its own helper, a clone child with
 * exit signal 0 that neither raises SIGCHLD nor shows up in waitpid(-1)
 * without __WCLONE: see net/netns.h).
 *
 * The shim is a child subreaper, so container inits and exec processes (the
 * grandchildren runc leaves behind) are reparented to it. SIGCHLD arrives on
 * a signalfd; each wakeup loops waitpid(-1, WNOHANG) until nothing is left,
 * collects all exits first and then dispatches them (so a callback that
 * spawns or watches never races the loop).
 *
 * A pid nobody watches yet goes into a bounded cache of unclaimed exits: a
 * process can exit before runc has returned and its pid file has been read.
 * Watching a pid that is already in the cache delivers its exit on the next
 * loop iteration (never from inside ps_reaper_watch()), but only if no
 * process holds that pid when it is watched: otherwise the cached exit is an
 * earlier process's (pid reuse) and is dropped. The cache keeps only the
 * newest exit per pid.
 *
 * Ownership: the root object owns the reaper. The reaper never owns `data`.
 */
#ifndef PS_CORE_REAPER_H
#define PS_CORE_REAPER_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

struct event_base;
struct ps_reaper;

/* wait_status is the raw status from waitpid(). Runs once; the watch is gone
 * when it runs. */
typedef void (*ps_reaper_fn)(void *data, pid_t pid, int wait_status);

/* Blocks SIGCHLD, opens the signalfd and registers it with `base`. */
struct ps_reaper *ps_reaper_new(struct event_base *base, struct ps_err **err);
struct ps_reaper *ps_reaper_free(struct ps_reaper *r);

/* Calls fn(data, pid, status) when pid exits. One watch per pid. */
int ps_reaper_watch(struct ps_reaper *r, pid_t pid, ps_reaper_fn fn, void *data,
                    struct ps_err **err);

/* Drops the watch (no callback). Harmless if there is none. */
void ps_reaper_unwatch(struct ps_reaper *r, pid_t pid);

/* Reaps now (also run on every SIGCHLD). */
void ps_reaper_reap(struct ps_reaper *r);

/* Exit code as containerd reports it: WEXITSTATUS, or 128 + signal number. */
unsigned ps_exit_code(int wait_status);

#endif
