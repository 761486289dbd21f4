#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/cleanup.h"

extern char **environ;

/* The child runs in the shim's memory (CLONE_VM) while the shim is suspended
 * (CLONE_VFORK) until it has exec'd or died: no page tables are copied and
 * neither side takes copy-on-write faults afterwards. fork() made those
 * about a third of the shim's CPU time per exec (perf, ExecSync loop). The
 * child's stack is this buffer; only the pages it touches become resident,
 * and the shim has one event loop thread, so one spawn runs at a time. */
#define CHILD_STACK_SIZE (64 * 1024)
static alignas(16) char child_stack[CHILD_STACK_SIZE];

struct child_args {
        const struct ps_spawn_opts *o;
        int errpipe;
        pid_t parent;
};

/* Signals stay blocked until every signal with a handler is back to its
 * default: a handler must never run in the child on the shim's memory (the
 * shim installs none; a library or a sanitizer may). SIGPIPE, which the shim
 * ignores, is reset too; other ignored signals stay ignored, as with exec. */
static void reset_signal_handlers(void)
{
        for (int sig = 1; sig < NSIG; sig++) {
                struct sigaction sa;

                if (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler == SIG_DFL ||
                    (sa.sa_handler == SIG_IGN && sig != SIGPIPE))
                        continue;
                memset(&sa, 0, sizeof(sa));
                sa.sa_handler = SIG_DFL;
                sigaction(sig, &sa, NULL);
        }
}

/* Child side: it shares the shim's memory, so it only makes system calls
 * (no malloc, no stdio) and never returns; failures reach the parent
 * through errpipe, which works whether or not the memory is shared (under
 * valgrind the clone is a plain fork). Not instrumented by ASan: its frames
 * would leave poisoned shadow behind on a stack the parent never unwinds. */
__attribute__((no_sanitize("address"))) static int child_exec(void *arg)
{
        const struct child_args *a = arg;
        const struct ps_spawn_opts *o = a->o;
        int src[3 + 16], nfds = 3 + (int)o->n_extra, e;
        sigset_t none;

        reset_signal_handlers();
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);

        if (o->pdeathsig) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != a->parent) /* the shim died before prctl */
                        _exit(127);
        }
        if (o->new_session)
                setsid();

        /* Move every source above the target range first, so dup2() onto
         * 0..nfds-1 can never clobber a source that is still needed. */
        for (int i = 0; i < nfds; i++) {
                int fd = i < 3 ? o->stdio[i] : o->extra[i - 3];
                if (fd < 0) {
                        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                        if (fd < 0)
                                goto fail;
                }
                src[i] = fcntl(fd, F_DUPFD_CLOEXEC, nfds + 3);
                if (src[i] < 0)
                        goto fail;
        }
        for (int i = 0; i < nfds; i++) {
                if (dup2(src[i], i) < 0) /* dup2 clears FD_CLOEXEC on i */
                        goto fail;
        }
        if (o->cwd && chdir(o->cwd) < 0)
                goto fail;
        for (size_t i = 0; i < o->n_enter_fds; i++)
                if (write(o->enter_fds[i], "0", 1) != 1)
                        goto fail;
        execvpe(o->path, o->argv, o->envp ? o->envp : environ);
fail:
        e = errno;
        if (write(a->errpipe, &e, sizeof(e)) < 0)
                _exit(127);
        _exit(127);
}

pid_t ps_spawn(const struct ps_spawn_opts *o, struct ps_err **err)
{
        _cleanup_close_ int rd = -1, wr = -1;
        int pipefd[2], child_errno = 0, clone_errno;
        struct child_args a = {.o = o, .parent = getpid()};
        sigset_t all, old;
        pid_t pid;
        ssize_t n;

        if (!o->path || !o->argv || !o->argv[0])
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spawn: no program to run");
        if (o->n_extra > 16)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "too many fds for %s", o->path);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pipe");
        rd = pipefd[0];
        wr = pipefd[1];
        a.errpipe = wr;
        /* runc must not try to talk to systemd on the shim's behalf. */
        unsetenv("NOTIFY_SOCKET");

        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, &old);
        pid = clone(child_exec, child_stack + sizeof(child_stack), CLONE_VM | CLONE_VFORK | SIGCHLD,
                    &a);
        clone_errno = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (pid < 0)
                return ps_err_errno(err, clone_errno, PS_UNKNOWN, "clone for %s", o->path);

        wr = ps_close(wr);
        do
                n = read(rd, &child_errno, sizeof(child_errno));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof(child_errno)) {
                /* The child is already gone (exit 127); the reaper collects it. */
                return ps_err_errno(err, child_errno,
                                    child_errno == ENOENT ? PS_NOT_FOUND : PS_UNKNOWN, "exec %s",
                                    o->path);
        }
        return pid;
}
