#include "shim/bootstrap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/cleanup.h"
#include "base/fs.h"

/* bootstrap.json is a few dozen bytes; anything larger is not containerd's. */
#define BOOTSTRAP_JSON_MAX 4096

int ps_bootstrap_version_parse(const char *value, int *ret, struct ps_err **err)
{
        if (!value || !*value || strcmp(value, "2") == 0)
                *ret = 2;
        else if (strcmp(value, "3") == 0)
                *ret = 3;
        else
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "%s=%s: the bootstrap version is 2 or 3", PS_BOOTSTRAP_ENV,
                                  value);
        return 0;
}

char *ps_bootstrap_reply(int version, const char *address)
{
        cJSON *o;
        char *s;

        if (version < 3)
                return strdup(address);
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddNumberToObject(o, "version", version) ||
            !cJSON_AddStringToObject(o, "protocol", "ttrpc") ||
            !cJSON_AddStringToObject(o, "address", address)) {
                cJSON_Delete(o);
                return NULL;
        }
        s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return s;
}

int ps_bootstrap_json_version(const char *text, int *ret, struct ps_err **err)
{
        cJSON *o = cJSON_Parse(text);
        const cJSON *v;

        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bootstrap.json is not a JSON object");
        }
        /* Go's decoder matches keys case-insensitively, as cJSON does. */
        v = cJSON_GetObjectItem(o, "version");
        *ret = cJSON_IsNumber(v) && v->valuedouble >= 3 ? (int)v->valuedouble : 2;
        cJSON_Delete(o);
        return 0;
}

int ps_bootstrap_version_of_sibling(const char *id, int *ret, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        struct ps_err *e = NULL;

        /* A group key from an annotation may be anything: only a plain
         * file name can name a sibling bundle. */
        if (!*id || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
                return 1;
        if (asprintf(&path, "../%s/bootstrap.json", id) < 0) {
                path = NULL;
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "bootstrap path");
        }
        if (ps_read_file(path, BOOTSTRAP_JSON_MAX, &text, NULL, &e) < 0) {
                if (e->code == PS_NOT_FOUND) {
                        ps_err_free(e);
                        return 1;
                }
                ps_err_prefix(&e, "%s", path);
                *err = e;
                return -1;
        }
        if (ps_bootstrap_json_version(text, ret, err) < 0) {
                ps_err_prefix(err, "%s", path);
                return -1;
        }
        return 0;
}
