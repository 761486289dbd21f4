/* The pod files of a shim-sandboxer pod (sandbox/pod_files.c) and the
 * spec binds that give them to its members (oci/spec_binds.c): what is
 * written, what a member's config.json gains and what it keeps, and that
 * nothing is left once the pod has ended. Runs as root (the pod's /dev/shm
 * is a tmpfs mount). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <cjson/cJSON.h>
#include <linux/magic.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "check.h"
#include "oci/spec_binds.h"
#include "sandbox/pod_files.h"
#include "scratch.h"

static char dir[] = "/tmp/podshim-test-pod-files-XXXXXX";

static void write_spec(const char *bundle, const char *json)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/config.json", bundle);
        CHECK(ps_write_file_atomic(path, json, strlen(json), 0640, NULL) == 0);
}

static char *read_in(const char *d, const char *name)
{
        char path[512];
        char *buf = NULL;

        snprintf(path, sizeof(path), "%s/%s", d, name);
        if (ps_read_file(path, 1 << 20, &buf, NULL, NULL) < 0)
                return NULL;
        return buf;
}

/* The mount at `dest` in <bundle>/config.json: its source, type and
 * options joined by commas, in a static buffer; NULL for none. */
static const char *mount_at(const char *bundle, const char *dest, int *ret_count)
{
        static char out[1024];
        _cleanup_free_ char *buf = read_in(bundle, "config.json");
        cJSON *root = buf ? cJSON_Parse(buf) : NULL, *m;
        const char *found = NULL;
        int count = 0;

        cJSON_ArrayForEach(m, cJSON_GetObjectItem(root, "mounts"))
        {
                cJSON *o, *first = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "options"), 0);

                if (strcmp(cJSON_GetObjectItem(m, "destination")->valuestring, dest) != 0)
                        continue;
                count++;
                snprintf(out, sizeof(out), "%s %s",
                         cJSON_GetStringValue(cJSON_GetObjectItem(m, "source")),
                         cJSON_GetStringValue(cJSON_GetObjectItem(m, "type")));
                cJSON_ArrayForEach(o, cJSON_GetObjectItem(m, "options"))
                {
                        size_t l = strlen(out);

                        snprintf(out + l, sizeof(out) - l, "%s%s", o == first ? " " : ",",
                                 o->valuestring);
                }
                found = out;
        }
        cJSON_Delete(root);
        if (ret_count)
                *ret_count = count;
        return found;
}

/* The member's config.json as the shim's Create holds it (read once), then
 * the binds. A file that is no JSON at all is NULL, which is refused. */
static cJSON *tree_of(const char *bundle)
{
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t len = 0;

        if (asprintf(&path, "%s/config.json", bundle) < 0 ||
            ps_read_file(path, 1 << 20, &buf, &len, NULL) < 0)
                return NULL;
        return cJSON_ParseWithLength(buf, len);
}

static int add_binds(const char *bundle, const struct ps_spec_bind *b, size_t n, size_t *added,
                     struct ps_err **e)
{
        _cleanup_json_ cJSON *tree = tree_of(bundle);

        return ps_spec_tree_add_binds(bundle, tree, b, n, added, e);
}

static int bind_files(const struct ps_pod_files *f, const char *bundle, bool ro, struct ps_err **e)
{
        _cleanup_json_ cJSON *tree = tree_of(bundle);

        return ps_pod_files_bind(f, bundle, tree, ro, e);
}

