/*
 * compress.h - the MySQL compressed protocol (CLIENT_COMPRESS), between a client and
 * sluice. Pure: buffers in, buffers out, zlib underneath.
 *
 * A compressed frame is a 7-byte header - 3 bytes compressed length, 1 byte sequence id,
 * 3 bytes uncompressed length (0: the payload is stored, not compressed) - followed by
 * the payload, which carries ordinary MySQL packets (headers included), possibly several
 * or a part of one.
 */
#ifndef SLUICE_COMPRESS_H
#define SLUICE_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_Z_HDR_LEN   7
#define GW_Z_MIN_LEN   50          /* payloads shorter than this travel stored */
#define GW_Z_MAX_CHUNK (64 * 1024) /* uncompressed bytes per frame we write */

struct gw_buf;

enum gw_z_result {
	GW_Z_OK = 0, /* zero or more frames unwrapped; the rest waits for more bytes */
	GW_Z_NOMEM,
	GW_Z_BAD, /* not a valid frame: the connection must close */
};

/* Unwrap every whole frame in raw into plain (appending); *seq becomes the sequence id
 * after the last frame. */
enum gw_z_result gw_z_unwrap(struct gw_buf *raw, struct gw_buf *plain, uint8_t *seq);
/* Wrap n bytes into frames appended to out, numbering them from *seq. */
bool gw_z_wrap(const uint8_t *p, size_t n, struct gw_buf *out, uint8_t *seq);

#endif
