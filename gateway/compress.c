/*
 * compress.c - the compressed protocol's framing (see compress.h).
 */
#include <string.h>
#include <zlib.h>

#include "gateway/compress.h"
#include "gateway/engine.h"

enum gw_z_result gw_z_unwrap(struct gw_buf *raw, struct gw_buf *plain, uint8_t *seq)
{
	while (gw_buf_len(raw) >= GW_Z_HDR_LEN) {
		const uint8_t *h = raw->data + raw->start;
		uint32_t clen = wire_u24(h), ulen = wire_u24(h + 4);

		if (gw_buf_len(raw) < GW_Z_HDR_LEN + (size_t)clen) {
			if (!gw_buf_reserve(raw, GW_Z_HDR_LEN + clen - gw_buf_len(raw)))
				return GW_Z_NOMEM;
			return GW_Z_OK;
		}
		*seq = (uint8_t)(h[3] + 1);
		if (ulen > (uint64_t)clen * 1032 + 64)
			return GW_Z_BAD; /* more than deflate can expand to: not a real frame */
		if (ulen == 0) {
			if (!gw_buf_append(plain, h + GW_Z_HDR_LEN, clen))
				return GW_Z_NOMEM;
		} else {
			uLongf out = ulen;

			if (!gw_buf_reserve(plain, ulen))
				return GW_Z_NOMEM;
			if (uncompress(plain->data + plain->end, &out, h + GW_Z_HDR_LEN, clen) !=
			        Z_OK ||
			    out != ulen)
				return GW_Z_BAD;
			plain->end += ulen;
		}
		raw->start += GW_Z_HDR_LEN + clen;
	}
	if (raw->start == raw->end)
		raw->start = raw->end = 0;
	return GW_Z_OK;
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
