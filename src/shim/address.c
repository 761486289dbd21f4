#include "shim/address.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/sha256.h"

/* Go's path.Clean, in place: the result is never longer than the input.
 * Rules: collapse repeated '/', drop ".", let ".." eat the previous real
 * element (or vanish at the root, or stay when the path is relative and
 * nothing is left to eat), and turn an empty result into "." or "/". */
static void path_clean(char *p)
{
        bool rooted = p[0] == '/';
        size_t r = 0, w = 0, dotdot = 0; /* dotdot: w can't backtrack below it */
        size_t n = strlen(p);

        if (rooted) {
                w = r = dotdot = 1;
        }
        while (r < n) {
                if (p[r] == '/') {
                        r++;
                } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
                        r++;
                } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
                        r += 2;
                        if (w > dotdot) {
                                /* remove the last element */
                                w--;
                                while (w > dotdot && p[w] != '/')
                                        w--;
                        } else if (!rooted) {
                                if (w > 0)
                                        p[w++] = '/';
                                p[w++] = '.';
                                p[w++] = '.';
                                dotdot = w;
                        }
                } else {
                        if ((rooted && w != 1) || (!rooted && w != 0))
                                p[w++] = '/';
                        while (r < n && p[r] != '/')
                                p[w++] = p[r++];
                }
        }
        if (w == 0)
                p[w++] = '.';
        p[w] = '\0';
}

char *ps_path_join3(const char *a, const char *b, const char *c)
{
        const char *parts[3] = {a ? a : "", b ? b : "", c ? c : ""};
        size_t len = 0;
        char *out;

        for (int i = 0; i < 3; i++)
                len += strlen(parts[i]) + 1;
        out = calloc(1, len + 2);
        if (!out)
                return NULL;
        /* Join skips empty elements; all empty gives "" (not "."), as in Go. */
        for (int i = 0; i < 3; i++) {
                if (!*parts[i])
                        continue;
                if (*out)
                        strcat(out, "/");
                strcat(out, parts[i]);
        }
        if (*out)
                path_clean(out);
        return out;
}

char *ps_socket_path(const char *grpc_address, const char *ns, const char *group_key,
                     const char *salt)
{
        _cleanup_free_ char *joined = ps_path_join3(grpc_address, ns, group_key);
        size_t n, s = salt ? strlen(salt) : 0;
        char hex[65], *out = NULL;

        if (!joined)
                return NULL;
        n = strlen(joined);
        if (salt) {
                char *salted = realloc(joined, n + 1 + s + 1);

                if (!salted)
                        return NULL;
                joined = salted;
                memcpy(joined + n + 1, salt, s + 1);
                n += 1 + s;
        }
        ps_sha256_hex(joined, n, hex);
        if (asprintf(&out, "%s/%s", PS_SOCKET_DIR, hex) < 0)
                return NULL;
        return out;
}
