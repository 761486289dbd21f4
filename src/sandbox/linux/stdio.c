#include "sandbox/linux/stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "oci/console_socket.h"
#include "sandbox/linux/stdio_logger.h"
#include "sandbox/linux/stdio_relay.h"

enum { OUT = 0, ERR = 1 };

struct ps_stdio {
        struct event_base *base;
        struct ps_reaper *reaper;
        bool terminal;
        int rt_fds[3]; /* the process ends, handed to the runtime; closed by started() */
        int client[2]; /* stdout/stderr destinations (FIFO, file, logger pipe) */
        bool shared;   /* client[ERR] is client[OUT]: close once */
        int pipe_r[2]; /* the shim's read ends of the stdout/stderr pipes */
        struct ps_relay *out_relay[2];
        int in_fifo;   /* stdin FIFO, read side */
        int keepalive; /* stdin FIFO, our own writer until CloseIO */
        int in_w;      /* the shim's write end of the process stdin pipe */
        struct ps_relay *in_relay;
        struct ps_console_socket console;
        int master;
        struct ps_logger *logger;
        struct event *ready_ev, *drain_timer, *finish_ev;
        ps_stdio_ready_fn ready;
        void *ready_data;
        void (*done)(void *data);
        void *done_data;
        bool started, draining;
};

static bool empty(const char *s)
{
        return !s || !*s;
}

static int set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);

        return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A pipe for one stream. The process end stays blocking (the process expects
 * ordinary fds) and belongs to io_uid/io_gid; the shim end is non-blocking. */
static int make_pipe(const struct ps_stdio_config *cfg, bool to_process, int *ret_proc,
                     int *ret_shim, struct ps_err **err)
{
        _cleanup_close_ int rd = -1, wr = -1;
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pipe");
        rd = p[0];
        wr = p[1];
        if (fchown(to_process ? rd : wr, cfg->io_uid, cfg->io_gid) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "chown stdio pipe to %u:%u",
                                    (unsigned)cfg->io_uid, (unsigned)cfg->io_gid);
        if (set_nonblock(to_process ? wr : rd) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "stdio pipe");
        *ret_proc = to_process ? TAKE_FD(rd) : TAKE_FD(wr);
        *ret_shim = to_process ? TAKE_FD(wr) : TAKE_FD(rd);
        return 0;
}

/* A FIFO opened read-write never blocks on open, never gets EPIPE when the
 * client's reader goes away (we are a reader too) and keeps data for a reader
 * that comes back. Anything else (a regular file) is appended to. */
static int open_client_out(const char *path, int *ret_fd, struct ps_err **err)
{
        struct stat st;
        int fd;

        if (stat(path, &st) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "stdio %s", path);
        if (S_ISFIFO(st.st_mode))
                fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        else
                fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", path);
        *ret_fd = fd;
        return 0;
}

/* The file:// target: parents made 0755, the file created 0644, appended to
 * by both streams. */
static int open_log_file(struct ps_stdio *s, const char *path, struct ps_err **err)
{
        _cleanup_free_ char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;

        if (!dir)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "file:// path");
        if (slash && slash != dir) {
                *slash = 0;
                if (ps_mkdir_p(dir, 0755, err) < 0)
                        return ps_err_prefix(err, "file://%s", path);
        }
        s->client[OUT] = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
        if (s->client[OUT] < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", path);
        s->client[ERR] = s->client[OUT];
        s->shared = true;
        return 0;
}

