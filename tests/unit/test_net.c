/* net/: link statistics and link-up in a real network namespace (their
 * NetworkStat form is tested with api/metrics.c, in test_api_metrics).
 *
 * Needs root. The parent process builds the fixture (a netns, a veth pair on
 * a test-private /30, a process parked in the netns), runs the tests in a
 * forked child and tears the fixture down whatever the child did, crash
 * included. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/netlink.h>
#include <valgrind/valgrind.h>

#include "base/cleanup.h"
#include "base/spawn.h"
#include "check.h"
#include "net/netns.h"

#define N_PACKETS    20
#define PAYLOAD_SIZE 100

struct fixture {
        char ns[32];
        char host[IFNAMSIZ], cont[IFNAMSIZ];
        char host_ip[INET_ADDRSTRLEN], cont_ip[INET_ADDRSTRLEN];
        pid_t holder; /* parked in the netns: the "pod" pid */
};

/* Only the runner child touches it; set before the fork. */
static struct fixture fx;

/* setns() as the code under test sees it. Calls made by the runner's own
 * thread (the "daemon" thread) are counted and, from call number
 * setns_fail_from on, fail with EPERM: that is how a failed switch back to
 * the shim's namespace looks. Calls from any other thread or process (the
 * fixture's helpers, children) go straight to the kernel. */
static pid_t daemon_tid;
static int daemon_setns_calls;
static int setns_fail_from = -1;

int setns(int fd, int nstype)
{
        if (daemon_tid && (pid_t)syscall(SYS_gettid) == daemon_tid) {
                int nth = daemon_setns_calls++;

                if (setns_fail_from >= 0 && nth >= setns_fail_from) {
                        errno = EPERM;
                        return -1;
                }
        }
        return (int)syscall(SYS_setns, fd, nstype);
}

static int run_argv(char *const *argv, bool quiet)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_spawn_opts o = {.path = argv[0], .argv = argv, .stdio = {-1, -1, quiet ? -1 : 2}};
        pid_t c = ps_spawn(&o, &e);
        int st = 0;

        if (c <= 0) {
                fprintf(stderr, "spawn %s: %s\n", argv[0], ps_err_msg(e));
                return -1;
        }
        if (waitpid(c, &st, 0) != c)
                return -1;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

