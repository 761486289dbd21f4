/* The pause-less infra process: real namespaces, real privilege drop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/spawn.h"
#include "cgroup/paths.h"
#include "check.h"
#include "oci/idmap.h"
#include "oci/spec.h"
#include "sandbox/linux/infra_process.h"

static char *status_field(pid_t pid, const char *key)
{
        char path[64], *buf = NULL, *line, *res = NULL;
        _cleanup_err_ struct ps_err *e = NULL;

        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        if (ps_read_file(path, 1 << 16, &buf, NULL, &e) < 0)
                return NULL;
        line = strstr(buf, key);
        if (line) {
                line += strlen(key);
                while (*line == ' ' || *line == '\t' || *line == ':')
                        line++;
                res = strndup(line, strcspn(line, "\n"));
        }
        free(buf);
        return res;
}

static bool same_ns(pid_t pid, const char *ns)
{
        char a[64], b[64], la[64] = {0}, lb[64] = {0};

        snprintf(a, sizeof(a), "/proc/%d/ns/%s", pid, ns);
        snprintf(b, sizeof(b), "/proc/self/ns/%s", ns);
        if (readlink(a, la, sizeof(la) - 1) < 0 || readlink(b, lb, sizeof(lb) - 1) < 0)
                return true;
        return strcmp(la, lb) == 0;
}

static int wait_exit(pid_t pid, int ms)
{
        int st;

        for (int i = 0; i < ms / 10; i++) {
                if (waitpid(pid, &st, WNOHANG) == pid)
                        return st;
                usleep(10000);
        }
        return -1;
}

/* ps_infra_spawn and its report, waited for as the shim's loop would
 * (poll), bounded to 5 s: the pid once set up, -1 with err otherwise. */
static pid_t spawn_into(const struct ps_infra_spec *s, const char *helper,
                        const struct ps_pod_cgroup_entry *entry, ps_infra_place_fn place,
                        void *data, struct ps_err **err)
{
        int report = -1, r = 1;
        pid_t pid = ps_infra_spawn(s, helper, entry, place, data, &report, err);

        if (pid < 0)
                return -1;
        for (int i = 0; i < 500 && r == 1; i++) {
                struct pollfd pfd = {.fd = report, .events = POLLIN};
                poll(&pfd, 1, 10);
                r = ps_infra_report(report, pid, err);
        }
        close(report);
        if (r == 1)
                ps_err_set(err, PS_DEADLINE_EXCEEDED, "no report from the infra process");
        return r == 0 ? pid : -1;
}

static pid_t spawn_and_wait(const struct ps_infra_spec *s, const char *helper, struct ps_err **err)
{
        return spawn_into(s, helper, NULL, NULL, NULL, err);
}

/* CRI's maps for a pod: container 0 -> host 100000, 65536 ids */
#define UIDMAP "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]"
#define GIDMAP "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]"

#define SPEC_HEAD "{\"process\":{\"args\":[\"/pause\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"}"

/* A sandbox spec (process and root added) parsed for the test; NULL when
 * it does not parse. */
static struct ps_spec *spec_of(const char *linux_json)
{
        _cleanup_free_ char *json = NULL;
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_spec *s = NULL;

        if (asprintf(&json, SPEC_HEAD ",\"linux\":%s}", linux_json) < 0)
                return NULL;
        if (ps_spec_parse(json, strlen(json), &s, &e) < 0)
                fprintf(stderr, "spec: %s\n", ps_err_msg(e));
        return s;
}

static const char *spec_json =
    "{\"hostname\":\"pod-host\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},"
    "\"oomScoreAdj\":500,\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},"
    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},"
    "{\"type\":\"uts\"},{\"type\":\"network\"},{\"type\":\"mount\"}]}}";

