#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/cleanup.h"

extern char **environ;

/* Child side after fork(): the shim is single-threaded, so libc is usable,
 * but nothing here may return; failures go to the parent through errpipe. */
static __attribute__((noreturn)) void child_exec(const struct ps_spawn_opts *o, int errpipe,
                                                 pid_t parent)
{
        int src[3 + 16], nfds = 3 + (int)o->n_extra, e;
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);

        if (o->pdeathsig) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent) /* the shim died before prctl */
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
        execvpe(o->path, o->argv, o->envp ? o->envp : environ);
fail:
        e = errno;
        if (write(errpipe, &e, sizeof(e)) < 0)
                _exit(127);
        _exit(127);
}

pid_t ps_spawn(const struct ps_spawn_opts *o, struct ps_err **err)
{
        _cleanup_close_ int rd = -1, wr = -1;
        int pipefd[2], child_errno = 0;
        pid_t parent = getpid(), pid;
        ssize_t n;

        if (o->n_extra > 16)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "too many fds for %s", o->path);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pipe");
        rd = pipefd[0];
        wr = pipefd[1];
        /* runc must not try to talk to systemd on the shim's behalf. */
        unsetenv("NOTIFY_SOCKET");

        pid = fork();
        if (pid < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "fork for %s", o->path);
        if (pid == 0)
                child_exec(o, wr, parent);

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
