/*
 * buf.c - socket buffers (buf.h). A buffer holds pending bytes [start, end); it grows on
 * demand and is compacted when its head is consumed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/buf.h"

bool gw_buf_reserve(struct gw_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (b->cap - b->end >= extra)
		return true;
	gw_buf_compact(b);
	if (b->cap - b->end >= extra)
		return true;
	need = b->end + extra;
	cap = b->cap ? b->cap : 16384;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return false;
	b->data = p;
	b->cap = cap;
	return true;
}

void gw_buf_compact(struct gw_buf *b)
{
	if (b->start == 0)
		return;
	if (b->start == b->end) {
		b->start = b->end = 0;
		return;
	}
	memmove(b->data, b->data + b->start, b->end - b->start);
	b->end -= b->start;
	b->start = 0;
}

void gw_buf_free(struct gw_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

bool gw_buf_append(struct gw_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return true; /* p may be NULL then (memcpy would not allow it) */
	if (!gw_buf_reserve(b, n))
		return false;
	memcpy(b->data + b->end, p, n);
	b->end += n;
	return true;
}

ssize_t gw_send(int fd, const void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = send(fd, (const uint8_t *)p + done, n - done, MSG_NOSIGNAL);

		if (k > 0) {
			done += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	return (ssize_t)done;
}
