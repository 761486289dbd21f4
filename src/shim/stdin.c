#include "shim/stdin.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/cleanup.h"

/* It may be a pipe, /dev/null or a socket, so it is read directly rather
 * than reopened through /proc. */
int ps_read_stdin(char **ret_buf, size_t *ret_len, struct ps_err **err)
{
        _cleanup_free_ char *buf = malloc(PS_STDIN_MAX);
        size_t len = 0;

        if (!buf)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "read stdin");
        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf + len, PS_STDIN_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EBADF)
                        break; /* no stdin at all: no options */
                if (n < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "read options from stdin");
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == PS_STDIN_MAX)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "options on stdin exceed %u bytes", PS_STDIN_MAX);
        }
        *ret_buf = len ? TAKE_PTR(buf) : NULL;
        *ret_len = len;
        return 0;
}
