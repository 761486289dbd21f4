#include "shim/info.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/options.h"
#include "api/runtime_info.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/spawn.h"
#include "oci/options.h"
#include "shim/child.h"
#include "shim/stdin.h"

#define RUNTIME_TYPE        "io.containerd.podshim.v2"
#define FEATURES_MAX        (1u << 20)
#define FEATURES_TIMEOUT_MS 5000

#ifndef PODSHIM_REVISION
#define PODSHIM_REVISION ""
#endif

struct features {
        char *json; /* NULL: none */
        size_t len;
        char *why; /* why there are none, for the note on stderr */
};

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

static void features_clear(struct features *f)
{
        free(f->json);
        free(f->why);
        *f = (struct features){0};
}

/* Go's exec.LookPath: a name with a '/' is used as it is, anything else
 * is searched in $PATH; either way it must be an executable file. */
static char *look_path(const char *name, struct ps_err **err)
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

/* Reads `fd` to EOF into a NUL-terminated buffer, at most FEATURES_MAX
 * bytes, until `deadline` (now_ms()). Returns 0, or -1 with *ret_why set. */
static int read_bounded(int fd, long long deadline, char **ret, size_t *ret_len, char **ret_why)
{
        _cleanup_free_ char *buf = malloc(FEATURES_MAX + 1);
        size_t len = 0;

        if (!buf)
                return why(ret_why, "out of memory"), -1;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                long long left = deadline - now_ms();
                ssize_t n;

                if (left <= 0)
                        return why(ret_why, "no answer within %d ms", FEATURES_TIMEOUT_MS), -1;
                if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
                        return why(ret_why, "poll: %s", strerror(errno)), -1;
                if (!p.revents)
                        continue;
                n = read(fd, buf + len, FEATURES_MAX - len);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return why(ret_why, "read: %s", strerror(errno)), -1;
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == FEATURES_MAX)
                        return why(ret_why, "more than %u bytes", FEATURES_MAX), -1;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* The document must be one JSON object and nothing else: containerd
 * decodes it into runtime-spec's features.Features. */
static bool is_json_object(const char *buf, size_t len)
{
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, false);
        bool ok = cJSON_IsObject(j);

        cJSON_Delete(j);
        if (!ok || !end)
                return false;
        for (; end < buf + len; end++) {
                if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
                        return false;
        }
        return true;
}

/* `<binary> features`, argv only. Whatever goes wrong leaves f->json NULL
 * and says why in f->why; only running out of memory fails. */
static void query_features(const char *binary, struct features *f)
{
        char *argv[] = {(char *)(uintptr_t)binary, "features", NULL};
        _cleanup_close_ int rd = -1, wr = -1;
        _cleanup_free_ char *out = NULL;
        struct ps_err *e = NULL;
        long long deadline = now_ms() + FEATURES_TIMEOUT_MS;
        int fds[2], status;
        size_t len = 0;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0) {
                why(&f->why, "pipe: %s", strerror(errno));
                return;
        }
        rd = fds[0];
        wr = fds[1];
        /* its stdout is the document; its stderr joins ours, for the note */
        struct ps_spawn_opts so = {.path = binary,
                                   .argv = argv,
                                   .stdio = {-1, wr, STDERR_FILENO},
                                   .pdeathsig = true,
                                   .new_session = true};
        pid = ps_spawn(&so, &e);
        wr = ps_close(wr);
        if (pid < 0) {
                why(&f->why, "%s", ps_err_msg(e));
                ps_err_free(e);
                return;
        }
        if (read_bounded(rd, deadline, &out, &len, &f->why) < 0) {
                ps_child_wait(pid, 0);
                return;
        }
        status = ps_child_wait(pid, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0));
        if (status < 0)
                why(&f->why, "no exit within %d ms", FEATURES_TIMEOUT_MS);
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                why(&f->why, "exit status %d",
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        else if (!is_json_object(out, len))
                why(&f->why, "the output is not a JSON object");
        else {
                f->json = TAKE_PTR(out);
                f->len = len;
        }
}

static int fail(struct ps_err *e)
{
        fprintf(stderr, "containerd-shim-podshim-v2 -info: %s\n", ps_err_msg(e));
        ps_err_free(e);
        return 1;
}

int ps_info_action(void)
{
        _cleanup_free_ char *in = NULL, *binary = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        struct features feat = {0};
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        size_t in_len = 0, out_len = 0;
        int r;

        if (ps_read_stdin(&in, &in_len, &e) < 0 ||
            ps_options_decode_any((const uint8_t *)in, in_len, &o, &e) < 0)
                return fail(e);
        binary = look_path(o.binary_name, &e);
        ps_options_clear(&o);
        if (!binary)
                return fail(e);
        query_features(binary, &feat);
        if (!feat.json)
                fprintf(stderr,
                        "containerd-shim-podshim-v2 -info: %s features: %s; "
                        "answering without features\n",
                        binary, feat.why ? feat.why : "out of memory");
        struct ps_runtime_info info = {.name = RUNTIME_TYPE,
                                       .version = PODSHIM_VERSION,
                                       .revision = PODSHIM_REVISION,
                                       .options = (const uint8_t *)in,
                                       .options_len = in_len,
                                       .features = feat.json,
                                       .features_len = feat.len};
        r = ps_runtime_info_pack(&info, &out, &out_len, &e);
        features_clear(&feat);
        if (r < 0)
                return fail(e);
        /* the only write to stdout: all of the message, or an error */
        if (ps_write_all(STDOUT_FILENO, out, out_len) < 0) {
                ps_err_errno(&e, errno, PS_UNKNOWN, "write the answer");
                return fail(e);
        }
        return 0;
}