static int open_stdin(struct ps_stdio *s, const char *path, struct ps_err **err)
{
        struct stat st;

        if (stat(path, &st) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "stdin %s", path);
        if (!S_ISFIFO(st.st_mode))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "stdin %s is not a fifo", path);
        /* Before any writer exists such a FIFO reads 0 but is not reported
         * readable: only read on readiness. */
        s->in_fifo = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (s->in_fifo < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", path);
        /* Our own writer: the client may close and reopen its end (detach,
         * attach) without the process seeing EOF; CloseIO drops it. */
        s->keepalive = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (s->keepalive < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s for writing", path);
        return 0;
}

/* stdout/stderr destinations for FIFO paths and file://. */
static int open_outputs(struct ps_stdio *s, const struct ps_stdio_config *cfg,
                        const struct ps_stdio_uri *uri, struct ps_err **err)
{
        if (uri->scheme == PS_STDIO_FILE)
                return open_log_file(s, uri->path, err);
        if (uri->path && *uri->path && open_client_out(uri->path, &s->client[OUT], err) < 0)
                return -1;
        if (cfg->terminal || empty(cfg->stderr_path))
                return 0; /* a tty has no stderr: the client's path stays unused */
        if (s->client[OUT] >= 0 && strcmp(uri->path, cfg->stderr_path) == 0) {
                s->client[ERR] = s->client[OUT];
                s->shared = true;
                return 0;
        }
        return open_client_out(cfg->stderr_path, &s->client[ERR], err);
}

static void on_logger_ready(void *data, struct ps_err *e)
{
        struct ps_stdio *s = data;

        if (s->ready)
                s->ready(s->ready_data, e);
        else
                ps_err_free(e);
}

/* binary://: the logger reads two pipes. Without a tty the process writes
 * straight into them; with one the shim copies the master into the stdout
 * pipe and the stderr pipe stays unused. */
static int setup_logger(struct ps_stdio *s, const struct ps_stdio_config *cfg,
                        const struct ps_stdio_uri *uri, struct ps_err **err)
{
        _cleanup_close_ int out_r = -1, err_r = -1, err_w = -1;
        int out_w = -1;

        if (make_pipe(cfg, false, &out_w, &out_r, err) < 0)
                return -1;
        /* make_pipe made the read end non-blocking: the logger expects a
         * blocking fd 3/4, the shim reads neither. */
        fcntl(out_r, F_SETFL, 0);
        if (cfg->terminal) {
                s->client[OUT] = out_w;
                set_nonblock(out_w);
        } else {
                s->rt_fds[1] = out_w;
        }
        if (make_pipe(cfg, false, &err_w, &err_r, err) < 0)
                return -1;
        fcntl(err_r, F_SETFL, 0);
        if (!cfg->terminal)
                s->rt_fds[2] = TAKE_FD(err_w);
        s->logger = ps_logger_spawn(s->base, s->reaper, uri, cfg->container_id, cfg->ns, out_r,
                                    err_r, on_logger_ready, s, err);
        return s->logger ? 0 : -1;
}

static int setup_pipes(struct ps_stdio *s, const struct ps_stdio_config *cfg,
                       const struct ps_stdio_uri *uri, struct ps_err **err)
{
        bool file = uri->scheme == PS_STDIO_FILE;

        if (!empty(cfg->stdin_path)) {
                if (open_stdin(s, cfg->stdin_path, err) < 0 ||
                    make_pipe(cfg, true, &s->rt_fds[0], &s->in_w, err) < 0)
                        return -1;
        }
        if (open_outputs(s, cfg, uri, err) < 0)
                return -1;
        if ((file || !empty(cfg->stdout_path)) &&
            make_pipe(cfg, false, &s->rt_fds[1], &s->pipe_r[OUT], err) < 0)
                return -1;
        if ((file || !empty(cfg->stderr_path)) &&
            make_pipe(cfg, false, &s->rt_fds[2], &s->pipe_r[ERR], err) < 0)
                return -1;
        return 0;
}

static int setup_tty(struct ps_stdio *s, const struct ps_stdio_config *cfg,
                     const struct ps_stdio_uri *uri, struct ps_err **err)
{
        if (ps_console_socket_open(cfg->tmp_dir, &s->console, err) < 0)
                return -1;
        if (!empty(cfg->stdin_path) && open_stdin(s, cfg->stdin_path, err) < 0)
                return -1;
        if (uri->scheme != PS_STDIO_BINARY && open_outputs(s, cfg, uri, err) < 0)
                return -1;
        /* Nowhere to send the output: read the master anyway, or a process
         * writing to its tty would stall on a full buffer. */
        if (uri->scheme != PS_STDIO_BINARY && s->client[OUT] < 0) {
                s->client[OUT] = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (s->client[OUT] < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "open /dev/null");
        }
        return 0;
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
        struct ps_stdio *s = arg;

        if (s->ready)
                s->ready(s->ready_data, NULL);
}

static void on_finish(evutil_socket_t fd, short what, void *arg);

static struct ps_stdio *stdio_alloc(struct event_base *base, struct ps_reaper *reaper,
                                    const struct ps_stdio_config *cfg, ps_stdio_ready_fn ready,
                                    void *data)
{
        struct ps_stdio *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        *s = (struct ps_stdio){.base = base,
                               .reaper = reaper,
                               .terminal = cfg->terminal,
                               .rt_fds = {-1, -1, -1},
                               .client = {-1, -1},
                               .pipe_r = {-1, -1},
                               .in_fifo = -1,
                               .keepalive = -1,
                               .in_w = -1,
                               .console = {.fd = -1},
                               .master = -1,
                               .ready = ready,
                               .ready_data = data};
        s->ready_ev = event_new(base, -1, 0, on_ready, s);
        s->finish_ev = event_new(base, -1, 0, on_finish, s);
        s->drain_timer = evtimer_new(base, on_finish, s);
        if (!s->ready_ev || !s->finish_ev || !s->drain_timer)
                return ps_stdio_free(s);
        return s;
}

struct ps_stdio *ps_stdio_new(struct event_base *base, struct ps_reaper *reaper,
                              const struct ps_stdio_config *cfg, ps_stdio_ready_fn ready,
                              void *data, struct ps_err **err)
{
        struct ps_stdio_uri uri = {.scheme = PS_STDIO_FIFO};
        struct ps_stdio *s;
        int r;

        if (!empty(cfg->stdout_path) && ps_stdio_uri_parse(cfg->stdout_path, &uri, err) < 0)
                return NULL;
        s = stdio_alloc(base, reaper, cfg, ready, data);
        if (!s) {
                ps_stdio_uri_clear(&uri);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "stdio"), NULL;
        }
        if (cfg->terminal)
                r = setup_tty(s, cfg, &uri, err);
        else if (uri.scheme == PS_STDIO_BINARY)
                r = 0; /* like containerd: a logger gets no stdin */
        else
                r = setup_pipes(s, cfg, &uri, err);
        if (r == 0 && uri.scheme == PS_STDIO_BINARY)
                r = setup_logger(s, cfg, &uri, err);
        else if (r == 0)
                event_active(s->ready_ev, 0, 0); /* usable now; say so from the loop */
        ps_stdio_uri_clear(&uri);
        if (r < 0)
                return ps_stdio_free(s);
        return s;
}

