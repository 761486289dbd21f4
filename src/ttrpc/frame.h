/* ttrpc v1.1 framing, shared by the server, the client and the fuzzers.
 *
 * A frame is a 10-byte big-endian header {len u32, stream u32, type u8,
 * flags u8} followed by `len` bytes. The reader assembles whole frames from
 * whatever pieces a non-blocking socket hands it, and bounds its memory: the
 * buffer starts small, grows only to what the current frame needs, and a
 * frame over TTRPC_MAX_MESSAGE is reported once and then skipped without
 * being buffered.
 *
 * Ownership: the reader owns its buffer; a frame body returned by
 * ttrpc_reader_next() points into it and stays valid until the next call to
 * any ttrpc_reader_* function.
 */
#ifndef PS_TTRPC_FRAME_H
#define PS_TTRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTRPC_HEADER_SIZE   10
#define TTRPC_TYPE_REQUEST  1
#define TTRPC_TYPE_RESPONSE 2
#define TTRPC_MAX_FRAME     (4u << 20) /* same limit as TTRPC_MAX_MESSAGE */

struct ttrpc_header {
        uint32_t len;
        uint32_t stream;
        uint8_t type;
        uint8_t flags;
};

void ttrpc_header_encode(uint8_t out[TTRPC_HEADER_SIZE], const struct ttrpc_header *h);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], struct ttrpc_header *h);

/* A growable byte buffer with a consumed prefix; used for output queues and
 * by the reader. Empty buffers hold no memory once shrunk. */
struct ttrpc_buf {
        uint8_t *data;
        size_t off, len, cap; /* valid bytes are data[off .. off+len) */
};

/* Makes room for `n` more bytes after the valid ones (compacting first);
 * returns a pointer to that room or NULL on allocation failure. */
uint8_t *ttrpc_buf_reserve(struct ttrpc_buf *b, size_t n);
void ttrpc_buf_consume(struct ttrpc_buf *b, size_t n);
/* Sends as much of the buffer as the non-blocking socket takes (no SIGPIPE;
 * write(2) when fd is a character device such as a virtio-serial port).
 * Returns 0 when it is empty, 1 when the socket is full (wait for write
 * readiness), -1 with errno on a send error. */
int ttrpc_buf_send(struct ttrpc_buf *b, int fd);
/* Releases the memory of a buffer that is empty, or keeps at most `keep`
 * bytes of capacity when it is large and nearly empty. */
void ttrpc_buf_shrink(struct ttrpc_buf *b, size_t keep);
void ttrpc_buf_release(struct ttrpc_buf *b);

enum ttrpc_read_result {
        TTRPC_READ_NEED_MORE = 0, /* no whole frame buffered yet */
        TTRPC_READ_FRAME = 1,     /* *frame holds a whole frame */
        TTRPC_READ_OVERSIZE = 2,  /* *frame holds the header of a frame over the
                                   * limit; its body is being skipped */
};

struct ttrpc_frame {
        struct ttrpc_header hdr;
        const uint8_t *body; /* hdr.len bytes; NULL for OVERSIZE */
};

struct ttrpc_reader {
        struct ttrpc_buf buf;
        uint32_t max;     /* frame size limit */
        uint32_t discard; /* body bytes of an oversize frame still to skip */
};

#define TTRPC_READER_INITIAL 4096

void ttrpc_reader_init(struct ttrpc_reader *r, uint32_t max);
void ttrpc_reader_release(struct ttrpc_reader *r);

/* Returns where the next read(2) should store data and how much fits there
 * (at least 1 byte, sized for the frame in progress), or NULL if memory ran
 * out. Follow with ttrpc_reader_commit(). */
uint8_t *ttrpc_reader_space(struct ttrpc_reader *r, size_t *ret_len);
void ttrpc_reader_commit(struct ttrpc_reader *r, size_t n);

/* Copies bytes in (for fuzzers and tests); returns -1 if memory ran out. Call
 * ttrpc_reader_next() until it returns NEED_MORE between feeds, or the reader
 * buffers everything. */
int ttrpc_reader_feed(struct ttrpc_reader *r, const uint8_t *data, size_t len);

/* Pops the next frame. After NEED_MORE the reader also gives back memory it
 * no longer needs, so an idle connection holds at most the initial buffer. */
enum ttrpc_read_result ttrpc_reader_next(struct ttrpc_reader *r, struct ttrpc_frame *ret_frame);

#endif
