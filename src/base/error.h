/* One error convention for the whole shim.
 *
 * A fallible function returns int (< 0 on failure) or a pointer (NULL on
 * failure) and takes `struct ps_err **err` as its last parameter. On failure it
 * stores a freshly allocated error there (if err is non-NULL and *err is NULL);
 * callers add context with ps_err_prefix() as the error climbs, and the ttrpc
 * boundary turns it into a gRPC Status exactly once.
 *
 * A failing call always leaves an error behind: when the error itself cannot
 * be allocated, *err is a shared static RESOURCE_EXHAUSTED "out of memory"
 * error (ps_err_free and ps_err_prefix leave that one alone), so "failed
 * but no error" cannot happen.
 *
 * Ownership: whoever holds the `struct ps_err *` frees it with ps_err_free().
 */
#ifndef PS_BASE_ERROR_H
#define PS_BASE_ERROR_H

#include <stdarg.h>

/* gRPC status codes; containerd branches on NOT_FOUND, ALREADY_EXISTS,
 * FAILED_PRECONDITION, INVALID_ARGUMENT and UNIMPLEMENTED, so use them exactly. */
enum ps_code {
        PS_OK = 0,
        PS_CANCELLED = 1,
        PS_UNKNOWN = 2,
        PS_INVALID_ARGUMENT = 3,
        PS_DEADLINE_EXCEEDED = 4,
        PS_NOT_FOUND = 5,
        PS_ALREADY_EXISTS = 6,
        PS_PERMISSION_DENIED = 7,
        PS_RESOURCE_EXHAUSTED = 8,
        PS_FAILED_PRECONDITION = 9,
        PS_ABORTED = 10,
        PS_OUT_OF_RANGE = 11,
        PS_UNIMPLEMENTED = 12,
        PS_INTERNAL = 13,
        PS_UNAVAILABLE = 14,
};

struct ps_err {
        enum ps_code code;
        int errnum; /* errno of the root cause, 0 if none */
        char *msg;
};

/* Sets *err (when err && !*err) to a new error; returns -1 so callers can
 * `return ps_err_set(...)`. */
int ps_err_set(struct ps_err **err, enum ps_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like ps_err_set, with errnum's strerror appended as ": <text>". The code is
 * derived from errnum when `code` is PS_UNKNOWN (ENOENT -> NOT_FOUND, ...). */
int ps_err_errno(struct ps_err **err, int errnum, enum ps_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepends "<context>: " to an existing error; a no-op when err or *err is
 * NULL. Returns -1. */
int ps_err_prefix(struct ps_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves *src into *dst (when dst && !*dst); frees it otherwise. Returns -1. */
int ps_err_move(struct ps_err **dst, struct ps_err **src);

struct ps_err *ps_err_free(struct ps_err *e);
const char *ps_err_msg(const struct ps_err *e);
enum ps_code ps_code_from_errno(int errnum);

#endif
