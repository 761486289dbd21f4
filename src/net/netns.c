/* rtnetlink in another process' network namespace; see netns.h for the
 * helper child that creates the socket there and for the time bound. */
#include "net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/rtnl.h>
#include <netlink/socket.h>

#include "base/cleanup.h"
#include "base/log.h"

/* Messages read per request at most, whatever their content: a dump of
 * PS_NET_MAX_LINKS links plus loopback and the end; the rest is slack for
 * messages that are skipped. */
#define NL_MAX_MSGS (PS_NET_MAX_LINKS + 64)
/* The helper child's stack, inside the caller's frame (the caller is
 * suspended while the child runs). The child's frames need well under 1 KiB;
 * the pages it touches are the caller's stack pages just below its own. */
#define HELPER_STACK_SIZE (8 * 1024)
/* socket() type of every netlink socket here: nothing may ever block on it. */
#define NL_SOCK_TYPE (SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK)

struct ps_netns {
        int nsfd;           /* the namespace: pins it, and the socket is remade from it */
        struct nl_sock *sk; /* bound socket in it; NULL after a failed exchange */
        bool own;           /* the shim's own namespace: no helper */
        unsigned msgs;      /* messages read in the current exchange */
};

/* A libnl error (a negative NLE_* code) as a ps_err. */
static int nl_fail(struct ps_err **err, int nlerr, const char *what)
{
        enum ps_code code = PS_UNKNOWN;

        switch (nlerr < 0 ? -nlerr : nlerr) {
        case NLE_AGAIN:
                return ps_err_set(err, PS_UNAVAILABLE, "%s: no answer queued by the kernel", what);
        case NLE_NODEV:
        case NLE_OBJ_NOTFOUND:
                code = PS_NOT_FOUND;
                break;
        case NLE_DUMP_INTR:
                return ps_err_set(err, PS_UNAVAILABLE, "%s: dump interrupted by a change; retry",
                                  what);
        case NLE_NOMEM:
        case NLE_MSG_OVERFLOW: /* NL_MAX_MSGS, or the kernel's overrun */
                code = PS_RESOURCE_EXHAUSTED;
                break;
        case NLE_PERM:
        case NLE_NOACCESS:
                code = PS_PERMISSION_DENIED;
                break;
        }
        return ps_err_set(err, code, "%s: %s", what, nl_geterror(nlerr));
}

