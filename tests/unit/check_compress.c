/*
 * check_compress.c - unit tests for proto/compress.c: the compressed protocol's frames
 * (a 7-byte header: 3 bytes payload length, 1 byte sequence id, 3 bytes uncompressed
 * length, 0 meaning stored) unwrapped incrementally and within a limit (issue 11: a
 * frame of a few kilobytes may claim 16 MiB).
 *
 * Frames are built here with zlib directly (not gw_z_wrap), so a wrapping bug cannot
 * hide an unwrapping bug.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gateway/gw.h"
#include "proto/compress.h"

#define MiB (1024u * 1024u)

static void put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

/* The test pattern: byte i of a stream. Periodic, so it deflates well, but not uniform,
 * so a resumed inflate that lost its place shows. */
static uint8_t pat(size_t i)
{
	return (uint8_t)(i % 251);
}

/* Append one frame to b: data[0, n) deflated (or stored), claiming ulen (normally n). */
static void add_frame(struct gw_buf *b, const uint8_t *data, size_t n, uint8_t seq, bool stored,
                      uint32_t ulen)
{
	uLongf clen = compressBound((uLong)n);
	uint8_t *h;

	ck_assert(gw_buf_reserve(b, GW_Z_HDR_LEN + (stored ? n : clen)));
	h = b->data + b->end;
	if (stored) {
		memcpy(h + GW_Z_HDR_LEN, data, n);
		clen = n;
	} else {
		ck_assert_int_eq(compress2(h + GW_Z_HDR_LEN, &clen, data, (uLong)n, 9), Z_OK);
	}
	put24(h, (uint32_t)clen);
	h[3] = seq;
	put24(h + 4, stored ? 0 : ulen);
	b->end += GW_Z_HDR_LEN + clen;
}

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = pat(i);
	return p;
}

/* plain holds pattern bytes [from, from + len(plain)) */
static void check_pattern(const struct gw_buf *plain, size_t from)
{
	for (size_t i = 0; i < gw_buf_len(plain); i++) {
		if (plain->data[plain->start + i] != pat(from + i))
			ck_abort_msg("byte %zu: %u, expected %u", from + i,
			             plain->data[plain->start + i], pat(from + i));
	}
}

START_TEST(test_small_frames)
{
	struct gw_buf raw = { 0 }, plain = { 0 };
	struct gw_z_in z = { 0 };
	uint8_t *d = pattern(1000);
	uint8_t seq = 0;

	add_frame(&raw, d, 1000, 0, false, 1000);
	add_frame(&raw, d + 1000 - 30, 30, 1, true, 0);
	ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, SIZE_MAX, &seq), GW_Z_OK);
	ck_assert_uint_eq(gw_buf_len(&plain), 1030);
	ck_assert_int_eq(memcmp(plain.data, d, 1000), 0);
	ck_assert_int_eq(memcmp(plain.data + 1000, d + 970, 30), 0);
	ck_assert_uint_eq(seq, 2);
	ck_assert_uint_eq(gw_buf_len(&raw), 0);
	ck_assert(!z.in_frame);
	gw_z_in_free(&z);
	gw_buf_free(&raw);
	gw_buf_free(&plain);
	free(d);
}
END_TEST

/* The zip bomb: one frame of a few kilobytes claiming (and holding) 16 MiB - 1. With a
 * 1 MiB limit each call writes exactly 1 MiB, and the next takes up where it stopped. */
START_TEST(test_bomb_bounded)
{
	const uint32_t total = 0xFFFFFF;
	struct gw_buf raw = { 0 }, plain = { 0 };
	struct gw_z_in z = { 0 };
	uint8_t *d = pattern(total);
	uint8_t seq = 0;
	size_t got = 0, calls = 0;

	add_frame(&raw, d, total, 7, false, total);
	free(d);
	ck_assert_uint_lt(gw_buf_len(&raw), 200 * 1024); /* small on the wire */
	while (got < total) {
		size_t before_raw = gw_buf_len(&raw);

		ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, MiB, &seq), GW_Z_OK);
		ck_assert_uint_le(gw_buf_len(&plain), MiB);
		ck_assert_uint_le(plain.cap, 2 * MiB); /* no more memory than the limit */
		ck_assert_uint_eq(gw_buf_len(&plain), total - got < MiB ? total - got : MiB);
		ck_assert(gw_buf_len(&plain) > 0 || gw_buf_len(&raw) < before_raw);
		check_pattern(&plain, got);
		got += gw_buf_len(&plain);
		plain.start = plain.end = 0; /* the packets were used */
		ck_assert_uint_le(++calls, 17);
	}
	ck_assert_uint_eq(calls, 16);
	ck_assert_uint_eq(seq, 8);
	ck_assert(!z.in_frame);
	ck_assert_uint_eq(gw_buf_len(&raw), 0);
	/* and nothing more to come */
	ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, MiB, &seq), GW_Z_OK);
	ck_assert_uint_eq(gw_buf_len(&plain), 0);
	gw_z_in_free(&z);
	gw_buf_free(&raw);
	gw_buf_free(&plain);
}
END_TEST

