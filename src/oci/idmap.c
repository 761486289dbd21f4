#include "oci/idmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

#define NO_ID UINT32_MAX /* (uid_t)-1: never a valid id */

/* [a, a + na) and [b, b + nb) share an id (sizes >= 1, no wrap: checked). */
static bool overlap(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
        return (uint64_t)a < (uint64_t)b + nb && (uint64_t)b < (uint64_t)a + na;
}

static int check_line(const struct ps_idmap *l, size_t i, const char *what, struct ps_err **err)
{
        if (l->size == 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s[%zu]: size must be at least 1",
                                  what, i);
        if (l->container_id == NO_ID || l->host_id == NO_ID)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s[%zu]: id %u is not a valid id",
                                  what, i, NO_ID);
        if ((uint64_t)l->container_id + l->size > (uint64_t)UINT32_MAX + 1 ||
            (uint64_t)l->host_id + l->size > (uint64_t)UINT32_MAX + 1)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "%s[%zu]: the range %u+%u or %u+%u goes past 2^32", what, i,
                                  l->container_id, l->size, l->host_id, l->size);
        return 0;
}

/* The length of the formatted text (without NUL). */
static size_t text_len(const struct ps_idmap *m, size_t n)
{
        size_t len = 0;

        for (size_t i = 0; i < n; i++)
                len += (size_t)snprintf(NULL, 0, "%u %u %u\n", m[i].container_id, m[i].host_id,
                                        m[i].size);
        return len;
}

int ps_idmap_check(const struct ps_idmap *m, size_t n, const char *what, struct ps_err **err)
{
        size_t len;

        if (n > PS_IDMAP_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "%s: %zu lines, the kernel takes at most %u", what, n,
                                  PS_IDMAP_MAX);
        for (size_t i = 0; i < n; i++) {
                if (check_line(&m[i], i, what, err) < 0)
                        return -1;
                for (size_t j = 0; j < i; j++) {
                        if (overlap(m[i].container_id, m[i].size, m[j].container_id, m[j].size))
                                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                                  "%s[%zu] and [%zu]: container ids overlap", what,
                                                  j, i);
                        if (overlap(m[i].host_id, m[i].size, m[j].host_id, m[j].size))
                                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                                  "%s[%zu] and [%zu]: host ids overlap", what, j,
                                                  i);
                }
        }
        len = text_len(m, n);
        if (len > PS_IDMAP_MAX_TEXT)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "%s: %zu bytes as a map file, one write takes at most %u", what,
                                  len, PS_IDMAP_MAX_TEXT);
        return 0;
}

int ps_idmap_format(const struct ps_idmap *m, size_t n, const char *what, char **ret,
                    size_t *ret_len, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len, off = 0;

        if (ps_idmap_check(m, n, what, err) < 0)
                return -1;
        len = text_len(m, n);
        buf = malloc(len + 1);
        if (!buf)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "%s", what);
        buf[0] = '\0';
        for (size_t i = 0; i < n; i++)
                off += (size_t)snprintf(buf + off, len + 1 - off, "%u %u %u\n", m[i].container_id,
                                        m[i].host_id, m[i].size);
        *ret = TAKE_PTR(buf);
        *ret_len = off;
        return 0;
}

/* One unsigned decimal number of at most 32 bits at *p, after blanks. */
static bool parse_u32(const char **p, const char *end, uint32_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        while (s < end && (*s == ' ' || *s == '\t'))
                s++;
        if (s == end || *s < '0' || *s > '9')
                return false;
        for (; s < end && *s >= '0' && *s <= '9'; s++) {
                v = v * 10 + (uint64_t)(*s - '0');
                if (v > UINT32_MAX)
                        return false;
        }
        *p = s;
        *ret = (uint32_t)v;
        return true;
}

int ps_idmap_parse(const char *text, size_t len, struct ps_idmap **ret, size_t *ret_n,
                   struct ps_err **err)
{
        _cleanup_free_ struct ps_idmap *m = NULL;
        const char *p = text, *end = text + len;
        size_t n = 0;

        while (p < end) {
                struct ps_idmap l;
                const char *eol = memchr(p, '\n', (size_t)(end - p));

                if (!eol)
                        eol = end;
                if (n == PS_IDMAP_MAX)
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "id map: more than %u lines",
                                          PS_IDMAP_MAX);
                if (!parse_u32(&p, eol, &l.container_id) || !parse_u32(&p, eol, &l.host_id) ||
                    !parse_u32(&p, eol, &l.size))
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "id map: line %zu is not three 32-bit numbers", n + 1);
                while (p < eol && (*p == ' ' || *p == '\t'))
                        p++;
                if (p != eol)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "id map: trailing text on line %zu", n + 1);
                if (!m && !(m = calloc(PS_IDMAP_MAX, sizeof(*m))))
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "id map");
                m[n++] = l;
                p = eol < end ? eol + 1 : end;
        }
        *ret = TAKE_PTR(m);
        *ret_n = n;
        return 0;
}

int ps_idmap_parse_option(const char *value, const char *what, struct ps_idmap **ret, size_t *ret_n,
                          struct ps_err **err)
{
        _cleanup_free_ struct ps_idmap *m = NULL;
        const char *p = value, *end = value + strlen(value);
        size_t n = 0;

        for (;;) {
                uint32_t v[3];

                if (n == PS_IDMAP_MAX)
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "%s: more than %u mappings",
                                          what, PS_IDMAP_MAX);
                for (int i = 0; i < 3; i++) {
                        /* no blanks here: containerd's strconv.Atoi takes none */
                        if (p == end || *p == ' ' || *p == '\t' || !parse_u32(&p, end, &v[i]) ||
                            (i < 2 && (p == end || *p++ != ':')))
                                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                                  "%s: \"%s\" is not container:host:size[,...]",
                                                  what, value);
                }
                if (!m && !(m = calloc(PS_IDMAP_MAX, sizeof(*m))))
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "%s", what);
                m[n++] = (struct ps_idmap){.container_id = v[0], .host_id = v[1], .size = v[2]};
                if (p == end)
                        break;
                if (*p++ != ',')
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "%s: \"%s\" is not container:host:size[,...]", what,
                                          value);
        }
        if (ps_idmap_check(m, n, what, err) < 0)
                return -1;
        *ret = TAKE_PTR(m);
        *ret_n = n;
        return 0;
}

bool ps_idmap_equal(const struct ps_idmap *a, size_t na, const struct ps_idmap *b, size_t nb)
{
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (a[i].container_id != b[i].container_id || a[i].host_id != b[i].host_id ||
                    a[i].size != b[i].size)
                        return false;
        return true;
}

bool ps_idmap_to_host(const struct ps_idmap *m, size_t n, uint32_t id, uint32_t *ret_host)
{
        for (size_t i = 0; i < n; i++)
                if (id >= m[i].container_id &&
                    (uint64_t)id < (uint64_t)m[i].container_id + m[i].size) {
                        *ret_host = m[i].host_id + (id - m[i].container_id);
                        return true;
                }
        return false;
}
