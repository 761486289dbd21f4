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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/mman.h>

#include "base/cleanup.h"
#include "base/log.h"

/* Receive buffer: the kernel sizes a dump's datagrams to at most 32 KiB
 * when the reader offers that much. Mapped per request and unmapped after,
 * so stats never leave pages behind in the shim's heap. */
#define NL_BUF_SIZE (32 * 1024)
/* Datagrams read per request at most: a dump of PS_NET_MAX_LINKS veths
 * fills about two dozen; the rest is slack for messages that are skipped. */
#define NL_MAX_READS 64
/* The helper child's stack, inside the caller's frame (the caller is
 * suspended while the child runs). The child's frames need well under 1 KiB;
 * the pages it touches are the caller's stack pages just below its own. */
#define HELPER_STACK_SIZE (8 * 1024)
/* socket() type of every netlink socket here: nothing may ever block on it. */
#define NL_SOCK_TYPE (SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK)

/* A netlink errno as a ps_err (ENODEV: no such link). */
static int nl_errno(struct ps_err **err, int e, const char *what)
{
        enum ps_code code = PS_UNKNOWN;

        if (e == ENODEV)
                code = PS_NOT_FOUND;
        else if (e == EAGAIN || e == EWOULDBLOCK)
                return ps_err_set(err, PS_UNAVAILABLE, "%s: no answer queued by the kernel", what);
        return ps_err_errno(err, e, code, "%s", what);
}

struct ps_netns {
        int nsfd;     /* the namespace: pins it, and the socket is remade from it */
        int fd;       /* bound netlink socket in it; -1 after a failed exchange */
        bool own;     /* the shim's own namespace: no helper */
        uint32_t seq; /* of the last request */
};

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
        int nsfd; /* the namespace to enter */
        int chan; /* the child's end of the socketpair */
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
        else if ((fd = syscall(SYS_socket, AF_NETLINK, NL_SOCK_TYPE, NETLINK_ROUTE)) < 0)
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

/* A NETLINK_ROUTE socket created in the network namespace nsfd by a helper
 * child; the calling thread stays where it is. */
static int route_socket_in(int nsfd, int *ret_fd, struct ps_err **err)
{
        alignas(16) char stack[HELPER_STACK_SIZE];
        _cleanup_close_ int mine = -1, theirs = -1;
        struct helper_args a = {.nsfd = nsfd};
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

/* The handle's socket, made (again) if it has none: bound, non-blocking. */
static int ensure_socket(struct ps_netns *ns, struct ps_err **err)
{
        _cleanup_close_ int fd = -1;
        /* Bound to a port the kernel picks, and connected to the kernel (port
         * 0): the kernel then refuses what any other sender in the pod's
         * namespace sends to that port (with CAP_NET_ADMIN a process may). */
        const struct sockaddr_nl local = {.nl_family = AF_NETLINK}, kernel = local;

        if (ns->fd >= 0)
                return 0;
        if (ns->own) {
                fd = socket(AF_NETLINK, NL_SOCK_TYPE, NETLINK_ROUTE);
                if (fd < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "netlink socket");
        } else if (route_socket_in(ns->nsfd, &fd, err) < 0) {
                return -1;
        }
        if (bind(fd, (const struct sockaddr *)&local, sizeof(local)) < 0 ||
            connect(fd, (const struct sockaddr *)&kernel, sizeof(kernel)) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "bind netlink socket");
        ns->fd = TAKE_FD(fd);
        return 0;
}

struct ps_netns *ps_netns_open(pid_t pid, struct ps_err **err)
{
        _cleanup_close_ int nsfd = -1;
        struct ps_netns *ns;
        bool own = false;

        if (open_netns(pid, &nsfd, err) < 0 || is_own_netns(nsfd, &own, err) < 0)
                return NULL;
        ns = calloc(1, sizeof(*ns));
        if (!ns)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "netns handle"), NULL;
        *ns = (struct ps_netns){.nsfd = TAKE_FD(nsfd), .fd = -1, .own = own};
        if (ensure_socket(ns, err) < 0) {
                ps_err_prefix(err, "network namespace of pid %d", (int)pid);
                return ps_netns_free(ns);
        }
        return ns;
}

struct ps_netns *ps_netns_free(struct ps_netns *ns)
{
        if (!ns)
                return NULL;
        ps_close(ns->fd);
        ps_close(ns->nsfd);
        free(ns);
        return NULL;
}

/* Called for each answer message that is not a control message; returns
 * < 0 on failure, > 0 to stop reading (enough), 0 to go on. */
