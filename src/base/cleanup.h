/* Scope-bound cleanup helpers (GCC/Clang `cleanup` attribute) and ownership
 * moves. A variable declared `_cleanup_free_ char *p = NULL;` is freed when it
 * leaves scope; `return TAKE_PTR(p);` hands it to the caller instead. */
#ifndef PS_BASE_CLEANUP_H
#define PS_BASE_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

#include "base/error.h"

#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _tp = (p);                                                           \
                (p) = NULL;                                                                        \
                _tp;                                                                               \
        })

#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _tf = (fd);                                                                    \
                (fd) = -1;                                                                         \
                _tf;                                                                               \
        })

static inline void ps_freep(void *p)
{
        free(*(void **)p);
}

/* close() that preserves errno and ignores -1; returns -1 for `fd = ps_close(fd)`. */
static inline int ps_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -1;
}

static inline void ps_closep(int *fd)
{
        ps_close(*fd);
}

static inline void ps_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

static inline void ps_closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

static inline void ps_errp(struct ps_err **e)
{
        ps_err_free(*e);
}

/* NULL-terminated string vector (argv-like). */
static inline void ps_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static inline void ps_strvp(char ***v)
{
        ps_strv_free(*v);
}

#define _cleanup_(f)       __attribute__((cleanup(f)))
#define _cleanup_free_     _cleanup_(ps_freep)
#define _cleanup_close_    _cleanup_(ps_closep)
#define _cleanup_fclose_   _cleanup_(ps_fclosep)
#define _cleanup_closedir_ _cleanup_(ps_closedirp)
#define _cleanup_err_      _cleanup_(ps_errp)
#define _cleanup_strv_     _cleanup_(ps_strvp)

#endif