static int open_netns(pid_t pid, int *ret_fd, struct ps_err **err)
{
        char path[64];

        if (pid <= 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid pid %d", (int)pid);
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                /* ENOENT also covers a zombie: its namespaces are gone. */
                return ps_err_errno(err, errno, PS_UNKNOWN, "network namespace of pid %d",
                                    (int)pid);
        *ret_fd = fd;
        return 0;
}

/* Whether nsfd is the calling thread's own network namespace. */
static int is_own_netns(int nsfd, bool *ret, struct ps_err **err)
{
        struct stat target, self;

        if (fstat(nsfd, &target) < 0 || stat("/proc/thread-self/ns/net", &self) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "stat network namespace");
        *ret = target.st_dev == self.st_dev && target.st_ino == self.st_ino;
        return 0;
}

struct helper_args {
        int nsfd;          /* the namespace to enter */
        int chan;          /* the child's end of the socketpair */
        struct ifreq *tap; /* NULL: a netlink socket; else TUNSETIFF with it */
};

/* Helper child side. It runs on the caller's memory with every signal
 * blocked, so it makes raw system calls only (syscall() sets errno and
 * nothing else) and ends with exit, never returning into clone()'s caller.
 * Its answer is one datagram: the errno (0 on success) and, on success, the
 * socket as SCM_RIGHTS. Not instrumented by ASan: its frames would leave
 * poisoned shadow on a stack the caller never unwinds. */
__attribute__((no_sanitize("address"))) static int helper_main(void *arg)
{
        const struct helper_args *a = arg;
        int e = 0;
        long fd = -1;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl = {.buf = {0}}; /* padding included: the kernel copies it all */
        struct iovec iov = {.iov_base = &e, .iov_len = sizeof(e)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

        if (syscall(SYS_setns, a->nsfd, CLONE_NEWNET) < 0)
                e = errno;
        else if (!a->tap && (fd = syscall(SYS_socket, AF_NETLINK, NL_SOCK_TYPE, NETLINK_ROUTE)) < 0)
                e = errno;
        /* A tap device is made in the namespace of the thread that asks
         * for it; the fd then works from anywhere. */
        else if (a->tap &&
                 ((fd = syscall(SYS_openat, AT_FDCWD, "/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0 ||
                  syscall(SYS_ioctl, (int)fd, TUNSETIFF, a->tap) < 0))
                e = errno;
        if (e == 0) {
                mh.msg_control = ctl.buf;
                mh.msg_controllen = sizeof(ctl.buf);
                ctl.h.cmsg_len = CMSG_LEN(sizeof(int));
                ctl.h.cmsg_level = SOL_SOCKET;
                ctl.h.cmsg_type = SCM_RIGHTS;
                *(int *)CMSG_DATA(&ctl.h) = (int)fd;
        }
        /* If even this fails the caller sees end-of-file: no answer. */
        syscall(SYS_sendmsg, a->chan, &mh, MSG_NOSIGNAL);
        syscall(SYS_exit, 0);
        return 0;
}

/* The helper's answer: the socket, or the helper's errno as the error. */
static int helper_answer(int chan, int *ret_fd, struct ps_err **err)
{
        int e = 0, fd = -1;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct iovec iov = {.iov_base = &e, .iov_len = sizeof(e)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.buf,
                            .msg_controllen = sizeof(ctl)};
        ssize_t n;

        /* Never blocks for long: under CLONE_VFORK the child is done before
         * the caller runs again (a tool that turns the clone into a fork
         * leaves it a few system calls to finish). */
        do
                n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "netns helper's answer");
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                /* At most one fd fits the buffer; one was sent. */
                if (c->cmsg_len >= CMSG_LEN(sizeof(int)))
                        memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        }
        if (n != (ssize_t)sizeof(e) || (e == 0 && (fd < 0 || (mh.msg_flags & MSG_CTRUNC)))) {
                ps_close(fd);
                /* MSG_CTRUNC: we could not take the fd (EMFILE, most likely). */
                return ps_err_set(err,
                                  (mh.msg_flags & MSG_CTRUNC) ? PS_RESOURCE_EXHAUSTED : PS_INTERNAL,
                                  "netns helper gave no socket");
        }
        if (e != 0) {
                ps_close(fd);
                return ps_err_errno(err, e, PS_UNKNOWN, "netns helper");
        }
        *ret_fd = fd;
        return 0;
}

/* A NETLINK_ROUTE socket (tap NULL), or a tap device's fd (TUNSETIFF with
 * tap), created in the network namespace nsfd by a helper child; the
 * calling thread stays where it is. */
static int helper_run(int nsfd, struct ifreq *tap, int *ret_fd, struct ps_err **err)
{
        alignas(16) char stack[HELPER_STACK_SIZE];
        _cleanup_close_ int mine = -1, theirs = -1;
        struct helper_args a = {.nsfd = nsfd, .tap = tap};
        int sv[2], clone_errno, st, r;
        sigset_t all, old;
        pid_t child;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "socketpair");
        mine = sv[0];
        theirs = a.chan = sv[1];
        /* The child inherits the full mask and keeps it to the end. */
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, &old);
        child = clone(helper_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK, &a);
        clone_errno = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (child < 0)
                return ps_err_errno(err, clone_errno, PS_UNKNOWN, "clone netns helper");
        /* Our copy of its end closed, a helper that died before answering
         * reads as end-of-file instead of a wait. */
        theirs = ps_close(theirs);
        r = helper_answer(mine, ret_fd, err);
        /* __WCLONE: the helper sends no SIGCHLD, see netns.h. */
        while (waitpid(child, &st, __WCLONE) < 0 && errno == EINTR)
                ;
        return r;
}

/* Every message read, before libnl looks at it: only the kernel may answer
 * (in the pod's namespace, a process with CAP_NET_ADMIN could send to our
 * port), and an exchange reads at most NL_MAX_MSGS messages. */
static int on_msg_in(struct nl_msg *msg, void *arg)
{
        struct ps_netns *ns = arg;

        if (++ns->msgs > NL_MAX_MSGS)
                return -NLE_MSG_OVERFLOW;
        return nlmsg_get_src(msg)->nl_pid == 0 ? NL_OK : NL_SKIP;
}

/* A libnl socket on fd (bound, non-blocking), which it takes. */
static struct nl_sock *nl_sock_on(struct ps_netns *ns, int fd, struct ps_err **err)
{
        struct nl_sock *sk = nl_socket_alloc();
        int r;

        if (!sk) {
                ps_close(fd);
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "netlink socket"), NULL;
        }
        /* The port is the one the kernel bound (libnl's port map stays out of it). */
        r = nl_socket_set_fd(sk, NETLINK_ROUTE, fd);
        if (r == 0)
                r = nl_socket_modify_cb(sk, NL_CB_MSG_IN, NL_CB_CUSTOM, on_msg_in, ns);
        if (r < 0) {
                if (nl_socket_get_fd(sk) < 0)
                        ps_close(fd);
                nl_socket_free(sk);
                return nl_fail(err, r, "netlink socket"), NULL;
        }
        return sk;
}