static void check_infra(const char *helper)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_spec_ struct ps_spec *spec = NULL;
        struct ps_infra_spec s;
        _cleanup_free_ char *uid = NULL, *cap = NULL, *bnd = NULL, *nnp = NULL, *nspid = NULL;
        char path[64], *oom = NULL;

        CHECK(ps_spec_parse(spec_json, strlen(spec_json), &spec, &e) == 0);
        if (!spec)
                return;
        CHECK(ps_infra_spec_from(spec, &s, &e) == 0);
        CHECK(s.new_pid && s.new_ipc && s.new_uts && s.new_net && !s.netns_path);
        CHECK_INTEQ(s.uid, PS_INFRA_DEFAULT_ID); /* never root */
        pid_t pid = spawn_and_wait(&s, helper, &e);
        CHECK(pid > 0);
        if (pid <= 0) {
                fprintf(stderr, "spawn: %s\n", ps_err_msg(e));
                return;
        }
        usleep(50000);
        uid = status_field(pid, "Uid:");
        cap = status_field(pid, "CapEff:");
        bnd = status_field(pid, "CapBnd:");
        nnp = status_field(pid, "NoNewPrivs:");
        nspid = status_field(pid, "NSpid:");
        CHECK(uid && strncmp(uid, "65535", 5) == 0);
        CHECK_STREQ(cap, "0000000000000000");
        CHECK_STREQ(bnd, "0000000000000000");
        CHECK_STREQ(nnp, "1");
        CHECK(nspid && strstr(nspid, "\t1") != NULL); /* pid 1 of its namespace */
        CHECK(!same_ns(pid, "pid") && !same_ns(pid, "ipc") && !same_ns(pid, "uts") &&
              !same_ns(pid, "net"));
        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
        CHECK(ps_read_file(path, 64, &oom, NULL, &e) == 0);
        CHECK(oom && atoi(oom) == 500);
        free(oom);
        /* pid 1 honours SIGTERM only because it has a handler. */
        kill(pid, SIGTERM);
        int st = wait_exit(pid, 3000);
        CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* clone3 answers ENOSYS (the kernel or valgrind has none), not a fault
 * on its NULL argument. */
static bool clone3_missing(void)
{
        return syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS;
}

static int count_place(void *data, pid_t pid, struct ps_err **err)
{
        (*(int *)data)++;
        return 0;
}

/* Given a cgroup2 directory, the infra process is born in it (clone3
 * CLONE_INTO_CGROUP): it is a member from its first instruction, and its
 * own write (the fallback where clone3 is missing: valgrind has none) is
 * not needed. Any cgroup2 mount serves, including the membership-only one
 * of a hybrid host; without one the test has nothing to show and says so.
 * The place callback is for user-namespace pods only: never called. */
