/* The shim's command-line side: argument parsing, the socket address,
 * bind-or-reuse of the listener, start's ShimCgroup (runtime options:
 * test_options.c; the OCI spec: test_spec.c). */
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "check.h"
#include "scratch.h"
#include "containerd/runc/options.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "shim/address.h"
#include "shim/args.h"
#include "shim/bootstrap.h"
#include "shim/start.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])) - 1)

static char tmpdir[64];

/* ---- args ---- */

static void test_args_start(void)
{
        char *const argv[] = {"shim",
                              "-namespace",
                              "k8s.io",
                              "-address",
                              "/run/c.sock",
                              "-publish-binary",
                              "/usr/bin/containerd",
                              "-id",
                              "t1",
                              "-debug",
                              "start",
                              NULL};
        struct ps_args a = {0};
        struct ps_err *e = NULL;

        CHECK_INTEQ(ps_args_parse(ARGC(argv), argv, &a, &e), 0);
        CHECK(e == NULL);
        CHECK_INTEQ(a.action, PS_ACTION_START);
        CHECK_STREQ(a.ns, "k8s.io");
        CHECK_STREQ(a.address, "/run/c.sock");
        CHECK_STREQ(a.publish_binary, "/usr/bin/containerd");
        CHECK_STREQ(a.id, "t1");
        CHECK(a.debug);
        CHECK(a.bundle == NULL);
        ps_args_clear(&a);
        CHECK(a.ns == NULL);
}

static void test_args_forms(void)
{
        char *const eq[] = {"shim", "--namespace=ns", "--id=t", "-address=/a", NULL};
        char *const del[] = {"shim",    "-namespace", "ns",     "-id", "t",
                             "-bundle", "/b",         "delete", NULL};
        char *const ver[] = {"shim", "-v", NULL};
        char *const dbg[] = {"shim", "-namespace", "ns", "-id", "t", "-debug=false", NULL};
        struct ps_args a = {0};

        CHECK_INTEQ(ps_args_parse(ARGC(eq), eq, &a, NULL), 0);
        CHECK_INTEQ(a.action, PS_ACTION_SERVE);
        CHECK_STREQ(a.id, "t");
        CHECK_STREQ(a.ns, "ns");
        CHECK_STREQ(a.address, "/a");
        ps_args_clear(&a);

        CHECK_INTEQ(ps_args_parse(ARGC(del), del, &a, NULL), 0);
        CHECK_INTEQ(a.action, PS_ACTION_DELETE);
        CHECK_STREQ(a.bundle, "/b");
        ps_args_clear(&a);

        CHECK_INTEQ(ps_args_parse(ARGC(ver), ver, &a, NULL), 0);
        CHECK_INTEQ(a.action, PS_ACTION_VERSION);
        ps_args_clear(&a);

        CHECK_INTEQ(ps_args_parse(ARGC(dbg), dbg, &a, NULL), 0);
        CHECK(!a.debug);
        ps_args_clear(&a);
}