typedef int (*nl_msg_fn)(const struct nlmsghdr *h, void *data, struct ps_err **err);

/* One datagram's messages: 1 when the answer is complete, 2 when fn has had
 * enough, 0 for more. */
static int nl_parse(const char *buf, size_t len, uint32_t seq, nl_msg_fn fn, void *data,
                    struct ps_err **err)
{
        for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
                if (h->nlmsg_seq != seq)
                        continue;
                if (h->nlmsg_flags & NLM_F_DUMP_INTR)
                        return ps_err_set(err, PS_UNAVAILABLE,
                                          "netlink dump interrupted by a change; retry");
                if (h->nlmsg_type == NLMSG_DONE) {
                        const int *e = NLMSG_DATA(h);
                        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) && *e < 0)
                                return nl_errno(err, -*e, "netlink dump");
                        return 1;
                }
                if (h->nlmsg_type == NLMSG_ERROR) {
                        const struct nlmsgerr *e = NLMSG_DATA(h);
                        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                return ps_err_set(err, PS_INTERNAL, "short netlink error message");
                        return e->error ? nl_errno(err, -e->error, "netlink") : 1;
                }
                int r = fn ? fn(h, data, err) : 0;
                if (r != 0)
                        return r < 0 ? -1 : 2;
                if (!(h->nlmsg_flags & NLM_F_MULTI))
                        return 1; /* a single answer, not a dump */
        }
        return 0;
}

/* Reads what the kernel queued for request seq, never waiting (see
 * netns.h): 0 when the answer is complete, 1 when fn stopped early. */
static int nl_receive(int fd, uint32_t seq, char *buf, nl_msg_fn fn, void *data,
                      struct ps_err **err)
{
        for (int reads = 0; reads < NL_MAX_READS; reads++) {
                struct sockaddr_nl from;
                struct iovec iov = {.iov_base = buf, .iov_len = NL_BUF_SIZE};
                struct msghdr mh = {.msg_name = &from,
                                    .msg_namelen = sizeof(from),
                                    .msg_iov = &iov,
                                    .msg_iovlen = 1};
                ssize_t n;

                do
                        n = recvmsg(fd, &mh, MSG_DONTWAIT);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return nl_errno(err, errno, "netlink receive");
                if (mh.msg_flags & MSG_TRUNC)
                        return ps_err_set(err, PS_INTERNAL, "netlink answer truncated");
                if (from.nl_pid != 0) /* only the kernel may answer */
                        continue;
                int r = nl_parse(buf, (size_t)n, seq, fn, data, err);
                if (r != 0)
                        return r < 0 ? -1 : r - 1;
        }
        return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "netlink answer longer than %d datagrams",
                          NL_MAX_READS);
}

/* Sends req (a complete message) and hands every answer to fn until the
 * dump ends, fn has enough, the single answer arrived or the kernel
 * acknowledged. A socket that may hold anything unread afterwards (a
 * failure, a dump left unfinished) is closed, and the next request makes a
 * new one: an open socket is always idle with nothing queued. */
static int nl_exchange(struct ps_netns *ns, struct nlmsghdr *req, nl_msg_fn fn, void *data,
                       struct ps_err **err)
{
        const struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        char *buf = MAP_FAILED;
        ssize_t n;
        int r = -1;

        if (ensure_socket(ns, err) < 0)
                return -1;
        req->nlmsg_seq = ++ns->seq;
        do
                n = sendto(ns->fd, req, req->nlmsg_len, 0, (const struct sockaddr *)&kernel,
                           sizeof(kernel));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                nl_errno(err, errno, "netlink send");
        else if ((size_t)n != req->nlmsg_len)
                ps_err_set(err, PS_INTERNAL, "netlink send: short write");
        else if ((buf = mmap(NULL, NL_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                             -1, 0)) == MAP_FAILED)
                ps_err_errno(err, errno, PS_RESOURCE_EXHAUSTED, "netlink buffer");
        else
                r = nl_receive(ns->fd, req->nlmsg_seq, buf, fn, data, err);
        if (buf != MAP_FAILED)
                munmap(buf, NL_BUF_SIZE);
        if (r != 0)
                ns->fd = ps_close(ns->fd);
        return r < 0 ? -1 : 0;
}

struct link_dump {
        struct ps_link_stats *v;
        size_t n, cap;
};

/* The kernel's rtnl_link_stats64 and its 32-bit predecessor share field
 * names; k is a local copy (attributes are only 4-byte aligned). */