static void test_born_in_cgroup(void)
{
        static const char *const roots[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_spec_ struct ps_spec *spec = NULL;
        _cleanup_free_ char *cg = NULL;
        struct ps_pod_cgroup_entry entry = {.dir = -1, .later = -1};
        struct ps_infra_spec s;
        char dir[128], path[160], want[160];
        int placed = 0;

        for (size_t i = 0; i < 2 && entry.dir < 0; i++) {
                struct statfs sf;

                if (statfs(roots[i], &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
                        continue;
                snprintf(dir, sizeof(dir), "%s/podshim-test-infra-%d", roots[i], (int)getpid());
                if (mkdir(dir, 0755) == 0)
                        entry.dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                snprintf(want, sizeof(want), "0::/podshim-test-infra-%d\n", (int)getpid());
        }
        if (entry.dir < 0) {
                fprintf(stderr, "  (no cgroup2 mount here: nothing to test)\n");
                return;
        }
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        entry.self[0] = open(path, O_WRONLY | O_CLOEXEC);
        entry.n_self = entry.self[0] >= 0;
        CHECK(entry.n_self == 1);
        CHECK(ps_spec_parse(spec_json, strlen(spec_json), &spec, &e) == 0);
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        pid_t pid = spec ? spawn_into(&s, NULL, &entry, count_place, &placed, &e) : -1;
        CHECK(pid > 0);
        CHECK_INTEQ(placed, 0);
        if (clone3_missing())
                fprintf(stderr, "  (no clone3 here: the process enters by its own write)\n");
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        CHECK(pid > 0 && ps_read_file(path, 4096, &cg, NULL, &e) == 0);
        CHECK(cg && strstr(cg, want) != NULL);
        if (pid > 0) {
                kill(pid, SIGKILL);
                wait_exit(pid, 3000);
        }
        ps_pod_cgroup_entry_close(&entry);
        CHECK(rmdir(dir) == 0);
}

/* Is `pid` in `path` in every hierarchy of /proc/<pid>/cgroup but the named
 * ones (name=systemd, which the pod cgroup leaves alone)? */
static bool in_cgroup_everywhere(pid_t pid, const char *path, bool *unified)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ char *buf = NULL;
        char file[64];
        bool all = true;

        snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
        if (ps_read_file(file, 1 << 16, &buf, NULL, &e) < 0)
                return false;
        *unified = false;
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                char *ctrls = strchr(line, ':'), *where = ctrls ? strchr(ctrls + 1, ':') : NULL;

                if (!where || strncmp(ctrls + 1, "name=", 5) == 0)
                        continue;
                if (ctrls[1] == ':')
                        *unified = strcmp(where + 1, path) == 0;
                else
                        all = all && strcmp(where + 1, path) == 0;
        }
        return all;
}

/* A real pod cgroup in every hierarchy this host mounts: the infra process
 * is in it by the time it reports set up, without the shim attaching it (v1
 * `tasks` written by the process itself, or born in it on cgroup2), and a
 * hybrid host's membership-only cgroup2 follows once it runs. With the
 * helper and in place. */
static void check_enters_pod_cgroup(const char *helper)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_spec_ struct ps_spec *spec = NULL;
        struct ps_pod_cgroup_entry entry;
        struct ps_pod_cgroup *cg;
        struct ps_infra_spec s;
        char path[96];
        bool unified = false, all;
        int placed = 0;

        snprintf(path, sizeof(path), "/podshim-test-enter-%d", (int)getpid());
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(cg != NULL);
        if (!cg) {
                fprintf(stderr, "pod cgroup: %s\n", ps_err_msg(e));
                return;
        }
        CHECK(ps_pod_cgroup_entry_open(cg, &entry, &e) == 0);
        CHECK(ps_spec_parse(spec_json, strlen(spec_json), &spec, &e) == 0);
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        pid_t pid = spec ? spawn_into(&s, helper, &entry, count_place, &placed, &e) : -1;
        ps_pod_cgroup_entry_close(&entry);
        CHECK(pid > 0);
        CHECK_INTEQ(placed, 0);
        all = pid > 0 && in_cgroup_everywhere(pid, path, &unified);
        CHECK(all); /* no later than its report */
        for (int i = 0; i < 200 && pid > 0 && !unified; i++) {
                usleep(10000);
                in_cgroup_everywhere(pid, path, &unified);
        }
        /* a cgroup2 line is there on every host: hybrid or v2-only */
        CHECK(unified);
        /* the paths the shim takes from the handle are those /proc gives */
        if (pid > 0) {
                _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *mine = NULL, *proc = NULL;

                CHECK(ps_pod_cgroup_paths(cg, &mine, &e) == 0);
                CHECK(ps_cgroup_paths_of(pid, &proc, &e) == 0);
                CHECK(mine && proc && mine->memory_v1 == proc->memory_v1);
                for (int c = 0; mine && proc && c < PS_CGROUP_CTRL_MAX; c++)
                        CHECK(mine->v1[c] && proc->v1[c] ? strcmp(mine->v1[c], proc->v1[c]) == 0
                                                         : mine->v1[c] == proc->v1[c]);
                CHECK(mine && proc && mine->unified && proc->unified &&
                      strcmp(mine->unified, proc->unified) == 0);
        }
        if (pid > 0) {
                kill(pid, SIGKILL);
                wait_exit(pid, 3000);
        }
        for (int i = 0; i < 200 && ps_pod_cgroup_remove(cg, &e) == PS_POD_CGROUP_BUSY; i++)
                usleep(10000);
        ps_pod_cgroup_free(cg);
}

static void test_enters_pod_cgroup_inline(void)
{
        check_enters_pod_cgroup(NULL);
}

static void test_enters_pod_cgroup_helper(void)
{
        _cleanup_free_ char *helper = ps_infra_helper_path();

        CHECK(helper != NULL);
        if (helper)
                check_enters_pod_cgroup(helper);
}

static void test_infra_inline(void)
{
        check_infra(NULL);
}

static void test_infra_helper(void)
{
        _cleanup_free_ char *helper = ps_infra_helper_path();

        CHECK(helper != NULL); /* built next to the tests */
        if (helper)
                check_infra(helper);
}

