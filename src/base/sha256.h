/* SHA-256 (FIPS 180-4), used only to derive the shim socket name the same
 * way containerd's runc-v2 shim does. */
#ifndef PS_BASE_SHA256_H
#define PS_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

void ps_sha256(const void *data, size_t len, uint8_t out[32]);
/* Lower-case hex of the digest; out must hold 65 bytes. */
void ps_sha256_hex(const void *data, size_t len, char out[65]);

#endif