#define LINK_STATS_FROM_KERNEL(s, k)                                                               \
        do {                                                                                       \
                (s)->rx_bytes = (k).rx_bytes;                                                      \
                (s)->rx_packets = (k).rx_packets;                                                  \
                (s)->rx_errors = (k).rx_errors;                                                    \
                (s)->rx_dropped = (k).rx_dropped;                                                  \
                (s)->tx_bytes = (k).tx_bytes;                                                      \
                (s)->tx_packets = (k).tx_packets;                                                  \
                (s)->tx_errors = (k).tx_errors;                                                    \
                (s)->tx_dropped = (k).tx_dropped;                                                  \
        } while (0)

static int on_link(const struct nlmsghdr *h, void *data, struct ps_err **err)
{
        struct link_dump *d = data;
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        struct ps_link_stats s;
        bool have64 = false;

        if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
                return 0;
        if (ifi->ifi_flags & IFF_LOOPBACK)
                return 0;
        if (d->n == PS_NET_MAX_LINKS)
                return 1; /* the rest of the dump is left unread */
        memset(&s, 0, sizeof(s));
        int len = (int)IFLA_PAYLOAD(h);
        for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                size_t plen = RTA_PAYLOAD(a);
                if (a->rta_type == IFLA_IFNAME) {
                        snprintf(s.name, sizeof(s.name), "%.*s", (int)strnlen(RTA_DATA(a), plen),
                                 (const char *)RTA_DATA(a));
                } else if (a->rta_type == IFLA_STATS64 &&
                           plen >= sizeof(struct rtnl_link_stats64)) {
                        struct rtnl_link_stats64 k;
                        memcpy(&k, RTA_DATA(a), sizeof(k));
                        LINK_STATS_FROM_KERNEL(&s, k);
                        have64 = true;
                } else if (a->rta_type == IFLA_STATS && !have64 &&
                           plen >= sizeof(struct rtnl_link_stats)) {
                        struct rtnl_link_stats k;
                        memcpy(&k, RTA_DATA(a), sizeof(k));
                        LINK_STATS_FROM_KERNEL(&s, k);
                }
        }
        if (d->n == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 4;
                struct ps_link_stats *v = reallocarray(d->v, cap, sizeof(*v));
                if (!v)
                        return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "link stats");
                d->v = v;
                d->cap = cap;
        }
        d->v[d->n++] = s;
        return 0;
}

int ps_netns_link_stats(struct ps_netns *ns, struct ps_link_stats **ret, size_t *ret_n,
                        struct ps_err **err)
{
        struct {
                struct nlmsghdr h;
                struct ifinfomsg i;
        } req = {
            .h = {.nlmsg_len = sizeof(req),
                  .nlmsg_type = RTM_GETLINK,
                  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
            .i = {.ifi_family = AF_UNSPEC},
        };
        struct link_dump d = {0};

        if (nl_exchange(ns, &req.h, on_link, &d, err) < 0) {
                free(d.v);
                return ps_err_prefix(err, "dump links");
        }
        if (d.n == PS_NET_MAX_LINKS)
                ps_log_debug("net: %d links or more, reporting those", PS_NET_MAX_LINKS);
        if (!d.v && !(d.v = calloc(1, sizeof(*d.v))))
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "link stats");
        *ret = d.v;
        *ret_n = d.n;
        return 0;
}

int ps_netns_link_up(struct ps_netns *ns, const char *ifname, struct ps_err **err)
{
        struct {
                struct nlmsghdr h;
                struct ifinfomsg i;
                struct rtattr a;
                char name[RTA_ALIGN(IFNAMSIZ)];
        } req;
        size_t len;

        if (!ifname || !*ifname || (len = strlen(ifname)) >= IFNAMSIZ)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid interface name");
        /* Found by name (index 0); setting IFF_UP on a link that is up
         * changes nothing. The kernel acknowledges (NLM_F_ACK). */
        memset(&req, 0, sizeof(req));
        req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.i)) + RTA_LENGTH(len + 1);
        req.h.nlmsg_type = RTM_NEWLINK;
        req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        req.i.ifi_family = AF_UNSPEC;
        req.i.ifi_flags = IFF_UP;
        req.i.ifi_change = IFF_UP;
        req.a.rta_type = IFLA_IFNAME;
        req.a.rta_len = RTA_LENGTH(len + 1);
        memcpy(req.name, ifname, len + 1);
        if (nl_exchange(ns, &req.h, NULL, NULL, err) < 0)
                return ps_err_prefix(err, "bring %s up", ifname);
        return 0;
}
