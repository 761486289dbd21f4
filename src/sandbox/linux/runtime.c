#include "sandbox/linux/runtime.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/spawn.h"
#include "core/reaper.h"

#define CAPTURE_MAX (4u << 20)

struct run {
        char *bundle;
        char *op;
        ps_runtime_done_fn done;
        void *data;
        int out_fd; /* capture pipe read end, -1 when done/not capturing */
        struct event *out_ev;
        char *out;
        size_t out_len, out_cap;
        bool exited;
        int status;
};

static void run_free(struct run *r)
{
        if (r->out_ev)
                event_free(r->out_ev);
        ps_close(r->out_fd);
        free(r->out);
        free(r->bundle);
        free(r->op);
        free(r);
}

struct ps_err *ps_runtime_error(const char *bundle, const char *op, int st)
{
        _cleanup_free_ char *log_path = NULL, *msg = NULL;
        struct ps_err *e = NULL;

        if (asprintf(&log_path, "%s/log.json", bundle) >= 0)
                msg = ps_runtime_last_error(log_path);
        if (msg)
                ps_err_set(&e, PS_UNKNOWN, "OCI runtime %s failed: %s", op, msg);
        else if (WIFSIGNALED(st))
                ps_err_set(&e, PS_UNKNOWN, "OCI runtime %s failed: killed by signal %d", op,
                           WTERMSIG(st));
        else
                ps_err_set(&e, PS_UNKNOWN, "OCI runtime %s failed: exit status %d", op,
                           WEXITSTATUS(st));
        return e;
}

static void run_finish(struct run *r)
{
        struct ps_err *e = NULL;

        if (!r->exited || r->out_fd >= 0)
                return; /* both the exit and the end of output are needed */
        if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
                e = ps_runtime_error(r->bundle, r->op, r->status);
        r->done(r->data, e, r->out ? r->out : (r->out_ev ? "" : NULL), r->out_len);
        run_free(r);
}

static void on_exit_cb(void *data, pid_t pid, int status)
{
        struct run *r = data;

        r->exited = true;
        r->status = status;
        run_finish(r);
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
        struct run *r = arg;

        for (;;) {
                ssize_t n;

                if (r->out_cap - r->out_len < 4096) {
                        size_t ncap = r->out_cap ? r->out_cap * 2 : 8192;
                        char *nb = ncap <= CAPTURE_MAX ? realloc(r->out, ncap + 1) : NULL;
                        if (!nb)
                                break; /* output too large: stop reading, keep what we have */
                        r->out = nb;
                        r->out_cap = ncap;
                }
                n = read(fd, r->out + r->out_len, r->out_cap - r->out_len);
                if (n > 0) {
                        r->out_len += (size_t)n;
                        r->out[r->out_len] = '\0';
                        continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                break; /* EOF or error */
        }
        event_del(r->out_ev);
        r->out_fd = ps_close(r->out_fd);
        run_finish(r);
}

/* Input goes through a sealed-size memfd rather than a pipe, so a large
 * input never blocks the loop and needs no write-side event. */
static int input_fd(const char *data, size_t len, struct ps_err **err)
{
        _cleanup_close_ int fd = memfd_create("podshim-input", MFD_CLOEXEC);

        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "memfd_create");
        if (ps_write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "write runtime input");
        return TAKE_FD(fd);
}

int ps_runtime_run(const struct ps_runtime *rt, const struct ps_runtime_req *req,
                   ps_runtime_done_fn done, void *data, struct ps_err **err)
{
        _cleanup_free_ char *root = NULL, *log = NULL;
        _cleanup_close_ int in_fd = -1, out_rd = -1, out_wr = -1;
        struct run *r;
        char *argv[PS_RUNTIME_MAX_ARGS];
        struct ps_spawn_opts so = {.pdeathsig = true, .cwd = rt->bundle};
        pid_t pid;

        if (asprintf(&root, "%s/%s", rt->opts->root, rt->ns) < 0 ||
            asprintf(&log, "%s/log.json", rt->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "runtime %s", req->op);
        ps_runtime_argv(rt->opts, root, log, req->args, argv);
        memcpy(so.stdio, req->stdio, sizeof(so.stdio));
        if (req->input) {
                in_fd = input_fd(req->input, req->input_len, err);
                if (in_fd < 0)
                        return -1;
                so.stdio[0] = in_fd;
        }
        if (req->capture) {
                int p[2];
                if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "pipe");
                out_rd = p[0];
                out_wr = p[1];
                so.stdio[1] = out_wr;
        }
        r = calloc(1, sizeof(*r));
        if (!r)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "runtime %s", req->op);
        r->out_fd = -1; /* before anything can fail: run_free closes it */
        if (!(r->bundle = strdup(rt->bundle)) || !(r->op = strdup(req->op))) {
                run_free(r);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "runtime %s", req->op);
        }
        r->done = done;
        r->data = data;
        if (req->capture) {
                r->out_ev = event_new(rt->base, out_rd, EV_READ | EV_PERSIST, on_output, r);
                if (!r->out_ev || event_add(r->out_ev, NULL) < 0) {
                        run_free(r);
                        return ps_err_set(err, PS_INTERNAL, "runtime %s: event", req->op);
                }
                r->out_fd = TAKE_FD(out_rd);
        }
        so.path = argv[0];
        so.argv = argv;
        pid = ps_spawn(&so, err);
        if (pid < 0) {
                run_free(r);
                return ps_err_prefix(err, "OCI runtime %s failed", req->op);
        }
        ps_log_debug("runtime %s started as pid %d", req->op, pid);
        if (ps_reaper_watch(rt->reaper, pid, on_exit_cb, r, err) < 0) {
                /* Out of memory: a runtime nobody waits for must not act.
                 * Its exit lands in the reaper's cache of unclaimed ones. */
                kill(pid, SIGKILL);
                run_free(r);
                return -1;
        }
        return 0;
}