void ps_stdio_runtime_fds(const struct ps_stdio *s, int fds[3])
{
        memcpy(fds, s->rt_fds, sizeof(s->rt_fds));
}

const char *ps_stdio_console_socket(const struct ps_stdio *s)
{
        return s->terminal ? s->console.path : NULL;
}

static bool outputs_done(const struct ps_stdio *s)
{
        return !s->out_relay[OUT] && !s->out_relay[ERR];
}

static void on_out_end(void *data, struct ps_relay *r, enum ps_relay_end why, int errnum)
{
        struct ps_stdio *s = data;
        int i = r == s->out_relay[OUT] ? OUT : ERR;

        if (why != PS_RELAY_EOF)
                ps_log_debug("stdio relay %d ended: %s", i, strerror(errnum));
        s->out_relay[i] = ps_relay_free(r);
        if (s->draining && outputs_done(s))
                event_active(s->finish_ev, 0, 0);
}

static void on_in_end(void *data, struct ps_relay *r, enum ps_relay_end why, int errnum)
{
        struct ps_stdio *s = data;

        if (why != PS_RELAY_EOF)
                ps_log_debug("stdin relay ended: %s", strerror(errnum));
        s->in_relay = ps_relay_free(r);
        /* EOF (or a process that stopped reading): close its stdin. With a
         * tty the master stays open: the output still flows through it. */
        s->in_w = ps_close(s->in_w);
        s->in_fifo = ps_close(s->in_fifo);
}

static int relay(struct ps_stdio *s, struct ps_relay **slot, const struct ps_relay_opts *o,
                 ps_relay_end_fn end, struct ps_err **err)
{
        *slot = ps_relay_new(s->base, o, end, s, err);
        return *slot ? 0 : -1;
}

static int start_tty(struct ps_stdio *s, struct ps_err **err)
{
        int r = ps_console_socket_recv(&s->console, &s->master, err);

        ps_console_socket_close(&s->console);
        if (r < 0)
                return -1;
        if (s->client[OUT] >= 0) {
                struct ps_relay_opts o = {.in_fd = s->master,
                                          .out_fd = s->client[OUT],
                                          .in_et = true,
                                          .eio_pause = true,
                                          .discard_on_error = true};
                if (relay(s, &s->out_relay[OUT], &o, on_out_end, err) < 0)
                        return -1;
        }
        if (s->in_fifo >= 0) {
                struct ps_relay_opts o = {.in_fd = s->in_fifo, .out_fd = s->master, .out_et = true};
                if (relay(s, &s->in_relay, &o, on_in_end, err) < 0)
                        return -1;
        }
        return 0;
}

