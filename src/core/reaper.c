#include "core/reaper.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/log.h"

/* Exits of pids nobody watches are kept this long at most (entries are
 * evicted oldest first), enough to cover the window between a process's
 * exit and the moment runc's pid file is read. */
#define UNCLAIMED_MAX 256
/* Exits collected per wakeup before dispatching; more just loop again. */
#define BATCH_MAX 64

struct watch {
        pid_t pid;
        ps_reaper_fn fn;
        void *data;
        struct watch *next;
};

struct exit_rec {
        pid_t pid;
        int status;
};

struct ps_reaper {
        struct event_base *base;
        int sfd;
        struct event *ev;
        struct event *deliver_ev; /* delivers cached exits to new watches */
        struct watch *watches;    /* short list: a pod has few live pids */
        struct exit_rec unclaimed[UNCLAIMED_MAX];
        size_t n_unclaimed, unclaimed_head;     /* ring buffer */
        struct exit_rec pending[UNCLAIMED_MAX]; /* cached exits matched to a watch */
        size_t n_pending;
};

unsigned ps_exit_code(int st)
{
        if (WIFEXITED(st))
                return (unsigned)WEXITSTATUS(st);
        if (WIFSIGNALED(st))
                return 128u + (unsigned)WTERMSIG(st);
        return 255;
}

static struct watch *watch_take(struct ps_reaper *r, pid_t pid)
{
        for (struct watch **w = &r->watches; *w; w = &(*w)->next) {
                if ((*w)->pid == pid) {
                        struct watch *found = *w;
                        *w = found->next;
                        return found;
                }
        }
        return NULL;
}

static bool unclaimed_take(struct ps_reaper *r, pid_t pid, int *status);

static void unclaimed_add(struct ps_reaper *r, pid_t pid, int status)
{
        int older;

        /* Pids are reused: only the newest exit of a pid can still matter. */
        while (unclaimed_take(r, pid, &older))
                ;
        size_t idx = (r->unclaimed_head + r->n_unclaimed) % UNCLAIMED_MAX;

        if (r->n_unclaimed == UNCLAIMED_MAX) { /* evict the oldest */
                r->unclaimed_head = (r->unclaimed_head + 1) % UNCLAIMED_MAX;
                r->n_unclaimed--;
        }
        r->unclaimed[idx] = (struct exit_rec){pid, status};
        r->n_unclaimed++;
}

static bool unclaimed_take(struct ps_reaper *r, pid_t pid, int *status)
{
        for (size_t i = 0; i < r->n_unclaimed; i++) {
                size_t idx = (r->unclaimed_head + i) % UNCLAIMED_MAX;
                if (r->unclaimed[idx].pid != pid)
                        continue;
                *status = r->unclaimed[idx].status;
                /* Close the gap by moving later entries down. */
                for (size_t j = i; j + 1 < r->n_unclaimed; j++)
                        r->unclaimed[(r->unclaimed_head + j) % UNCLAIMED_MAX] =
                            r->unclaimed[(r->unclaimed_head + j + 1) % UNCLAIMED_MAX];
                r->n_unclaimed--;
                return true;
        }
        return false;
}

static void dispatch(struct ps_reaper *r, const struct exit_rec *exits, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                struct watch *w = watch_take(r, exits[i].pid);
                if (!w) {
                        unclaimed_add(r, exits[i].pid, exits[i].status);
                        continue;
                }
                w->fn(w->data, w->pid, exits[i].status);
                free(w);
        }
}

