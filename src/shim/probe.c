#include "shim/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/spawn.h"
#include "shim/child.h"

/* Replaces *slot with a formatted message (NULL if that fails). */
static void why(char **slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(char **slot, const char *fmt, ...)
{
        va_list ap;

        free(*slot);
        va_start(ap, fmt);
        if (vasprintf(slot, fmt, ap) < 0)
                *slot = NULL;
        va_end(ap);
}

char *ps_probe_look_path(const char *name, struct ps_err **err)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = NULL;
        char *dir, *save = NULL, *cand = NULL;

        if (strchr(name, '/')) {
                if (access(name, X_OK) < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "look up \"%s\"", name), NULL;
                cand = strdup(name);
                return cand ? cand : (ps_err_errno(err, ENOMEM, PS_UNKNOWN, "look up"), NULL);
        }
        copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
        if (!copy)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "look up"), NULL;
        for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                if (asprintf(&cand, "%s/%s", *dir ? dir : ".", name) < 0)
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "look up"), NULL;
                if (access(cand, X_OK) == 0)
                        return cand;
                free(cand);
                cand = NULL;
        }
        ps_err_set(err, PS_NOT_FOUND, "look up \"%s\": not found in $PATH", name);
        return NULL;
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads `fd` to EOF into a NUL-terminated buffer, at most `max` bytes,
 * until `deadline` (now_ms()). Returns 0, or -1 with *ret_why set. */
static int read_bounded(int fd, size_t max, long long deadline, int timeout_ms, char **ret,
                        size_t *ret_len, char **ret_why)
{
        _cleanup_free_ char *buf = malloc(max + 1);
        size_t len = 0;

        if (!buf)
                return why(ret_why, "out of memory"), -1;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                long long left = deadline - now_ms();
                ssize_t n;

                if (left <= 0)
                        return why(ret_why, "no answer within %d ms", timeout_ms), -1;
                if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
                        return why(ret_why, "poll: %s", strerror(errno)), -1;
                if (!p.revents)
                        continue;
                n = read(fd, buf + len, max - len);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return why(ret_why, "read: %s", strerror(errno)), -1;
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == max)
                        return why(ret_why, "more than %zu bytes", max), -1;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int ps_probe_output(const char *binary, const char *arg, size_t max, int timeout_ms, char **ret_out,
                    size_t *ret_len, char **ret_why)
{
        char *argv[] = {(char *)(uintptr_t)binary, (char *)(uintptr_t)arg, NULL};
        _cleanup_close_ int rd = -1, wr = -1;
        _cleanup_free_ char *out = NULL;
        struct ps_err *e = NULL;
        long long deadline = now_ms() + timeout_ms;
        int fds[2], status;
        size_t len = 0;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return why(ret_why, "pipe: %s", strerror(errno)), -1;
        rd = fds[0];
        wr = fds[1];
        struct ps_spawn_opts so = {.path = binary,
                                   .argv = argv,
                                   .stdio = {-1, wr, STDERR_FILENO},
                                   .pdeathsig = true,
                                   .new_session = true};
        pid = ps_spawn(&so, &e);
        wr = ps_close(wr);
        if (pid < 0) {
                why(ret_why, "%s", ps_err_msg(e));
                ps_err_free(e);
                return -1;
        }
        if (read_bounded(rd, max, deadline, timeout_ms, &out, &len, ret_why) < 0) {
                ps_child_wait(pid, 0);
                return -1;
        }
        status = ps_child_wait(pid, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0));
        if (status < 0)
                return why(ret_why, "no exit within %d ms", timeout_ms), -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return why(ret_why, "exit status %d",
                           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)),
                       -1;
        *ret_out = TAKE_PTR(out);
        *ret_len = len;
        return 0;
}