#define RUN_IP(quiet, ...) run_argv((char *const[]){"ip", __VA_ARGS__, NULL}, quiet)

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ino_t netns_ino(pid_t pid)
{
        char path[64];
        struct stat st;

        snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
        return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* A child that joins the named netns and sleeps until killed. */
static pid_t holder_start(const char *ns)
{
        char path[64], c = 0;
        int p[2];

        snprintf(path, sizeof(path), "/run/netns/%s", ns);
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                        _exit(1);
                if (write(p[1], "x", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(p[1]);
        bool ok = pid > 0 && read(p[0], &c, 1) == 1;
        close(p[0]);
        if (!ok && pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        return ok ? pid : -1;
}

static void fixture_teardown(struct fixture *f)
{
        if (f->holder > 0) {
                kill(f->holder, SIGKILL);
                waitpid(f->holder, NULL, 0);
                f->holder = 0;
        }
        /* Deleting one end removes both; then the netns file goes. */
        RUN_IP(true, "link", "del", f->host);
        RUN_IP(true, "netns", "del", f->ns);
}

static int fixture_setup(struct fixture *f)
{
        int pid = getpid();
        char host_cidr[32], cont_cidr[32];

        snprintf(f->ns, sizeof(f->ns), "ps-net-%d", pid);
        snprintf(f->host, sizeof(f->host), "psv%dh", pid);
        snprintf(f->cont, sizeof(f->cont), "psv%dc", pid);
        /* A /30 of 10.213.0.0/16 per pid, so concurrent runs do not clash. */
        snprintf(f->host_ip, sizeof(f->host_ip), "10.213.%d.%d", (pid >> 6) & 0xff,
                 ((pid & 63) << 2) + 1);
        snprintf(f->cont_ip, sizeof(f->cont_ip), "10.213.%d.%d", (pid >> 6) & 0xff,
                 ((pid & 63) << 2) + 2);
        snprintf(host_cidr, sizeof(host_cidr), "%s/30", f->host_ip);
        snprintf(cont_cidr, sizeof(cont_cidr), "%s/30", f->cont_ip);

        if (RUN_IP(false, "netns", "add", f->ns) < 0 ||
            RUN_IP(false, "link", "add", f->host, "type", "veth", "peer", "name", f->cont, "netns",
                   f->ns) < 0 ||
            RUN_IP(false, "addr", "add", host_cidr, "dev", f->host) < 0 ||
            RUN_IP(false, "link", "set", f->host, "up") < 0 ||
            RUN_IP(false, "-n", f->ns, "addr", "add", cont_cidr, "dev", f->cont) < 0 ||
            RUN_IP(false, "-n", f->ns, "link", "set", f->cont, "up") < 0)
                return -1;
        f->holder = holder_start(f->ns);
        return f->holder > 0 ? 0 : -1;
}

static const struct ps_link_stats *find_link(const struct ps_link_stats *v, size_t n,
                                             const char *name)
{
        for (size_t i = 0; v && i < n; i++)
                if (strcmp(v[i].name, name) == 0)
                        return &v[i];
        return NULL;
}

/* One-shot calls: a handle for pid, one request, the handle freed. */
static int stats_of(pid_t pid, struct ps_link_stats **ret, size_t *ret_n, struct ps_err **err)
{
        _cleanup_(ps_netns_freep) struct ps_netns *ns = ps_netns_open(pid, err);

        return ns ? ps_netns_link_stats(ns, ret, ret_n, err) : -1;
}

static int link_up_of(pid_t pid, const char *ifname, struct ps_err **err)
{
        _cleanup_(ps_netns_freep) struct ps_netns *ns = ps_netns_open(pid, err);

        return ns ? ps_netns_link_up(ns, ifname, err) : -1;
}

static int send_udp(const char *ip, int count)
{
        char payload[PAYLOAD_SIZE];
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int sent = 0;

        memset(payload, 'p', sizeof(payload));
        if (fd < 0 || inet_pton(AF_INET, ip, &to.sin_addr) != 1)
                return -1;
        for (int i = 0; i < count; i++)
                if (sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)) ==
                    (ssize_t)sizeof(payload))
                        sent++;
        return sent;
}

/* rx counters of the inside veth, polled until `want` packets arrived (ARP
 * resolution delays the first ones) or 3 s passed. */
static bool wait_inside_rx(uint64_t want, struct ps_link_stats *ret)
{
        for (int i = 0; i < 300; i++) {
                _cleanup_err_ struct ps_err *e = NULL;
                _cleanup_free_ struct ps_link_stats *v = NULL;
                size_t n = 0;
                const struct ps_link_stats *l;

                if (stats_of(fx.holder, &v, &n, &e) < 0) {
                        fprintf(stderr, "link stats: %s\n", ps_err_msg(e));
                        return false;
                }
                l = find_link(v, n, fx.cont);
                if (l && l->rx_packets >= want) {
                        *ret = *l;
                        return true;
                }
                nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
        }
        return false;
}

static void test_stats_in_pod_netns(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ struct ps_link_stats *v = NULL;
        struct ps_link_stats inside = {0};
        size_t n = 0;
        ino_t before = netns_ino(getpid());

        CHECK(before != 0 && before != netns_ino(fx.holder));
        CHECK_INTEQ(send_udp(fx.cont_ip, N_PACKETS), N_PACKETS);
        CHECK(wait_inside_rx(N_PACKETS, &inside));
        CHECK(inside.rx_bytes >= (uint64_t)N_PACKETS * (PAYLOAD_SIZE + 28));
        CHECK(netns_ino(getpid()) == before);

        CHECK(stats_of(fx.holder, &v, &n, &e) == 0);
        CHECK(v != NULL && n >= 1);
        CHECK(find_link(v, n, fx.cont) != NULL);
        CHECK(find_link(v, n, "lo") == NULL);
        CHECK(find_link(v, n, fx.host) == NULL); /* the host end lives elsewhere */
        CHECK(netns_ino(getpid()) == before);
}

/* Our own namespace: no setns(), and the host end of the pair is there. */
static void test_stats_own_netns(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ struct ps_link_stats *v = NULL;
        size_t n = 0;

        CHECK(stats_of(getpid(), &v, &n, &e) == 0);
        const struct ps_link_stats *h = find_link(v, n, fx.host);
        CHECK(h != NULL);
        CHECK(h && h->tx_packets >= N_PACKETS);
        CHECK(v != NULL && find_link(v, n, "lo") == NULL);
        CHECK(find_link(v, n, fx.cont) == NULL);
}

/* IFF_UP of "lo" seen from inside the netns of pid, by a child that joins it
 * and asks with an ioctl (independent of netlink): 1 up, 0 down, -1 error. */
static int lo_up_in(pid_t pid)
{
        char path[64];
        int st = 0;

        snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
        pid_t c = fork();
        if (c == 0) {
                struct ifreq ifr = {0};
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                        _exit(2);
                int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
                if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                        _exit(2);
                _exit(ifr.ifr_flags & IFF_UP ? 0 : 1);
        }
        if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) == 2)
                return -1;
        return WEXITSTATUS(st) == 0;
}