static void expect_args_error(char *const *argv, int argc, const char *needle)
{
        struct ps_args a = {0};
        struct ps_err *e = NULL;

        CHECK_INTEQ(ps_args_parse(argc, argv, &a, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        if (e && !strstr(ps_err_msg(e), needle))
                fprintf(stderr, "  message '%s' lacks '%s'\n", ps_err_msg(e), needle);
        CHECK(e && strstr(ps_err_msg(e), needle));
        CHECK(a.ns == NULL && a.id == NULL);
        ps_err_free(e);
}

static void test_args_errors(void)
{
        char *const unknown[] = {"shim", "-namespace", "ns", "-id", "t", "-bogus", "start", NULL};
        char *const missing[] = {"shim", "-namespace", "ns", "-id", NULL};
        char *const bad_id[] = {"shim", "-namespace", "ns", "-id", "../x", "start", NULL};
        char *const bad_ns[] = {"shim", "-namespace", "a/b", "-id", "t", "start", NULL};
        char *const no_id[] = {"shim", "-namespace", "ns", "start", NULL};
        char *const action[] = {"shim", "-namespace", "ns", "-id", "t", "frobnicate", NULL};
        char *const bad_bool[] = {"shim", "-namespace", "ns", "-id", "t", "-debug=maybe", NULL};

        expect_args_error(unknown, ARGC(unknown), "not defined: -bogus");
        expect_args_error(missing, ARGC(missing), "needs an argument: -id");
        expect_args_error(bad_id, ARGC(bad_id), "invalid id");
        expect_args_error(bad_ns, ARGC(bad_ns), "invalid namespace");
        expect_args_error(no_id, ARGC(no_id), "id cannot be empty");
        expect_args_error(action, ARGC(action), "unknown action");
        expect_args_error(bad_bool, ARGC(bad_bool), "invalid boolean");
}

/* ---- address ---- */

static void check_join(const char *a, const char *b, const char *c, const char *want)
{
        _cleanup_free_ char *got = ps_path_join3(a, b, c);

        CHECK_STREQ(got, want);
}

static void test_path_join(void)
{
        check_join("/tmp/probe/c.sock", "probe", "probe2", "/tmp/probe/c.sock/probe/probe2");
        check_join("a//b", "./c", "../d", "a/b/d");
        check_join("/", "..", "x", "/x");
        check_join("/run/", "k8s.io/", "", "/run/k8s.io");
        check_join("", "", "", "");
        check_join("../a", "..", "..", "../..");
        check_join("a", "b/../..", "", ".");
        check_join("/a/./b/", "/c//", ".", "/a/b/c");
        check_join("x", "..", "../../y", "../../y");
}

static void test_socket_path(void)
{
        _cleanup_free_ char *p = ps_socket_path("/tmp/probe/c.sock", "probe", "probe2", NULL);
        const char *hex;

        CHECK(p != NULL);
        if (!p)
                return;
        CHECK(strncmp(p, PS_SOCKET_DIR "/", strlen(PS_SOCKET_DIR) + 1) == 0);
        hex = p + strlen(PS_SOCKET_DIR) + 1;
        CHECK_INTEQ(strlen(hex), 64);
        CHECK(strncmp(hex, "6870f158", 8) == 0);
        CHECK_STREQ(hex + 60, "757e");

        /* the VM runtime type's salt: another socket for the same group,
         * the same one each time */
        {
                _cleanup_free_ char *a = ps_socket_path("/tmp/probe/c.sock", "probe", "probe2",
                                                        "io.containerd.podshim-vm.v2");
                _cleanup_free_ char *b = ps_socket_path("/tmp/probe/c.sock", "probe", "probe2",
                                                        "io.containerd.podshim-vm.v2");

                CHECK(a && b && strcmp(a, b) == 0 && strcmp(a, p) != 0);
                CHECK(a && strlen(a) == strlen(p));
        }
}

/* ---- bind or probe ---- */

static bool can_connect(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

static void test_bind_or_probe(void)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1, fd2 = -1;
        struct ps_err *e = NULL;
        struct stat st;

        CHECK(asprintf(&path, "%s/s.sock", tmpdir) > 0);
        /* fresh path: a new listener, mode 0600, non-blocking, cloexec */
        CHECK_INTEQ(ps_socket_bind_or_probe(path, &fd, &e), 0);
        CHECK(fd >= 0);
        CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
        CHECK(can_connect(path));

        /* live listener: reused, no new fd */
        CHECK_INTEQ(ps_socket_bind_or_probe(path, &fd2, &e), 1);
        CHECK_INTEQ(fd2, -1);

        /* stale socket file (listener closed without unlink): bound again */
        fd = ps_close(fd);
        CHECK(!can_connect(path));
        CHECK_INTEQ(ps_socket_bind_or_probe(path, &fd2, &e), 0);
        CHECK(fd2 >= 0);
        CHECK(can_connect(path));
        CHECK(e == NULL);
        fd2 = ps_close(fd2);
        unlink(path);

        /* a path that cannot be a sockaddr_un */
        char longp[200];
        memset(longp, 'x', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        CHECK_INTEQ(ps_socket_bind_or_probe(longp, &fd2, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        ps_err_free(e);
}

/* ---- start: moving the daemon into ShimCgroup ---- */

#define CG_ROOT "/sys/fs/cgroup"

struct start_run {
        int status;    /* of the start process */
        char out[512]; /* its stdout */
        char errout[2048];
        pid_t daemon; /* from shim.pid; -1 when not written */
};

static void slurp(const char *path, char *buf, size_t size)
{
        char *data = NULL;

        buf[0] = '\0';
        if (ps_read_file(path, size - 1, &data, NULL, NULL) == 0)
                snprintf(buf, size, "%s", data);
        free(data);
}

/* The start process: cwd = bundle, stdin = the options Any, stdout and
 * stderr into files. Never returns. */
static __attribute__((noreturn)) void start_child(const char *bundle, const char *id, int stdin_fd)
{
        char *const argv[] = {
            "shim", "-namespace", "podshim-test", "-address", "/run/podshim-test-cgmem.sock",
            "-id",  (char *)id,   "start",        NULL};
        struct ps_args a = {0};
        int out, errfd, rc;

        if (chdir(bundle) < 0)
                _exit(120);
        out = open("start.out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        errfd = open("start.err", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0 || errfd < 0 || dup2(stdin_fd, STDIN_FILENO) < 0 ||
            dup2(out, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0)
                _exit(121);
        if (ps_args_parse(ARGC(argv), argv, &a, NULL) < 0)
                _exit(122);
        rc = ps_start_action(&a);
        ps_args_clear(&a);
        exit(rc);
}

/* Runs `start` for task `id` in `bundle` with ShimCgroup = `cgroup`. */
static void run_start(const char *bundle, const char *id, const char *cgroup, struct start_run *r)
{
        Containerd__Runc__V1__Options o = CONTAINERD__RUNC__V1__OPTIONS__INIT;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        uint8_t val[256], buf[512];
        char path[4096], pidbuf[32];
        int pfd[2];
        size_t len;
        pid_t pid;

        o.shim_cgroup = (char *)cgroup;
        any.type_url = "containerd.runc.v1.Options";
        any.value.data = val;
        any.value.len = containerd__runc__v1__options__pack(&o, val);
        len = google__protobuf__any__pack(&any, buf);
        r->status = -1;
        r->daemon = -1;
        if (pipe2(pfd, O_CLOEXEC) < 0 || write(pfd[1], buf, len) != (ssize_t)len)
                return;
        close(pfd[1]);
        pid = fork();
        if (pid == 0)
                start_child(bundle, id, pfd[0]);
        close(pfd[0]);
        if (pid < 0 || waitpid(pid, &r->status, 0) != pid)
                return;
        snprintf(path, sizeof(path), "%s/start.out", bundle);
        slurp(path, r->out, sizeof(r->out));
        snprintf(path, sizeof(path), "%s/start.err", bundle);
        slurp(path, r->errout, sizeof(r->errout));
        snprintf(path, sizeof(path), "%s/shim.pid", bundle);
        slurp(path, pidbuf, sizeof(pidbuf));
        if (pidbuf[0])
                r->daemon = (pid_t)strtol(pidbuf, NULL, 10);
}

static char *make_bundle(const char *name)
{
        const char *json =
            "{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"}}";
        char *dir = NULL, *cfg = NULL;

        if (asprintf(&dir, "%s/%s", tmpdir, name) < 0)
                return NULL;
        if (mkdir(dir, 0700) < 0 || asprintf(&cfg, "%s/config.json", dir) < 0 ||
            ps_write_file_atomic(cfg, json, strlen(json), 0644, NULL) < 0) {
                free(cfg);
                free(dir);
                return NULL;
        }
        free(cfg);
        return dir;
}

/* Reaps orphans handed to us (we are a subreaper) for up to 2 s; returns
 * how many were killed by SIGKILL, or -1 if one is still running then. */
static int reap_orphans(void)
{
        int killed = 0;

        for (int i = 0; i < 200; i++) {
                int st;
                pid_t p = waitpid(-1, &st, WNOHANG);

                if (p < 0)
                        return killed; /* ECHILD: none left */
                if (p > 0) {
                        killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
                        continue;
                }
                usleep(10000);
        }
        return -1;
}

/* Path of `pid` in the v1 hierarchy whose /proc/<pid>/cgroup field is
 * `ctrls` ("memory", "name=systemd"); "" when not found. */
static void cgroup_of(pid_t pid, const char *ctrls, char *ret, size_t size)
{
        char path[64], buf[4096], *save = NULL;

        ret[0] = '\0';
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        slurp(path, buf, sizeof(buf));
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

                if (c2 && (size_t)(c2 - c1 - 1) == strlen(ctrls) &&
                    strncmp(c1 + 1, ctrls, strlen(ctrls)) == 0)
                        snprintf(ret, size, "%s", c2 + 1);
        }
}

/* libcgroup's mount table, the bulk of its .bss (~800 KiB in libcgroup
 * 2.0.2): cgroup_init() fills it from its start, one entry (~8 KiB) per
 * mounted controller. libcgroup is linked from its static archive
 * (CMakeLists.txt), so the table sits in this executable; the daemon under
 * test is forked from it and has it at the same address. */
extern char cg_mount_table[];
#define MOUNT_TABLE_HEAD (256 * 1024)

/* Resident KiB of the head of libcgroup's mount table in `pid`, counted
 * page by page through /proc/PID/pagemap. The first, partial page is
 * skipped: it holds neighbouring variables too. */
static long libcgroup_bss_kb(pid_t pid)
{
        uintptr_t lo = (uintptr_t)cg_mount_table, hi = lo + MOUNT_TABLE_HEAD;
        long page = sysconf(_SC_PAGESIZE), kb = 0;
        char path[64];
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        for (uintptr_t a = (lo + (uintptr_t)page - 1) & ~((uintptr_t)page - 1); a < hi;
             a += (uintptr_t)page) {
                uint64_t entry;

                if (pread(fd, &entry, sizeof(entry), (off_t)(a / (uintptr_t)page * 8)) !=
                    (ssize_t)sizeof(entry)) {
                        kb = -1;
                        break;
                }
                if (entry & (1ULL << 63))
                        kb += page / 1024;
        }
        close(fd);
        return kb;
}

static const char *const start_hiers[] = {"memory", "cpu", "pids", "systemd"};

/* ShimCgroup exists in some hierarchies (memory, cpu, pids and the named
 * systemd one): start succeeds, prints only the address, and the daemon
 * sits in it there; libcgroup was initialised in start, not the daemon. */
static void test_start_shim_cgroup(void)
{
        _cleanup_free_ char *bundle = make_bundle("bundle-cg");
        char cg[64], dir[256], id[64], got[256], addr[512];
        struct start_run r;

        CHECK(bundle != NULL);
        if (!bundle)
                return;
        snprintf(cg, sizeof(cg), "/podshim-cli-%d", (int)getpid());
        snprintf(id, sizeof(id), "cgmem-%d", (int)getpid());
        for (size_t i = 0; i < sizeof(start_hiers) / sizeof(start_hiers[0]); i++) {
                snprintf(dir, sizeof(dir), "%s/%s%s", CG_ROOT, start_hiers[i], cg);
                CHECK(mkdir(dir, 0755) == 0);
        }
        run_start(bundle, id, cg, &r);
        CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
        snprintf(dir, sizeof(dir), "%s/address", bundle);
        slurp(dir, addr, sizeof(addr));
        CHECK(strncmp(r.out, "unix://" PS_SOCKET_DIR "/", strlen("unix://" PS_SOCKET_DIR "/")) ==
              0);
        CHECK_STREQ(r.out, addr); /* nothing else on stdout: no libcgroup log */
        CHECK_STREQ(r.errout, "");
        CHECK(r.daemon > 0);
        if (r.daemon > 0) {
                static const char *const fields[] = {"memory", "cpu", "pids", "name=systemd"};

                for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                        cgroup_of(r.daemon, fields[i], got, sizeof(got));
                        CHECK_STREQ(got, cg);
                }
                cgroup_of(r.daemon, "freezer", got, sizeof(got));
                CHECK(strcmp(got, cg) != 0); /* not there: stays where it was */
                long bss_kb = libcgroup_bss_kb(r.daemon);

                CHECK(bss_kb >= 0 && bss_kb < 64);
                kill(r.daemon, SIGKILL);
        }
        /* the probe sees an initialised table: here, in the test process */
        CHECK_INTEQ(cgroup_init(), 0);
        CHECK(libcgroup_bss_kb(getpid()) >= 64);
        CHECK_INTEQ(reap_orphans(), 1);
        if (strncmp(addr, "unix://", 7) == 0)
                unlink(addr + 7);
        for (size_t i = 0; i < sizeof(start_hiers) / sizeof(start_hiers[0]); i++) {
                snprintf(dir, sizeof(dir), "%s/%s%s", CG_ROOT, start_hiers[i], cg);
                for (int k = 0; k < 100 && rmdir(dir) < 0 && errno == EBUSY; k++)
                        usleep(10000);
        }
}

/* A ShimCgroup that exists nowhere fails start with NOT_FOUND's errno on
 * stderr, nothing on stdout, and the forked daemon is killed. */
static void test_start_missing_shim_cgroup(void)
{
        _cleanup_free_ char *bundle = make_bundle("bundle-nocg");
        char id[64], cg[64], path[256];
        struct start_run r;
        struct stat st;

        CHECK(bundle != NULL);
        if (!bundle)
                return;
        snprintf(cg, sizeof(cg), "/podshim-cli-missing-%d", (int)getpid());
        snprintf(id, sizeof(id), "cgmem-missing-%d", (int)getpid());
        run_start(bundle, id, cg, &r);
        CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
        CHECK_STREQ(r.out, "");
        CHECK(strstr(r.errout, "move shim to cgroup") != NULL);
        CHECK(strstr(r.errout, strerror(ENOENT)) != NULL);
        CHECK(strchr(r.errout, '\n') == r.errout + strlen(r.errout) - 1); /* one line */
        CHECK_INTEQ(r.daemon, -1);
        CHECK_INTEQ(reap_orphans(), 1); /* the daemon, SIGKILLed by start */
        snprintf(path, sizeof(path), "%s/address", bundle);
        slurp(path, r.out, sizeof(r.out));
        CHECK(strncmp(r.out, "unix://", 7) == 0 && stat(r.out + 7, &st) < 0); /* unlinked */
}

/* ---- bootstrap reply ---- */

static void test_bootstrap_version_parse(void)
{
        struct ps_err *e = NULL;
        int v = 0;

        CHECK(ps_bootstrap_version_parse(NULL, &v, &e) == 0 && v == 2);
        CHECK(ps_bootstrap_version_parse("", &v, &e) == 0 && v == 2);
        CHECK(ps_bootstrap_version_parse("2", &v, &e) == 0 && v == 2);
        CHECK(ps_bootstrap_version_parse("3", &v, &e) == 0 && v == 3);
        CHECK(e == NULL);
        const char *bad[] = {"4", "1", "3 ", "v3", "03", "true"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                v = 7;
                CHECK(ps_bootstrap_version_parse(bad[i], &v, &e) < 0);
                CHECK(e && e->code == PS_INVALID_ARGUMENT);
                CHECK(e && strstr(ps_err_msg(e), PS_BOOTSTRAP_ENV));
                CHECK(v == 7);
                e = ps_err_free(e);
        }
}

static void test_bootstrap_reply(void)
{
        const char *addr = "unix:///run/containerd/s/0123abcd";
        char *r = ps_bootstrap_reply(2, addr);

        CHECK_STREQ(r, addr);
        free(r);
        r = ps_bootstrap_reply(3, addr);
        CHECK_STREQ(r, "{\"version\":3,\"protocol\":\"ttrpc\",\"address\":"
                       "\"unix:///run/containerd/s/0123abcd\"}");
        free(r);
        /* an address needing JSON escapes stays one valid string */
        r = ps_bootstrap_reply(3, "unix:///tmp/a\"b\\c");
        CHECK_STREQ(r, "{\"version\":3,\"protocol\":\"ttrpc\",\"address\":"
                       "\"unix:///tmp/a\\\"b\\\\c\"}");
        free(r);
}

static void test_bootstrap_json_version(void)
{
        struct ps_err *e = NULL;
        int v = 0;

        CHECK(ps_bootstrap_json_version(
                  "{\"version\":3,\"address\":\"unix:///x\",\"protocol\":\"ttrpc\"}", &v, &e) ==
                  0 &&
              v == 3);
        CHECK(ps_bootstrap_json_version("{\"version\":2,\"address\":\"unix:///x\"}", &v, &e) == 0 &&
              v == 2);
        /* containerd 2.x reads a missing or old version as 2 */
        CHECK(ps_bootstrap_json_version("{\"address\":\"unix:///x\"}", &v, &e) == 0 && v == 2);
        CHECK(ps_bootstrap_json_version("{\"version\":0}", &v, &e) == 0 && v == 2);
        CHECK(ps_bootstrap_json_version("{\"Version\":3}", &v, &e) == 0 && v == 3);
        CHECK(e == NULL);
        CHECK(ps_bootstrap_json_version("unix:///run/containerd/s/x", &v, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        CHECK(ps_bootstrap_json_version("[3]", &v, &e) < 0);
        e = ps_err_free(e);
}

static int write_text(const char *path, const char *text)
{
        struct ps_err *e = NULL;
        int r = ps_write_file_atomic(path, text, strlen(text), 0600, &e);

        ps_err_free(e);
        return r;
}

/* start runs in its own bundle; the pod's bundle is a sibling. */
static void test_bootstrap_sibling(void)
{
        _cleanup_free_ char *ns = NULL, *pod = NULL, *ctr = NULL, *path = NULL;
        struct ps_err *e = NULL;
        char cwd[4096];
        int v = 0;

        CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
        CHECK(asprintf(&ns, "%s/bundles", tmpdir) > 0);
        CHECK(asprintf(&pod, "%s/pod1", ns) > 0);
        CHECK(asprintf(&ctr, "%s/ctr1", ns) > 0);
        CHECK(mkdir(ns, 0700) == 0 && mkdir(pod, 0700) == 0 && mkdir(ctr, 0700) == 0);
        CHECK(chdir(ctr) == 0);

        CHECK(ps_bootstrap_version_of_sibling("pod1", &v, &e) == 1); /* 1.x: none */
        CHECK(ps_bootstrap_version_of_sibling("nosuchpod", &v, &e) == 1);
        CHECK(ps_bootstrap_version_of_sibling("../pod1", &v, &e) == 1);
        CHECK(ps_bootstrap_version_of_sibling("..", &v, &e) == 1);
        CHECK(ps_bootstrap_version_of_sibling("", &v, &e) == 1);
        CHECK(e == NULL);

        CHECK(asprintf(&path, "%s/bootstrap.json", pod) > 0);
        CHECK(write_text(path, "{\"version\":3,\"address\":\"unix:///s\"}") == 0);
        CHECK(ps_bootstrap_version_of_sibling("pod1", &v, &e) == 0 && v == 3);
        CHECK(write_text(path, "{\"version\":2,\"address\":\"unix:///s\"}") == 0);
        CHECK(ps_bootstrap_version_of_sibling("pod1", &v, &e) == 0 && v == 2);
        CHECK(write_text(path, "garbage") == 0);
        CHECK(ps_bootstrap_version_of_sibling("pod1", &v, &e) < 0);
        CHECK(e && strstr(ps_err_msg(e), "bootstrap.json"));
        e = ps_err_free(e);
        CHECK(chdir(cwd) == 0);
}

int main(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cli.XXXXXX");
        if (!mkdtemp(tmpdir))
                return 2;
        RUN(test_args_start);
        RUN(test_args_forms);
        RUN(test_args_errors);
        RUN(test_path_join);
        RUN(test_socket_path);
        RUN(test_bind_or_probe);
        RUN(test_bootstrap_version_parse);
        RUN(test_bootstrap_reply);
        RUN(test_bootstrap_json_version);
        RUN(test_bootstrap_sibling);
        /* The start tests need root and cgroup v1; the daemons they fork
         * are reparented to us when start exits. */
        if (geteuid() == 0 && access(CG_ROOT "/memory/cgroup.procs", F_OK) == 0 &&
            access(CG_ROOT "/systemd/cgroup.procs", F_OK) == 0 &&
            prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) {
                RUN(test_start_shim_cgroup);
                RUN(test_start_missing_shim_cgroup);
        }
        test_rm_rf(tmpdir);
        return check_summary();
}
