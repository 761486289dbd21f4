/* The life of a pod's infra process once it is set up, with libc: it is pid
 * 1 of the pod's pid namespace, reaps orphans, and exits 0 on SIGTERM or
 * SIGINT. Shared by podshim-infra's libc build and the shim's in-place
 * fallback when the helper is not installed. */
#ifndef PS_INFRA_REAP_H
#define PS_INFRA_REAP_H

#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void ps_infra_ignore(int sig)
{
        (void)sig;
}

/* The membership-only cgroup2 of a hybrid host (cgroup/pod.h
 * ps_pod_cgroup_entry's `later`), entered once nobody waits for the process:
 * that write waits for an RCU grace period. Failure changes nothing the
 * pod's resources depend on, so it is not an exit. */
static inline void ps_infra_join_later(int fd)
{
        if (fd < 0)
                return;
        if (write(fd, "0", 1) < 0) {
                /* left where it was born, in the shim's cgroup there */
        }
        close(fd);
}

static inline __attribute__((noreturn)) void ps_infra_reap_loop(void)
{
        struct sigaction sa = {.sa_handler = ps_infra_ignore};
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_SETMASK, &set, NULL);
        /* As pid 1 of a namespace, a signal with the default disposition is
         * never delivered, even blocked and waited for: a handler must exist. */
        sigaction(SIGCHLD, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        for (;;) {
                int sig = sigwaitinfo(&set, NULL);
                if (sig == SIGTERM || sig == SIGINT)
                        _exit(0);
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
        }
}

#endif