static void test_link_up(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_(ps_netns_freep) struct ps_netns *ns = ps_netns_open(fx.holder, &e);
        ino_t before = netns_ino(getpid());

        CHECK(ns != NULL);
        if (!ns)
                return;
        CHECK_INTEQ(lo_up_in(fx.holder), 0); /* a new netns starts with lo down */
        CHECK(ps_netns_link_up(ns, "lo", &e) == 0);
        CHECK_INTEQ(lo_up_in(fx.holder), 1);
        CHECK(ps_netns_link_up(ns, "lo", &e) == 0); /* already up: fine */
        CHECK(e == NULL);
        CHECK(netns_ino(getpid()) == before);

        CHECK(ps_netns_link_up(ns, "nosuch0", &e) < 0);
        CHECK(e && e->code == PS_NOT_FOUND);
        e = ps_err_free(e);
        /* The failed exchange dropped the socket; the next one makes another. */
        CHECK(ps_netns_link_up(ns, "lo", &e) == 0);
        CHECK(ps_netns_link_up(ns, "a-name-too-long-for-ifnamsiz", &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        CHECK(ps_netns_link_up(ns, "", &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        CHECK(netns_ino(getpid()) == before);
}

static pid_t pid_never_used(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
        int max = 0;

        /* pids are always below pid_max. */
        return f && fscanf(f, "%d", &max) == 1 ? max : 0;
}

static void check_stats_code(pid_t pid, enum ps_code want)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_link_stats *v = (struct ps_link_stats *)&fx; /* sentinel */
        size_t n = 12345;

        CHECK(stats_of(pid, &v, &n, &e) < 0);
        CHECK(e && e->code == want);
        CHECK(v == (struct ps_link_stats *)&fx && n == 12345); /* untouched on failure */
}

static void test_missing_pids(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        ino_t before = netns_ino(getpid());
        pid_t gone = pid_never_used();

        CHECK(gone > 0);
        check_stats_code(gone, PS_NOT_FOUND);
        CHECK(link_up_of(gone, "lo", &e) < 0);
        CHECK(e && e->code == PS_NOT_FOUND);
        check_stats_code(0, PS_INVALID_ARGUMENT);
        check_stats_code(-1, PS_INVALID_ARGUMENT);

        /* A zombie still has a pid but no namespaces any more. */
        pid_t z = fork();
        if (z == 0)
                _exit(0);
        siginfo_t si;
        CHECK(z > 0 && waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT) == 0);
        check_stats_code(z, PS_NOT_FOUND);
        waitpid(z, NULL, 0);
        CHECK(netns_ino(getpid()) == before);
}

/* A dump that spans many datagrams and more links than are reported: 300
 * veth ends in the pod netns (no dummy driver on every kernel). */
static void test_stats_many_links(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ struct ps_link_stats *v = NULL;
        char batch[] = "/tmp/ps-net-batch-XXXXXX", path[64];
        size_t n = 0;
        int st = 0;
        FILE *f;

        int bfd = mkstemp(batch);
        CHECK(bfd >= 0 && (f = fdopen(bfd, "w")) != NULL);
        for (int i = 0; i < 150; i++)
                fprintf(f, "link add psvA%d type veth peer name psvB%d\n", i, i);
        fclose(f);
        snprintf(path, sizeof(path), "/proc/%d/ns/net", fx.holder);
        pid_t c = fork();
        if (c == 0) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                        _exit(2);
                execlp("ip", "ip", "-batch", batch, (char *)NULL);
                _exit(3);
        }
        CHECK(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        unlink(batch);
        _cleanup_(ps_netns_freep) struct ps_netns *ns = ps_netns_open(fx.holder, &e);
        CHECK(ns != NULL);
        /* Twice on one handle: the first dump is left unfinished at the cap,
         * so its socket is dropped and the second call makes a new one. */
        for (int round = 0; ns && round < 2; round++) {
                int64_t t0 = now_ns();
                free(TAKE_PTR(v));
                CHECK(ps_netns_link_stats(ns, &v, &n, &e) == 0);
                fprintf(stderr, "  dump capped at %d of 301 links: %" PRId64 " us\n",
                        PS_NET_MAX_LINKS, (now_ns() - t0) / 1000);
                CHECK_INTEQ(n, PS_NET_MAX_LINKS);
                CHECK(find_link(v, n, fx.cont) != NULL); /* dumped first: the oldest link */
                CHECK(find_link(v, n, "psvA0") != NULL && find_link(v, n, "psvB0") != NULL);
                CHECK(find_link(v, n, "lo") == NULL);
        }
}

/* "net:[inode]" of the calling thread. */
static void own_netns(char *buf, size_t size)
{
        ssize_t n = readlink("/proc/thread-self/ns/net", buf, size - 1);

        buf[n > 0 ? n : 0] = '\0';
}

/* Issue 15 item 6: no call, successful or failed, may leave the calling
 * thread in another network namespace, and the calling thread never
 * enters one at all (it is the daemon's only thread). Every setns() of the
 * calling thread after its first fails here, as the switch back would if
 * the kernel refused it. */
static void test_caller_stays_home(void)
{
        _cleanup_close_ int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        char before[64], after[64];

        CHECK(home >= 0);
        own_netns(before, sizeof(before));
        for (int round = 0; round < 3; round++) {
                _cleanup_err_ struct ps_err *e = NULL;
                _cleanup_free_ struct ps_link_stats *v = NULL;
                int calls = daemon_setns_calls, r;
                size_t n = 0;

                setns_fail_from = round == 0 ? -1 : calls + 1;
                if (round < 2)
                        r = stats_of(fx.holder, &v, &n, &e);
                else
                        r = link_up_of(fx.holder, "lo", &e);
                setns_fail_from = -1;
                own_netns(after, sizeof(after));
                fprintf(stderr, "  %s (%s): %s, %d setns() on the caller\n",
                        round < 2 ? "link stats" : "link up",
                        round ? "second setns fails" : "no fault", r == 0 ? "ok" : ps_err_msg(e),
                        daemon_setns_calls - calls);
                CHECK_STREQ(after, before);
                CHECK_INTEQ(daemon_setns_calls - calls, 0);
                CHECK(r == 0);
                CHECK(round == 2 || find_link(v, n, fx.cont) != NULL);
                /* Put the runner back for the tests that follow. */
                if (strcmp(after, before) != 0 && syscall(SYS_setns, home, CLONE_NEWNET) < 0)
                        exit(2);
        }
}

/* Whether the runner has children, running or zombie, of any exit signal
 * (__WALL sees clone children too). */
static bool has_children(void)
{
        siginfo_t si = {0};

        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0;
}

/* The helper child is reaped by the call that made it, and it sends no
 * SIGCHLD: the shim's reaper (a SIGCHLD signalfd and waitpid(-1) without
 * __WCLONE) never learns it existed. SIGCHLD is blocked here as in the
 * shim, so a SIGCHLD would stay pending where sigpending() sees it. */
static void test_no_stray_child(void)
{
        sigset_t chld, old, pending;
        pid_t gone = pid_never_used();

        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        CHECK(sigprocmask(SIG_BLOCK, &chld, &old) == 0);
        CHECK(!has_children());
        for (int i = 0; i < 20; i++) {
                _cleanup_err_ struct ps_err *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
                _cleanup_free_ struct ps_link_stats *v = NULL;
                size_t n = 0;

                CHECK(stats_of(fx.holder, &v, &n, &e1) == 0);
                CHECK(link_up_of(fx.holder, "lo", &e2) == 0);
                CHECK(link_up_of(fx.holder, "nosuch0", &e3) < 0); /* fails in the pod ns */
                CHECK(link_up_of(gone, "lo", &e4) < 0);           /* fails before */
                CHECK(!has_children());
        }
        CHECK(sigpending(&pending) == 0);
        CHECK(!sigismember(&pending, SIGCHLD));
        CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
}

/* A target that exits while it is looked at: a process alone in a new netns
 * exits right after it is seen. Opening either finds it gone or holds its
 * namespace, which then stays readable (only lo, so no links) after the
 * process is reaped and its pid free for reuse. The caller stays home and
 * the only child left is the target, until reaped. */
static void test_target_exits_midway(void)
{
        char before[64], after[64];
        int held = 0, gone = 0;

        own_netns(before, sizeof(before));
        for (int i = 0; i < 100; i++) {
                _cleanup_err_ struct ps_err *e = NULL;
                _cleanup_free_ struct ps_link_stats *v = NULL;
                _cleanup_(ps_netns_freep) struct ps_netns *ns = NULL;
                size_t n = 99;
                int p[2];
                char c;

                CHECK(pipe2(p, O_CLOEXEC) == 0);
                pid_t t = fork();
                if (t == 0) {
                        if (unshare(CLONE_NEWNET) == 0 && write(p[1], "x", 1) == 1)
                                _exit(0);
                        _exit(1);
                }
                close(p[1]);
                CHECK(t > 0 && read(p[0], &c, 1) == 1);
                close(p[0]);
                ns = ps_netns_open(t, &e);
                if (ns)
                        held++;
                else
                        gone++;
                CHECK(ns || (e && e->code == PS_NOT_FOUND));
                CHECK(waitpid(t, NULL, 0) == t);
                CHECK(!has_children());
                if (ns) {
                        CHECK(ps_netns_link_stats(ns, &v, &n, &e) == 0);
                        CHECK_INTEQ(n, 0);
                }
                own_netns(after, sizeof(after));
                CHECK_STREQ(after, before);
        }
        fprintf(stderr, "  target exiting meanwhile: %d held, %d found gone\n", held, gone);
}

/* The netlink port of the runner's NETLINK_ROUTE socket in the netns of
 * pid (matched by inode in /proc/<pid>/net/netlink), 0 if none. */
static uint32_t our_route_port_in(pid_t pid)
{
        char path[64], line[256];
        unsigned long long want[64];
        size_t n = 0;
        uint32_t port = 0;
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        while (d && (de = readdir(d)) && n < 64) {
                char link[64], lp[300];
                ssize_t len;
                snprintf(lp, sizeof(lp), "/proc/self/fd/%s", de->d_name);
                len = readlink(lp, link, sizeof(link) - 1);
                if (len > 0) {
                        link[len] = '\0';
                        if (sscanf(link, "socket:[%llu]", &want[n]) == 1)
                                n++;
                }
        }
        if (d)
                closedir(d);
        snprintf(path, sizeof(path), "/proc/%d/net/netlink", pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f)) {
                unsigned eth, pt;
                unsigned long long ino;
                if (sscanf(line, "%*s %u %u %*s %*s %*s %*s %*s %*s %llu", &eth, &pt, &ino) != 3 ||
                    eth != NETLINK_ROUTE)
                        continue;
                for (size_t i = 0; i < n; i++)
                        if (want[i] == ino)
                                port = pt;
        }
        return port;
}

/* A process of the pod with CAP_NET_ADMIN can send netlink messages to
 * any port in its namespace: here a forged end-of-dump to the kept socket,
 * queued while it is idle. The socket is connected to the kernel, so the
 * kernel refuses the send, and the next dump is the kernel's. */
static void test_foreign_sender(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ struct ps_link_stats *v = NULL;
        _cleanup_(ps_netns_freep) struct ps_netns *ns = ps_netns_open(fx.holder, &e);
        uint32_t port = ns ? our_route_port_in(fx.holder) : 0;
        char path[64];
        size_t n = 0;
        int st = 0;

        CHECK(ns != NULL && port != 0);
        snprintf(path, sizeof(path), "/proc/%d/ns/net", fx.holder);
        pid_t c = fork();
        if (c == 0) {
                struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = port};
                struct nlmsghdr h = {.nlmsg_len = NLMSG_LENGTH(sizeof(int)),
                                     .nlmsg_type = NLMSG_DONE,
                                     .nlmsg_flags = NLM_F_MULTI};
                char msg[NLMSG_LENGTH(sizeof(int))] = {0};
                int fd = open(path, O_RDONLY | O_CLOEXEC), s;
                if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                        _exit(2);
                s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
                for (uint32_t seq = 0; seq < 64; seq++) { /* whatever seq is expected */
                        h.nlmsg_seq = (uint32_t)time(NULL) + seq - 32;
                        memcpy(msg, &h, sizeof(h));
                        if (sendto(s, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)) >= 0)
                                _exit(0);
                }
                _exit(errno == ECONNREFUSED ? 1 : 3);
        }
        CHECK(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st));
        fprintf(stderr, "  forged messages to port %u: %s\n", port,
                WEXITSTATUS(st) == 1   ? "refused"
                : WEXITSTATUS(st) == 0 ? "accepted"
                                       : "test error");
        CHECK_INTEQ(WEXITSTATUS(st), 1);
        CHECK(ns && ps_netns_link_stats(ns, &v, &n, &e) == 0);
        CHECK(find_link(v, n, fx.cont) != NULL);
}

