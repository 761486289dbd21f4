#include "sandbox/linux/stdio_logger.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/spawn.h"
#include "core/reaper.h"

#define MAX_QUERY_KEYS 32
#define TERM_GRACE_S   12 /* SIGTERM, then SIGKILL: what containerd gives a logger */

struct ps_logger {
        struct event_base *base;
        struct ps_reaper *reaper;
        pid_t pid; /* 0 once reaped */
        int ready_fd;
        struct event *ready_ev;
        ps_logger_ready_fn ready;
        void *data;
};

/* Outlives the logger object: SIGKILLs a logger that ignored SIGTERM. */
struct killer {
        struct ps_reaper *reaper;
        pid_t pid;
        struct event *timer;
};

/* ---- URI ---------------------------------------------------------------- */

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)tolower((unsigned char)c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n); '+' is a space in query components. NULL on a
 * malformed escape, %00 (or ENOMEM). */
static char *unescape(const char *s, size_t n, bool plus_space)
{
        char *out = malloc(n + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '%') {
                        *o++ = plus_space && s[i] == '+' ? ' ' : s[i];
                        continue;
                }
                int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
                int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
                if (hi < 0 || lo < 0 || hi + lo == 0) { /* NUL would cut the string */
                        free(out);
                        return NULL;
                }
                *o++ = (char)(hi * 16 + lo);
                i += 2;
        }
        *o = 0;
        return out;
}

/* Length of the scheme before ':' or 0 when the string has none. */
static size_t scheme_len(const char *s)
{
        size_t i;

        if (!isalpha((unsigned char)s[0]))
                return 0;
        for (i = 1; s[i]; i++) {
                if (s[i] == ':')
                        return i;
                if (!isalnum((unsigned char)s[i]) && !strchr("+-.", s[i]))
                        return 0;
        }
        return 0;
}

static bool has_key(char **args, size_t nargs, const char *key)
{
        for (size_t i = 0; i < nargs; i += 2)
                if (strcmp(args[i], key) == 0)
                        return true;
        return false;
}

static int parse_query(const char *q, char ***ret_args, struct ps_err **err)
{
        _cleanup_strv_ char **args = calloc(2 * MAX_QUERY_KEYS + 1, sizeof(char *));
        size_t nargs = 0;

        if (!args)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "binary:// arguments");
        while (q && *q) {
                size_t len = strcspn(q, "&");
                const char *eq = memchr(q, '=', len);
                size_t klen = eq ? (size_t)(eq - q) : len;
                /* Like Go, skip pairs with ';' and undecodable ones. */
                if (len > 0 && !memchr(q, ';', len)) {
                        _cleanup_free_ char *k = unescape(q, klen, true);
                        _cleanup_free_ char *v =
                            eq ? unescape(eq + 1, len - klen - 1, true) : strdup("");
                        if (k && v && !has_key(args, nargs, k)) {
                                if (nargs == 2 * MAX_QUERY_KEYS)
                                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                                          "binary:// has too many arguments");
                                args[nargs++] = TAKE_PTR(k);
                                args[nargs++] = TAKE_PTR(v);
                        }
                }
                q += len + (q[len] == '&');
        }
        *ret_args = TAKE_PTR(args);
        return 0;
}

int ps_stdio_uri_parse(const char *s, struct ps_stdio_uri *ret, struct ps_err **err)
{
        size_t sl = scheme_len(s);
        struct ps_stdio_uri u = {.scheme = PS_STDIO_FIFO};
        const char *rest = s + sl + 1, *end;

        if (sl == 0) { /* a plain path */
                u.path = strdup(s);
                if (!u.path)
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "stdio path");
                *ret = u;
                return 0;
        }
        if (sl == 4 && strncasecmp(s, "fifo", 4) == 0)
                u.scheme = PS_STDIO_FIFO;
        else if (sl == 4 && strncasecmp(s, "file", 4) == 0)
                u.scheme = PS_STDIO_FILE;
        else if (sl == 6 && strncasecmp(s, "binary", 6) == 0)
                u.scheme = PS_STDIO_BINARY;
        else
                return ps_err_set(err, PS_INVALID_ARGUMENT, "unknown STDIO scheme %.*s", (int)sl,
                                  s);
        if (strncmp(rest, "//", 2) == 0) /* an authority: ignored, as containerd does */
                rest += 2 + strcspn(rest + 2, "/?#");
        end = rest + strcspn(rest, "?#");
        if (*rest != '/')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "stdio URI %s has no absolute path", s);
        u.path = unescape(rest, (size_t)(end - rest), false);
        if (!u.path)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "malformed stdio URI %s", s);
        if (u.scheme == PS_STDIO_BINARY) {
                _cleanup_free_ char *q = NULL;
                if (*end == '?')
                        q = strndup(end + 1, strcspn(end + 1, "#"));
                if (parse_query(q, &u.args, err) < 0) {
                        ps_stdio_uri_clear(&u);
                        return -1;
                }
        }
        *ret = u;
        return 0;
}

void ps_stdio_uri_clear(struct ps_stdio_uri *u)
{
        free(u->path);
        ps_strv_free(u->args);
        *u = (struct ps_stdio_uri){0};
}

/* ---- logger process ------------------------------------------------------ */