/* The handle's socket, made (again) if it has none: bound, non-blocking. */
static int ensure_socket(struct ps_netns *ns, struct ps_err **err)
{
        _cleanup_close_ int fd = -1;
        /* Bound to a port the kernel picks, and connected to the kernel (port
         * 0): the kernel then refuses what any other sender in the pod's
         * namespace sends to that port (with CAP_NET_ADMIN a process may). */
        const struct sockaddr_nl local = {.nl_family = AF_NETLINK}, kernel = local;

        if (ns->sk)
                return 0;
        if (ns->own) {
                fd = socket(AF_NETLINK, NL_SOCK_TYPE, NETLINK_ROUTE);
                if (fd < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "netlink socket");
        } else if (helper_run(ns->nsfd, NULL, &fd, err) < 0) {
                return -1;
        }
        if (bind(fd, (const struct sockaddr *)&local, sizeof(local)) < 0 ||
            connect(fd, (const struct sockaddr *)&kernel, sizeof(kernel)) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "bind netlink socket");
        ns->sk = nl_sock_on(ns, TAKE_FD(fd), err);
        return ns->sk ? 0 : -1;
}

/* Ends an exchange: r < 0 (a failure) or stopped (a dump left unfinished)
 * may leave anything unread on the socket, so it is dropped and the next
 * request makes a new one: an open socket is always idle, nothing queued. */
static int exchange_done(struct ps_netns *ns, int r, bool stopped)
{
        if (r < 0 || stopped) {
                nl_socket_free(ns->sk);
                ns->sk = NULL;
        }
        return r < 0 ? -1 : 0;
}

static struct ps_netns *netns_on(int nsfd_taken, struct ps_err **err)
{
        _cleanup_close_ int nsfd = nsfd_taken;
        struct ps_netns *ns;
        bool own = false;

        if (is_own_netns(nsfd, &own, err) < 0)
                return NULL;
        ns = calloc(1, sizeof(*ns));
        if (!ns)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "netns handle"), NULL;
        *ns = (struct ps_netns){.nsfd = TAKE_FD(nsfd), .own = own};
        if (ensure_socket(ns, err) < 0)
                return ps_netns_free(ns);
        return ns;
}

struct ps_netns *ps_netns_open(pid_t pid, struct ps_err **err)
{
        int nsfd = -1;
        struct ps_netns *ns;

        if (open_netns(pid, &nsfd, err) < 0)
                return NULL;
        ns = netns_on(nsfd, err);
        if (!ns)
                ps_err_prefix(err, "network namespace of pid %d", (int)pid);
        return ns;
}

struct ps_netns *ps_netns_open_path(const char *path, struct ps_err **err)
{
        int nsfd;
        struct ps_netns *ns;

        if (!path || path[0] != '/')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid netns path"), NULL;
        nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "network namespace %s", path), NULL;
        ns = netns_on(nsfd, err);
        if (!ns)
                ps_err_prefix(err, "network namespace %s", path);
        return ns;
}

int ps_netns_tap_create(struct ps_netns *ns, const char *ifname, int *ret_fd, struct ps_err **err)
{
        struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
        int fd = -1;

        if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid interface name");
        memcpy(ifr.ifr_name, ifname, strlen(ifname));
        if (ns->own) {
                fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
                if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
                        int e = errno;

                        ps_close(fd);
                        return ps_err_errno(err, e, PS_UNKNOWN, "tap %s", ifname);
                }
        } else if (helper_run(ns->nsfd, &ifr, &fd, err) < 0) {
                return ps_err_prefix(err, "tap %s", ifname);
        }
        *ret_fd = fd;
        return 0;
}

struct nl_sock *ps_netns_nl(struct ps_netns *ns, struct ps_err **err)
{
        if (ensure_socket(ns, err) < 0)
                return NULL;
        ns->msgs = 0;
        return ns->sk;
}

int ps_netns_nl_done(struct ps_netns *ns, int nlerr, const char *what, struct ps_err **err)
{
        if (exchange_done(ns, nlerr, false) < 0)
                return nl_fail(err, nlerr, what);
        return 0;
}

struct ps_netns *ps_netns_free(struct ps_netns *ns)
{
        if (!ns)
                return NULL;
        nl_socket_free(ns->sk); /* closes its fd */
        ps_close(ns->nsfd);
        free(ns);
        return NULL;
}

struct link_dump {
        struct ps_link_stats *v;
        size_t n, cap;
        bool full, nomem, done;
};

