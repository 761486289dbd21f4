/* A VM pod's bundle share (sandbox/vm/share.h) against the real kernel
 * (needs root), in a mount namespace of its own so that a failing test
 * leaves nothing on the host: the share is a private mount; a member's
 * bind brings its rootfs along; its removal and the share's leave no mount
 * and no directory; binds never propagate out of the share, even where its
 * parent is shared; a stale share is cleared; an id that is no path
 * component is refused. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "check.h"
#include "scratch.h"
#include "sandbox/vm/binds.h"
#include "sandbox/vm/share.h"

static char tmpdir[64];

/* mount_setattr(2) (Linux 5.12): ENOSYS on older kernels and under
 * valgrind, which does not know the call; a real kernel says EBADF here. */
static bool have_mount_setattr(void)
{
        return syscall(SYS_mount_setattr, -1, "", 0, NULL, 0) == 0 || errno != ENOSYS;
}

static char *path_of(const char *fmt, const char *a)
{
        char *p = NULL, *rel = NULL;

        if (asprintf(&rel, fmt, a) < 0 || asprintf(&p, "%s/%s", tmpdir, rel) < 0)
                abort();
        free(rel);
        return p;
}

/* Whether something is mounted exactly at `path`. */
static bool mounted_at(const char *path)
{
        _cleanup_free_ char *buf = NULL;
        char *line, *save = NULL;

        if (ps_read_file("/proc/self/mountinfo", 16u << 20, &buf, NULL, NULL) < 0)
                return false;
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char mp[PATH_MAX];

                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, path) == 0)
                        return true;
        }
        return false;
}

/* Mount entries at or below `dir`, and whether `dir`'s own one is private
 * (no shared: or master: tag). */
static int count_mounts(const char *dir, bool *ret_private)
{
        _cleanup_free_ char *buf = NULL;
        char *line, *save = NULL;
        size_t n = strlen(dir);
        int count = 0;

        if (ps_read_file("/proc/self/mountinfo", 16u << 20, &buf, NULL, NULL) < 0)
                return -1;
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char mp[PATH_MAX];

                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || strncmp(mp, dir, n) != 0 ||
                    (mp[n] != '\0' && mp[n] != '/'))
                        continue;
                count++;
                if (mp[n] == '\0' && ret_private)
                        *ret_private = !strstr(line, " shared:") && !strstr(line, " master:");
        }
        return count;
}

/* A bundle with a config.json and a tmpfs as its rootfs (a mounted
 * snapshot's stand-in). */
static char *make_bundle(const char *id)
{
        char *bundle = path_of("bundles/%s", id);
        _cleanup_free_ char *rootfs = path_of("bundles/%s/rootfs", id);
        _cleanup_free_ char *cfg = path_of("bundles/%s/rootfs/marker", id);

        if (ps_mkdir_p(rootfs, 0711, NULL) < 0 || mount("tmpfs", rootfs, "tmpfs", 0, NULL) < 0 ||
            ps_write_file_atomic(cfg, "m", 1, 0644, NULL) < 0)
                abort();
        return bundle;
}