int ps_stdio_started(struct ps_stdio *s, struct ps_err **err)
{
        if (s->started)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "stdio already started");
        s->started = true;
        /* The runtime has passed them on; our copies would hold off EOF. */
        for (int i = 0; i < 3; i++)
                s->rt_fds[i] = ps_close(s->rt_fds[i]);
        if (s->terminal)
                return start_tty(s, err);
        for (int i = OUT; i <= ERR; i++) {
                if (s->pipe_r[i] < 0 || s->client[i] < 0)
                        continue;
                struct ps_relay_opts o = {
                    .in_fd = s->pipe_r[i], .out_fd = s->client[i], .discard_on_error = true};
                if (relay(s, &s->out_relay[i], &o, on_out_end, err) < 0)
                        return -1;
        }
        if (s->in_fifo >= 0 && s->in_w >= 0) {
                struct ps_relay_opts o = {.in_fd = s->in_fifo, .out_fd = s->in_w};
                if (relay(s, &s->in_relay, &o, on_in_end, err) < 0)
                        return -1;
        }
        return 0;
}

int ps_stdio_resize(struct ps_stdio *s, uint32_t width, uint32_t height, struct ps_err **err)
{
        struct winsize ws = {.ws_col = (unsigned short)width, .ws_row = (unsigned short)height};

        if (s->master < 0)
                return 0;
        if (width > 0xffff || height > 0xffff)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "console size %ux%u out of range",
                                  width, height);
        if (ioctl(s->master, TIOCSWINSZ, &ws) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "resize console");
        return 0;
}

void ps_stdio_close_stdin(struct ps_stdio *s)
{
        s->keepalive = ps_close(s->keepalive);
}

/* Closes every relay and every fd that connects the process to its client. */
static void cut(struct ps_stdio *s)
{
        for (int i = OUT; i <= ERR; i++) {
                s->out_relay[i] = ps_relay_free(s->out_relay[i]);
                s->pipe_r[i] = ps_close(s->pipe_r[i]);
        }
        s->in_relay = ps_relay_free(s->in_relay);
        /* Our FIFO fds are read-write: closing them is what lets the client's
         * reader see EOF. */
        if (s->shared)
                s->client[ERR] = -1;
        s->client[OUT] = ps_close(s->client[OUT]);
        s->client[ERR] = ps_close(s->client[ERR]);
        s->shared = false;
        s->in_w = ps_close(s->in_w);
        s->in_fifo = ps_close(s->in_fifo);
        s->keepalive = ps_close(s->keepalive);
        s->master = ps_close(s->master);
}

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
        struct ps_stdio *s = arg;
        void (*done)(void *) = s->done;

        if (!s->draining)
                return;
        if (!outputs_done(s))
                ps_log_debug("stdio drain timed out, cutting the relays");
        event_del(s->drain_timer);
        event_del(s->finish_ev);
        cut(s);
        s->draining = false;
        s->done = NULL;
        if (done)
                done(s->done_data); /* may free s: last */
}

void ps_stdio_drain(struct ps_stdio *s, unsigned timeout_ms, void (*done)(void *data), void *data)
{
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

        s->done = done;
        s->done_data = data;
        s->draining = true;
        /* The process is gone: a pty master's EIO now means no slave will
         * ever come back. */
        ps_relay_eio_is_eof(s->out_relay[OUT]);
        if (outputs_done(s))
                event_active(s->finish_ev, 0, 0);
        else
                evtimer_add(s->drain_timer, &tv);
}

struct ps_stdio *ps_stdio_free(struct ps_stdio *s)
{
        if (!s)
                return NULL;
        cut(s);
        for (int i = 0; i < 3; i++)
                ps_close(s->rt_fds[i]);
        ps_console_socket_close(&s->console);
        ps_logger_free(s->logger);
        if (s->ready_ev)
                event_free(s->ready_ev);
        if (s->finish_ev)
                event_free(s->finish_ev);
        if (s->drain_timer)
                event_free(s->drain_timer);
        free(s);
        return NULL;
}
