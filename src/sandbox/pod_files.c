#include "sandbox/pod_files.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "oci/spec_binds.h"
#include "sandbox/linux/mount.h"

/* Host files copied into the pod are small; a bound read keeps a huge or
 * endless file from filling the shim's memory. */
#define HOST_FILE_MAX (1u << 20)

static const char *const names[] = {"hostname", "hosts", "resolv.conf"};

static int write_in(const char *dir, const char *name, const char *data, size_t len,
                    struct ps_err **err)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod files");
        return ps_write_file_atomic(path, data, len, 0644, err);
}

static int copy_host_file(const char *dir, const char *name, const char *host_path,
                          struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        if (ps_read_file(host_path, HOST_FILE_MAX, &buf, &len, err) < 0)
                return ps_err_prefix(err, "pod %s", name);
        return write_in(dir, name, buf, len, err);
}

static int write_hostname(const char *dir, const struct ps_pod_config *cfg, struct ps_err **err)
{
        char host[HOST_NAME_MAX + 1] = "", line[HOST_NAME_MAX + 2];
        const char *name = cfg->hostname;
        int len;

        if (!name || !*name) {
                if (gethostname(host, sizeof(host) - 1) < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "pod hostname: gethostname");
                name = host;
        }
        len = snprintf(line, sizeof(line), "%s\n", name);
        if (len < 0 || (size_t)len >= sizeof(line))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "pod hostname: too long");
        return write_in(dir, "hostname", line, (size_t)len, err);
}

static int append_line(FILE *f, const char *key, char *const *v, size_t n)
{
        if (!n)
                return 0;
        if (fputs(key, f) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (fprintf(f, " %s", v[i]) < 0)
                        return -1;
        return fputc('\n', f) < 0 ? -1 : 0;
}

/* resolv.conf as CRI writes it from a DNS config (parseDNSOptions): one
 * search line, a nameserver line per server, one options line. */
static int write_resolv_conf(const char *dir, const struct ps_pod_config *cfg, struct ps_err **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f;
        int r = 0;

        if (!cfg->has_dns)
                return copy_host_file(dir, "resolv.conf", "/etc/resolv.conf", err);
        f = open_memstream(&text, &len);
        if (!f)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pod resolv.conf");
        r |= append_line(f, "search", cfg->dns_searches, cfg->n_dns_searches);
        for (size_t i = 0; i < cfg->n_dns_servers; i++)
                r |= fprintf(f, "nameserver %s\n", cfg->dns_servers[i]) < 0 ? -1 : 0;
        r |= append_line(f, "options", cfg->dns_options, cfg->n_dns_options);
        if (fclose(f) != 0 || r < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod resolv.conf");
        return write_in(dir, "resolv.conf", text ? text : "", len, err);
}

static int mount_shm(const char *dir, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL;
        char data[64];

        if (asprintf(&path, "%s/shm", dir) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod shm");
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pod shm: mkdir %s", path);
        snprintf(data, sizeof(data), "mode=1777,size=%u", PS_POD_SHM_SIZE);
        if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data) < 0) {
                int e = errno;

                rmdir(path);
                return ps_err_errno(err, e, PS_UNKNOWN, "pod shm: mount tmpfs on %s", path);
        }
        return 0;
}

static void unmount_shm(const char *dir)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_err_ struct ps_err *e = NULL;

        if (asprintf(&path, "%s/shm", dir) < 0)
                return;
        /* Every mount stacked there, detached if a member's mount namespace
         * still holds it (sandbox/linux/mount.h). */
        if (ps_unmount_all(path, &e) < 0)
                ps_log_warn("pod shm: %s", ps_err_msg(e));
        if (rmdir(path) < 0 && errno != ENOENT)
                ps_log_warn("pod shm: remove %s: %s", path, strerror(errno));
}

static void remove_files(const char *dir)
{
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, names[i]) >= 0 && unlink(path) < 0 &&
                    errno != ENOENT)
                        ps_log_warn("pod files: remove %s: %s", path, strerror(errno));
        }
}

int ps_pod_files_create(struct ps_pod_files *f, const char *dir, const struct ps_pod_config *cfg,
                        struct ps_err **err)
{
        struct ps_pod_files n = {.host_ipc = cfg->ipc == PS_POD_NS_NODE};

        if (!(n.dir = strdup(dir)))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod files");
        if (write_hostname(dir, cfg, err) < 0 ||
            copy_host_file(dir, "hosts", "/etc/hosts", err) < 0 ||
            write_resolv_conf(dir, cfg, err) < 0 || (!n.host_ipc && mount_shm(dir, err) < 0)) {
                remove_files(dir);
                free(n.dir);
                return -1;
        }
        n.shm = !n.host_ipc;
        *f = n;
        return 0;
}

int ps_pod_files_bind(const struct ps_pod_files *f, const char *bundle, struct cJSON *tree,
                      bool readonly, struct ps_err **err)
{
        static const char *const shm_opts[] = {"nosuid", "nodev", "noexec", NULL};
        _cleanup_free_ char *hostname = NULL, *hosts = NULL, *resolv = NULL, *shm = NULL;
        struct ps_spec_bind b[4];
        size_t n = 0;

        if (!f->dir)
                return 0;
        if (f->released)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "the pod has ended: no container can join it");
        if (asprintf(&hostname, "%s/hostname", f->dir) < 0 ||
            asprintf(&hosts, "%s/hosts", f->dir) < 0 ||
            asprintf(&resolv, "%s/resolv.conf", f->dir) < 0 ||
            (f->shm && asprintf(&shm, "%s/shm", f->dir) < 0))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod files");
        b[n++] = (struct ps_spec_bind){"/etc/hostname", hostname, readonly, false, NULL};
        b[n++] = (struct ps_spec_bind){"/etc/hosts", hosts, readonly, false, NULL};
        b[n++] = (struct ps_spec_bind){"/etc/resolv.conf", resolv, readonly, false, NULL};
        if (shm)
                b[n++] = (struct ps_spec_bind){"/dev/shm", shm, false, true, shm_opts};
        return ps_spec_tree_add_binds(bundle, tree, b, n, NULL, err);
}

void ps_pod_files_release(struct ps_pod_files *f)
{
        if (!f->dir || f->released)
                return;
        if (f->shm)
                unmount_shm(f->dir);
        remove_files(f->dir);
        f->shm = false;
        f->released = true;
}

void ps_pod_files_clear(struct ps_pod_files *f)
{
        ps_pod_files_release(f);
        free(f->dir);
        *f = (struct ps_pod_files){0};
}

void ps_pod_files_cleanup_dir(const char *dir)
{
        unmount_shm(dir);
}