static void test_share_lifecycle(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ char *dir = path_of("%s", "p1.bundles");
        _cleanup_free_ char *a = make_bundle("a"), *b = make_bundle("b");
        _cleanup_free_ char *at_a = path_of("p1.bundles/%s", "a");
        _cleanup_free_ char *marker = path_of("p1.bundles/%s/rootfs/marker", "a");
        _cleanup_free_ char *at_b = path_of("p1.bundles/%s", "b");
        struct ps_vm_share *s = ps_vm_share_new(dir, &err);
        bool priv = false;
        struct stat st;

        CHECK(s != NULL);
        if (!s)
                return;
        CHECK_STREQ(ps_vm_share_path(s), dir);
        CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700);
        CHECK_INTEQ(count_mounts(dir, &priv), 1);
        CHECK(priv);

        CHECK_INTEQ(ps_vm_share_add(s, "a", a, &err), 0);
        CHECK_INTEQ(ps_vm_share_add(s, "b", b, &err), 0);
        CHECK(access(marker, F_OK) == 0); /* the rootfs came along */
        CHECK_INTEQ(count_mounts(dir, NULL), 5);
        CHECK_INTEQ(ps_vm_share_add(s, "a", a, &err), -1);
        CHECK(err && err->code == PS_ALREADY_EXISTS);
        ps_err_free(TAKE_PTR(err));
        CHECK_INTEQ(count_mounts(dir, NULL), 5);

        /* one member goes: its bind, its rootfs's copy and its directory */
        CHECK_INTEQ(ps_vm_share_remove(s, "a", &err), 0);
        CHECK(access(at_a, F_OK) < 0 && errno == ENOENT);
        CHECK_INTEQ(count_mounts(dir, NULL), 3);
        CHECK_INTEQ(ps_vm_share_remove(s, "a", &err), 0); /* gone already */
        CHECK(mounted_at(at_b));

        /* the share goes with what it still holds */
        CHECK(ps_vm_share_free(s) == NULL);
        CHECK_INTEQ(count_mounts(dir, NULL), 0);
        CHECK(access(dir, F_OK) < 0 && errno == ENOENT);
        /* the bundles themselves are untouched */
        CHECK(access(marker, F_OK) < 0);
        free(marker);
        marker = path_of("bundles/%s/rootfs/marker", "a");
        CHECK(access(marker, F_OK) == 0);
}

/* Where the share's parent is shared (the host's / under systemd), the
 * share's own mount reaches the parent's peers, the binds below it do
 * not, and the share's removal takes the peers' copy with it. */
static void test_share_propagation(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ char *parent = path_of("%s", "run"), *peer = path_of("%s", "peer");
        _cleanup_free_ char *dir = path_of("%s", "run/p2.bundles");
        _cleanup_free_ char *peer_dir = path_of("%s", "peer/p2.bundles");
        _cleanup_free_ char *peer_at = path_of("%s", "peer/p2.bundles/c");
        _cleanup_free_ char *c = make_bundle("c");
        struct ps_vm_share *s;

        if (ps_mkdir_p(parent, 0700, NULL) < 0 || ps_mkdir_p(peer, 0700, NULL) < 0 ||
            mount("tmpfs", parent, "tmpfs", 0, NULL) < 0 ||
            mount("none", parent, "none", MS_SHARED, NULL) < 0 ||
            mount(parent, peer, "none", MS_BIND, NULL) < 0) {
                CHECK(!"set up a shared parent");
                return;
        }
        s = ps_vm_share_new(dir, &err);
        CHECK(s != NULL);
        if (!s)
                return;
        CHECK(mounted_at(peer_dir));
        CHECK_INTEQ(ps_vm_share_add(s, "c", c, &err), 0);
        CHECK(!mounted_at(peer_at));
        CHECK_INTEQ(count_mounts(peer, NULL), 2); /* peer itself, its copy of the share */
        ps_vm_share_free(s);
        CHECK_INTEQ(count_mounts(dir, NULL), 0);
        CHECK_INTEQ(count_mounts(peer, NULL), 1);
        umount2(peer, MNT_DETACH);
        umount2(parent, MNT_DETACH);
}

/* A share a dead shim left, a member still bound in it, is cleared and
 * made anew; an id that is not one path component is refused. */
static void test_share_stale_and_bad_ids(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ char *dir = path_of("%s", "p3.bundles");
        _cleanup_free_ char *at_d = path_of("p3.bundles/%s", "d");
        _cleanup_free_ char *d = make_bundle("d");
        const char *bad[] = {"..", "a/b", "", ".hidden", "x/../../y"};
        struct ps_vm_share *s;

        /* what a shim that died leaves: the share and a bind in it */
        if (ps_mkdir_p(at_d, 0700, NULL) < 0 || mount(dir, dir, "none", MS_BIND, NULL) < 0 ||
            mount(d, at_d, "none", MS_BIND | MS_REC, NULL) < 0) {
                CHECK(!"set up a stale share");
                return;
        }
        CHECK_INTEQ(count_mounts(dir, NULL), 3);
        s = ps_vm_share_new(dir, &err);
        CHECK(s != NULL);
        if (!s)
                return;
        CHECK_INTEQ(count_mounts(dir, NULL), 1);
        CHECK(access(at_d, F_OK) < 0 && errno == ENOENT);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                CHECK_INTEQ(ps_vm_share_add(s, bad[i], d, &err), -1);
                CHECK(err && err->code == PS_INVALID_ARGUMENT);
                ps_err_free(TAKE_PTR(err));
        }
        ps_vm_share_free(s);
        CHECK_INTEQ(count_mounts(dir, NULL), 0);
}