void ps_reaper_reap(struct ps_reaper *r)
{
        struct exit_rec batch[BATCH_MAX];
        size_t n;

        do {
                n = 0;
                while (n < BATCH_MAX) {
                        int st;
                        pid_t pid = waitpid(-1, &st, WNOHANG);
                        if (pid <= 0)
                                break;
                        /* Stopped/continued children are not exits. */
                        if (!WIFEXITED(st) && !WIFSIGNALED(st))
                                continue;
                        batch[n++] = (struct exit_rec){pid, st};
                }
                /* Collect first, then run callbacks: a callback may spawn. */
                dispatch(r, batch, n);
        } while (n == BATCH_MAX);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
        struct ps_reaper *r = arg;
        struct signalfd_siginfo si[8];

        /* Drain the signalfd; SIGCHLDs coalesce, so reap until empty anyway. */
        while (read(fd, si, sizeof(si)) > 0)
                ;
        ps_reaper_reap(r);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
        struct ps_reaper *r = arg;
        struct exit_rec todo[UNCLAIMED_MAX];
        size_t n = r->n_pending;

        memcpy(todo, r->pending, n * sizeof(todo[0]));
        r->n_pending = 0;
        dispatch(r, todo, n);
}

struct ps_reaper *ps_reaper_new(struct event_base *base, struct ps_err **err)
{
        _cleanup_free_ struct ps_reaper *r = calloc(1, sizeof(*r));
        sigset_t mask;

        if (!r)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "reaper"), NULL;
        r->base = base;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "block SIGCHLD"), NULL;
        r->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (r->sfd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "signalfd"), NULL;
        r->ev = event_new(base, r->sfd, EV_READ | EV_PERSIST, on_signal, r);
        r->deliver_ev = event_new(base, -1, 0, on_deliver, r);
        if (!r->ev || !r->deliver_ev || event_add(r->ev, NULL) < 0) {
                if (r->ev)
                        event_free(r->ev);
                if (r->deliver_ev)
                        event_free(r->deliver_ev);
                close(r->sfd);
                return ps_err_set(err, PS_INTERNAL, "cannot register the reaper"), NULL;
        }
        return TAKE_PTR(r);
}

struct ps_reaper *ps_reaper_free(struct ps_reaper *r)
{
        if (!r)
                return NULL;
        event_free(r->ev);
        event_free(r->deliver_ev);
        close(r->sfd);
        while (r->watches) {
                struct watch *w = r->watches;
                r->watches = w->next;
                free(w);
        }
        free(r);
        return NULL;
}

int ps_reaper_watch(struct ps_reaper *r, pid_t pid, ps_reaper_fn fn, void *data,
                    struct ps_err **err)
{
        struct watch *w;
        int status;

        for (w = r->watches; w; w = w->next)
                if (w->pid == pid)
                        return ps_err_set(err, PS_ALREADY_EXISTS, "pid %d is already watched", pid);
        w = calloc(1, sizeof(*w));
        if (!w)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "watch pid %d", pid);
        *w = (struct watch){.pid = pid, .fn = fn, .data = data, .next = r->watches};
        r->watches = w;
        /* A cached exit belongs to this process only if the pid is free now.
         * While any process holds it (alive, or a zombie we have yet to
         * reap: we reap only on the loop), the cached exit is of an earlier
         * process with the same pid, and delivering it would report a
         * running process as exited. With pid_max 32768 a busy pod reuses
         * pids within minutes. */
        if (kill(pid, 0) == 0 || errno == EPERM) {
                while (unclaimed_take(r, pid, &status))
                        ;
                return 0;
        }
        if (unclaimed_take(r, pid, &status)) {
                if (r->n_pending == UNCLAIMED_MAX) { /* cannot happen between two loop turns */
                        unclaimed_add(r, pid, status);
                        return 0;
                }
                /* Deliver from the loop, never from inside this call. */
                r->pending[r->n_pending++] = (struct exit_rec){pid, status};
                event_active(r->deliver_ev, 0, 0);
        }
        return 0;
}

void ps_reaper_unwatch(struct ps_reaper *r, pid_t pid)
{
        free(watch_take(r, pid));
        /* A cached exit already matched to this watch is dropped too. */
        for (size_t i = 0; i < r->n_pending; i++) {
                if (r->pending[i].pid == pid) {
                        r->pending[i] = r->pending[--r->n_pending];
                        break;
                }
        }
}