/* A limit already reached: no frame is begun, nothing is written or taken. */
START_TEST(test_no_room)
{
	struct gw_buf raw = { 0 }, plain = { 0 };
	struct gw_z_in z = { 0 };
	uint8_t *d = pattern(5000);
	uint8_t seq = 3;
	size_t raw_len;

	add_frame(&raw, d, 5000, 0, false, 5000);
	raw_len = gw_buf_len(&raw);
	ck_assert(gw_buf_append(&plain, "abcd", 4));
	ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, 4, &seq), GW_Z_OK);
	ck_assert_uint_eq(gw_buf_len(&plain), 4);
	ck_assert_uint_eq(gw_buf_len(&raw), raw_len);
	ck_assert_uint_eq(seq, 3);
	ck_assert(!z.in_frame);
	/* the limit counts what plain already held */
	ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, 104, &seq), GW_Z_OK);
	ck_assert_uint_eq(gw_buf_len(&plain), 104);
	ck_assert_int_eq(memcmp(plain.data + 4, d, 100), 0);
	ck_assert(z.in_frame);
	ck_assert_uint_eq(seq, 1);
	gw_z_in_free(&z);
	gw_buf_free(&raw);
	gw_buf_free(&plain);
	free(d);
}
END_TEST

/* Frames arriving a byte at a time, unwrapped with a small limit: the same bytes. */
START_TEST(test_trickled)
{
	const size_t n = 300000;
	struct gw_buf frames = { 0 }, raw = { 0 }, plain = { 0 };
	struct gw_z_in z = { 0 };
	uint8_t *d = pattern(n);
	uint8_t seq = 0;
	size_t got = 0;

	add_frame(&frames, d, 100000, 0, false, 100000);
	add_frame(&frames, d + 100000, 1000, 1, true, 0);
	add_frame(&frames, d + 101000, n - 101000, 2, false, (uint32_t)(n - 101000));
	for (size_t i = 0; i < gw_buf_len(&frames); i++) {
		ck_assert(gw_buf_append(&raw, frames.data + i, 1));
		for (;;) {
			ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, 777, &seq), GW_Z_OK);
			ck_assert_uint_le(gw_buf_len(&plain), 777);
			if (gw_buf_len(&plain) == 0)
				break;
			check_pattern(&plain, got);
			got += gw_buf_len(&plain);
			plain.start = plain.end = 0;
		}
	}
	ck_assert_uint_eq(got, n);
	ck_assert_uint_eq(seq, 3);
	ck_assert(!z.in_frame);
	gw_z_in_free(&z);
	gw_buf_free(&frames);
	gw_buf_free(&raw);
	gw_buf_free(&plain);
	free(d);
}
END_TEST

/* Frames that lie about their size, or are not zlib, are malformed; a claim no deflate
 * stream can reach is refused from the header alone. */
START_TEST(test_malformed)
{
	uint8_t *d = pattern(4096);
	struct {
		const char *what;
		uint32_t claim; /* the uncompressed length the header states */
		bool garbage;
	} cases[] = {
		{ "claims more than it holds", 4097, false },
		{ "claims less than it holds", 4095, false },
		{ "claims 16 MiB, holds 4 KiB", 0xFFFFFF, false },
		{ "not a zlib stream", 4096, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gw_buf raw = { 0 }, plain = { 0 };
		struct gw_z_in z = { 0 };
		uint8_t seq = 0;
		enum gw_z_result r;

		add_frame(&raw, d, 4096, 0, false, cases[i].claim);
		if (cases[i].garbage)
			memset(raw.data + GW_Z_HDR_LEN, 0x5a, gw_buf_len(&raw) - GW_Z_HDR_LEN);
		do /* with a small limit: the lie shows only at the end */
			r = gw_z_unwrap(&z, &raw, &plain, gw_buf_len(&plain) + 1000, &seq);
		while (r == GW_Z_OK && (gw_buf_len(&raw) > 0 || z.in_frame) &&
		       gw_buf_len(&plain) < 0xFFFFFF);
		ck_assert_msg(r == GW_Z_BAD, "%s: %d", cases[i].what, r);
		ck_assert_uint_le(gw_buf_len(&plain), 4096);
		gw_z_in_free(&z);
		gw_buf_free(&raw);
		gw_buf_free(&plain);
	}
	{
		/* 10 payload bytes cannot inflate to 1 MiB: refused before any inflating */
		struct gw_buf raw = { 0 }, plain = { 0 };
		struct gw_z_in z = { 0 };
		uint8_t hdr[GW_Z_HDR_LEN + 10] = { 0 };
		uint8_t seq = 0;

		put24(hdr, 10);
		put24(hdr + 4, MiB);
		ck_assert(gw_buf_append(&raw, hdr, sizeof(hdr)));
		ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, SIZE_MAX, &seq), GW_Z_BAD);
		ck_assert_uint_eq(plain.cap, 0);
		gw_z_in_free(&z);
		gw_buf_free(&raw);
		gw_buf_free(&plain);
	}
	free(d);
}
END_TEST