static void on_exit_status(void *data, pid_t pid, int status)
{
        struct ps_logger *l = data;

        ps_log_debug("stdio logger %d exited with %u", pid, ps_exit_code(status));
        l->pid = 0;
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
        struct ps_logger *l = arg;
        struct ps_err *e = NULL;
        char b;
        ssize_t n = read(fd, &b, 1);

        /* One byte or EOF (the logger closed fd 5 or died): ready either way,
         * as containerd treats it. */
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n < 0)
                ps_err_errno(&e, errno, PS_UNKNOWN, "wait for the stdio logger");
        event_free(l->ready_ev);
        l->ready_ev = NULL;
        l->ready_fd = ps_close(l->ready_fd);
        if (l->ready)
                l->ready(l->data, e);
        else
                ps_err_free(e);
}

static char **logger_argv(const struct ps_stdio_uri *uri)
{
        size_t n = 0;
        char **argv;

        while (uri->args && uri->args[n])
                n++;
        argv = calloc(n + 2, sizeof(char *));
        if (!argv)
                return NULL;
        argv[0] = uri->path;
        for (size_t i = 0; i < n; i++)
                argv[i + 1] = uri->args[i];
        return argv; /* borrows the strings: free only the array */
}

static pid_t spawn_logger(const struct ps_stdio_uri *uri, const char *id, const char *ns,
                          const int extra[3], struct ps_err **err)
{
        _cleanup_free_ char **argv = logger_argv(uri);
        _cleanup_free_ char *env_id = NULL, *env_ns = NULL;

        if (!argv || asprintf(&env_id, "CONTAINER_ID=%s", id ? id : "") < 0 ||
            asprintf(&env_ns, "CONTAINER_NAMESPACE=%s", ns ? ns : "") < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "stdio logger");
        char *envp[] = {env_id, env_ns, NULL};
        struct ps_spawn_opts o = {.path = uri->path,
                                  .argv = argv,
                                  .envp = envp,
                                  .stdio = {-1, -1, -1},
                                  .extra = extra,
                                  .n_extra = 3};
        return ps_spawn(&o, err);
}

struct ps_logger *ps_logger_spawn(struct event_base *base, struct ps_reaper *reaper,
                                  const struct ps_stdio_uri *uri, const char *id, const char *ns,
                                  int out_r, int err_r, ps_logger_ready_fn ready, void *data,
                                  struct ps_err **err)
{
        _cleanup_close_ int ready_r = -1, ready_w = -1;
        struct ps_logger *l;
        int p[2];

        if (!reaper)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "binary:// needs a reaper"), NULL;
        if (pipe2(p, O_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "readiness pipe"), NULL;
        ready_r = p[0];
        ready_w = p[1];
        if (fcntl(ready_r, F_SETFL, O_NONBLOCK) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "readiness pipe"), NULL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "stdio logger"), NULL;
        *l = (struct ps_logger){
            .base = base, .reaper = reaper, .pid = -1, .ready = ready, .data = data};
        l->ready_ev = event_new(base, ready_r, EV_READ | EV_PERSIST, on_ready, l);
        if (!l->ready_ev)
                ps_err_set(err, PS_INTERNAL, "cannot create logger event");
        else
                l->pid = spawn_logger(uri, id, ns, (const int[3]){out_r, err_r, ready_w}, err);
        if (l->pid < 0 || ps_reaper_watch(reaper, l->pid, on_exit_status, l, err) < 0) {
                if (l->pid > 0) /* exec'd but unwatched: the reaper's cache takes its exit */
                        kill(l->pid, SIGKILL);
                if (l->ready_ev)
                        event_free(l->ready_ev);
                free(l);
                return ps_err_prefix(err, "start stdio logger %s", uri->path), NULL;
        }
        /* Only the logger holds the write end now: its exit is our EOF. */
        ready_w = ps_close(ready_w);
        l->ready_fd = TAKE_FD(ready_r);
        event_add(l->ready_ev, NULL);
        return l;
}

static struct killer *killer_free(struct killer *k)
{
        event_free(k->timer);
        free(k);
        return NULL;
}

static void killer_on_exit(void *data, pid_t pid, int status)
{
        killer_free(data);
}

static void killer_on_timer(evutil_socket_t fd, short what, void *arg)
{
        struct killer *k = arg;

        ps_log_debug("stdio logger %d ignored SIGTERM, killing it", k->pid);
        /* Still watched, hence not reaped, hence the pid is still ours. Its
         * exit now lands in the reaper's unclaimed cache. */
        kill(k->pid, SIGKILL);
        ps_reaper_unwatch(k->reaper, k->pid);
        killer_free(k);
}

static void terminate(struct ps_logger *l)
{
        struct killer *k = calloc(1, sizeof(*k));
        struct timeval tv = {.tv_sec = TERM_GRACE_S};

        ps_reaper_unwatch(l->reaper, l->pid);
        if (k) {
                *k = (struct killer){.reaper = l->reaper, .pid = l->pid};
                k->timer = evtimer_new(l->base, killer_on_timer, k);
        }
        if (!k || !k->timer || evtimer_add(k->timer, &tv) < 0 ||
            ps_reaper_watch(l->reaper, l->pid, killer_on_exit, k, NULL) < 0) {
                /* No way to wait: skip the grace period. */
                kill(l->pid, SIGKILL);
                if (k && k->timer)
                        event_free(k->timer);
                free(k);
                return;
        }
        kill(l->pid, SIGTERM);
}

struct ps_logger *ps_logger_free(struct ps_logger *l)
{
        if (!l)
                return NULL;
        if (l->ready_ev)
                event_free(l->ready_ev);
        ps_close(l->ready_fd);
        if (l->pid > 0)
                terminate(l);
        free(l);
        return NULL;
}