static void link_stats_from(struct ps_link_stats *s, struct rtnl_link *l)
{
        const char *name = rtnl_link_get_name(l);

        memset(s, 0, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
        s->rx_bytes = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES);
        s->rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
        s->rx_errors = rtnl_link_get_stat(l, RTNL_LINK_RX_ERRORS);
        s->rx_dropped = rtnl_link_get_stat(l, RTNL_LINK_RX_DROPPED);
        s->tx_bytes = rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES);
        s->tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
        s->tx_errors = rtnl_link_get_stat(l, RTNL_LINK_TX_ERRORS);
        s->tx_dropped = rtnl_link_get_stat(l, RTNL_LINK_TX_DROPPED);
}

/* One link of the dump, as libnl-route parsed it. */
static void on_link(struct nl_object *obj, void *arg)
{
        struct link_dump *d = arg;
        struct rtnl_link *l = (struct rtnl_link *)obj;

        if ((rtnl_link_get_flags(l) & IFF_LOOPBACK) || d->full || d->nomem)
                return;
        if (d->n == PS_NET_MAX_LINKS) {
                d->full = true;
                return;
        }
        if (d->n == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 4;
                struct ps_link_stats *v = reallocarray(d->v, cap, sizeof(*v));
                if (!v) {
                        d->nomem = true;
                        return;
                }
                d->v = v;
                d->cap = cap;
        }
        link_stats_from(&d->v[d->n++], l);
}

static int on_link_msg(struct nl_msg *msg, void *arg)
{
        struct link_dump *d = arg;
        int r = nl_msg_parse(msg, on_link, d);

        if (r < 0)
                return r;
        if (d->nomem)
                return -NLE_NOMEM;
        return d->full ? NL_STOP : NL_OK; /* the rest of the dump is left unread */
}

static int on_dump_done(struct nl_msg *msg, void *arg)
{
        struct link_dump *d = arg;

        d->done = true;
        return NL_STOP;
}

/* RTM_GETLINK dump into d; a libnl error code (< 0) on failure. */
static int dump_links(struct ps_netns *ns, struct link_dump *d)
{
        struct nl_cb *sock_cb = nl_socket_get_cb(ns->sk), *cb;
        int r;

        /* A copy of the socket's callbacks (on_msg_in included) plus ours. */
        cb = sock_cb ? nl_cb_clone(sock_cb) : NULL;
        nl_cb_put(sock_cb);
        if (!cb)
                return -NLE_NOMEM;
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_link_msg, d);
        nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_dump_done, d);
        ns->msgs = 0;
        r = nl_rtgen_request(ns->sk, RTM_GETLINK, AF_UNSPEC, NLM_F_DUMP);
        if (r >= 0)
                r = nl_recvmsgs(ns->sk, cb);
        nl_cb_put(cb);
        /* Whatever libnl makes of it, a dump ends with NLMSG_DONE or when
         * we have had enough. */
        if (r >= 0 && !d->done && !d->full)
                r = -NLE_MSG_TRUNC;
        return r;
}

int ps_netns_link_stats(struct ps_netns *ns, struct ps_link_stats **ret, size_t *ret_n,
                        struct ps_err **err)
{
        struct link_dump d = {0};
        int r;

        if (ensure_socket(ns, err) < 0)
                return ps_err_prefix(err, "dump links");
        r = dump_links(ns, &d);
        if (exchange_done(ns, r, d.full) < 0) {
                free(d.v);
                return nl_fail(err, r, "dump links");
        }
        if (d.full)
                ps_log_debug("net: %d links or more, reporting those", PS_NET_MAX_LINKS);
        if (!d.v && !(d.v = calloc(1, sizeof(*d.v))))
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "link stats");
        *ret = d.v;
        *ret_n = d.n;
        return 0;
}

static void rtnl_linkp(struct rtnl_link **l)
{
        if (*l)
                rtnl_link_put(*l);
}

int ps_netns_link_up(struct ps_netns *ns, const char *ifname, struct ps_err **err)
{
        _cleanup_(rtnl_linkp) struct rtnl_link *link = NULL, *change = NULL;
        int r;

        if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid interface name");
        if (ensure_socket(ns, err) < 0)
                return ps_err_prefix(err, "bring %s up", ifname);
        change = rtnl_link_alloc();
        if (!change)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "bring %s up", ifname);
        /* Setting IFF_UP on a link that is up changes nothing. Both requests
         * are acknowledged (libnl's auto-ACK) before sendmsg returns. */
        rtnl_link_set_flags(change, IFF_UP);
        ns->msgs = 0;
        r = rtnl_link_get_kernel(ns->sk, 0, ifname, &link);
        if (r >= 0 && !link) /* libnl read no link and no error */
                r = -NLE_MSG_TRUNC;
        if (r >= 0)
                r = rtnl_link_change(ns->sk, link, change, 0);
        if (exchange_done(ns, r, false) < 0) {
                nl_fail(err, r, "netlink");
                return ps_err_prefix(err, "bring %s up", ifname);
        }
        return 0;
}
