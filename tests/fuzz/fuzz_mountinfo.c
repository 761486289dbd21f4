/* libFuzzer target: the mountinfo parser (base/mountinfo.h) on arbitrary
 * text, and its octal unescaper. Oracles:
 *   - parsing never fails below PS_MOUNTINFO_MAX, and every line is either
 *     an entry or counted as malformed;
 *   - every string of an entry lies inside the table's text; root, mount
 *     point and type are never empty; the fields kept as written hold no
 *     '\n' (the line end), and the options no space (the field separator);
 *   - unescaping never lengthens a string.
 * Seeds (corpus/mountinfo): /proc/self/mountinfo as captured on the CI host,
 * in a namespace with overlay, loop, escaped names and propagation, and in
 * a chroot (a container's view); plus proc(5)-style edge lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mountinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *s, size_t len)
{
        size_t n = 0;

        for (const char *p = s, *end = s + len; p < end; n++) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));

                p = nl ? nl + 1 : end;
        }
        return n;
}

enum { NONEMPTY = 1, RAW = 2, NO_SPACE = 4 };

static void check_string(const struct ps_mountinfo *mi, size_t len, const char *s, int rules)
{
        if (!s || s < mi->text || s > mi->text + len || s + strlen(s) > mi->text + len)
                abort();
        if ((rules & NONEMPTY) && !*s)
                abort();
        /* decoded fields may hold any byte but NUL ("\012" is a '\n') */
        if ((rules & RAW) && strchr(s, '\n'))
                abort();
        if ((rules & NO_SPACE) && strchr(s, ' '))
                abort();
}

static void check_entry(const struct ps_mountinfo *mi, size_t len,
                        const struct ps_mountinfo_entry *e)
{
        check_string(mi, len, e->root, NONEMPTY);
        check_string(mi, len, e->mount_point, NONEMPTY);
        check_string(mi, len, e->options, RAW | NO_SPACE);
        /* "" for no optional fields is a literal, not in the text */
        if (*e->optional)
                check_string(mi, len, e->optional, RAW);
        check_string(mi, len, e->fstype, NONEMPTY);
        check_string(mi, len, e->source, 0);
        check_string(mi, len, e->super_options, RAW | NO_SPACE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        struct ps_mountinfo *mi = NULL;
        char *copy;

        if (size > PS_MOUNTINFO_MAX)
                return 0; /* refused by design (mountinfo.h) */
        if (ps_mountinfo_parse(text, size, &mi, NULL) < 0)
                abort();
        if (mi->n + mi->malformed != count_lines(text, size))
                abort();
        for (size_t i = 0; i < mi->n; i++)
                check_entry(mi, size, &mi->e[i]);
        ps_mountinfo_free(mi);

        copy = strndup(text, size);
        if (!copy)
                abort();
        size = strlen(copy);
        if (strlen(ps_mountinfo_unescape(copy)) > size)
                abort();
        free(copy);
        return 0;
}