static bool ns_is(pid_t pid, const char *ns, const char *file)
{
        char a[64];
        struct stat sa, sb;

        snprintf(a, sizeof(a), "/proc/%d/ns/%s", pid, ns);
        return stat(a, &sa) == 0 && stat(file, &sb) == 0 && sa.st_ino == sb.st_ino &&
               sa.st_dev == sb.st_dev;
}

/* pid and other have the same namespace of `kind`. */
static bool same_pid_ns_file(pid_t pid, pid_t other, const char *kind)
{
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/ns/%s", other, kind);
        return ns_is(pid, kind, path);
}

static int ip_netns(const char *verb, const char *name)
{
        char *argv[] = {"ip", "netns", (char *)verb, (char *)name, NULL};
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_spawn_opts o = {.path = "ip", .argv = argv, .stdio = {-1, -1, -1}};
        pid_t c = ps_spawn(&o, &e);
        int st = 0;

        if (c <= 0 || waitpid(c, &st, 0) != c)
                return -1;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Runs argv and returns the integer it prints, or -1. */
static int run_for_int(char *const argv[])
{
        _cleanup_err_ struct ps_err *e = NULL;
        char buf[32] = {0};
        int p[2], st = 0;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        struct ps_spawn_opts o = {.path = argv[0], .argv = argv, .stdio = {-1, p[1], -1}};
        pid_t c = ps_spawn(&o, &e);
        close(p[1]);
        if (c > 0) {
                if (read(p[0], buf, sizeof(buf) - 1) < 0)
                        buf[0] = 0;
                waitpid(c, &st, 0);
        }
        close(p[0]);
        return buf[0] ? atoi(buf) : -1;
}

/* Reads an integer sysctl as seen inside a named netns. */
static int netns_sysctl(const char *name, const char *path)
{
        char *argv[] = {"ip", "netns", "exec", (char *)name, "cat", (char *)path, NULL};

        return run_for_int(argv);
}

/* The CRI path: a bind-mounted netns file made before the sandbox. */
static void test_join_netns(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_spec_ struct ps_spec *spec = NULL;
        struct ps_infra_spec s;
        char name[32], file[64], json[256];

        snprintf(name, sizeof(name), "ps-infra-%d", getpid());
        snprintf(file, sizeof(file), "/run/netns/%s", name);
        CHECK(ip_netns("add", name) == 0);
        snprintf(json, sizeof(json),
                 "{\"namespaces\":[{\"type\":\"network\",\"path\":\"%s\"}],"
                 "\"sysctl\":{\"net.ipv4.ip_unprivileged_port_start\":\"77\"}}",
                 file);
        spec = spec_of(json);
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        if (!spec || e) {
                ip_netns("delete", name);
                return;
        }
        CHECK(!s.new_net && s.netns_path && !s.new_pid);
        pid_t pid = spawn_and_wait(&s, NULL, &e);
        CHECK(pid > 0);
        if (pid > 0) { /* never kill(-1, ...) */
                CHECK(ns_is(pid, "net", file));
                CHECK_INTEQ(netns_sysctl(name, "/proc/sys/net/ipv4/ip_unprivileged_port_start"),
                            77);
                kill(pid, SIGKILL);
                wait_exit(pid, 3000);
        } else {
                fprintf(stderr, "spawn: %s\n", ps_err_msg(e));
        }
        ip_netns("delete", name);

        e = ps_err_free(e);
        spec = ps_spec_free(spec);
        spec = spec_of("{\"namespaces\":[{\"type\":\"network\",\"path\":\"/nonexistent/netns\"}]}");
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        if (spec && !e) {
                CHECK(spawn_and_wait(&s, NULL, &e) < 0);
                CHECK(e && strstr(ps_err_msg(e), "network namespace") != NULL);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* What the infra process makes of a spec, without spawning it. */
static void test_spec_from(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_spec_ struct ps_spec *spec = NULL;
        struct ps_infra_spec s;

        /* the user's ids, a kept hostname, joined ipc/uts, sysctls in order */
        spec = spec_of("{\"namespaces\":[{\"type\":\"ipc\",\"path\":\"/proc/1/ns/ipc\"},"
                       "{\"type\":\"uts\",\"path\":\"/proc/1/ns/uts\"},{\"type\":\"mount\"}],"
                       "\"sysctl\":{\"kernel.shmmax\":\"1\",\"net/ipv4/ip_forward\":\"0\"}}");
        CHECK(spec != NULL);
        if (!spec)
                return;
        spec->uid = 1000;
        spec->gid = 2000;
        CHECK(ps_infra_spec_from(spec, &s, &e) == 0);
        CHECK(s.uid == 1000 && s.gid == 2000 && !s.has_oom_score_adj);
        CHECK(!s.new_pid && !s.new_net && !s.new_ipc && !s.new_uts && !s.netns_path);
        CHECK_STREQ(s.ipc_path, "/proc/1/ns/ipc");
        CHECK_STREQ(s.uts_path, "/proc/1/ns/uts");
        CHECK(s.hostname == NULL);
        CHECK_INTEQ(s.n_sysctls, 2);
        if (s.n_sysctls == 2) {
                CHECK_STREQ(s.sysctls[0].key, "kernel.shmmax");
                CHECK_STREQ(s.sysctls[1].value, "0");
        }
        spec = ps_spec_free(spec);

        /* what an infra process cannot do */
        static const char *const refused[] = {
            "{\"namespaces\":[{\"type\":\"pid\",\"path\":\"/proc/1/ns/pid\"}]}",
            /* a new user namespace needs both maps */
            "{\"namespaces\":[{\"type\":\"user\"}]}",
            "{\"namespaces\":[{\"type\":\"user\"}]," UIDMAP "}",
            /* maps without a user namespace */
            "{" UIDMAP "," GIDMAP "}",
            /* maps the kernel refuses */
            "{\"namespaces\":[{\"type\":\"user\"}]," UIDMAP ",\"gidMappings\":["
            "{\"containerID\":0,\"hostID\":100000,\"size\":65536},"
            "{\"containerID\":70000,\"hostID\":100001,\"size\":1}]}",
            /* the default uid 65535 unmapped, by a new or a joined namespace's maps */
            "{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":0,"
            "\"hostID\":100000,\"size\":1000}]," GIDMAP "}",
            "{\"namespaces\":[{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"}]," UIDMAP
            ",\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":1000}]}",
            "{\"sysctl\":{\"../../etc/x\":\"1\"}}",
            "{\"sysctl\":{\".net\":\"1\"}}",
            "{\"sysctl\":{\"\":\"1\"}}",
            "{\"sysctl\":{\"net.a b\":\"1\"}}",
        };
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                spec = spec_of(refused[i]);
                CHECK(spec != NULL);
                CHECK(spec && ps_infra_spec_from(spec, &s, &e) < 0 && e &&
                      e->code == PS_INVALID_ARGUMENT);
                e = ps_err_free(e);
                spec = ps_spec_free(spec);
        }
        /* a user namespace: new with its maps, or joined, with or without */
        spec = spec_of("{\"namespaces\":[{\"type\":\"user\"},{\"type\":\"pid\"}]," UIDMAP "," GIDMAP
                       "}");
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        CHECK(s.new_user && !s.user_path && s.new_pid);
        CHECK(s.n_uid_map == 1 && s.uid_map && s.uid_map[0].host_id == 100000);
        CHECK(s.n_gid_map == 1 && s.gid_map && s.gid_map[0].size == 65536);
        spec = ps_spec_free(spec);
        spec = spec_of("{\"namespaces\":[{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"}]}");
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        CHECK(!s.new_user && s.user_path && strcmp(s.user_path, "/proc/1/ns/user") == 0);
        CHECK(s.n_uid_map == 0 && s.n_gid_map == 0);
        spec = ps_spec_free(spec);

        /* a sysctl name of 200 bytes is the most write_sysctl's path takes */
        char name[256], json[320];
        memset(name, 'a', sizeof(name));
        name[200] = '\0';
        snprintf(json, sizeof(json), "{\"sysctl\":{\"%s\":\"1\"}}", name);
        spec = spec_of(json);
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        spec = ps_spec_free(spec);
        name[200] = 'a';
        name[201] = '\0';
        snprintf(json, sizeof(json), "{\"sysctl\":{\"%s\":\"1\"}}", name);
        spec = spec_of(json);
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) < 0);
}

