#include "ttrpc/strings.h"

#include <string.h>

#define MAX_DEPTH 32

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if there is none. */
static size_t utf8_seq(const uint8_t *s, size_t len)
{
        uint32_t cp;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

bool ttrpc_utf8_valid(const uint8_t *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                size_t n = utf8_seq(s + i, len - i);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

void ttrpc_utf8_sanitize(char *s)
{
        uint8_t *p = (uint8_t *)s;
        size_t len = strlen(s);

        for (size_t i = 0; i < len;) {
                size_t n = utf8_seq(p + i, len - i);
                if (n == 0) {
                        p[i++] = '?';
                        continue;
                }
                i += n;
        }
}

static bool read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *ret)
{
        uint64_t v = 0;

        for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
                uint8_t b = buf[(*pos)++];
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return true;
                }
        }
        return false;
}

static bool walk(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, int depth,
                 const char **ret_field)
{
        size_t pos = 0;

        while (pos < len) {
                uint64_t tag, v;
                const ProtobufCFieldDescriptor *f;

                if (!read_varint(buf, len, &pos, &tag))
                        return true; /* malformed: unpacking will say so */
                switch (tag & 7) {
                case 0:
                        if (!read_varint(buf, len, &pos, &v))
                                return true;
                        continue;
                case 1:
                        pos += 8;
                        continue;
                case 5:
                        pos += 4;
                        continue;
                case 2:
                        break;
                default:
                        return true;
                }
                if (!read_varint(buf, len, &pos, &v) || v > len - pos)
                        return true;
                f = tag >> 3 <= UINT32_MAX
                        ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))
                        : NULL;
                if (f && f->type == PROTOBUF_C_TYPE_STRING &&
                    (memchr(buf + pos, 0, v) || !ttrpc_utf8_valid(buf + pos, v))) {
                        *ret_field = f->name;
                        return false;
                }
                if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && depth < MAX_DEPTH &&
                    !walk(f->descriptor, buf + pos, v, depth + 1, ret_field))
                        return false;
                pos += v;
        }
        return true;
}

bool ttrpc_strings_valid(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                         const char **ret_field)
{
        return walk(d, buf, len, 0, ret_field);
}
