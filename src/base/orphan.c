#include "base/orphan.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"

#define POLL_STEP_MS 20 /* without a pidfd: how often kill(pid, 0) looks */

long long ps_proc_start_time(pid_t pid)
{
        _cleanup_free_ char *stat = NULL, *path = NULL, *sys = NULL;
        unsigned long long start = 0;
        long long btime = -1;
        long ticks = sysconf(_SC_CLK_TCK);
        char *p, *b;

        if (asprintf(&path, "/proc/%d/stat", pid) < 0 ||
            ps_read_file(path, 4096, &stat, NULL, NULL) < 0 ||
            ps_read_file("/proc/stat", 1u << 20, &sys, NULL, NULL) < 0 || ticks <= 0)
                return -1;
        /* comm may hold spaces and ')' : fields resume after the last ')'.
         * starttime is field 22; the state (field 3) follows the ')'. */
        p = strrchr(stat, ')');
        if (!p || sscanf(p + 2,
                         "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                         "%*s %*s %*s %llu",
                         &start) != 1)
                return -1;
        b = strstr(sys, "\nbtime ");
        if (!b || sscanf(b + 7, "%lld", &btime) != 1)
                return -1;
        return btime + (long long)(start / (unsigned long long)ticks);
}

static int pidfd_open(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd, pid_t pid, int sig)
{
        if (pidfd >= 0)
                return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
        return kill(pid, sig);
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 once the process has exited (a zombie counts: it runs no more), -1
 * when it still runs at the deadline. */
static int wait_gone(int pidfd, pid_t pid, unsigned wait_ms)
{
        long long deadline = now_ms() + wait_ms;

        for (;;) {
                long long left = deadline - now_ms();
                struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

                if (pidfd >= 0) {
                        int r = poll(&pfd, 1, left > 0 ? (int)left : 0);

                        if (r > 0)
                                return 0;
                        if (r < 0 && errno == EINTR)
                                continue;
                } else {
                        char path[64], state = 0;
                        _cleanup_fclose_ FILE *f = NULL;

                        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                        f = fopen(path, "re");
                        if (!f || fscanf(f, "%*d (%*[^)]) %c", &state) != 1 || state == 'Z')
                                return 0;
                        if (left > 0)
                                usleep(POLL_STEP_MS * 1000);
                }
                if (left <= 0)
                        return -1;
        }
}

int ps_orphan_kill(const char *pid_file, unsigned wait_ms, pid_t *ret_pid, struct ps_err **err)
{
        _cleanup_close_ int pidfd = -1;
        struct stat st;
        long long started;
        pid_t pid = 0;

        if (ret_pid)
                *ret_pid = 0;
        if (ps_read_pid_file(pid_file, &pid, NULL) < 0 || stat(pid_file, &st) < 0)
                return 0;
        if (ret_pid)
                *ret_pid = pid;
        if (pid <= 1 || pid == getpid())
                return 0;
        /* pinned first: what is checked below is what gets the signal */
        pidfd = pidfd_open(pid);
        if (pidfd < 0 && errno != ENOSYS)
                return 0; /* ESRCH: gone already */
        started = ps_proc_start_time(pid);
        if (started < 0 || started > (long long)st.st_mtime + 1)
                return 0; /* gone, or a process that started after the file */
        if (pidfd_kill(pidfd, pid, SIGKILL) < 0)
                return errno == ESRCH ? 0
                                      : ps_err_errno(err, errno, PS_UNKNOWN, "kill pid %d", pid);
        if (wait_ms > 0 && wait_gone(pidfd, pid, wait_ms) < 0)
                return ps_err_set(err, PS_DEADLINE_EXCEEDED,
                                  "pid %d still runs %u ms after SIGKILL", pid, wait_ms);
        return 1;
}