/* The user namespace that owns pid's namespace `kind` is pid's own user
 * namespace (and not ours). */
static bool owned_by_its_userns(pid_t pid, const char *kind)
{
        char path[64];
        struct stat owner, user;
        int fd, ufd;

        snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ufd = ioctl(fd, NS_GET_USERNS);
        close(fd);
        if (ufd < 0)
                return false;
        snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
        bool same = fstat(ufd, &owner) == 0 && stat(path, &user) == 0 &&
                    owner.st_ino == user.st_ino && owner.st_dev == user.st_dev;
        close(ufd);
        return same;
}

/* The whole map file of pid, as the kernel shows it to us. */
static bool map_is(pid_t pid, const char *file, uint32_t c, uint32_t h, uint32_t n)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct ps_idmap *m = NULL;
        char path[64];
        size_t len = 0, nm = 0;

        snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
        if (ps_read_file(path, 1 << 16, &text, &len, &e) < 0 ||
            ps_idmap_parse(text, len, &m, &nm, &e) < 0)
                return false;
        return nm == 1 && m[0].container_id == c && m[0].host_id == h && m[0].size == n;
}

/* A sysctl as a process in pid's network namespace reads it. */
static int sysctl_in_netns_of(pid_t pid, const char *file)
{
        char t[16];

        snprintf(t, sizeof(t), "%d", pid);
        char *argv[] = {"nsenter", "-t", t, "-n", "cat", (char *)file, NULL};

        return run_for_int(argv);
}

