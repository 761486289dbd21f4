#include "cgroup/oom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "cgroup/cgfile.h"
#include "cgroup/paths.h"

struct ps_oom_watch {
        struct event *ev;
        int fd;    /* v1: the eventfd; v2: the inotify instance */
        int dirfd; /* O_PATH fd of the memory cgroup, to notice its removal */
        bool v2;
        uint64_t oom_kill; /* v2: last oom_kill count seen */
        ps_oom_fn fn;
        void *data;
};

struct ps_oom_watch *ps_oom_watch_free(struct ps_oom_watch *w)
{
        if (!w)
                return NULL;
        if (w->ev)
                event_free(w->ev);
        ps_close(w->fd);
        ps_close(w->dirfd);
        free(w);
        return NULL;
}

static void watch_freep(struct ps_oom_watch **w)
{
        ps_oom_watch_free(*w);
}

/* The cgroup's interface files vanish with it (lookups in a removed kernfs
 * directory fail even through an fd opened before). */
static bool cgroup_alive(const struct ps_oom_watch *w, const char *file)
{
        return faccessat(w->dirfd, file, F_OK, 0) == 0;
}

static void watch_stop(struct ps_oom_watch *w, const char *why)
{
        ps_log_debug("oom watch stopped: %s", why);
        event_del(w->ev);
}

/* v1: the eventfd counts OOM notifications, but the kernel also signals it
 * once when the cgroup is removed; only a live cgroup means an OOM. */
static void v1_ready(evutil_socket_t fd, short what, void *arg)
{
        struct ps_oom_watch *w = arg;
        uint64_t count;

        if (read(fd, &count, sizeof(count)) != (ssize_t)sizeof(count))
                return; /* EAGAIN: spurious wakeup */
        if (!cgroup_alive(w, "memory.oom_control")) {
                watch_stop(w, "cgroup removed");
                return;
        }
        w->fn(w->data); /* last: the callback may free the watch */
}

/* Reads the oom_kill counter of memory.events; -1 if the cgroup is gone. */
static int v2_read_oom_kill(const struct ps_oom_watch *w, uint64_t *ret)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ char *buf = NULL;

        if (ps_cgfile_read_at(w->dirfd, "memory.events", &buf, &e) <= 0)
                return -1;
        if (ps_cgfile_kv_get(buf, "oom_kill", ret) < 0)
                *ret = 0; /* kernels before 4.13 have no oom_kill key */
        return 0;
}

/* v2: inotify reports IN_MODIFY for every memory.events change (low, high,
 * max, oom ...); only a higher oom_kill count is an OOM kill. */
static void v2_ready(evutil_socket_t fd, short what, void *arg)
{
        struct ps_oom_watch *w = arg;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool ignored = false;
        uint64_t kills;
        ssize_t n;

        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ie = (const struct inotify_event *)p;

                        ignored |= (ie->mask & IN_IGNORED) != 0;
                        p += sizeof(*ie) + ie->len;
                }
        }
        if (v2_read_oom_kill(w, &kills) < 0) {
                watch_stop(w, "cgroup removed");
                return;
        }
        if (ignored)
                watch_stop(w, "memory.events watch removed");
        if (kills <= w->oom_kill)
                return;
        w->oom_kill = kills;
        w->fn(w->data); /* last: the callback may free the watch */
}

static int v1_register(struct ps_oom_watch *w, const char *dir, struct ps_err **err)
{
        _cleanup_close_ int cfd = -1, ctl = -1;
        char line[64];
        int len;

        w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "eventfd");
        cfd = openat(w->dirfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
        if (cfd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "%s/memory.oom_control", dir);
        ctl = openat(w->dirfd, "cgroup.event_control", O_WRONLY | O_CLOEXEC);
        if (ctl < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "%s/cgroup.event_control", dir);
        /* The kernel keeps its own reference to the eventfd; cfd and ctl are
         * only needed for the registration itself. */
        len = snprintf(line, sizeof(line), "%d %d", w->fd, cfd);
        if (ps_write_all(ctl, line, (size_t)len) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "%s/cgroup.event_control", dir);
        return 0;
}

static int v2_register(struct ps_oom_watch *w, const char *dir, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL;

        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "inotify_init1");
        if (asprintf(&path, "%s/memory.events", dir) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "oom watch");
        /* Watch first, then take the baseline: a kill in between is then
         * reported rather than lost. */
        if (inotify_add_watch(w->fd, path, IN_MODIFY) < 0) {
                if (errno == ENOENT && access(dir, F_OK) == 0)
                        return ps_err_set(err, PS_FAILED_PRECONDITION,
                                          "%s: memory controller not enabled", dir);
                return ps_err_errno(err, errno, PS_UNKNOWN, "inotify %s", path);
        }
        if (v2_read_oom_kill(w, &w->oom_kill) < 0)
                return ps_err_set(err, PS_NOT_FOUND, "%s: cgroup is gone", dir);
        return 0;
}

static struct ps_oom_watch *watch_alloc(ps_oom_fn fn, void *data)
{
        struct ps_oom_watch *w = calloc(1, sizeof(*w));

        if (w)
                *w = (struct ps_oom_watch){.fd = -1, .dirfd = -1, .fn = fn, .data = data};
        return w;
}

static int watch_setup(struct ps_oom_watch *w, struct event_base *base, const char *dir,
                       struct ps_err **err)
{
        w->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (w->dirfd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", dir);
        if ((w->v2 ? v2_register(w, dir, err) : v1_register(w, dir, err)) < 0)
                return -1;
        w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST, w->v2 ? v2_ready : v1_ready, w);
        if (!w->ev || event_add(w->ev, NULL) < 0)
                return ps_err_set(err, PS_INTERNAL, "oom watch: cannot add event");
        return 0;
}

struct ps_oom_watch *ps_oom_watch_new(struct event_base *base, pid_t pid, ps_oom_fn fn, void *data,
                                      struct ps_err **err)
{
        _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *p = NULL;
        struct ps_oom_watch *w;

        if (ps_cgroup_paths_of(pid, &p, err) < 0)
                return NULL;
        w = ps_oom_watch_new_at(base, p, fn, data, err);
        if (!w)
                ps_err_prefix(err, "pid %d", (int)pid);
        return w;
}

struct ps_oom_watch *ps_oom_watch_new_at(struct event_base *base, const struct ps_cgroup_paths *p,
                                         ps_oom_fn fn, void *data, struct ps_err **err)
{
        _cleanup_(watch_freep) struct ps_oom_watch *w = NULL;
        const char *dir = ps_cgroup_paths_use_v1(p) ? p->v1[PS_CGROUP_MEMORY] : p->unified;

        if (!dir) {
                ps_err_set(err, PS_NOT_FOUND, "memory cgroup not visible");
                return NULL;
        }
        w = watch_alloc(fn, data);
        if (!w) {
                ps_err_errno(err, ENOMEM, PS_UNKNOWN, "oom watch");
                return NULL;
        }
        w->v2 = !ps_cgroup_paths_use_v1(p);
        if (watch_setup(w, base, dir, err) < 0) {
                ps_err_prefix(err, "oom watch of %s", dir);
                return NULL;
        }
        return TAKE_PTR(w);
}
