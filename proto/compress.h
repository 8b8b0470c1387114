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

#define GW_Z_STEP (64 * 1024) /* most bytes one inflate call writes */

struct gw_buf;
struct z_stream_s;

enum gw_z_result {
	GW_Z_OK = 0, /* as much unwrapped as the limit allows; the rest waits */
	GW_Z_NOMEM,
	GW_Z_BAD, /* not a valid frame: the connection must close */
};

/* Where an unwrap stopped: inside a frame (its limit reached, or its bytes not all
 * received yet), the frame's inflater keeps its state for the next call. Zeroed at
 * the start; gw_z_in_free() at the end. */
struct gw_z_in {
	struct z_stream_s *zs; /* owned: the inflater, made on first use, reset per frame */
	uint32_t cleft;        /* the current frame's payload bytes not yet taken from raw */
	uint32_t uleft;        /* its uncompressed bytes not yet written to plain */
	bool in_frame;         /* a frame's header was taken and its payload is not done */
	bool stored;           /* that frame's payload is stored, not compressed */
	bool ended;            /* its zlib stream has ended */
	bool dropping;         /* gw_z_drop(): the frame's payload is skipped, not used */
};

/*
 * Unwrap frames from raw into plain (appending) until plain holds limit bytes or raw
 * runs out; *seq becomes the sequence id after the last frame begun. Nothing is
 * written once plain holds limit bytes, so plain never grows past
 * max(limit, its length before): a frame that inflates to more is unwrapped over
 * several calls, each taking up where the last one stopped (a frame need not have
 * arrived whole either). When plain holds less than limit afterwards, everything
 * raw held was used. A frame is malformed (GW_Z_BAD) when its payload is not a zlib
 * stream or inflates to more or fewer bytes than its header says.
 */
enum gw_z_result gw_z_unwrap(struct gw_z_in *z, struct gw_buf *raw, struct gw_buf *plain,
                             size_t limit, uint8_t *seq);
/* Drop what raw holds: the frame in progress and every frame whose header raw holds,
 * without inflating them; payload bytes of theirs still to come are skipped as they
 * arrive (by gw_z_unwrap). A partial header stays, to begin the next frame. */
void gw_z_drop(struct gw_z_in *z, struct gw_buf *raw);
void gw_z_in_free(struct gw_z_in *z);
/* Wrap n bytes into frames appended to out, numbering them from *seq. */
bool gw_z_wrap(const uint8_t *p, size_t n, struct gw_buf *out, uint8_t *seq);

#endif