static void stop(pid_t pid)
{
        if (pid <= 0) /* never kill(-1, ...) */
                return;
        kill(pid, SIGKILL);
        wait_exit(pid, 3000);
}

/* A new user namespace (a pod made by ctr, or a runtime that lets the
 * runtime make it): the parent wrote the spec's maps, every other new
 * namespace belongs to it, the sysctl went into the new netns from inside,
 * and the infra process is 65535 inside, 165535 on the host. */
static pid_t spawn_new_userns(const char *helper)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_spec_ struct ps_spec *spec = NULL;
        _cleanup_free_ char *uid = NULL, *gid = NULL, *cap = NULL, *nspid = NULL;
        struct ps_infra_spec s;

        spec = spec_of("{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},"
                       "{\"type\":\"uts\"},{\"type\":\"network\"},{\"type\":\"user\"},"
                       "{\"type\":\"mount\"}],"
                       "\"sysctl\":{\"net.ipv4.ip_unprivileged_port_start\":\"0\"}," UIDMAP
                       "," GIDMAP "}");
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        if (!spec || e)
                return -1;
        pid_t pid = spawn_and_wait(&s, helper, &e);
        CHECK(pid > 0);
        if (pid <= 0) {
                fprintf(stderr, "spawn: %s\n", ps_err_msg(e));
                return -1;
        }
        CHECK(map_is(pid, "uid_map", 0, 100000, 65536));
        CHECK(map_is(pid, "gid_map", 0, 100000, 65536));
        uid = status_field(pid, "Uid:");
        gid = status_field(pid, "Gid:");
        cap = status_field(pid, "CapEff:");
        nspid = status_field(pid, "NSpid:");
        CHECK(uid && strncmp(uid, "165535\t165535\t165535\t165535", 27) == 0);
        CHECK(gid && strncmp(gid, "165535\t165535\t165535\t165535", 27) == 0);
        CHECK_STREQ(cap, "0000000000000000");
        CHECK(nspid && strstr(nspid, "\t1") != NULL);
        CHECK(!same_ns(pid, "user"));
        CHECK(owned_by_its_userns(pid, "pid") && owned_by_its_userns(pid, "ipc") &&
              owned_by_its_userns(pid, "uts") && owned_by_its_userns(pid, "net"));
        CHECK_INTEQ(sysctl_in_netns_of(pid, "/proc/sys/net/ipv4/ip_unprivileged_port_start"), 0);
        return pid;
}

