/*
 * buf.h - growable byte buffers for sockets and frames: bytes [start, end) are pending,
 * cap bytes allocated. Pure, apart from gw_send().
 */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gw_buf {
	uint8_t *data; /* owned */
	size_t start;
	size_t end;
	size_t cap;
};

bool gw_buf_reserve(struct gw_buf *b, size_t extra) __attribute__((warn_unused_result));
void gw_buf_compact(struct gw_buf *b);
void gw_buf_free(struct gw_buf *b);
static inline size_t gw_buf_len(const struct gw_buf *b)
{
	return b->end - b->start;
}
bool gw_buf_append(struct gw_buf *b, const void *p, size_t n) __attribute__((warn_unused_result));

/* send() as much as the socket takes; returns bytes sent, or -1 on a hard error. */
ssize_t gw_send(int fd, const void *p, size_t n);

#endif
