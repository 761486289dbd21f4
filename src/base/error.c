#include "base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a failing function stores when even its error cannot be allocated:
 * a failure is never reported as "no error". Shared, never freed, never
 * changed (ps_err_free and ps_err_prefix leave it alone). */
static char oom_text[] = "out of memory";
static struct ps_err oom_err = {.code = PS_RESOURCE_EXHAUSTED, .errnum = ENOMEM, .msg = oom_text};

static struct ps_err *err_new(enum ps_code code, int errnum, char *msg)
{
        struct ps_err *e = calloc(1, sizeof(*e));

        if (!e) {
                free(msg);
                return &oom_err;
        }
        e->code = code;
        e->errnum = errnum;
        e->msg = msg;
        return e;
}

static char *vfmt(const char *fmt, va_list ap)
{
        char *s = NULL;

        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

enum ps_code ps_code_from_errno(int errnum)
{
        switch (errnum) {
        case ENOENT:
        case ESRCH:
                return PS_NOT_FOUND;
        case EEXIST:
                return PS_ALREADY_EXISTS;
        case EINVAL:
        case ENAMETOOLONG:
                return PS_INVALID_ARGUMENT;
        case EPERM:
        case EACCES:
                return PS_PERMISSION_DENIED;
        case ENOMEM:
        case ENOSPC:
        case EMFILE:
        case ENFILE:
                return PS_RESOURCE_EXHAUSTED;
        case ETIMEDOUT:
                return PS_DEADLINE_EXCEEDED;
        case ENOSYS:
        case EOPNOTSUPP:
                return PS_UNIMPLEMENTED;
        default:
                return PS_UNKNOWN;
        }
}

int ps_err_set(struct ps_err **err, enum ps_code code, const char *fmt, ...)
{
        va_list ap;

        if (!err || *err)
                return -1;
        va_start(ap, fmt);
        *err = err_new(code, 0, vfmt(fmt, ap));
        va_end(ap);
        return -1;
}

int ps_err_errno(struct ps_err **err, int errnum, enum ps_code code, const char *fmt, ...)
{
        va_list ap;
        char *head, *msg = NULL;

        if (!err || *err)
                return -1;
        va_start(ap, fmt);
        head = vfmt(fmt, ap);
        va_end(ap);
        if (head && asprintf(&msg, "%s: %s", head, strerror(errnum)) < 0)
                msg = NULL;
        free(head);
        if (code == PS_UNKNOWN)
                code = ps_code_from_errno(errnum);
        *err = err_new(code, errnum, msg);
        return -1;
}

int ps_err_prefix(struct ps_err **err, const char *fmt, ...)
{
        va_list ap;
        char *head, *msg = NULL;

        if (!err || !*err || *err == &oom_err)
                return -1;
        va_start(ap, fmt);
        head = vfmt(fmt, ap);
        va_end(ap);
        if (head && asprintf(&msg, "%s: %s", head, ps_err_msg(*err)) >= 0) {
                free((*err)->msg);
                (*err)->msg = msg;
        }
        free(head);
        return -1;
}

int ps_err_move(struct ps_err **dst, struct ps_err **src)
{
        if (!src || !*src)
                return -1;
        if (dst && !*dst)
                *dst = *src;
        else
                ps_err_free(*src);
        *src = NULL;
        return -1;
}

struct ps_err *ps_err_free(struct ps_err *e)
{
        if (e && e != &oom_err) {
                free(e->msg);
                free(e);
        }
        return NULL;
}

const char *ps_err_msg(const struct ps_err *e)
{
        if (!e)
                return "unknown error (out of memory)";
        return e->msg ? e->msg : "out of memory while formatting an error";
}