static void test_userns_new(void)
{
        _cleanup_free_ char *helper = ps_infra_helper_path();
        pid_t pid = spawn_new_userns(NULL);

        stop(pid);
        /* the helper, exec'd as a mapped id, and its clean exit */
        pid = spawn_new_userns(helper);
        if (pid > 0) {
                kill(pid, SIGTERM);
                int st = wait_exit(pid, 3000);
                CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
}

/* Another pod's spawn against a user namespace (and network namespace)
 * that exist already: CRI 2.1's case, where containerd made both. */
static pid_t spawn_joining(pid_t owner, const char *maps, uint32_t uid, struct ps_err **err)
{
        _cleanup_spec_ struct ps_spec *spec = NULL;
        struct ps_infra_spec s;
        char json[1024];

        snprintf(json, sizeof(json),
                 "{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
                 "{\"type\":\"network\",\"path\":\"/proc/%d/ns/net\"},"
                 "{\"type\":\"user\",\"path\":\"/proc/%d/ns/user\"}]%s%s}",
                 owner, owner, maps ? "," : "", maps ? maps : "");
        spec = spec_of(json);
        if (!spec)
                return ps_err_set(err, PS_INTERNAL, "spec");
        spec->uid = spec->gid = uid;
        if (ps_infra_spec_from(spec, &s, err) < 0)
                return -1;
        return spawn_and_wait(&s, NULL, err);
}

static void test_userns_join(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        pid_t owner = spawn_new_userns(NULL), pid;

        if (owner <= 0)
                return;
        /* the spec's maps are the namespace's, as containerd 2.1 sends them */
        pid = spawn_joining(owner, UIDMAP "," GIDMAP, 0, &e);
        CHECK(pid > 0);
        if (pid > 0) {
                CHECK(same_pid_ns_file(pid, owner, "user") && same_pid_ns_file(pid, owner, "net"));
                CHECK(!same_pid_ns_file(pid, owner, "pid") &&
                      !same_pid_ns_file(pid, owner, "ipc") && !same_pid_ns_file(pid, owner, "uts"));
                CHECK(owned_by_its_userns(pid, "pid") && owned_by_its_userns(pid, "ipc") &&
                      owned_by_its_userns(pid, "uts") && owned_by_its_userns(pid, "net"));
                _cleanup_free_ char *uid = status_field(pid, "Uid:");
                CHECK(uid && strncmp(uid, "165535\t", 7) == 0);
        } else {
                fprintf(stderr, "spawn: %s\n", ps_err_msg(e));
        }
        stop(pid);
        e = ps_err_free(e);
        /* no maps in the spec: the namespace's own are used */
        pid = spawn_joining(owner, NULL, 1000, &e);
        CHECK(pid > 0);
        if (pid > 0) {
                _cleanup_free_ char *uid = status_field(pid, "Uid:");
                CHECK(uid && strncmp(uid, "101000\t", 7) == 0);
        }
        stop(pid);
        e = ps_err_free(e);
        /* maps that are not the namespace's (runc's rule) */
        pid = spawn_joining(owner,
                            "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,"
                            "\"size\":70000}]," GIDMAP,
                            0, &e);
        CHECK(pid < 0 && e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "differ"));
        e = ps_err_free(e);
        /* an id the joined namespace does not map */
        pid = spawn_joining(owner, NULL, 70000, &e);
        CHECK(pid < 0 && e && e->code == PS_INVALID_ARGUMENT &&
              strstr(ps_err_msg(e), "does not map"));
        e = ps_err_free(e);
        stop(owner);

        /* a user namespace path that is not one: the first stage's report */
        _cleanup_spec_ struct ps_spec *spec =
            spec_of("{\"namespaces\":[{\"type\":\"user\",\"path\":\"/proc/self/ns/net\"}]}");
        struct ps_infra_spec s;
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        if (spec && !e) {
                CHECK(spawn_and_wait(&s, NULL, &e) < 0);
                CHECK(e && strstr(ps_err_msg(e), "join the user namespace") != NULL);
        }
        e = ps_err_free(e);
        spec = ps_spec_free(spec);
        spec = spec_of("{\"namespaces\":[{\"type\":\"user\",\"path\":\"/nonexistent/user\"}]}");
        CHECK(spec && ps_infra_spec_from(spec, &s, &e) == 0);
        if (spec && !e) {
                CHECK(spawn_and_wait(&s, NULL, &e) < 0);
                CHECK(e && e->code == PS_NOT_FOUND && strstr(ps_err_msg(e), "user namespace"));
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

int main(void)
{
        RUN(test_infra_inline);
        RUN(test_infra_helper);
        RUN(test_born_in_cgroup);
        RUN(test_enters_pod_cgroup_inline);
        RUN(test_enters_pod_cgroup_helper);
        RUN(test_spec_from);
        RUN(test_join_netns);
        RUN(test_userns_new);
        RUN(test_userns_join);
        return check_summary();
}