/* What gw_z_wrap writes comes back whole, in one call or in many. */
START_TEST(test_wrap_round_trip)
{
	const size_t n = 200000;
	struct gw_buf raw = { 0 }, plain = { 0 };
	struct gw_z_in z = { 0 };
	uint8_t *d = pattern(n);
	uint8_t wseq = 5, rseq = 0;
	size_t got = 0;

	ck_assert(gw_z_wrap(d, n, &raw, &wseq));
	ck_assert(gw_z_wrap((const uint8_t *)"tiny", 4, &raw, &wseq)); /* stored */
	while (gw_buf_len(&raw) > 0 || z.in_frame) {
		ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, 10000, &rseq), GW_Z_OK);
		ck_assert_uint_gt(gw_buf_len(&plain), 0);
		if (got < n)
			check_pattern(&plain, got);
		got += gw_buf_len(&plain);
		if (got == n + 4)
			ck_assert_int_eq(memcmp(plain.data + plain.end - 4, "tiny", 4), 0);
		plain.start = plain.end = 0;
	}
	ck_assert_uint_eq(got, n + 4);
	ck_assert_uint_eq(rseq, wseq);
	gw_z_in_free(&z);
	gw_buf_free(&raw);
	gw_buf_free(&plain);
	free(d);
}
END_TEST

/* gw_z_drop: the frame being unwrapped, the whole frames behind it and the part of
 * the last one received are dropped; its rest is skipped when it arrives, and the
 * frame after it is unwrapped as usual. */
START_TEST(test_drop)
{
	struct gw_buf frames = { 0 }, raw = { 0 }, plain = { 0 };
	struct gw_z_in z = { 0 };
	uint8_t *d = pattern(300000);
	uint8_t seq = 0;
	size_t cut;

	add_frame(&frames, d, 100000, 0, false, 100000); /* being unwrapped */
	add_frame(&frames, d, 2000, 1, true, 0);         /* whole, behind it */
	add_frame(&frames, d, 100000, 2, false, 100000); /* received in part */
	cut = gw_buf_len(&frames) - 50;
	add_frame(&frames, d + 1234, 5000, 3, false, 5000); /* sent after the drop */
	ck_assert(gw_buf_append(&raw, frames.data, cut));
	ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, 1000, &seq), GW_Z_OK);
	ck_assert_uint_eq(gw_buf_len(&plain), 1000);
	plain.start = plain.end = 0;
	gw_z_drop(&z, &raw);
	ck_assert_uint_eq(gw_buf_len(&raw), 0);
	ck_assert(gw_buf_append(&raw, frames.data + cut, gw_buf_len(&frames) - cut));
	ck_assert_int_eq(gw_z_unwrap(&z, &raw, &plain, SIZE_MAX, &seq), GW_Z_OK);
	ck_assert_uint_eq(gw_buf_len(&plain), 5000);
	ck_assert_int_eq(memcmp(plain.data + plain.start, d + 1234, 5000), 0);
	ck_assert_uint_eq(seq, 4);
	ck_assert_uint_eq(gw_buf_len(&raw), 0);
	ck_assert(!z.in_frame);
	gw_z_in_free(&z);
	gw_buf_free(&frames);
	gw_buf_free(&raw);
	gw_buf_free(&plain);
	free(d);
}
END_TEST

static Suite *compress_suite(void)
{
	Suite *s = suite_create("compress");
	TCase *tc = tcase_create("unwrap");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_small_frames);
	tcase_add_test(tc, test_bomb_bounded);
	tcase_add_test(tc, test_no_room);
	tcase_add_test(tc, test_trickled);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_wrap_round_trip);
	tcase_add_test(tc, test_drop);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(compress_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
