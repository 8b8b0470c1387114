/*
 * compress.c - the compressed protocol's framing (see compress.h).
 *
 * Unwrapping is incremental so that what a frame claims costs nothing until it is
 * used: a few kilobytes can inflate to 16 MiB, and a client that sends many such
 * frames would otherwise have them all inflated into memory at once (issue 11).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "proto/buf.h"
#include "proto/compress.h"
#include "proto/wire.h"

/* A new frame's inflater: made once per connection, reset for every frame. */
static bool z_begin(struct gw_z_in *z)
{
	if (z->zs)
		return inflateReset(z->zs) == Z_OK;
	z->zs = calloc(1, sizeof(*z->zs));
	if (!z->zs)
		return false;
	if (inflateInit(z->zs) != Z_OK) {
		free(z->zs);
		z->zs = NULL;
		return false;
	}
	return true;
}

/* Take the next frame's header from raw, if it is there. */
static enum gw_z_result z_frame_start(struct gw_z_in *z, struct gw_buf *raw, uint8_t *seq)
{
	const uint8_t *h;
	uint32_t clen, ulen;

	if (gw_buf_len(raw) < GW_Z_HDR_LEN)
		return GW_Z_OK;
	h = raw->data + raw->start;
	clen = wire_u24(h);
	ulen = wire_u24(h + 4);
	if (ulen > (uint64_t)clen * 1032 + 64)
		return GW_Z_BAD; /* more than deflate can expand to: not a real frame */
	*seq = (uint8_t)(h[3] + 1);
	raw->start += GW_Z_HDR_LEN;
	z->cleft = clen;
	z->stored = ulen == 0;
	z->uleft = z->stored ? clen : ulen;
	z->ended = false;
	if (!z->stored && !z_begin(z))
		return GW_Z_NOMEM;
	z->in_frame = true;
	return GW_Z_OK;
}

/* One inflate call: at most room bytes out (room 0: only to see the stream end). Sets
 * *progress when it took or wrote anything. */
static enum gw_z_result z_inflate(struct gw_z_in *z, struct gw_buf *raw, struct gw_buf *plain,
                                  size_t room, bool *progress)
{
	z_stream *zs = z->zs;
	size_t avail = gw_buf_len(raw) < z->cleft ? gw_buf_len(raw) : z->cleft;
	bool whole = avail == z->cleft; /* the rest of the frame is all in raw */
	uint8_t spare;
	size_t want = z->uleft < room ? z->uleft : room;
	size_t took, wrote;
	int r;

	if (want > GW_Z_STEP)
		want = GW_Z_STEP;
	if (want > 0 && !gw_buf_reserve(plain, want))
		return GW_Z_NOMEM;
	zs->next_in = avail > 0 ? raw->data + raw->start : Z_NULL;
	zs->avail_in = (uInt)avail;
	/* With all its bytes written, the stream must end without writing more. */
	zs->next_out = want > 0 ? plain->data + plain->end : &spare;
	zs->avail_out = want > 0 ? (uInt)want : 1;
	r = inflate(zs, Z_NO_FLUSH);
	took = avail - zs->avail_in;
	wrote = (want > 0 ? want : 1) - zs->avail_out;
	if (want == 0 && wrote > 0)
		return GW_Z_BAD; /* longer than its header says */
	raw->start += took;
	z->cleft -= (uint32_t)took;
	plain->end += wrote;
	z->uleft -= (uint32_t)wrote;
	*progress = took > 0 || wrote > 0;
	if (r == Z_STREAM_END) {
		if (z->uleft > 0)
			return GW_Z_BAD; /* shorter than its header says */
		z->ended = true;
		*progress = true;
		return GW_Z_OK;
	}
	if (r != Z_OK && r != Z_BUF_ERROR)
		return GW_Z_BAD;
	if (!*progress && whole)
		return GW_Z_BAD; /* everything given, and the stream neither goes on nor ends */
	return GW_Z_OK;
}

