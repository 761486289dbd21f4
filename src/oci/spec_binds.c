#include "oci/spec_binds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "oci/spec.h"

static int no_memory(struct ps_err **err)
{
        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec binds");
}

static bool add_option(cJSON *opts, const char *o)
{
        cJSON *s = cJSON_CreateString(o);

        if (s && cJSON_AddItemToArray(opts, s))
                return true;
        cJSON_Delete(s);
        return false;
}

static cJSON *bind_object(const struct ps_spec_bind *b)
{
        cJSON *m = cJSON_CreateObject();
        cJSON *opts = m ? cJSON_AddArrayToObject(m, "options") : NULL;
        bool ok = opts && cJSON_AddStringToObject(m, "destination", b->destination) &&
                  cJSON_AddStringToObject(m, "type", "bind") &&
                  cJSON_AddStringToObject(m, "source", b->source) && add_option(opts, "rbind") &&
                  add_option(opts, "rprivate") && add_option(opts, b->readonly ? "ro" : "rw");

        for (const char *const *x = b->extra; ok && x && *x; x++)
                ok = add_option(opts, *x);
        if (ok)
                return m;
        cJSON_Delete(m);
        return NULL;
}

/* The index of the mount at `destination` in mounts, -1 for none. A
 * destination is compared as the runtime resolves it: trailing slashes
 * do not count. */
static int find_mount(const cJSON *mounts, const char *destination, const cJSON **ret)
{
        size_t want = strlen(destination);
        int i = 0;
        const cJSON *m;

        while (want > 1 && destination[want - 1] == '/')
                want--;
        cJSON_ArrayForEach(m, mounts)
        {
                const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "destination");
                size_t len;

                if (cJSON_IsString(d)) {
                        len = strlen(d->valuestring);
                        while (len > 1 && d->valuestring[len - 1] == '/')
                                len--;
                        if (len == want && strncmp(d->valuestring, destination, want) == 0) {
                                *ret = m;
                                return i;
                        }
                }
                i++;
        }
        return -1;
}

static bool is_tmpfs(const cJSON *m)
{
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "type");

        return cJSON_IsString(t) && strcmp(t->valuestring, "tmpfs") == 0;
}

/* Applies the binds to the parsed spec, counting those that went in. */
static int apply(cJSON *root, const struct ps_spec_bind *binds, size_t n, size_t *added,
                 struct ps_err **err)
{
        cJSON *mounts = cJSON_GetObjectItemCaseSensitive(root, "mounts");
        const cJSON *m;

        if (!mounts || cJSON_IsNull(mounts)) {
                cJSON_DeleteItemFromObjectCaseSensitive(root, "mounts");
                mounts = cJSON_AddArrayToObject(root, "mounts");
                if (!mounts)
                        return no_memory(err);
        }
        if (!cJSON_IsArray(mounts))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: mounts must be an array");
        cJSON_ArrayForEach(m, mounts)
        {
                if (!cJSON_IsObject(m))
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "spec: mounts must be an array of objects");
        }
        for (size_t i = 0; i < n; i++) {
                const cJSON *old = NULL;
                int at = find_mount(mounts, binds[i].destination, &old);
                cJSON *b;

                if (at >= 0 && !(binds[i].over_tmpfs && is_tmpfs(old)))
                        continue;
                b = bind_object(&binds[i]);
                if (!b)
                        return no_memory(err);
                if (at >= 0 ? !cJSON_ReplaceItemInArray(mounts, at, b)
                            : !cJSON_AddItemToArray(mounts, b)) {
                        cJSON_Delete(b);
                        return no_memory(err);
                }
                (*added)++;
        }
        return 0;
}

int ps_spec_tree_add_binds(const char *bundle, cJSON *tree, const struct ps_spec_bind *binds,
                           size_t n, size_t *ret_added, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *out = NULL;
        struct stat st;
        size_t added = 0;

        if (asprintf(&path, "%s/config.json", bundle) < 0)
                return no_memory(err);
        if (!cJSON_IsObject(tree))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s: not a JSON object", path);
        if (apply(tree, binds, n, &added, err) < 0)
                return ps_err_prefix(err, "%s", path);
        if (ret_added)
                *ret_added = added;
        if (!added)
                return 0;
        if (stat(path, &st) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "stat %s", path);
        out = cJSON_PrintUnformatted(tree);
        if (!out)
                return no_memory(err);
        return ps_write_file_atomic(path, out, strlen(out), st.st_mode & 07777, err);
}
