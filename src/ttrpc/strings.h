/* Protobuf `string` fields as C sees them. protobuf-c hands strings over
 * NUL-terminated, so an embedded NUL silently shortens one ("a\0b" would be
 * looked up as "a"), and it never checks UTF-8, which Go's decoder in
 * containerd requires of every string we send back. The checks here run on
 * the wire bytes, before unpacking, guided by the message descriptor. */
#ifndef PS_TTRPC_STRINGS_H
#define PS_TTRPC_STRINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

bool ttrpc_utf8_valid(const uint8_t *s, size_t len);

/* Checks every string field, in nested messages too, for valid UTF-8 without
 * NUL. Returns true if all are fine or the bytes are not well-formed enough
 * to tell (unpacking reports those); otherwise false with *ret_field naming
 * the first bad field. */
bool ttrpc_strings_valid(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                         const char **ret_field);

/* Replaces every byte that is not part of valid UTF-8 with '?', in place, so
 * an error message can always be decoded by the peer. */
void ttrpc_utf8_sanitize(char *s);

#endif
