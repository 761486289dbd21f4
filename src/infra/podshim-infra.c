/* podshim-infra: the whole of a pod's infra process once the shim has set it
 * up (namespaces, hostname, cgroup, privileges dropped). It is pid 1 of the
 * pod's pid namespace: it reaps orphans and exits 0 on SIGTERM or SIGINT.
 * Its one optional argument is an fd to write "0" to first and close: the
 * cgroup.procs of a hybrid host's membership-only cgroup2 (reap.h
 * ps_infra_join_later), left to the process so that nobody waits for it.
 *
 * One runs per pod, so its memory is paid per pod. On x86-64 it is built
 * freestanding (no libc, raw system calls): a static glibc binary keeps
 * ~650 kB of its own pages resident for this loop, this keeps a few. Other
 * architectures use the libc build of the same loop. */
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>

#define WAIT_SET ((1UL << (SIGCHLD - 1)) | (1UL << (SIGTERM - 1)) | (1UL << (SIGINT - 1)))

/* A decimal fd, or -1. */
static long fd_arg(const char *s)
{
        long v = 0;

        if (!s || !*s)
                return -1;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > 1 << 20)
                        return -1;
                v = v * 10 + (*s - '0');
        }
        return v;
}

#if defined(PODSHIM_INFRA_FREESTANDING) && defined(__x86_64__)

/* The kernel's struct sigaction for rt_sigaction (not glibc's). */
struct ksigaction {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long mask;
};

#define KSA_RESTORER 0x04000000UL

static long sys(long n, long a, long b, long c, long d)
{
        long ret;
        register long r10 __asm__("r10") = d;

        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                         : "rcx", "r11", "memory");
        return ret;
}

static void ignore(int sig)
{
        (void)sig;
}

/* Never reached (the signals stay blocked and are consumed by
 * rt_sigtimedwait), but x86-64 requires a restorer with a handler. */
__attribute__((naked)) static void restorer(void)
{
        __asm__ volatile("mov $15, %eax\n\tsyscall"); /* rt_sigreturn */
}

static __attribute__((noreturn)) void loop(void)
{
        unsigned long set = WAIT_SET;
        struct ksigaction sa = {.handler = ignore, .flags = KSA_RESTORER, .restorer = restorer};

        sys(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, sizeof(set));
        /* As pid 1 of a namespace, a signal with the default disposition is
         * never delivered, even blocked and waited for: a handler must exist. */
        sys(SYS_rt_sigaction, SIGCHLD, (long)&sa, 0, sizeof(set));
        sys(SYS_rt_sigaction, SIGTERM, (long)&sa, 0, sizeof(set));
        sys(SYS_rt_sigaction, SIGINT, (long)&sa, 0, sizeof(set));
        for (;;) {
                long sig = sys(SYS_rt_sigtimedwait, (long)&set, 0, 0, sizeof(set));
                if (sig == SIGTERM || sig == SIGINT)
                        sys(SYS_exit_group, 0, 0, 0, 0);
                while (sys(SYS_wait4, -1, 0, 1 /* WNOHANG */, 0) > 0)
                        ;
        }
}

/* sp: where the kernel left argc, then argv. */
__attribute__((used, noreturn)) static void start(long *sp)
{
        long fd = sp[0] > 1 ? fd_arg((const char *)sp[2]) : -1;

        if (fd >= 0) {
                sys(SYS_write, fd, (long)"0", 1, 0);
                sys(SYS_close, fd, 0, 0, 0);
        }
        loop();
}

__attribute__((naked, noreturn)) void _start(void);
void _start(void)
{
        __asm__ volatile("mov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start\n\tud2");
}

#else

#include "reap.h"

int main(int argc, char **argv)
{
        ps_infra_join_later(argc > 1 ? (int)fd_arg(argv[1]) : -1);
        ps_infra_reap_loop();
}

#endif
