/* podshim-infra: the whole of a pod's infra process once the shim has set it
 * up (namespaces, hostname, cgroup, privileges dropped). It is pid 1 of the
 * pod's pid namespace: it reaps orphans and exits 0 on SIGTERM or SIGINT.
 *
 * Built static and tiny on purpose: one runs per pod, so its memory is paid
 * per pod. The shim execs it, so it must not depend on anything but libc. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

/* As pid 1 of a namespace, a signal with the default disposition is never
 * delivered, even when it is blocked and waited for: a handler must exist. */
static void ignore(int sig)
{
        (void)sig;
}

int main(void)
{
        struct sigaction sa = {.sa_handler = ignore};
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
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
