/* Runs another program from an argv array (never a shell).
 *
 * The child gets exactly the descriptors named here: fds 0-2 from stdio[]
 * (-1 means /dev/null) and extra[i] as fd 3+i; everything else the shim holds
 * is O_CLOEXEC. The child's signal mask is cleared and SIGPIPE reset, because
 * the shim blocks signals for its signalfd and ignores SIGPIPE.
 *
 * ps_spawn returns once the program has been exec'd (or failed to be: a
 * missing binary is reported here as NOT_FOUND). It never waits for the
 * child: its exit reaches the reaper like every other exit. */
#ifndef PS_BASE_SPAWN_H
#define PS_BASE_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

struct ps_spawn_opts {
        const char *path;  /* program; searched in $PATH when it has no '/' */
        char *const *argv; /* argv[0] included, NULL-terminated */
        char *const *envp; /* NULL: the shim's environment minus NOTIFY_SOCKET */
        int stdio[3];      /* parent fds for the child's 0, 1, 2; -1 = /dev/null */
        const int *extra;  /* parent fds for the child's 3, 4, ... */
        size_t n_extra;
        const char *cwd;  /* NULL: inherit */
        bool pdeathsig;   /* SIGKILL the child if the shim dies */
        bool new_session; /* setsid() in the child */
        /* fds the child writes "0" to just before it execs: a cgroup's
         * `tasks` or `cgroup.procs`, so that the program runs in that cgroup
         * from its first instruction and its memory is charged there. A
         * failed write fails the spawn with its errno. */
        const int *enter_fds;
        size_t n_enter_fds;
};

pid_t ps_spawn(const struct ps_spawn_opts *opts, struct ps_err **err);

#endif
