/* The serving daemon: the root object, the event loop and its lifetime. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/backoff.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "base/version.h"
#include "core/publisher.h"
#include "core/reaper.h"
#include "api/events.h"
#include "api/sandbox_service.h"
#include "api/task_service.h"
#include "sandbox/sandbox.h"
#include "shim/bootstrap.h"
#include "shim/start.h"
#include "ttrpc/server.h"

#define FLUSH_TIMEOUT_MS 5000

/* The root object: everything the daemon owns, passed through callbacks. */
struct ps_shim {
        struct event_base *base;
        struct ps_reaper *reaper;
        struct ps_publisher *pub;
        struct ttrpc_server *server;
        struct ps_task_events events;
        struct ps_sandbox_events sandbox_events;
        struct ps_sandboxes sandboxes;
        bool sandboxes_ready;
        struct ps_task_service svc;
        struct ps_sandbox_service sandbox_svc;
        /* the Task service under both names, then the Sandbox service */
        struct ttrpc_service desc[PS_TASK_SERVICE_NAMES + 1];
        int sigfd;
        struct event *sig_ev;
        const char *socket_path;
        bool exiting;
        struct event *idle_ev; /* an exit waiting for the clients to hang up */
        unsigned idle_ms;
};

static void flushed(void *data)
{
        struct ps_shim *s = data;

        event_base_loopexit(s->base, NULL);
}

/* Final shutdown: the socket goes first so that containerd's next `start`
 * for this pod binds a fresh shim instead of reusing a dying one. */
static void begin_exit(void *data)
{
        struct ps_shim *s = data;

        if (s->exiting)
                return;
        s->exiting = true;
        ps_log_info("shutting down");
        ttrpc_server_stop_listening(s->server);
        if (s->socket_path)
                unlink(s->socket_path);
        ps_publisher_flush(s->pub, FLUSH_TIMEOUT_MS, flushed, s);
}

/* ShutdownSandbox's exit. containerd closes its connection by itself right
 * after the answer (plugins/sandbox/controller.go: Shutdown, then
 * shims.Delete); a shim that closes first races that answer in Go ttrpc's
 * client, which may then report ErrClosed instead, and containerd 2.1 does
 * not tolerate that there (it does for Task Shutdown). So the exit waits,
 * no longer than IDLE_EXIT_MAX_MS, for every client to hang up; nothing new
 * can connect meanwhile. */
#define IDLE_EXIT_POLL_MS 10
#define IDLE_EXIT_MAX_MS  2000

static void idle_poll(evutil_socket_t fd, short what, void *arg)
{
        struct ps_shim *s = arg;
        struct timeval tv = ps_ms_timeval(IDLE_EXIT_POLL_MS);

        s->idle_ms += IDLE_EXIT_POLL_MS;
        if (ttrpc_server_connections(s->server) == 0 || s->idle_ms >= IDLE_EXIT_MAX_MS) {
                begin_exit(s);
                return;
        }
        evtimer_add(s->idle_ev, &tv);
}

static void begin_exit_when_idle(void *data)
{
        struct ps_shim *s = data;
        struct timeval tv = ps_ms_timeval(IDLE_EXIT_POLL_MS);

        if (s->exiting || s->idle_ev)
                return;
        ttrpc_server_stop_listening(s->server);
        if (s->socket_path)
                unlink(s->socket_path);
        s->idle_ev = evtimer_new(s->base, idle_poll, s);
        if (!s->idle_ev || evtimer_add(s->idle_ev, &tv) < 0)
                begin_exit(s);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
        struct ps_shim *s = arg;
        struct signalfd_siginfo si;

        while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                ps_log_info("received signal %u", si.ssi_signo);
                begin_exit(s);
        }
}

static int setup_signals(struct ps_shim *s, struct ps_err **err)
{
        sigset_t mask;

        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "block signals");
        s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (s->sigfd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "signalfd");
        s->sig_ev = event_new(s->base, s->sigfd, EV_READ | EV_PERSIST, on_signal, s);
        if (!s->sig_ev || event_add(s->sig_ev, NULL) < 0)
                return ps_err_set(err, PS_INTERNAL, "register signal handler");
        return 0;
}

