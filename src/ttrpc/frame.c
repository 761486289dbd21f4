#include "ttrpc/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void ttrpc_header_encode(uint8_t out[TTRPC_HEADER_SIZE], const struct ttrpc_header *h)
{
        out[0] = (uint8_t)(h->len >> 24);
        out[1] = (uint8_t)(h->len >> 16);
        out[2] = (uint8_t)(h->len >> 8);
        out[3] = (uint8_t)h->len;
        out[4] = (uint8_t)(h->stream >> 24);
        out[5] = (uint8_t)(h->stream >> 16);
        out[6] = (uint8_t)(h->stream >> 8);
        out[7] = (uint8_t)h->stream;
        out[8] = h->type;
        out[9] = h->flags;
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], struct ttrpc_header *h)
{
        h->len = be32(in);
        h->stream = be32(in + 4);
        h->type = in[8];
        h->flags = in[9];
}

uint8_t *ttrpc_buf_reserve(struct ttrpc_buf *b, size_t n)
{
        size_t want, cap;
        uint8_t *p;

        if (b->off + b->len + n <= b->cap)
                return b->data + b->off + b->len;
        if (b->off) {
                memmove(b->data, b->data + b->off, b->len);
                b->off = 0;
        }
        if (b->len + n <= b->cap)
                return b->data + b->len;
        want = b->len + n;
        /* Double small buffers so queues of little frames do not realloc on
         * every append, but never overshoot a big request by much. */
        cap = b->cap * 2;
        if (cap < TTRPC_READER_INITIAL)
                cap = TTRPC_READER_INITIAL;
        if (cap < want || cap > want + (64u << 10))
                cap = want;
        p = realloc(b->data, cap);
        if (!p)
                return NULL;
        b->data = p;
        b->cap = cap;
        return b->data + b->len;
}

void ttrpc_buf_consume(struct ttrpc_buf *b, size_t n)
{
        if (n > b->len)
                n = b->len;
        b->off += n;
        b->len -= n;
        if (b->len == 0)
                b->off = 0;
}

void ttrpc_buf_shrink(struct ttrpc_buf *b, size_t keep)
{
        uint8_t *p;

        if (b->len == 0 && keep == 0) {
                ttrpc_buf_release(b);
                return;
        }
        if (b->cap <= keep || b->len > keep)
                return;
        if (b->off) {
                memmove(b->data, b->data + b->off, b->len);
                b->off = 0;
        }
        p = realloc(b->data, keep);
        if (!p)
                return; /* keeping the bigger block is harmless */
        b->data = p;
        b->cap = keep;
}

void ttrpc_buf_release(struct ttrpc_buf *b)
{
        free(b->data);
        *b = (struct ttrpc_buf){0};
}

void ttrpc_reader_init(struct ttrpc_reader *r, uint32_t max)
{
        *r = (struct ttrpc_reader){.max = max};
}

void ttrpc_reader_release(struct ttrpc_reader *r)
{
        ttrpc_buf_release(&r->buf);
}

/* Bytes the frame at the head of the buffer needs in total, as far as is
 * known yet: the header, then header plus body. */
static size_t reader_needed(const struct ttrpc_reader *r)
{
        struct ttrpc_header h;

        if (r->discard || r->buf.len < TTRPC_HEADER_SIZE)
                return TTRPC_HEADER_SIZE;
        ttrpc_header_decode(r->buf.data + r->buf.off, &h);
        if (h.len > r->max)
                return TTRPC_HEADER_SIZE;
        return TTRPC_HEADER_SIZE + (size_t)h.len;
}

uint8_t *ttrpc_reader_space(struct ttrpc_reader *r, size_t *ret_len)
{
        size_t needed = reader_needed(r);
        size_t room = needed > r->buf.len ? needed - r->buf.len : 1;
        uint8_t *p;

        /* Top small reads up to the initial size so a burst of small frames
         * arrives in one read(2). */
        if (r->buf.len + room < TTRPC_READER_INITIAL)
                room = TTRPC_READER_INITIAL - r->buf.len;
        p = ttrpc_buf_reserve(&r->buf, room);
        if (!p)
                return NULL;
        *ret_len = r->buf.cap - r->buf.off - r->buf.len;
        return p;
}

void ttrpc_reader_commit(struct ttrpc_reader *r, size_t n)
{
        r->buf.len += n;
}

int ttrpc_reader_feed(struct ttrpc_reader *r, const uint8_t *data, size_t len)
{
        uint8_t *p = ttrpc_buf_reserve(&r->buf, len);

        if (!p && len)
                return -1;
        if (len)
                memcpy(p, data, len);
        r->buf.len += len;
        return 0;
}

/* Gives back a buffer that grew for one big frame once that frame is gone. */
static void reader_trim(struct ttrpc_reader *r)
{
        if (r->buf.cap > TTRPC_READER_INITIAL && reader_needed(r) <= TTRPC_READER_INITIAL)
                ttrpc_buf_shrink(&r->buf, TTRPC_READER_INITIAL);
}

enum ttrpc_read_result ttrpc_reader_next(struct ttrpc_reader *r, struct ttrpc_frame *ret_frame)
{
        struct ttrpc_header h;
        const uint8_t *head;

        if (r->discard) {
                size_t n = r->buf.len < r->discard ? r->buf.len : r->discard;

                ttrpc_buf_consume(&r->buf, n);
                r->discard -= (uint32_t)n;
                if (r->discard) {
                        reader_trim(r);
                        return TTRPC_READ_NEED_MORE;
                }
        }
        if (r->buf.len < TTRPC_HEADER_SIZE) {
                reader_trim(r);
                return TTRPC_READ_NEED_MORE;
        }
        head = r->buf.data + r->buf.off;
        ttrpc_header_decode(head, &h);
        if (h.len > r->max) {
                ttrpc_buf_consume(&r->buf, TTRPC_HEADER_SIZE);
                r->discard = h.len;
                /* Skip what is already here at once; the rest as it comes. */
                size_t n = r->buf.len < r->discard ? r->buf.len : r->discard;
                ttrpc_buf_consume(&r->buf, n);
                r->discard -= (uint32_t)n;
                *ret_frame = (struct ttrpc_frame){.hdr = h, .body = NULL};
                return TTRPC_READ_OVERSIZE;
        }
        if (r->buf.len - TTRPC_HEADER_SIZE < h.len) {
                reader_trim(r);
                return TTRPC_READ_NEED_MORE;
        }
        /* Consuming only moves offsets, so the body stays where it is until
         * the next reserve/shrink, which the contract forbids meanwhile. */
        ttrpc_buf_consume(&r->buf, TTRPC_HEADER_SIZE + (size_t)h.len);
        *ret_frame = (struct ttrpc_frame){.hdr = h, .body = head + TTRPC_HEADER_SIZE};
        return TTRPC_READ_FRAME;
}

int ttrpc_buf_send(struct ttrpc_buf *b, int fd)
{
        while (b->len) {
                ssize_t n = send(fd, b->data + b->off, b->len, MSG_NOSIGNAL);

                /* A virtio-serial port is a character device, not a socket,
                 * and no SIGPIPE can come from it. */
                if (n < 0 && errno == ENOTSOCK)
                        n = write(fd, b->data + b->off, b->len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 1;
                if (n < 0)
                        return -1;
                ttrpc_buf_consume(b, (size_t)n);
        }
        return 0;
}