static void test_binds(void)
{
        static const char *const extra[] = {"nosuid", NULL};
        const struct ps_spec_bind b[] = {
            {"/etc/hosts", "/p/hosts", true, false, NULL},
            {"/etc/resolv.conf", "/p/resolv.conf", false, false, NULL},
            {"/dev/shm", "/p/shm", false, true, extra},
        };
        _cleanup_err_ struct ps_err *e = NULL;
        char path[512];
        struct stat st;
        size_t added = 99;
        int count;

        /* the user's own /etc/resolv.conf wins; the default /dev/shm tmpfs
         * is replaced in place */
        write_spec(dir, "{\"ociVersion\":\"1.2.0\",\"mounts\":["
                        "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                        "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\"},"
                        "{\"destination\":\"/etc/resolv.conf/\",\"type\":\"bind\","
                        "\"source\":\"/mine\"}]}");
        CHECK(add_binds(dir, b, 3, &added, &e) == 0);
        CHECK_INTEQ((int)added, 2);
        CHECK_STREQ(mount_at(dir, "/etc/hosts", &count), "/p/hosts bind rbind,rprivate,ro");
        CHECK_INTEQ(count, 1);
        CHECK_STREQ(mount_at(dir, "/dev/shm", &count), "/p/shm bind rbind,rprivate,rw,nosuid");
        CHECK_INTEQ(count, 1);
        CHECK(mount_at(dir, "/etc/resolv.conf", NULL) == NULL); /* kept as written */
        CHECK_STREQ(mount_at(dir, "/etc/resolv.conf/", NULL), "/mine bind");
        CHECK_STREQ(mount_at(dir, "/proc", NULL), "proc proc");
        snprintf(path, sizeof(path), "%s/config.json", dir);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);

        /* a second pass changes nothing; a bind at /dev/shm is the user's */
        CHECK(add_binds(dir, b, 3, &added, &e) == 0);
        CHECK_INTEQ((int)added, 0);

        /* no mounts at all: they are made */
        write_spec(dir, "{\"ociVersion\":\"1.2.0\"}");
        CHECK(add_binds(dir, b, 3, &added, &e) == 0);
        CHECK_INTEQ((int)added, 3);
        CHECK_STREQ(mount_at(dir, "/etc/resolv.conf", NULL),
                    "/p/resolv.conf bind rbind,rprivate,rw");

        /* what is no spec is refused, and left as it was */
        write_spec(dir, "{\"mounts\":{}}");
        CHECK(add_binds(dir, b, 3, NULL, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "array"));
        e = ps_err_free(e);
        write_spec(dir, "{\"mounts\":[1]}");
        CHECK(add_binds(dir, b, 3, NULL, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "objects"));
        e = ps_err_free(e);
        write_spec(dir, "[]");
        CHECK(add_binds(dir, b, 3, NULL, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        /* the file went between the read and the write-back */
        write_spec(dir, "{\"ociVersion\":\"1.2.0\"}");
        {
                _cleanup_json_ cJSON *tree = tree_of(dir);

                unlink(path);
                CHECK(ps_spec_tree_add_binds(dir, tree, b, 3, NULL, &e) < 0);
                CHECK(e && e->code == PS_NOT_FOUND);
        }
}

static bool is_tmpfs(const char *path)
{
        struct statfs sf;

        return statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

static void test_files(void)
{
        char *servers[] = {"10.0.0.10", "10.0.0.11"}, *searches[] = {"a.svc", "svc"},
             *options[] = {"ndots:5"};
        struct ps_pod_config cfg = {.hostname = "web-0",
                                    .has_dns = true,
                                    .dns_servers = servers,
                                    .n_dns_servers = 2,
                                    .dns_searches = searches,
                                    .n_dns_searches = 2,
                                    .dns_options = options,
                                    .n_dns_options = 1};
        struct ps_pod_files f = {0};
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ char *hosts = NULL, *host_hosts = NULL, *resolv = NULL, *name = NULL;
        char pod[512], member[512], shm[600];

        snprintf(pod, sizeof(pod), "%s/pod", dir);
        snprintf(member, sizeof(member), "%s/member", dir);
        snprintf(shm, sizeof(shm), "%s/shm", pod);
        CHECK(mkdir(pod, 0700) == 0 && mkdir(member, 0700) == 0);
        CHECK(ps_pod_files_create(&f, pod, &cfg, &e) == 0);
        CHECK_STREQ(name = read_in(pod, "hostname"), "web-0\n");
        CHECK_STREQ(resolv = read_in(pod, "resolv.conf"),
                    "search a.svc svc\nnameserver 10.0.0.10\nnameserver 10.0.0.11\n"
                    "options ndots:5\n");
        CHECK(ps_read_file("/etc/hosts", 1 << 20, &host_hosts, NULL, NULL) == 0);
        CHECK_STREQ(hosts = read_in(pod, "hosts"), host_hosts);
        CHECK(f.shm && is_tmpfs(shm));

        write_spec(member,
                   "{\"ociVersion\":\"1.2.0\",\"mounts\":["
                   "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\"}]}");
        CHECK(bind_files(&f, member, true, &e) == 0);
        CHECK(strstr(mount_at(member, "/etc/hostname", NULL),
                     "/pod/hostname bind rbind,rprivate,ro"));
        CHECK(strstr(mount_at(member, "/dev/shm", NULL),
                     "/pod/shm bind rbind,rprivate,rw,nosuid,nodev,noexec"));

        /* the pod ends: nothing is left, and no member may join any more */
        ps_pod_files_release(&f);
        CHECK(access(shm, F_OK) < 0 && access(pod, F_OK) == 0);
        free(name);
        CHECK((name = read_in(pod, "hostname")) == NULL);
        CHECK(bind_files(&f, member, false, &e) < 0);
        CHECK(e && e->code == PS_FAILED_PRECONDITION);
        ps_pod_files_clear(&f);
        CHECK(f.dir == NULL);

        /* host IPC: no shm of the pod's own; no DNS config: the host's */
        cfg.ipc = PS_POD_NS_NODE;
        cfg.has_dns = false;
        CHECK(ps_pod_files_create(&f, pod, &cfg, &e) == 0);
        CHECK(!f.shm && access(shm, F_OK) < 0);
        free(resolv);
        free(host_hosts);
        CHECK_STREQ(resolv = read_in(pod, "resolv.conf"),
                    host_hosts = read_in("/etc", "resolv.conf"));
        write_spec(member,
                   "{\"ociVersion\":\"1.2.0\",\"mounts\":["
                   "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\"}]}");
        CHECK(bind_files(&f, member, false, &e) == 0);
        CHECK_STREQ(mount_at(member, "/dev/shm", NULL), "shm tmpfs");
        ps_pod_files_clear(&f);

        /* a pod directory that cannot take the files leaves nothing */
        snprintf(shm, sizeof(shm), "%s/none", dir);
        CHECK(ps_pod_files_create(&f, shm, &cfg, &e) < 0);
        CHECK(e && f.dir == NULL);
}

/* A DNS entry is one resolv.conf token: what could end its line or add
 * a second token is refused before any file is written. */
static void test_dns_refused(void)
{
        char *bad[] = {"10.0.0.1\noptions debug"}, *blank[] = {"a b"}, *empty[] = {""};
        char *many[PS_POD_MAX_DNS_ENTRIES + 1];
        struct ps_pod_config cfg = {.has_dns = true};
        struct ps_spec *spec = NULL;
        _cleanup_err_ struct ps_err *e = NULL;

        for (size_t i = 0; i <= PS_POD_MAX_DNS_ENTRIES; i++)
                many[i] = "x";
        cfg.dns_servers = bad;
        cfg.n_dns_servers = 1;
        CHECK(ps_pod_spec_build("p1", NULL, NULL, &cfg, 0, &spec, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "control"));
        e = ps_err_free(e);
        cfg.dns_servers = NULL;
        cfg.n_dns_servers = 0;
        cfg.dns_searches = blank;
        cfg.n_dns_searches = 1;
        CHECK(ps_pod_spec_build("p1", NULL, NULL, &cfg, 0, &spec, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "searches"));
        e = ps_err_free(e);
        cfg.dns_searches = empty;
        CHECK(ps_pod_spec_build("p1", NULL, NULL, &cfg, 0, &spec, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "empty"));
        e = ps_err_free(e);
        cfg.dns_searches = NULL;
        cfg.n_dns_searches = 0;
        cfg.dns_options = many;
        cfg.n_dns_options = PS_POD_MAX_DNS_ENTRIES + 1;
        CHECK(ps_pod_spec_build("p1", NULL, NULL, &cfg, 0, &spec, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "more than"));
        e = ps_err_free(e);
        cfg.n_dns_options = PS_POD_MAX_DNS_ENTRIES;
        CHECK(ps_pod_spec_build("p1", NULL, NULL, &cfg, 0, &spec, &e) == 0);
        ps_spec_free(spec);
}

int main(void)
{
        CHECK(mkdtemp(dir) != NULL);
        RUN(test_binds);
        RUN(test_files);
        RUN(test_dns_refused);
        test_rm_rf(dir);
        return check_summary();
}