static int shim_init(struct ps_shim *s, const struct ps_args *args, int listen_fd,
                     struct ps_err **err)
{
        int version;

        s->base = event_base_new();
        if (!s->base)
                return ps_err_set(err, PS_INTERNAL, "cannot create the event loop");
        if (setup_signals(s, err) < 0)
                return -1;
        s->reaper = ps_reaper_new(s->base, err);
        if (!s->reaper)
                return -1;
        s->pub = ps_publisher_new(s->base, getenv("TTRPC_ADDRESS"), args->ns, err);
        if (!s->pub)
                return -1;
        ps_api_events_init(&s->events, s->pub);
        ps_api_sandbox_events_init(&s->sandbox_events, s->pub);
        ps_sandboxes_init(&s->sandboxes, &s->events, &s->sandbox_events, s->base, s->reaper,
                          args->ns, NULL);
        s->sandboxes.profile = &args->profile;
        s->sandboxes_ready = true;
        /* The daemon's environment is the one its first `start` answered
         * from: its own bootstrap version (start checked the value). */
        if (ps_bootstrap_version_parse(getenv(PS_BOOTSTRAP_ENV), &version, err) < 0)
                return -1;
        ps_task_service_init(&s->svc, &s->sandboxes, version >= 3, begin_exit, s);
        ps_task_service_describe(&s->svc, s->desc);
        ps_sandbox_service_init(&s->sandbox_svc, &s->sandboxes, begin_exit_when_idle, s);
        ps_sandbox_service_describe(&s->sandbox_svc, &s->desc[PS_TASK_SERVICE_NAMES]);
        s->server = ttrpc_server_new(s->base, listen_fd, s->desc, PS_TASK_SERVICE_NAMES + 1, err);
        return s->server ? 0 : -1;
}

static void shim_fini(struct ps_shim *s)
{
        /* Answers the teardown still gives (a cancelled ShutdownSandbox's)
         * must not start another exit on what is being freed. */
        s->exiting = true;
        s->server = ttrpc_server_free(s->server);
        if (s->sandboxes_ready)
                ps_sandboxes_destroy(&s->sandboxes);
        ps_publisher_free(s->pub);
        ps_reaper_free(s->reaper);
        if (s->idle_ev)
                event_free(s->idle_ev);
        if (s->sig_ev)
                event_free(s->sig_ev);
        ps_close(s->sigfd);
        if (s->base)
                event_base_free(s->base);
}

int ps_serve(const struct ps_args *args, int listen_fd, const char *socket_path)
{
        struct ps_shim s = {.sigfd = -1, .socket_path = socket_path};
        _cleanup_err_ struct ps_err *e = NULL;
        int flags;

        ps_log_setup(args->debug ? PS_LOG_DEBUG : PS_LOG_INFO, args->ns, args->id);
        /* stderr is containerd's log FIFO: never let a full FIFO stall us. */
        flags = fcntl(STDERR_FILENO, F_GETFL);
        if (flags >= 0)
                fcntl(STDERR_FILENO, F_SETFL, flags | O_NONBLOCK);
        /* Container inits and execs are runc's orphans: adopt them. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                ps_log_warn("cannot become a child subreaper: %s", strerror(errno));
        if (shim_init(&s, args, listen_fd, &e) < 0) {
                ps_log_error("cannot serve: %s", ps_err_msg(e));
                if (!s.server)
                        close(listen_fd);
                shim_fini(&s);
                return 1;
        }
        ps_log_info("podshim %s (revision %s) serving, pid %d", ps_build_version,
                    ps_build_revision[0] ? ps_build_revision : "unknown", (int)getpid());
        ps_log_debug("serving on %s", socket_path ? socket_path : "(inherited socket)");
        event_base_dispatch(s.base);
        if (!s.exiting && socket_path)
                unlink(socket_path);
        shim_fini(&s);
        return 0;
}
