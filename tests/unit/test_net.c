/* net/: link statistics and link-up in a real network namespace, and the
 * NetworkStat merge into v1 Metrics.
 *
 * Needs root. The parent process builds the fixture (a netns, a veth pair on
 * a test-private /30, a process parked in the netns), runs the tests in a
 * forked child and tears the fixture down whatever the child did, crash
 * included. */
#include <arpa/inet.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/spawn.h"
#include "cgroups/v1/metrics.pb-c.h"
#include "check.h"
#include "net/metrics.h"
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

                if (ps_net_link_stats(fx.holder, &v, &n, &e) < 0) {
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

        CHECK(ps_net_link_stats(fx.holder, &v, &n, &e) == 0);
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

        CHECK(ps_net_link_stats(getpid(), &v, &n, &e) == 0);
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
        ino_t before = netns_ino(getpid());

        CHECK_INTEQ(lo_up_in(fx.holder), 0); /* a new netns starts with lo down */
        CHECK(ps_net_link_up(fx.holder, "lo", &e) == 0);
        CHECK_INTEQ(lo_up_in(fx.holder), 1);
        CHECK(ps_net_link_up(fx.holder, "lo", &e) == 0); /* already up: fine */
        CHECK(e == NULL);
        CHECK(netns_ino(getpid()) == before);

        CHECK(ps_net_link_up(fx.holder, "nosuch0", &e) < 0);
        CHECK(e && e->code == PS_NOT_FOUND);
        e = ps_err_free(e);
        CHECK(ps_net_link_up(fx.holder, "a-name-too-long-for-ifnamsiz", &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        CHECK(ps_net_link_up(fx.holder, "", &e) < 0);
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

        CHECK(ps_net_link_stats(pid, &v, &n, &e) < 0);
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
        CHECK(ps_net_link_up(gone, "lo", &e) < 0);
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

typedef Io__Containerd__Cgroups__V1__Metrics V1Metrics;

static uint8_t *pack_sample(size_t *ret_len)
{
        V1Metrics m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
        Io__Containerd__Cgroups__V1__MemoryStat mem =
            IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
        Io__Containerd__Cgroups__V1__MemoryEntry usage =
            IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;
        Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
        Io__Containerd__Cgroups__V1__NetworkStat old =
            IO__CONTAINERD__CGROUPS__V1__NETWORK_STAT__INIT;
        Io__Containerd__Cgroups__V1__NetworkStat *olds[] = {&old};

        mem.cache = 4096;
        mem.rss = 8192;
        usage.usage = 123456;
        usage.limit = 1 << 30;
        mem.usage = &usage;
        pids.current = 7;
        old.name = "stale0";
        old.rx_bytes = 1;
        m.memory = &mem;
        m.pids = &pids;
        m.n_network = 1;
        m.network = olds;

        size_t len = io__containerd__cgroups__v1__metrics__get_packed_size(&m);
        uint8_t *buf = malloc(len);
        if (buf)
                io__containerd__cgroups__v1__metrics__pack(&m, buf);
        *ret_len = len;
        return buf;
}

static void test_metrics_merge(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ uint8_t *in = NULL, *out = NULL;
        size_t in_len = 0, out_len = 0;
        const struct ps_link_stats links[2] = {
            {.name = "eth0", 1, 2, 3, 4, 5, 6, 7, 8},
            {.name = "net1", .rx_bytes = UINT64_MAX, .tx_dropped = 42},
        };

        in = pack_sample(&in_len);
        CHECK(in != NULL);
        CHECK(ps_net_add_to_metrics(in, in_len, links, 2, &out, &out_len, &e) == 0);
        V1Metrics *m = io__containerd__cgroups__v1__metrics__unpack(NULL, out_len, out);
        CHECK(m != NULL);
        if (!m)
                return;
        CHECK(m->memory && m->memory->cache == 4096 && m->memory->rss == 8192);
        CHECK(m->memory && m->memory->usage && m->memory->usage->usage == 123456 &&
              m->memory->usage->limit == 1 << 30);
        CHECK(m->pids && m->pids->current == 7);
        CHECK_INTEQ(m->n_network, 2); /* "stale0" replaced */
        if (m->n_network == 2) {
                const Io__Containerd__Cgroups__V1__NetworkStat *a = m->network[0],
                                                               *b = m->network[1];
                CHECK_STREQ(a->name, "eth0");
                CHECK(a->rx_bytes == 1 && a->rx_packets == 2 && a->rx_errors == 3 &&
                      a->rx_dropped == 4 && a->tx_bytes == 5 && a->tx_packets == 6 &&
                      a->tx_errors == 7 && a->tx_dropped == 8);
                CHECK_STREQ(b->name, "net1");
                CHECK(b->rx_bytes == UINT64_MAX && b->tx_dropped == 42 && b->rx_packets == 0);
        }
        io__containerd__cgroups__v1__metrics__free_unpacked(m, NULL);
}

static void test_metrics_edges(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        uint8_t *out = (uint8_t *)&fx, bad[] = {0xff, 0xff, 0xff};
        size_t out_len = 99;
        const struct ps_link_stats one = {.name = "eth0", .rx_packets = 5};

        /* Empty input is an empty Metrics: the result has just the network. */
        CHECK(ps_net_add_to_metrics(NULL, 0, &one, 1, &out, &out_len, &e) == 0);
        V1Metrics *m =
            out ? io__containerd__cgroups__v1__metrics__unpack(NULL, out_len, out) : NULL;
        CHECK(m && m->n_network == 1 && m->network[0]->rx_packets == 5 && !m->memory);
        if (m)
                io__containerd__cgroups__v1__metrics__free_unpacked(m, NULL);
        free(out);

        /* No links: the network field goes away. */
        out = NULL;
        CHECK(ps_net_add_to_metrics(NULL, 0, NULL, 0, &out, &out_len, &e) == 0);
        CHECK(out != NULL && out_len == 0);
        free(out);

        out = (uint8_t *)&fx;
        CHECK(ps_net_add_to_metrics(bad, sizeof(bad), &one, 1, &out, &out_len, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        CHECK(out == (uint8_t *)&fx && out_len == 0);
        e = ps_err_free(e);
        CHECK(ps_net_add_to_metrics(NULL, 0, &one, PS_NET_MAX_LINKS + 1, &out, &out_len, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
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
        CHECK(ps_net_link_stats(fx.holder, &v, &n, &e) == 0);
        CHECK_INTEQ(n, PS_NET_MAX_LINKS);
        CHECK(find_link(v, n, fx.cont) != NULL); /* dumped first: the oldest link */
        CHECK(find_link(v, n, "psvA0") != NULL && find_link(v, n, "psvB0") != NULL);
        CHECK(find_link(v, n, "lo") == NULL);
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
        for (int round = 0; round < 2; round++) {
                _cleanup_err_ struct ps_err *e = NULL;
                _cleanup_free_ struct ps_link_stats *v = NULL;
                size_t n = 0;
                int r;

                daemon_setns_calls = 0;
                setns_fail_from = round == 0 ? -1 : 1;
                r = ps_net_link_stats(fx.holder, &v, &n, &e);
                setns_fail_from = -1;
                own_netns(after, sizeof(after));
                fprintf(stderr, "  %s: link stats %s, %d setns() on the caller\n",
                        round ? "second setns fails" : "no fault", r == 0 ? "ok" : ps_err_msg(e),
                        daemon_setns_calls);
                CHECK_STREQ(after, before);
                CHECK_INTEQ(daemon_setns_calls, 0);
                CHECK(round == 1 || (r == 0 && find_link(v, n, fx.cont) != NULL));
                /* Put the runner back for the tests that follow. */
                if (strcmp(after, before) != 0 && syscall(SYS_setns, home, CLONE_NEWNET) < 0)
                        exit(2);
        }
        daemon_setns_calls = 0;
        setns_fail_from = 1;
        ps_net_link_up(fx.holder, "lo", NULL);
        setns_fail_from = -1;
        own_netns(after, sizeof(after));
        CHECK_STREQ(after, before);
        CHECK_INTEQ(daemon_setns_calls, 0);
        if (strcmp(after, before) != 0 && syscall(SYS_setns, home, CLONE_NEWNET) < 0)
                exit(2);
}

static int run_tests(void)
{
        daemon_tid = (pid_t)syscall(SYS_gettid);
        RUN(test_caller_stays_home);
        RUN(test_stats_in_pod_netns);
        RUN(test_stats_own_netns);
        RUN(test_link_up);
        RUN(test_missing_pids);
        RUN(test_metrics_merge);
        RUN(test_metrics_edges);
        RUN(test_stats_many_links); /* last: it leaves 300 links in the pod netns */
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
