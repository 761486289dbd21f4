/* rtnetlink in another process' network namespace; see netns.h for the
 * setns() discipline. */
#include "net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/mman.h>

#include "base/cleanup.h"
#include "base/log.h"

/* The kernel answers rtnetlink at once; the timeout only bounds a
 * pathological stall so the event loop can never hang on it. */
#define NL_TIMEOUT_SEC 1
/* Receive buffer: the kernel sizes a dump's datagrams to at most 32 KiB
 * when the reader offers that much. Mapped per request and unmapped after,
 * so stats never leave pages behind in the shim's heap. */
#define NL_BUF_SIZE (32 * 1024)

/* A netlink errno as a ps_err (ENODEV: no such link). */
static int nl_errno(struct ps_err **err, int e, const char *what)
{
        enum ps_code code = PS_UNKNOWN;

        if (e == ENODEV)
                code = PS_NOT_FOUND;
        else if (e == EAGAIN || e == EWOULDBLOCK)
                code = PS_DEADLINE_EXCEEDED;
        return ps_err_errno(err, e, code, "%s", what);
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

static int same_file(int a, int b, bool *ret, struct ps_err **err)
{
        struct stat sa, sb;

        if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "fstat netns");
        *ret = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
        return 0;
}

/* A NETLINK_ROUTE socket created inside the network namespace of `pid`. The
 * thread is in that namespace only for the socket() call: nothing else may
 * run there, and the way back is checked before anything else happens. */
static int route_fd_in(pid_t pid, int *ret_fd, struct ps_err **err)
{
        _cleanup_close_ int target = -1, self = -1;
        bool same = false;

        if (open_netns(pid, &target, err) < 0)
                return -1;
        /* setns() is per thread; thread-self is exact even if threads appear. */
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "open own network namespace");
        if (same_file(target, self, &same, err) < 0)
                return -1;
        if (!same && setns(target, CLONE_NEWNET) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "enter network namespace of pid %d",
                                    (int)pid);

        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        int saved = errno;

        if (!same && setns(self, CLONE_NEWNET) < 0) {
                int e = errno;
                ps_close(fd);
                ps_log_error("net: cannot return to the shim's network namespace after entering "
                             "pid %d's: %s; the shim is now running in the wrong namespace",
                             (int)pid, strerror(e));
                return ps_err_errno(err, e, PS_INTERNAL,
                                    "return to own network namespace (from pid %d's)", (int)pid);
        }
        if (fd < 0)
                return ps_err_errno(err, saved, PS_UNKNOWN, "netlink socket in netns of pid %d",
                                    (int)pid);
        *ret_fd = fd;
        return 0;
}

/* A bound NETLINK_ROUTE socket talking to the netns of `pid`. */
static int route_connect(pid_t pid, int *ret_fd, struct ps_err **err)
{
        _cleanup_close_ int fd = -1;
        const struct timeval tv = {.tv_sec = NL_TIMEOUT_SEC};
        const struct sockaddr_nl local = {.nl_family = AF_NETLINK}; /* kernel picks the port */

        if (route_fd_in(pid, &fd, err) < 0)
                return -1;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "netlink socket timeouts");
        if (bind(fd, (const struct sockaddr *)&local, sizeof(local)) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "bind netlink socket");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Called for each answer message that is not a control message. */
typedef int (*nl_msg_fn)(const struct nlmsghdr *h, void *data, struct ps_err **err);

static int nl_receive(int fd, uint32_t seq, char *buf, nl_msg_fn fn, void *data,
                      struct ps_err **err)
{
        for (;;) {
                struct sockaddr_nl from;
                struct iovec iov = {.iov_base = buf, .iov_len = NL_BUF_SIZE};
                struct msghdr mh = {.msg_name = &from,
                                    .msg_namelen = sizeof(from),
                                    .msg_iov = &iov,
                                    .msg_iovlen = 1};
                ssize_t n;

                do
                        n = recvmsg(fd, &mh, 0);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return nl_errno(err, errno, "netlink receive");
                if (mh.msg_flags & MSG_TRUNC)
                        return ps_err_set(err, PS_INTERNAL, "netlink answer truncated");
                if (from.nl_pid != 0) /* only the kernel may answer */
                        continue;
                size_t len = (size_t)n;
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
                                return 0;
                        }
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return ps_err_set(err, PS_INTERNAL,
                                                          "short netlink error message");
                                return e->error ? nl_errno(err, -e->error, "netlink") : 0;
                        }
                        if (fn && fn(h, data, err) < 0)
                                return -1;
                        if (!(h->nlmsg_flags & NLM_F_MULTI))
                                return 0; /* a single answer, not a dump */
                }
        }
}

/* Sends req (a complete message) and hands every answer to fn until the
 * dump ends, the single answer arrived or the kernel acknowledged. */
static int nl_exchange(int fd, struct nlmsghdr *req, nl_msg_fn fn, void *data, struct ps_err **err)
{
        static uint32_t last_seq;
        const struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        ssize_t n;

        req->nlmsg_seq = ++last_seq;
        do
                n = sendto(fd, req, req->nlmsg_len, 0, (const struct sockaddr *)&kernel,
                           sizeof(kernel));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return nl_errno(err, errno, "netlink send");
        if ((size_t)n != req->nlmsg_len)
                return ps_err_set(err, PS_INTERNAL, "netlink send: short write");

        char *buf =
            mmap(NULL, NL_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED)
                return ps_err_errno(err, errno, PS_RESOURCE_EXHAUSTED, "netlink buffer");
        int r = nl_receive(fd, req->nlmsg_seq, buf, fn, data, err);
        munmap(buf, NL_BUF_SIZE);
        return r;
}

struct link_dump {
        struct ps_link_stats *v;
        size_t n, cap;
        unsigned total;
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
        d->total++;
        if ((ifi->ifi_flags & IFF_LOOPBACK) || d->n >= PS_NET_MAX_LINKS)
                return 0;
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

int ps_net_link_stats(pid_t pid, struct ps_link_stats **ret, size_t *ret_n, struct ps_err **err)
{
        _cleanup_close_ int fd = -1;
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

        if (route_connect(pid, &fd, err) < 0)
                return ps_err_prefix(err, "link stats");
        if (nl_exchange(fd, &req.h, on_link, &d, err) < 0) {
                free(d.v);
                return ps_err_prefix(err, "dump links");
        }
        if (d.total > PS_NET_MAX_LINKS)
                ps_log_debug("net: pid %d has %u links, reporting %zu", (int)pid, d.total, d.n);
        if (!d.v && !(d.v = calloc(1, sizeof(*d.v))))
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "link stats");
        *ret = d.v;
        *ret_n = d.n;
        return 0;
}

int ps_net_link_up(pid_t pid, const char *ifname, struct ps_err **err)
{
        _cleanup_close_ int fd = -1;
        struct {
                struct nlmsghdr h;
                struct ifinfomsg i;
                struct rtattr a;
                char name[RTA_ALIGN(IFNAMSIZ)];
        } req;
        size_t len;

        if (!ifname || !*ifname || (len = strlen(ifname)) >= IFNAMSIZ)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid interface name");
        if (route_connect(pid, &fd, err) < 0)
                return ps_err_prefix(err, "bring %s up", ifname);
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
        if (nl_exchange(fd, &req.h, NULL, NULL, err) < 0)
                return ps_err_prefix(err, "bring %s up", ifname);
        return 0;
}