/* A namespace the helper may not enter: without CAP_SYS_ADMIN (effective)
 * setns() fails with EPERM, while CAP_SYS_PTRACE still lets us open the
 * target's ns file; the error comes from inside the helper child. The same
 * when a kept handle has to remake its socket. */
static void test_netns_not_enterable(void)
{
        _cleanup_err_ struct ps_err *e = NULL, *e2 = NULL;
        _cleanup_free_ struct ps_link_stats *v = NULL;
        _cleanup_(ps_netns_freep) struct ps_netns *kept = ps_netns_open(fx.holder, NULL);
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct caps[2], dropped[2];
        char before[64], after[64];
        size_t n = 0;

        own_netns(before, sizeof(before));
        CHECK(kept != NULL);
        if (!kept)
                return;
        CHECK(ps_netns_link_up(kept, "nosuch0", NULL) < 0); /* drops its socket */
        CHECK(syscall(SYS_capget, &hdr, caps) == 0);
        memcpy(dropped, caps, sizeof(caps));
        dropped[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
        CHECK(syscall(SYS_capset, &hdr, dropped) == 0);
        CHECK(stats_of(fx.holder, &v, &n, &e) < 0);
        CHECK(ps_netns_link_up(kept, "lo", &e2) < 0);
        CHECK(syscall(SYS_capset, &hdr, caps) == 0);
        fprintf(stderr, "  without CAP_SYS_ADMIN: %s\n", ps_err_msg(e));
        CHECK(e && e->code == PS_PERMISSION_DENIED && e->errnum == EPERM);
        CHECK(e2 && e2->code == PS_PERMISSION_DENIED);
        own_netns(after, sizeof(after));
        CHECK_STREQ(after, before);
        CHECK(!has_children());
        /* With the capability back, the kept handle works again. */
        CHECK(ps_netns_link_stats(kept, &v, &n, &e) == 0);
        /* The own namespace needs no helper, so it works without it too. */
        e = ps_err_free(e);
        free(TAKE_PTR(v));
        CHECK(syscall(SYS_capset, &hdr, dropped) == 0);
        CHECK(stats_of(getpid(), &v, &n, &e) == 0);
        CHECK(syscall(SYS_capset, &hdr, caps) == 0);
}

/* Out of descriptors at every step: with the soft RLIMIT_NOFILE at the
 * lowest free fd plus k, each call fails cleanly (the caller's namespace,
 * no child left) until k is large enough, and then works. */
static void test_fd_exhaustion(void)
{
        struct rlimit saved, lim;
        char before[64], after[64];
        int first_ok = -1, low;

        own_netns(before, sizeof(before));
        CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
        low = fcntl(0, F_DUPFD_CLOEXEC, 0);
        CHECK(low > 0);
        close(low);
        for (int k = 0; k < 16 && first_ok < 0; k++) {
                _cleanup_err_ struct ps_err *e = NULL;
                _cleanup_free_ struct ps_link_stats *v = NULL;
                size_t n = 0;
                int r;

                lim = saved;
                lim.rlim_cur = (rlim_t)(low + k);
                if (setrlimit(RLIMIT_NOFILE, &lim) < 0) {
                        fprintf(stderr, "  setrlimit: %s; skipped\n", strerror(errno));
                        return;
                }
                r = stats_of(fx.holder, &v, &n, &e);
                CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
                if (r == 0) {
                        first_ok = k;
                        CHECK(find_link(v, n, fx.cont) != NULL);
                } else {
                        fprintf(stderr, "  %d free fds: %s\n", k, ps_err_msg(e));
                        CHECK(e && e->code != PS_OK);
                }
                own_netns(after, sizeof(after));
                CHECK_STREQ(after, before);
                CHECK(!has_children());
                CHECK_INTEQ(fcntl(0, F_DUPFD_CLOEXEC, 0), low); /* nothing leaked */
                close(low);
        }
        CHECK(first_ok > 0);
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return (x > y) - (x < y);
}

#define TIMED_CALLS 200
/* Generous: ASan slows the calls down, and a helper child can wait a
 * scheduler tick for an idle CPU (see netns.h). Under valgrind the helper's
 * clone becomes a fork of the whole valgrind process (~25 ms). */
#define CALL_BOUND_NS          (50 * 1000 * 1000)
#define CALL_BOUND_VALGRIND_NS (500 * 1000 * 1000)

enum timed { TIMED_OPEN, TIMED_STATS, TIMED_UP };

/* Issue 15 item 8: each call is bounded and does not wait. */
static void time_calls(const char *what, enum timed which)
{
        _cleanup_(ps_netns_freep) struct ps_netns *ns = ps_netns_open(fx.holder, NULL);
        int64_t t[TIMED_CALLS];

        CHECK(ns != NULL);
        for (int i = 0; ns && i < TIMED_CALLS; i++) {
                _cleanup_err_ struct ps_err *e = NULL;
                _cleanup_free_ struct ps_link_stats *v = NULL;
                size_t n = 0;
                int64_t t0 = now_ns();
                int r;

                if (which == TIMED_OPEN) {
                        struct ps_netns *one = ps_netns_open(fx.holder, &e);
                        r = one ? 0 : -1;
                        t[i] = now_ns() - t0;
                        ps_netns_free(one);
                } else {
                        r = which == TIMED_UP ? ps_netns_link_up(ns, "lo", &e)
                                              : ps_netns_link_stats(ns, &v, &n, &e);
                        t[i] = now_ns() - t0;
                }
                CHECK(r == 0);
        }
        qsort(t, TIMED_CALLS, sizeof(t[0]), cmp_i64);
        fprintf(stderr,
                "  %s: min %" PRId64 " us, median %" PRId64 " us, p99 %" PRId64 " us, max %" PRId64
                " us (%d calls)\n",
                what, t[0] / 1000, t[TIMED_CALLS / 2] / 1000, t[TIMED_CALLS * 99 / 100] / 1000,
                t[TIMED_CALLS - 1] / 1000, TIMED_CALLS);
        CHECK(t[TIMED_CALLS - 1] < (RUNNING_ON_VALGRIND ? CALL_BOUND_VALGRIND_NS : CALL_BOUND_NS));
}

static void test_bounded_time(void)
{
        time_calls("open (helper child)", TIMED_OPEN);
        time_calls("link stats on a handle", TIMED_STATS);
        time_calls("link up on a handle", TIMED_UP);
}

/* Over the whole run, every call above included: the runner's thread never
 * called setns(). */
static void test_never_setns_on_caller(void)
{
        CHECK_INTEQ(daemon_setns_calls, 0);
}

static int run_tests(void)
{
        daemon_tid = (pid_t)syscall(SYS_gettid);
        RUN(test_stats_in_pod_netns);
        RUN(test_stats_own_netns);
        RUN(test_link_up); /* first to bring lo up */
        RUN(test_missing_pids);
        RUN(test_caller_stays_home);
        RUN(test_no_stray_child);
        RUN(test_target_exits_midway);
        RUN(test_foreign_sender);
        RUN(test_netns_not_enterable);
        RUN(test_fd_exhaustion);
        RUN(test_bounded_time);
        RUN(test_stats_many_links); /* it leaves 300 links in the pod netns */
        RUN(test_never_setns_on_caller);
        return check_summary();
}

int main(void)
{
        int st = 0;

        if (geteuid() != 0) {
                fprintf(stderr, "test_net needs root (network namespaces)\n");
                return 1;
        }
        if (fixture_setup(&fx) < 0) {
                fprintf(stderr, "fixture setup failed\n");
                fixture_teardown(&fx);
                return 1;
        }
        fflush(NULL);
        pid_t runner = fork();
        if (runner == 0)
                exit(run_tests());
        if (runner < 0 || waitpid(runner, &st, 0) != runner)
                st = -1;
        fixture_teardown(&fx);
        if (!WIFEXITED(st)) {
                fprintf(stderr, "test runner died (status %#x)\n", st);
                return 1;
        }
        return WEXITSTATUS(st);
}
