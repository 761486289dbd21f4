#include "base/mountinfo.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"

static bool is_octal(char c)
{
        return c >= '0' && c <= '7';
}

char *ps_mountinfo_unescape(char *s)
{
        char *w = s;

        for (const char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && is_octal(r[2]) &&
                    is_octal(r[3]) && (r[1] != '0' || r[2] != '0' || r[3] != '0')) {
                        *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
                        r += 4;
                } else {
                        *w++ = *r++;
                }
        }
        *w = '\0';
        return s;
}

/* Cuts the field at *p off at the next space and moves *p past it. NULL
 * when no space follows (the line ends inside this field). */
static char *next_field(char **p)
{
        char *f = *p, *sp = strchr(f, ' ');

        if (!sp)
                return NULL;
        *sp = '\0';
        *p = sp + 1;
        return f;
}

/* All of `s` is a decimal number that fits an unsigned. */
static bool parse_uint(const char *s, unsigned *ret)
{
        unsigned long long v = 0;

        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (unsigned)(*s - '0');
                if (v > UINT_MAX)
                        return false;
        }
        *ret = (unsigned)v;
        return true;
}

static bool parse_devno(char *s, unsigned *ret_major, unsigned *ret_minor)
{
        char *colon = strchr(s, ':');

        if (!colon)
                return false;
        *colon = '\0';
        return parse_uint(s, ret_major) && parse_uint(colon + 1, ret_minor);
}

/* Parses one NUL-terminated line in place; false if it is malformed. */
static bool parse_line(char *p, struct ps_mountinfo_entry *ret)
{
        struct ps_mountinfo_entry e = {.optional = ""};
        char *f[6], *fstype, *source, *sep;

        for (int i = 0; i < 6; i++)
                if (!(f[i] = next_field(&p)))
                        return false;
        /* (7) runs up to the lone "-": optional fields hold no spaces of
         * their own and none of them is "-". */
        if (strncmp(p, "- ", 2) == 0) {
                p += 2;
        } else {
                sep = strstr(p, " - ");
                if (!sep)
                        return false;
                *sep = '\0';
                e.optional = p;
                p = sep + 3;
        }
        fstype = next_field(&p);
        source = fstype ? next_field(&p) : NULL;
        if (!source)
                return false;
        /* (11) ends at the line's end, or at a field a later kernel adds. */
        sep = strchr(p, ' ');
        if (sep)
                *sep = '\0';
        if (!parse_uint(f[0], &e.id) || !parse_uint(f[1], &e.parent_id) ||
            !parse_devno(f[2], &e.major, &e.minor) || !*f[3] || !*f[4] || !*fstype)
                return false;
        e.root = ps_mountinfo_unescape(f[3]);
        e.mount_point = ps_mountinfo_unescape(f[4]);
        e.options = f[5];
        e.fstype = ps_mountinfo_unescape(fstype);
        e.source = ps_mountinfo_unescape(source);
        e.super_options = p;
        *ret = e;
        return true;
}

/* Parses `text` (len bytes and a NUL after them) in place. Takes ownership
 * of `text`, also on failure. */
static int parse_owned(char *text, size_t len, struct ps_mountinfo **ret, struct ps_err **err)
{
        _cleanup_free_ char *owned = text;
        char *const end = text + len;
        struct ps_mountinfo *mi;
        size_t lines = 0;

        for (char *p = text; p < end; lines++) {
                char *nl = memchr(p, '\n', (size_t)(end - p));

                p = nl ? nl + 1 : end;
        }
        mi = calloc(1, sizeof(*mi) + lines * sizeof(mi->e[0]));
        if (!mi)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "mountinfo");
        for (char *p = text; p < end;) {
                char *eol = memchr(p, '\n', (size_t)(end - p));
                size_t n;

                if (!eol)
                        eol = end; /* a last line without '\n': text[len] is NUL */
                n = (size_t)(eol - p);
                *eol = '\0';
                if (memchr(p, '\0', n) == NULL && parse_line(p, &mi->e[mi->n]))
                        mi->n++;
                else
                        mi->malformed++;
                p = eol + 1;
        }
        mi->text = TAKE_PTR(owned);
        *ret = mi;
        return 0;
}

int ps_mountinfo_parse(const char *text, size_t len, struct ps_mountinfo **ret, struct ps_err **err)
{
        char *copy;

        if (len > PS_MOUNTINFO_MAX)
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED,
                                  "mountinfo is larger than %u bytes (%zu)", PS_MOUNTINFO_MAX, len);
        copy = malloc(len + 1);
        if (!copy)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "mountinfo");
        if (len)
                memcpy(copy, text, len);
        copy[len] = '\0';
        return parse_owned(copy, len, ret, err);
}

int ps_mountinfo_read(struct ps_mountinfo **ret, struct ps_err **err)
{
        char *text = NULL;
        size_t len = 0;

        if (ps_read_file("/proc/self/mountinfo", PS_MOUNTINFO_MAX, &text, &len, err) < 0)
                return -1;
        return parse_owned(text, len, ret, err);
}

struct ps_mountinfo *ps_mountinfo_free(struct ps_mountinfo *mi)
{
        if (!mi)
                return NULL;
        free(mi->text);
        free(mi);
        return NULL;
}
