/* net/vmnic: a VM pod's tap joined to CNI's eth0, in a real network
 * namespace shaped as CNI leaves one (eth0 a veth with an address, a MAC, an
 * MTU and routes). Needs root. The parent builds the fixture, runs the tests
 * in a forked child and tears the fixture down whatever the child did. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/spawn.h"
#include "check.h"
#include "net/vmnic.h"

#define MAC "02:00:5e:10:20:30"

struct fixture {
        char ns[32], empty_ns[32], path[64], empty_path[64];
        char host[IFNAMSIZ];
        char addr[32], gw[32];
};

static struct fixture fx;

/* Runs argv; its stdout into out (NUL-terminated, at most len - 1 bytes)
 * when out is not NULL. 0 when it exited 0. */
static int run(char *out, size_t len, char *const *argv)
{
        _cleanup_err_ struct ps_err *e = NULL;
        int p[2] = {-1, -1}, st = 0;
        size_t n = 0;
        pid_t c;

        if (out && pipe2(p, O_CLOEXEC) < 0)
                return -1;
        struct ps_spawn_opts o = {
            .path = argv[0], .argv = argv, .stdio = {-1, out ? p[1] : -1, -1}};
        c = ps_spawn(&o, &e);
        if (out) {
                close(p[1]);
                while (c > 0 && n + 1 < len) {
                        ssize_t r = read(p[0], out + n, len - 1 - n);
                        if (r <= 0)
                                break;
                        n += (size_t)r;
                }
                out[n] = '\0';
                close(p[0]);
        }
        if (c <= 0 || waitpid(c, &st, 0) != c)
                return -1;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

#define IP(...)          run(NULL, 0, (char *const[]){"ip", __VA_ARGS__, NULL})
#define OUT(buf, ...)    run(buf, sizeof(buf), (char *const[]){__VA_ARGS__, NULL})
#define HAS(buf, needle) (strstr(buf, needle) != NULL)

static void fixture_teardown(struct fixture *f)
{
        IP("link", "del", f->host);
        IP("netns", "del", f->ns);
        IP("netns", "del", f->empty_ns);
}

static int fixture_setup(struct fixture *f)
{
        int pid = getpid();
        char cidr[40];

        snprintf(f->ns, sizeof(f->ns), "ps-vmnic-%d", pid);
        snprintf(f->empty_ns, sizeof(f->empty_ns), "ps-vmnic-%d-e", pid);
        snprintf(f->path, sizeof(f->path), "/run/netns/%s", f->ns);
        snprintf(f->empty_path, sizeof(f->empty_path), "/run/netns/%s", f->empty_ns);
        snprintf(f->host, sizeof(f->host), "psn%dh", pid);
        snprintf(f->addr, sizeof(f->addr), "10.214.%d.2", pid & 0xff);
        snprintf(f->gw, sizeof(f->gw), "10.214.%d.1", pid & 0xff);
        snprintf(cidr, sizeof(cidr), "%s/24", f->addr);
        return IP("netns", "add", f->ns) < 0 || IP("netns", "add", f->empty_ns) < 0 ||
                       IP("link", "add", f->host, "type", "veth", "peer", "name", "eth0", "netns",
                          f->ns) < 0 ||
                       IP("-n", f->ns, "link", "set", "eth0", "address", MAC, "mtu", "1400", "up") <
                           0 ||
                       IP("-n", f->ns, "addr", "add", cidr, "dev", "eth0") < 0 ||
                       IP("-n", f->ns, "route", "add", "default", "via", f->gw) < 0 ||
                       IP("-n", f->ns, "route", "add", "10.215.0.0/16", "via", f->gw) < 0
                   ? -1
                   : 0;
}

/* What CNI's eth0 is, read; the tap made, up, eth0's MTU; tc redirects
 * both ways; and all of it gone after free. */
static void test_open_and_free(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct timespec t0, t1;
        struct ps_vmnic *nic;
        const struct ps_vmnic_info *i;
        char out[4096], want[64];

        clock_gettime(CLOCK_MONOTONIC, &t0);
        nic = ps_vmnic_open(fx.path, &e);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr,
                "  ps_vmnic_open (helper child, tap, 2 dumps, 2 qdiscs, 2 filters): %ld us\n",
                (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));

        CHECK(nic != NULL);
        if (!nic) {
                fprintf(stderr, "  %s\n", ps_err_msg(e));
                return;
        }
        i = ps_vmnic_info(nic);
        CHECK_STREQ(i->name, "eth0");
        CHECK_STREQ(i->mac, MAC);
        CHECK_INTEQ(i->mtu, 1400);
        CHECK_INTEQ(i->n_addrs, 1);
        snprintf(want, sizeof(want), "%s/24", fx.addr);
        CHECK_STREQ(i->addrs[0], want);
        /* the kernel's subnet route left out; both gateway routes kept */
        CHECK_INTEQ(i->n_routes, 2);
        for (size_t k = 0; k < i->n_routes; k++) {
                CHECK_STREQ(i->routes[k].gw, fx.gw);
                CHECK(strcmp(i->routes[k].dst, "0.0.0.0/0") == 0 ||
                      strcmp(i->routes[k].dst, "10.215.0.0/16") == 0);
        }
        CHECK(ps_vmnic_tap_fd(nic) >= 0);

        CHECK(OUT(out, "ip", "-n", fx.ns, "-o", "link", "show", PS_VMNIC_TAP) == 0);
        CHECK(HAS(out, "mtu 1400") && HAS(out, ",UP"));
        CHECK(OUT(out, "tc", "-n", fx.ns, "filter", "show", "dev", "eth0", "ingress") == 0);
        CHECK(HAS(out, "mirred") && HAS(out, "Redirect to device " PS_VMNIC_TAP));
        CHECK(OUT(out, "tc", "-n", fx.ns, "filter", "show", "dev", PS_VMNIC_TAP, "ingress") == 0);
        CHECK(HAS(out, "mirred") && HAS(out, "Redirect to device eth0"));

        /* eth0's statistics only (the tap carries the same packets) */
        {
                _cleanup_err_ struct ps_err *e2 = NULL;
                _cleanup_free_ struct ps_link_stats *v = NULL;
                size_t n = 9;

                CHECK(ps_vmnic_link_stats(nic, &v, &n, &e2) == 0);
                CHECK_INTEQ(n, 1);
                if (n == 1)
                        CHECK_STREQ(v[0].name, "eth0");
        }

        /* A second VM on the same netns: refused (the tap's name is
         * taken), and the first one's redirects are left alone. */
        {
                _cleanup_err_ struct ps_err *e2 = NULL;

                CHECK(ps_vmnic_open(fx.path, &e2) == NULL);
                CHECK(e2 != NULL);
                CHECK(OUT(out, "tc", "-n", fx.ns, "filter", "show", "dev", "eth0", "ingress") == 0);
                CHECK(HAS(out, "Redirect to device " PS_VMNIC_TAP));
        }

        /* QEMU would hold its own copy; ours closed, then the nic freed */
        ps_vmnic_close_tap(nic);
        CHECK(ps_vmnic_tap_fd(nic) < 0);
        ps_vmnic_free(nic);
        CHECK(OUT(out, "ip", "-n", fx.ns, "-o", "link", "show") == 0);
        CHECK(!HAS(out, PS_VMNIC_TAP) && HAS(out, "eth0"));
        CHECK(OUT(out, "tc", "-n", fx.ns, "qdisc", "show", "dev", "eth0") == 0);
        CHECK(!HAS(out, "ingress"));
        /* and again: nothing left in the way */
        nic = ps_vmnic_open(fx.path, &e);
        CHECK(nic != NULL);
        ps_vmnic_free(nic);
}

static void test_refused(void)
{
        _cleanup_err_ struct ps_err *e = NULL, *e2 = NULL, *e3 = NULL;
        char out[4096];

        /* a netns without eth0 (a pod CNI never set up): NOT_FOUND, and
         * no tap is left there */
        CHECK(ps_vmnic_open(fx.empty_path, &e) == NULL);
        CHECK(e && e->code == PS_NOT_FOUND);
        CHECK(OUT(out, "ip", "-n", fx.empty_ns, "-o", "link", "show") == 0);
        CHECK(!HAS(out, PS_VMNIC_TAP));
        CHECK(ps_vmnic_open("/run/netns/ps-vmnic-no-such", &e2) == NULL);
        CHECK(e2 && e2->code == PS_NOT_FOUND);
        CHECK(ps_vmnic_open("relative", &e3) == NULL);
        CHECK(e3 && e3->code == PS_INVALID_ARGUMENT);
}

static int run_tests(void)
{
        RUN(test_open_and_free);
        RUN(test_refused);
        return check_summary();
}

int main(void)
{
        int st = 0;

        if (geteuid() != 0) {
                fprintf(stderr, "test_vmnic needs root (network namespaces)\n");
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