#define GUEST_DIR "/run/containerd/io.containerd.runtime.v2.task/k8s.io"

/* The source of mounts[i] in the bundle's config.json (the caller frees). */
static char *source_of(const char *bundle, int i)
{
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_json_ cJSON *tree = NULL;
        const cJSON *src;

        if (asprintf(&path, "%s/config.json", bundle) < 0 ||
            ps_read_file(path, 1u << 20, &buf, NULL, NULL) < 0)
                return NULL;
        tree = cJSON_Parse(buf);
        src = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(tree, "mounts"), i),
                                  "source");
        return cJSON_IsString(src) ? strdup(src->valuestring) : NULL;
}

/* A member's binds of host paths (sandbox/vm/binds.h): those the guest
 * lacks go into the share, read-only where the spec says ro (submounts
 * too), and config.json names them at the guest's path; the guest's own
 * (/proc, its share's path, a relative source) and non-binds stay; a
 * missing source is INVALID_ARGUMENT; removal and the share's free take
 * every bind. */
static void test_share_binds(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ char *dir = path_of("%s", "p4.bundles");
        _cleanup_free_ char *e = make_bundle("e"), *f = make_bundle("f");
        _cleanup_free_ char *host = path_of("%s", "host"), *sub = path_of("%s", "host/data/sub");
        _cleanup_free_ char *hosts = path_of("%s", "host/hosts");
        _cleanup_free_ char *marker = path_of("%s", "host/data/sub/marker");
        _cleanup_free_ char *cfg = NULL, *spec = NULL, *src = NULL, *p = NULL;
        _cleanup_free_ char *binds = path_of("%s", "p4.bundles/.e.mounts");
        const char *guest_srcs[] = {GUEST_DIR "/.e.mounts/0", GUEST_DIR "/.e.mounts/1", "proc",
                                    "/proc/self/ns",          GUEST_DIR "/other",       "relative",
                                    GUEST_DIR "/.e.mounts/6"};
        struct ps_vm_share *s;
        int fd;

        if (ps_mkdir_p(sub, 0755, NULL) < 0 || mount("tmpfs", sub, "tmpfs", 0, NULL) < 0 ||
            ps_write_file_atomic(marker, "m", 1, 0644, NULL) < 0 ||
            ps_write_file_atomic(hosts, "127.0.0.1 x\n", 12, 0644, NULL) < 0)
                abort();
        if (asprintf(
                &spec,
                "{\"mounts\":["
                "{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"%s/host/hosts\","
                "\"options\":[\"rbind\",\"rprivate\",\"ro\"]},"
                "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"%s/host/data\","
                "\"options\":[\"rbind\",\"rw\"]},"
                "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                "{\"destination\":\"/ns\",\"type\":\"none\",\"source\":\"/proc/self/ns\","
                "\"options\":[\"bind\"]},"
                "{\"destination\":\"/o\",\"type\":\"bind\",\"source\":\"" GUEST_DIR
                "/other\",\"options\":[\"rbind\"]},"
                "{\"destination\":\"/r\",\"type\":\"bind\",\"source\":\"relative\"},"
                "{\"destination\":\"/d2\",\"type\":\"bind\",\"source\":\"%s/host/data\","
                "\"options\":[\"rbind\",\"ro\"]}]}",
                tmpdir, tmpdir, tmpdir) < 0 ||
            asprintf(&cfg, "%s/config.json", e) < 0 ||
            ps_write_file_atomic(cfg, spec, strlen(spec), 0600, NULL) < 0)
                abort();
        s = ps_vm_share_new(dir, &err);
        CHECK(s != NULL);
        if (!s)
                return;
        CHECK_INTEQ(ps_vm_binds_share(s, "e", e, GUEST_DIR, &err), 0);
        for (int i = 0; i < 7; i++) {
                free(src);
                src = source_of(e, i);
                CHECK_STREQ(src, guest_srcs[i]);
        }
        /* 0: a file, read-only; 1: a directory with its submount, writable;
         * 6: the same directory read-only, the submount too */
        free(p);
        p = path_of("%s", "p4.bundles/.e.mounts/0");
        CHECK(access(p, R_OK) == 0);
        fd = open(p, O_WRONLY | O_CLOEXEC);
        CHECK(fd < 0 && errno == EROFS);
        if (fd >= 0)
                close(fd);
        free(p);
        p = path_of("%s", "p4.bundles/.e.mounts/1/sub/marker");
        CHECK(access(p, R_OK) == 0);
        free(p);
        p = path_of("%s", "p4.bundles/.e.mounts/1/sub/new");
        CHECK(ps_write_file_atomic(p, "n", 1, 0644, NULL) == 0);
        free(p);
        p = path_of("%s", "p4.bundles/.e.mounts/6/sub/new2");
        if (have_mount_setattr()) {
                CHECK(ps_write_file_atomic(p, "n", 1, 0644, &err) < 0);
                CHECK(err && err->errnum == EROFS);
                ps_err_free(TAKE_PTR(err));
        } else {
                /* the documented fallback: the top mount alone read-only,
                 * as runc's "ro" on an rbind */
                CHECK(ps_write_file_atomic(p, "n", 1, 0644, NULL) == 0);
        }
        CHECK_INTEQ(count_mounts(binds, NULL), 5); /* 0, 1 and its sub, 6 and its sub */

        /* a missing source: refused, named */
        free(spec);
        free(cfg);
        if (asprintf(&spec,
                     "{\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\","
                     "\"source\":\"%s/host/nothing\"}]}",
                     tmpdir) < 0 ||
            asprintf(&cfg, "%s/config.json", f) < 0 ||
            ps_write_file_atomic(cfg, spec, strlen(spec), 0600, NULL) < 0)
                abort();
        CHECK_INTEQ(ps_vm_binds_share(s, "f", f, GUEST_DIR, &err), -1);
        CHECK(err && err->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(err), "host/nothing"));
        ps_err_free(TAKE_PTR(err));
        CHECK_INTEQ(ps_vm_share_remove(s, "f", &err), 0);

        CHECK_INTEQ(ps_vm_share_remove(s, "e", &err), 0);
        CHECK(access(binds, F_OK) < 0 && errno == ENOENT);
        CHECK_INTEQ(count_mounts(dir, NULL), 1);
        CHECK(access(marker, F_OK) == 0); /* the host's files are untouched */
        /* sent again, the rewritten spec names the guest's paths only */
        CHECK_INTEQ(ps_vm_binds_share(s, "e", e, GUEST_DIR, &err), 0);
        CHECK(access(binds, F_OK) < 0 && errno == ENOENT);
        /* the share's free takes the binds of a member still there */
        free(spec);
        if (asprintf(&spec,
                     "{\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\","
                     "\"source\":\"%s\",\"options\":[\"rbind\"]}]}",
                     host) < 0 ||
            ps_write_file_atomic(cfg, spec, strlen(spec), 0600, NULL) < 0)
                abort();
        CHECK_INTEQ(ps_vm_binds_share(s, "f", f, GUEST_DIR, &err), 0);
        CHECK(count_mounts(dir, NULL) > 1);
        ps_vm_share_free(s);
        CHECK_INTEQ(count_mounts(dir, NULL), 0);
        CHECK(access(dir, F_OK) < 0 && errno == ENOENT);
        umount2(sub, MNT_DETACH);
}

int main(void)
{
        int r = test_private_tmpfs("test_vm_share", tmpdir, sizeof(tmpdir));

        if (r != 0)
                return r;
        RUN(test_share_lifecycle);
        RUN(test_share_propagation);
        RUN(test_share_stale_and_bad_ids);
        RUN(test_share_binds);
        test_private_tmpfs_end(tmpdir);
        return check_summary();
}
