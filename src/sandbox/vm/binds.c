#include "sandbox/vm/binds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "oci/spec.h"
#include "sandbox/vm/share.h"

/* p is dir or below it (a path prefix, not a string prefix). */
static bool under(const char *p, const char *dir)
{
        size_t n = strlen(dir);

        while (n > 0 && dir[n - 1] == '/')
                n--;
        return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static bool has_option(const cJSON *mount, const char *opt)
{
        const cJSON *o;

        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(mount, "options"))
        {
                if (cJSON_IsString(o) && strcmp(o->valuestring, opt) == 0)
                        return true;
        }
        return false;
}

static bool is_bind(const cJSON *mount)
{
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(mount, "type");

        return (cJSON_IsString(type) && strcmp(type->valuestring, "bind") == 0) ||
               has_option(mount, "bind") || has_option(mount, "rbind");
}

/* The source the guest cannot resolve itself, or NULL (see binds.h). */
static const char *host_source(const cJSON *mount, const char *guest_dir)
{
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(mount, "source");
        const char *p;

        if (!cJSON_IsObject(mount) || !is_bind(mount) || !cJSON_IsString(src))
                return NULL;
        p = src->valuestring;
        if (p[0] != '/' || under(p, guest_dir) || under(p, "/proc") || under(p, "/sys") ||
            under(p, "/dev"))
                return NULL;
        return p;
}

/* Binds each host source into the share and points the mount at it;
 * *ret_changed says whether config.json must be written. */
static int share_mounts(struct ps_vm_share *s, const char *id, cJSON *mounts, const char *guest_dir,
                        bool *ret_changed, struct ps_err **err)
{
        unsigned n = 0, shared = 0;
        cJSON *m;

        cJSON_ArrayForEach(m, mounts)
        {
                const char *src = host_source(m, guest_dir);
                _cleanup_free_ char *guest = NULL;

                n++;
                if (!src)
                        continue;
                if (++shared > PS_VM_MAX_BINDS)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "more than %d bind mounts of host paths",
                                          PS_VM_MAX_BINDS);
                if (asprintf(&guest, "%s/.%s.mounts/%u", guest_dir, id, n - 1) < 0)
                        return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "binds");
                if (ps_vm_share_add_bind(s, id, n - 1, src, has_option(m, "rbind"),
                                         has_option(m, "ro"), err) < 0)
                        return ps_err_prefix(err, "mount %u", n - 1);
                if (!cJSON_ReplaceItemInObjectCaseSensitive(m, "source", cJSON_CreateString(guest)))
                        return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "binds");
                *ret_changed = true;
        }
        return 0;
}

int ps_vm_binds_share(struct ps_vm_share *s, const char *id, const char *bundle,
                      const char *guest_dir, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *buf = NULL, *out = NULL;
        _cleanup_json_ cJSON *tree = NULL;
        bool changed = false;
        cJSON *mounts;
        struct stat st;
        size_t len;

        if (asprintf(&path, "%s/config.json", bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "binds");
        if (ps_read_file(path, PS_SPEC_MAX_SIZE, &buf, &len, err) < 0)
                return -1;
        if (stat(path, &st) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "stat %s", path);
        tree = cJSON_ParseWithLength(buf, len);
        if (!cJSON_IsObject(tree))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s: not a JSON object", path);
        mounts = cJSON_GetObjectItemCaseSensitive(tree, "mounts");
        if (mounts && !cJSON_IsArray(mounts))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s: mounts is not an array", path);
        if (share_mounts(s, id, mounts, guest_dir, &changed, err) < 0)
                return ps_err_prefix(err, "%s", path);
        if (!changed)
                return 0;
        out = cJSON_PrintUnformatted(tree);
        if (!out)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "binds");
        return ps_write_file_atomic(path, out, strlen(out), st.st_mode & 07777, err);
}