enum gw_z_result gw_z_unwrap(struct gw_z_in *z, struct gw_buf *raw, struct gw_buf *plain,
                             size_t limit, uint8_t *seq)
{
	enum gw_z_result r = GW_Z_OK;

	for (;;) {
		size_t have = gw_buf_len(plain);
		size_t room = have < limit ? limit - have : 0;
		bool progress = false;

		if (z->in_frame && z->dropping) {
			size_t n = gw_buf_len(raw) < z->cleft ? gw_buf_len(raw) : z->cleft;

			raw->start += n;
			z->cleft -= (uint32_t)n;
			if (z->cleft > 0)
				break; /* the rest of it is still to come */
			z->in_frame = z->dropping = false;
		}
		if (!z->in_frame) {
			if (room == 0)
				break; /* a frame is begun only when it can give something */
			r = z_frame_start(z, raw, seq);
			if (r != GW_Z_OK || !z->in_frame)
				break;
		}
		if (z->stored) {
			size_t n = gw_buf_len(raw) < z->cleft ? gw_buf_len(raw) : z->cleft;

			if (n > room)
				n = room;
			if (n > 0 && !gw_buf_append(plain, raw->data + raw->start, n)) {
				r = GW_Z_NOMEM;
				break;
			}
			raw->start += n;
			z->cleft -= (uint32_t)n;
			z->uleft -= (uint32_t)n;
			progress = n > 0;
			z->ended = z->cleft == 0;
		} else if (!z->ended && (room > 0 || z->uleft == 0)) {
			r = z_inflate(z, raw, plain, room, &progress);
			if (r != GW_Z_OK)
				break;
		}
		if (z->ended) {
			/* Bytes after the stream's end are the frame's: skipped (as
			 * uncompress() does), once they are there. */
			size_t n = gw_buf_len(raw) < z->cleft ? gw_buf_len(raw) : z->cleft;

			raw->start += n;
			z->cleft -= (uint32_t)n;
			if (z->cleft == 0) {
				z->in_frame = false;
				continue;
			}
		}
		if (!progress)
			break; /* waiting for bytes, or for room */
	}
	if (raw->start == raw->end)
		raw->start = raw->end = 0;
	return r;
}

void gw_z_drop(struct gw_z_in *z, struct gw_buf *raw)
{
	for (;;) {
		size_t n;

		if (!z->in_frame) {
			if (gw_buf_len(raw) < GW_Z_HDR_LEN)
				break;
			z->cleft = wire_u24(raw->data + raw->start);
			z->in_frame = true;
			raw->start += GW_Z_HDR_LEN;
		}
		n = gw_buf_len(raw) < z->cleft ? gw_buf_len(raw) : z->cleft;
		raw->start += n;
		z->cleft -= (uint32_t)n;
		if (z->cleft > 0) {
			z->dropping = true;
			break;
		}
		z->in_frame = z->dropping = false;
	}
	if (raw->start == raw->end)
		raw->start = raw->end = 0;
}

void gw_z_in_free(struct gw_z_in *z)
{
	if (z->zs) {
		inflateEnd(z->zs);
		free(z->zs);
	}
	memset(z, 0, sizeof(*z));
}

static void put_u24(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}
bool gw_z_wrap(const uint8_t *p, size_t n, struct gw_buf *out, uint8_t *seq)
{
	while (n > 0) {
		size_t chunk = n < GW_Z_MAX_CHUNK ? n : GW_Z_MAX_CHUNK;
		uLongf bound = compressBound((uLong)chunk);
		uint8_t *h;

		if (!gw_buf_reserve(out, GW_Z_HDR_LEN + (chunk > bound ? chunk : bound)))
			return false;
		h = out->data + out->end;
		h[3] = (*seq)++;
		if (chunk >= GW_Z_MIN_LEN &&
		    compress2(h + GW_Z_HDR_LEN, &bound, p, (uLong)chunk, 1) == Z_OK &&
		    bound < chunk) {
			put_u24(h, bound);
			put_u24(h + 4, chunk);
			out->end += GW_Z_HDR_LEN + bound;
		} else {
			put_u24(h, chunk);
			put_u24(h + 4, 0);
			memcpy(h + GW_Z_HDR_LEN, p, chunk);
			out->end += GW_Z_HDR_LEN + chunk;
		}
		p += chunk;
		n -= chunk;
	}
	return true;
}
