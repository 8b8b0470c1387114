/*
 * check_wire.c - unit tests for proto/wire.c, written from the protocol documentation
 * (dev.mysql.com "Client/Server Protocol" pages and the MariaDB protocol pages), not
 * from the implementation.
 *
 * Inputs are built by hand (hex strings, or the small tb_* writer below, which does not
 * use wire_put_*), so a builder bug cannot hide a parser bug. Where the documentation
 * gives an example packet, the test uses those exact bytes. Parsers are always given a
 * heap copy of exactly the input's size, so an over-read shows up under ASan.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"

/* ---- helpers ---- */

/* Hex digits to bytes, ignoring spaces; the tables below are always well formed. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s != '\0') {
		unsigned int v;

		if (*s == ' ') {
			s++;
			continue;
		}
		ck_assert_int_eq(sscanf(s, "%2x", &v), 1);
		ck_assert_uint_lt(n, cap);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

/* An exact-size heap copy, so that ASan flags a read one past the end. */
static uint8_t *dup_exact(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(d);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

/* A test-only byte writer, independent of wire_put_* (little-endian, as the protocol). */
struct tb {
	uint8_t d[1024];
	size_t n;
};

static void tb_raw(struct tb *t, const void *p, size_t n)
{
	ck_assert_uint_le(t->n + n, sizeof(t->d));
	memcpy(t->d + t->n, p, n);
	t->n += n;
}

static void tb_le(struct tb *t, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		t->d[t->n++] = (uint8_t)(v >> (8 * i));
}

static void tb_zstr(struct tb *t, const char *s)
{
	tb_raw(t, s, strlen(s) + 1);
}

/* A length-encoded string whose length is < 251 (all the tests need). */
static void tb_lstr(struct tb *t, const char *s)
{
	size_t n = strlen(s);

	ck_assert_uint_lt(n, 251);
	tb_le(t, n, 1);
	tb_raw(t, s, n);
}

/* ---- length-encoded integers ---- */

/*
 * "Protocol::LengthEncodedInteger": < 0xFB one byte; 0xFC + 2 bytes; 0xFD + 3 bytes;
 * 0xFE + 8 bytes; 0xFB is NULL (only meaningful in rows), 0xFF is not an integer.
 */
static const struct {
	const char *hex;
	bool ok;
	uint64_t value;
	size_t used;
} lenenc_get_cases[] = {
	{ "00", true, 0, 1 },
	{ "fa", true, 250, 1 },
	{ "fb", false, 0, 0 },
	{ "fc fb 00", true, 251, 3 },
	{ "fc ff ff", true, 0xffff, 3 },
	{ "fc 00 01 99", true, 256, 3 }, /* trailing byte left alone */
	{ "fc ff", false, 0, 0 },
	{ "fc", false, 0, 0 },
	{ "fd 00 00 01", true, 0x10000, 4 },
	{ "fd ff ff ff", true, 0xffffff, 4 },
	{ "fd ff ff", false, 0, 0 },
	{ "fe 00 00 00 01 00 00 00 00", true, 0x1000000, 9 },
	{ "fe ff ff ff ff ff ff ff ff", true, UINT64_MAX, 9 },
	{ "fe 08 07 06 05 04 03 02 01", true, 0x0102030405060708ull, 9 },
	{ "fe ff ff ff ff ff ff ff", false, 0, 0 },
	{ "fe", false, 0, 0 },
	{ "ff", false, 0, 0 },
	{ "", false, 0, 0 },
};

START_TEST(test_lenenc_get)
{
	uint8_t raw[16];
	size_t n = unhex(lenenc_get_cases[_i].hex, raw, sizeof(raw));
	uint8_t *p = dup_exact(raw, n);
	struct wire_cur c = wire_cur_init(p, n);
	uint64_t v = 12345;
	bool ok = wire_get_lenenc(&c, &v, NULL);

	ck_assert_msg(ok == lenenc_get_cases[_i].ok, "case '%s'", lenenc_get_cases[_i].hex);
	ck_assert_uint_le(c.off, n);
	if (ok) {
		ck_assert_uint_eq(v, lenenc_get_cases[_i].value);
		ck_assert_uint_eq(c.off, lenenc_get_cases[_i].used);
	}
	free(p);
}
END_TEST

START_TEST(test_lenenc_null)
{
	uint8_t *p = dup_exact("\xfb\x05", 2);
	struct wire_cur c = wire_cur_init(p, 2);
	uint64_t v = 7;
	bool is_null = false;

	ck_assert(wire_get_lenenc(&c, &v, &is_null));
	ck_assert(is_null);
	ck_assert_uint_eq(c.off, 1);
	/* A non-NULL value clears the flag. */
	ck_assert(wire_get_lenenc(&c, &v, &is_null));
	ck_assert(!is_null);
	ck_assert_uint_eq(v, 5);
	free(p);
}
END_TEST

static const struct {
	uint64_t v;
	const char *hex;
} lenenc_put_cases[] = {
	{ 0, "00" },
	{ 250, "fa" },
	{ 251, "fc fb 00" },
	{ 252, "fc fc 00" },
	{ 0xffff, "fc ff ff" },
	{ 0x10000, "fd 00 00 01" },
	{ 0xffffff, "fd ff ff ff" },
	{ 0x1000000, "fe 00 00 00 01 00 00 00 00" },
	{ UINT64_MAX, "fe ff ff ff ff ff ff ff ff" },
};

START_TEST(test_lenenc_put)
{
	struct wire_buf b;
	uint8_t want[16];
	size_t n = unhex(lenenc_put_cases[_i].hex, want, sizeof(want));
	struct wire_cur c;
	uint64_t back;

	wire_buf_init(&b);
	wire_put_lenenc(&b, lenenc_put_cases[_i].v);
	ck_assert(!b.failed);
	ck_assert_uint_eq(b.len, n);
	ck_assert_mem_eq(b.data, want, n);

	c = wire_cur_init(b.data, b.len);
	ck_assert(wire_get_lenenc(&c, &back, NULL));
	ck_assert_uint_eq(back, lenenc_put_cases[_i].v);
	ck_assert_uint_eq(wire_cur_left(&c), 0);
	wire_buf_free(&b);
}
END_TEST

/* ---- cursor getters ---- */

START_TEST(test_cursor_fixed_ints)
{
	static const uint8_t src[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	uint8_t *p;
	struct wire_cur c;
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	/* Each getter on exactly its size succeeds (little-endian), one short fails. */
	p = dup_exact(src, 1);
	c = wire_cur_init(p, 1);
	ck_assert(wire_get_u8(&c, &v8) && v8 == 0x01);
	ck_assert(!wire_get_u8(&c, &v8));
	free(p);

	p = dup_exact(src, 2);
	c = wire_cur_init(p, 2);
	ck_assert(wire_get_u16(&c, &v16));
	ck_assert_uint_eq(v16, 0x0201);
	c = wire_cur_init(p, 1);
	ck_assert(!wire_get_u16(&c, &v16));
	ck_assert_uint_le(c.off, 1);
	free(p);

	p = dup_exact(src, 3);
	c = wire_cur_init(p, 3);
	ck_assert(wire_get_u24(&c, &v32));
	ck_assert_uint_eq(v32, 0x030201);
	c = wire_cur_init(p, 2);
	ck_assert(!wire_get_u24(&c, &v32));
	free(p);

	p = dup_exact(src, 4);
	c = wire_cur_init(p, 4);
	ck_assert(wire_get_u32(&c, &v32));
	ck_assert_uint_eq(v32, 0x04030201);
	c = wire_cur_init(p, 3);
	ck_assert(!wire_get_u32(&c, &v32));
	free(p);

	p = dup_exact(src, 8);
	c = wire_cur_init(p, 8);
	ck_assert(wire_get_u64(&c, &v64));
	ck_assert_uint_eq(v64, 0x0807060504030201ull);
	ck_assert_uint_eq(wire_cur_left(&c), 0);
	c = wire_cur_init(p, 7);
	ck_assert(!wire_get_u64(&c, &v64));
	free(p);

	/* Sequential reads advance the offset. */
	p = dup_exact(src, 8);
	c = wire_cur_init(p, 8);
	ck_assert(wire_get_u8(&c, &v8) && v8 == 0x01);
	ck_assert(wire_get_u16(&c, &v16) && v16 == 0x0302);
	ck_assert(wire_get_u32(&c, &v32) && v32 == 0x07060504);
	ck_assert_uint_eq(wire_cur_left(&c), 1);
	ck_assert(!wire_get_u16(&c, &v16));
	ck_assert_uint_le(c.off, 8);
	free(p);
}
END_TEST

START_TEST(test_cursor_strings)
{
	uint8_t *p;
	struct wire_cur c;
	const char *s;
	const uint8_t *b;
	size_t n;

	/* string<NUL>: length excludes the NUL, the NUL is consumed. */
	p = dup_exact("ab\0c", 4);
	c = wire_cur_init(p, 4);
	ck_assert(wire_get_cstr(&c, &s, &n));
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(s, "ab", 2);
	ck_assert_uint_eq(c.off, 3);
	/* "c" has no terminator inside the buffer. */
	ck_assert(!wire_get_cstr(&c, &s, &n));
	ck_assert_uint_le(c.off, 4);
	free(p);

	/* An empty string<NUL>. */
	p = dup_exact("\0", 1);
	c = wire_cur_init(p, 1);
	ck_assert(wire_get_cstr(&c, &s, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(wire_cur_left(&c), 0);
	ck_assert(!wire_get_cstr(&c, &s, &n));
	free(p);

	/* string<lenenc>: fits exactly, then one byte short. */
	p = dup_exact("\x03xyz", 4);
	c = wire_cur_init(p, 4);
	ck_assert(wire_get_lenenc_str(&c, &b, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(b, "xyz", 3);
	c = wire_cur_init(p, 3);
	ck_assert(!wire_get_lenenc_str(&c, &b, &n));
	ck_assert_uint_le(c.off, 3);
	free(p);

	/* A huge declared length must not wrap around the bounds check. */
	p = dup_exact("\xfe\xff\xff\xff\xff\xff\xff\xff\xff"
	              "abc",
	              12);
	c = wire_cur_init(p, 12);
	ck_assert(!wire_get_lenenc_str(&c, &b, &n));
	free(p);

	/* string<lenenc> of NULL (0xFB) is not a string. */
	p = dup_exact("\xfb", 1);
	c = wire_cur_init(p, 1);
	ck_assert(!wire_get_lenenc_str(&c, &b, &n));
	free(p);

	/* Fixed-size bytes and the rest of the packet. */
	p = dup_exact("0123456789", 10);
	c = wire_cur_init(p, 10);
	ck_assert(wire_get_bytes(&c, 4, &b));
	ck_assert_mem_eq(b, "0123", 4);
	ck_assert(!wire_get_bytes(&c, 7, &b));
	ck_assert(!wire_get_bytes(&c, SIZE_MAX, &b));
	ck_assert(wire_get_bytes(&c, 0, &b));
	wire_get_rest(&c, &b, &n);
	ck_assert_uint_eq(n, 6);
	ck_assert_mem_eq(b, "456789", 6);
	ck_assert_uint_eq(wire_cur_left(&c), 0);
	wire_get_rest(&c, &b, &n);
	ck_assert_uint_eq(n, 0);
	free(p);
}
END_TEST

/* ---- packet builder ---- */

static uint32_t hdr_len(const uint8_t *h)
{
	return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
}

START_TEST(test_packet_small)
{
	struct wire_buf b;
	size_t off, off2;
	uint8_t next;

	wire_buf_init(&b);
	off = wire_packet_begin(&b, 3);
	wire_put_bytes(&b, "hello", 5);
	next = wire_packet_end(&b, off);
	ck_assert_uint_eq(next, 4);
	ck_assert_uint_eq(b.len, 9);
	ck_assert_mem_eq(b.data, "\x05\x00\x00\x03hello", 9);

	/* A second, empty packet after the first. */
	off2 = wire_packet_begin(&b, next);
	ck_assert_uint_eq(off2, 9);
	next = wire_packet_end(&b, off2);
	ck_assert_uint_eq(next, 5);
	ck_assert_uint_eq(b.len, 13);
	ck_assert_mem_eq(b.data + 9, "\x00\x00\x00\x04", 4);
	ck_assert(!b.failed);

	/* The sequence id wraps around (protocol docs, "Sequence ID"). */
	wire_buf_reset(&b);
	off = wire_packet_begin(&b, 255);
	wire_put_u8(&b, 1);
	ck_assert_uint_eq(wire_packet_end(&b, off), 0);
	ck_assert_mem_eq(b.data, "\x01\x00\x00\xff\x01", 5);
	wire_buf_free(&b);
}
END_TEST

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 31 + i / 251);
}

/*
 * Builds one logical payload of `size` bytes and checks the framing against the protocol
 * docs ("Sending More Than 16Mb"): packets of 0xffffff bytes while the payload lasts, then
 * one shorter packet, empty if the payload was an exact multiple, with consecutive
 * sequence ids; and that the payload bytes come through in order.
 */
static void check_split(size_t size, uint8_t seq, size_t want_packets)
{
	struct wire_buf b;
	size_t off, pos = 0, done = 0, npk = 0;
	uint8_t next, *payload;

	payload = malloc(size);
	ck_assert_ptr_nonnull(payload);
	for (size_t i = 0; i < size; i++)
		payload[i] = pattern(i);

	wire_buf_init(&b);
	wire_put_bytes(&b, "XY", 2); /* something before, to check off is honoured */
	off = wire_packet_begin(&b, seq);
	ck_assert_uint_eq(off, 2);
	wire_put_bytes(&b, payload, size);
	next = wire_packet_end(&b, off);
	ck_assert(!b.failed);
	ck_assert_uint_eq(next, (uint8_t)(seq + want_packets));
	ck_assert_uint_eq(b.len, 2 + size + WIRE_HDR_LEN * want_packets);
	ck_assert_mem_eq(b.data, "XY", 2);

	pos = off;
	for (;;) {
		uint32_t n;

		ck_assert_uint_le(pos + WIRE_HDR_LEN, b.len);
		n = hdr_len(b.data + pos);
		ck_assert_uint_eq(b.data[pos + 3], (uint8_t)(seq + npk));
		ck_assert_uint_le(pos + WIRE_HDR_LEN + n, b.len);
		ck_assert_msg(memcmp(b.data + pos + WIRE_HDR_LEN, payload + done, n) == 0,
		              "packet %zu content differs", npk);
		done += n;
		pos += WIRE_HDR_LEN + n;
		npk++;
		if (n < WIRE_MAX_PAYLOAD)
			break;
	}
	ck_assert_uint_eq(npk, want_packets);
	ck_assert_uint_eq(done, size);
	ck_assert_uint_eq(pos, b.len);
	wire_buf_free(&b);
	free(payload);
}

START_TEST(test_packet_below_limit)
{
	check_split(WIRE_MAX_PAYLOAD - 1, 0, 1);
}
END_TEST

START_TEST(test_packet_exact_limit)
{
	/* "Sending a payload of 16 777 215 (2^24-1) bytes looks like:
	 *  ff ff ff 00 ...  00 00 00 01" */
	check_split(WIRE_MAX_PAYLOAD, 0, 2);
}
END_TEST

START_TEST(test_packet_two_limits_plus_ten)
{
	check_split(2 * (size_t)WIRE_MAX_PAYLOAD + 10, 7, 3);
}
END_TEST

START_TEST(test_packet_two_limits_exact)
{
	check_split(2 * (size_t)WIRE_MAX_PAYLOAD, 254, 3); /* ids 254, 255, 0 */
}
END_TEST

/* ---- handshake ---- */

/*
 * A HandshakeV10 captured from MySQL 5.7.18 (payload of 0x4e bytes): version
 * "5.7.18-log", connection id 0x00297a12, caps 0xc1ffffff, charset 0x21, status 0x0002,
 * auth_plugin_data_len 21, mysql_native_password.
 */
static const char handshake_5718[] =
    "0a 35 2e 37 2e 31 38 2d 6c 6f 67 00 12 7a 29 00 33 58 38 18 44 5e 16 48 00 ff ff"
    " 21 02 00 ff c1 15 00 00 00 00 00 00 00 00 00 00 40 79 11 30 2a 41 61 55 64 77 6e"
    " 0d 00 6d 79 73 71 6c 5f 6e 61 74 69 76 65 5f 70 61 73 73 77 6f 72 64 00";

START_TEST(test_handshake_parse_capture)
{
	static const uint8_t salt[20] = { 0x33, 0x58, 0x38, 0x18, 0x44, 0x5e, 0x16,
		                          0x48, 0x40, 0x79, 0x11, 0x30, 0x2a, 0x41,
		                          0x61, 0x55, 0x64, 0x77, 0x6e, 0x0d };
	uint8_t raw[128], *p;
	size_t n = unhex(handshake_5718, raw, sizeof(raw));
	struct wire_handshake h;

	ck_assert_uint_eq(n, 0x4e);
	p = dup_exact(raw, n);
	ck_assert(wire_parse_handshake(p, n, &h));
	ck_assert_uint_eq(h.protocol, 10);
	ck_assert_str_eq(h.server_version, "5.7.18-log");
	ck_assert_uint_eq(h.conn_id, 0x00297a12);
	ck_assert_uint_eq(h.caps, 0xc1ffffff);
	ck_assert_uint_eq(h.charset, 0x21);
	ck_assert_uint_eq(h.status, SERVER_STATUS_AUTOCOMMIT);
	ck_assert_mem_eq(h.scramble, salt, 20);
	ck_assert_str_eq(h.auth_plugin, "mysql_native_password");
	free(p);
}
END_TEST

/*
 * Truncations of the capture. The docs allow the packet to stop right after the lower
 * capability bytes ("if more data in the packet"); anywhere else before the end of
 * auth-plugin-data-part-2 it is malformed.
 */
START_TEST(test_handshake_truncated)
{
	uint8_t raw[128];
	size_t n = unhex(handshake_5718, raw, sizeof(raw));
	const size_t after_caps_lo = 1 + 11 + 4 + 8 + 1 + 2;
	const size_t after_part2 = after_caps_lo + 1 + 2 + 2 + 1 + 10 + 13;

	for (size_t k = 0; k < after_part2; k++) {
		uint8_t *p = dup_exact(raw, k);
		struct wire_handshake h;
		bool ok = wire_parse_handshake(p, k, &h);

		if (k == after_caps_lo) {
			ck_assert_msg(ok, "pre-4.1 length %zu rejected", k);
			ck_assert_uint_eq(h.caps, 0xffff);
		} else {
			ck_assert_msg(!ok, "truncated at %zu accepted", k);
		}
		free(p);
	}
	/* Anything else but protocol 10 is refused. */
	raw[0] = 9;
	ck_assert(!wire_parse_handshake(raw, n, &(struct wire_handshake){ 0 }));
}
END_TEST

START_TEST(test_handshake_roundtrip)
{
	struct wire_handshake h, back;
	struct wire_buf b;
	uint8_t next;

	memset(&h, 0, sizeof(h));
	h.protocol = 10;
	strcpy(h.server_version, "8.0.36-sluice");
	h.conn_id = 0xdeadbeef;
	for (int i = 0; i < 20; i++)
		h.scramble[i] = (uint8_t)(0x21 + i * 5);
	h.caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
	         CLIENT_LONG_PASSWORD | CLIENT_TRANSACTIONS | CLIENT_DEPRECATE_EOF |
	         CLIENT_SESSION_TRACK | CLIENT_CONNECT_WITH_DB;
	h.charset = 45;
	h.status = SERVER_STATUS_AUTOCOMMIT;
	strcpy(h.auth_plugin, "mysql_native_password");

	wire_buf_init(&b);
	wire_build_handshake(&b, 0, &h);
	ck_assert(!b.failed);
	ck_assert_uint_ge(b.len, WIRE_HDR_LEN);
	ck_assert_uint_eq(hdr_len(b.data), b.len - WIRE_HDR_LEN);
	ck_assert_uint_eq(b.data[3], 0);
	/* Fixed layout: version, then conn id right after the version's NUL. */
	ck_assert_uint_eq(b.data[4], 10);
	ck_assert_mem_eq(b.data + 5, "8.0.36-sluice\0\xef\xbe\xad\xde", 18);
	/* The docs: auth-plugin-data-part-2 is MAX(13, len - 8) bytes, i.e. 12 + NUL. */
	ck_assert_uint_eq(b.len - WIRE_HDR_LEN,
	                  1 + 14 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 13 + 22);

	ck_assert(wire_parse_handshake(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &back));
	ck_assert_uint_eq(back.protocol, 10);
	ck_assert_str_eq(back.server_version, h.server_version);
	ck_assert_uint_eq(back.conn_id, h.conn_id);
	ck_assert_mem_eq(back.scramble, h.scramble, 20);
	ck_assert_uint_eq(back.caps, h.caps);
	ck_assert_uint_eq(back.charset, h.charset);
	ck_assert_uint_eq(back.status, h.status);
	ck_assert_str_eq(back.auth_plugin, h.auth_plugin);

	/* Next sequence id is returned by the builder through wire_packet_end, not here;
	 * just check a second packet can follow. */
	next = wire_packet_end(&b, wire_packet_begin(&b, 1));
	ck_assert_uint_eq(next, 2);
	wire_buf_free(&b);
}
END_TEST

/* MariaDB's extended capabilities ride in the fillers of both handshake packets, only
 * without CLIENT_MYSQL (issue 12). */
START_TEST(test_handshake_ext_caps)
{
	struct wire_handshake h, back;
	struct wire_handshake_resp r, rback;
	struct wire_buf b;

	memset(&h, 0, sizeof(h));
	h.protocol = 10;
	strcpy(h.server_version, "5.5.5-10.11.9-MariaDB-sluice");
	h.caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
	h.ext_caps = MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA;
	strcpy(h.auth_plugin, "mysql_native_password");
	wire_buf_init(&b);
	wire_build_handshake(&b, 0, &h);
	ck_assert(wire_parse_handshake(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &back));
	ck_assert_uint_eq(back.ext_caps, h.ext_caps);
	wire_buf_reset(&b);
	h.caps |= CLIENT_MYSQL; /* a MySQL server: no extended capabilities */
	wire_build_handshake(&b, 0, &h);
	ck_assert(wire_parse_handshake(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &back));
	ck_assert_uint_eq(back.ext_caps, 0);

	memset(&r, 0, sizeof(r));
	r.caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
	r.ext_caps = MARIADB_CLIENT_EXTENDED_METADATA;
	strcpy(r.user, "u");
	strcpy(r.auth_plugin, "mysql_native_password");
	wire_buf_reset(&b);
	wire_build_handshake_resp(&b, 1, &r);
	ck_assert(wire_parse_handshake_resp(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &rback));
	ck_assert_uint_eq(rback.ext_caps, MARIADB_CLIENT_EXTENDED_METADATA);
	ck_assert_str_eq(rback.user, "u");
	wire_buf_free(&b);
}
END_TEST

/* The extended-metadata block of a column definition: found after the six names, with
 * or without one. */
START_TEST(test_coldef_ext_block)
{
	static const uint8_t with[] = "\003def\001d\001t\001t\001j\001j"
				      "\006\001\004json"
				      "\014\055\000\377\377\377\377\374\220\000\000\000\000";
	size_t n = sizeof(with) - 1, cut, cut_len;
	uint8_t without[64];

	ck_assert(wire_coldef_ext_block(with, n, true, &cut, &cut_len));
	ck_assert_uint_eq(cut, 14);
	ck_assert_uint_eq(cut_len, 7);
	memcpy(without, with, cut);
	memcpy(without + cut, with + cut + cut_len, n - cut - cut_len);
	ck_assert(wire_coldef_ext_block(without, n - cut_len, false, &cut, &cut_len));
	ck_assert_uint_eq(cut, 14);
	ck_assert_uint_eq(cut_len, 0);
	/* A block longer than the packet, or a truncated fixed part, is no definition. */
	ck_assert(!wire_coldef_ext_block(with, 20, true, &cut, &cut_len));
	ck_assert(!wire_coldef_ext_block(without, n - 7 - 1, false, &cut, &cut_len));
}
END_TEST

/* ---- handshake response ---- */

#define RESP_CAPS                                                                                  \
	(CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS |                         \
	 CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_MULTI_RESULTS)

static const uint8_t answer20[20] = { 0xc1, 0x7d, 0x60, 0x09, 0xa5, 0xcb, 0x47, 0xe5, 0x9f, 0x74,
	                              0x83, 0xfc, 0xf0, 0x55, 0x53, 0xbb, 0xbf, 0x7d, 0xd0, 0xd6 };

/* The attribute pairs of a typical libmysqlclient login (lenenc key, lenenc value). */
static void tb_attrs(struct tb *pairs)
{
	pairs->n = 0;
	tb_lstr(pairs, "_os");
	tb_lstr(pairs, "Linux");
	tb_lstr(pairs, "_client_name");
	tb_lstr(pairs, "libmysql");
	tb_lstr(pairs, "_pid");
	tb_lstr(pairs, "4242");
}

/* Protocol::HandshakeResponse41, laid out per the docs, with the options selected by caps. */
static void tb_handshake_resp(struct tb *t, uint32_t caps, const char *db)
{
	struct tb pairs;

	t->n = 0;
	tb_le(t, caps, 4);
	tb_le(t, 0x01000000, 4); /* max_packet_size */
	tb_le(t, 0x21, 1);       /* character_set */
	for (int i = 0; i < 23; i++)
		tb_le(t, 0, 1);
	tb_zstr(t, "alice");
	tb_le(t, sizeof(answer20), 1); /* both lenenc (< 251) and int<1> */
	tb_raw(t, answer20, sizeof(answer20));
	if (caps & CLIENT_CONNECT_WITH_DB)
		tb_zstr(t, db);
	if (caps & CLIENT_PLUGIN_AUTH)
		tb_zstr(t, "mysql_native_password");
	if (caps & CLIENT_CONNECT_ATTRS) {
		tb_attrs(&pairs);
		tb_le(t, pairs.n, 1);
		tb_raw(t, pairs.d, pairs.n);
	}
}

static const uint32_t hresp_caps_cases[] = {
	RESP_CAPS,
	RESP_CAPS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
	RESP_CAPS | CLIENT_CONNECT_WITH_DB,
	RESP_CAPS | CLIENT_CONNECT_ATTRS,
	RESP_CAPS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_WITH_DB |
	    CLIENT_CONNECT_ATTRS,
};

START_TEST(test_handshake_resp_parse)
{
	uint32_t caps = hresp_caps_cases[_i];
	struct tb t, pairs;
	struct wire_handshake_resp r;
	uint8_t *p;

	tb_handshake_resp(&t, caps, "shop");
	p = dup_exact(t.d, t.n);
	ck_assert(wire_parse_handshake_resp(p, t.n, &r));
	ck_assert_uint_eq(r.caps, caps);
	ck_assert_uint_eq(r.max_packet, 0x01000000);
	ck_assert_uint_eq(r.charset, 0x21);
	ck_assert(!r.is_ssl_request);
	ck_assert_str_eq(r.user, "alice");
	ck_assert_uint_eq(r.auth_len, 20);
	ck_assert_mem_eq(r.auth, answer20, 20);
	ck_assert_str_eq(r.db, (caps & CLIENT_CONNECT_WITH_DB) ? "shop" : "");
	ck_assert_str_eq(r.auth_plugin, "mysql_native_password");
	if (caps & CLIENT_CONNECT_ATTRS) {
		tb_attrs(&pairs);
		ck_assert_uint_eq(r.attrs_len, pairs.n);
		ck_assert_ptr_nonnull(r.attrs);
		ck_assert_mem_eq(r.attrs, pairs.d, pairs.n);
		/* Borrowed: it points into the input. */
		ck_assert(r.attrs > p && r.attrs + r.attrs_len == p + t.n);
	} else {
		ck_assert_uint_eq(r.attrs_len, 0);
	}

	/* Every strict prefix that cuts into a mandatory field is refused. The last
	 * field may legitimately be absent only when it is optional, so stop before the
	 * auth plugin. */
	for (size_t k = 0; k < 4 + 4 + 1 + 23 + 6 + 1 + 20; k++) {
		struct wire_handshake_resp r2;
		uint8_t *q = dup_exact(t.d, k);

		ck_assert_msg(!wire_parse_handshake_resp(q, k, &r2), "prefix %zu accepted", k);
		free(q);
	}
	free(p);
}
END_TEST

/* A 2-byte lenenc auth length (0xfc): more than fits in r->auth must be refused, not
 * truncated or copied past the array. */
START_TEST(test_handshake_resp_auth_too_long)
{
	uint32_t caps = RESP_CAPS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
	static uint8_t big[600];
	size_t n = 0;
	struct wire_handshake_resp r;
	uint8_t *p;

	memset(big, 0, sizeof(big));
	big[n++] = (uint8_t)caps;
	big[n++] = (uint8_t)(caps >> 8);
	big[n++] = (uint8_t)(caps >> 16);
	big[n++] = (uint8_t)(caps >> 24);
	n += 4 + 1 + 23;
	memcpy(big + n, "bob", 4);
	n += 4;
	big[n++] = 0xfc; /* auth length 300 */
	big[n++] = 0x2c;
	big[n++] = 0x01;
	memset(big + n, 'x', 300);
	n += 300;
	memcpy(big + n, "mysql_native_password", 22);
	n += 22;
	p = dup_exact(big, n);
	ck_assert(!wire_parse_handshake_resp(p, n, &r));
	free(p);
}
END_TEST

/* Protocol::SSLRequest: the first 32 bytes of a HandshakeResponse41, with CLIENT_SSL. */
START_TEST(test_ssl_request)
{
	struct tb t;
	struct wire_handshake_resp r;
	uint8_t *p;

	t.n = 0;
	tb_le(&t, RESP_CAPS | CLIENT_SSL, 4);
	tb_le(&t, 0x01000000, 4);
	tb_le(&t, 0x21, 1);
	for (int i = 0; i < 23; i++)
		tb_le(&t, 0, 1);
	ck_assert_uint_eq(t.n, 32);
	p = dup_exact(t.d, t.n);
	ck_assert(wire_parse_handshake_resp(p, t.n, &r));
	ck_assert(r.is_ssl_request);
	ck_assert_uint_eq(r.caps & CLIENT_SSL, CLIENT_SSL);
	ck_assert_uint_eq(r.charset, 0x21);
	free(p);

	/* The same 32 bytes without CLIENT_SSL are a truncated login. */
	t.n = 0;
	tb_le(&t, RESP_CAPS, 4);
	tb_le(&t, 0x01000000, 4);
	tb_le(&t, 0x21, 1);
	for (int i = 0; i < 23; i++)
		tb_le(&t, 0, 1);
	p = dup_exact(t.d, t.n);
	ck_assert(!wire_parse_handshake_resp(p, t.n, &r));
	free(p);

	/* And a full login with CLIENT_SSL (sent after TLS is up) is not an SSLRequest. */
	tb_handshake_resp(&t, RESP_CAPS | CLIENT_SSL, "");
	p = dup_exact(t.d, t.n);
	ck_assert(wire_parse_handshake_resp(p, t.n, &r));
	ck_assert(!r.is_ssl_request);
	ck_assert_str_eq(r.user, "alice");
	free(p);
}
END_TEST

START_TEST(test_handshake_resp_no_41)
{
	struct tb t;
	struct wire_handshake_resp r;

	/* A HandshakeResponse320 (no CLIENT_PROTOCOL_41) is not supported. */
	tb_handshake_resp(&t, RESP_CAPS & ~CLIENT_PROTOCOL_41, "");
	ck_assert(!wire_parse_handshake_resp(t.d, t.n, &r));
}
END_TEST

START_TEST(test_handshake_resp_roundtrip)
{
	uint32_t caps = hresp_caps_cases[_i];
	struct wire_handshake_resp r, back;
	struct wire_buf b;
	struct tb pairs;

	memset(&r, 0, sizeof(r));
	r.caps = caps;
	r.max_packet = 16 * 1024 * 1024;
	r.charset = 255;
	strcpy(r.user, "app_user");
	memcpy(r.auth, answer20, 20);
	r.auth_len = 20;
	strcpy(r.db, (caps & CLIENT_CONNECT_WITH_DB) ? "inventory" : "");
	strcpy(r.auth_plugin, "mysql_native_password");
	tb_attrs(&pairs);
	if (caps & CLIENT_CONNECT_ATTRS) {
		r.attrs = pairs.d;
		r.attrs_len = pairs.n;
	}

	wire_buf_init(&b);
	wire_build_handshake_resp(&b, 1, &r);
	ck_assert(!b.failed);
	ck_assert_uint_eq(hdr_len(b.data), b.len - WIRE_HDR_LEN);
	ck_assert_uint_eq(b.data[3], 1);
	ck_assert(wire_parse_handshake_resp(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &back));
	ck_assert_uint_eq(back.caps, caps);
	ck_assert_uint_eq(back.max_packet, r.max_packet);
	ck_assert_uint_eq(back.charset, 255);
	ck_assert_str_eq(back.user, "app_user");
	ck_assert_uint_eq(back.auth_len, 20);
	ck_assert_mem_eq(back.auth, answer20, 20);
	ck_assert_str_eq(back.db, r.db);
	ck_assert_str_eq(back.auth_plugin, "mysql_native_password");
	ck_assert_uint_eq(back.attrs_len, r.attrs_len);
	if (r.attrs_len)
		ck_assert_mem_eq(back.attrs, pairs.d, pairs.n);
	wire_buf_free(&b);
}
END_TEST

/* ---- COM_CHANGE_USER ---- */

START_TEST(test_change_user)
{
	uint32_t caps = RESP_CAPS;
	struct tb t;
	struct wire_change_user cu, back;
	struct wire_buf b;
	uint8_t *p;

	/* COM_CHANGE_USER: 0x11, user<NUL>, int<1> len + auth, db<NUL>, charset int<2>,
	 * plugin<NUL>. */
	t.n = 0;
	tb_le(&t, 0x11, 1);
	tb_zstr(&t, "bob");
	tb_le(&t, 20, 1);
	tb_raw(&t, answer20, 20);
	tb_zstr(&t, "sales");
	tb_le(&t, 0x00ff, 2);
	tb_zstr(&t, "mysql_native_password");
	p = dup_exact(t.d, t.n);
	ck_assert(wire_parse_change_user(p, t.n, caps, &cu));
	ck_assert_str_eq(cu.user, "bob");
	ck_assert_uint_eq(cu.auth_len, 20);
	ck_assert_mem_eq(cu.auth, answer20, 20);
	ck_assert_str_eq(cu.db, "sales");
	ck_assert_uint_eq(cu.charset, 0xff);
	ck_assert_str_eq(cu.auth_plugin, "mysql_native_password");
	/* Cut inside the auth data or before the db terminator: refused. */
	for (size_t k = 0; k < 1 + 4 + 1 + 20 + 6; k++)
		ck_assert_msg(!wire_parse_change_user(p, k, caps, &back), "prefix %zu", k);
	/* Not a COM_CHANGE_USER. */
	p[0] = COM_QUERY;
	ck_assert(!wire_parse_change_user(p, t.n, caps, &back));
	free(p);

	/* Round trip through the builder. */
	wire_buf_init(&b);
	wire_build_change_user(&b, 0, caps, &cu);
	ck_assert(!b.failed);
	ck_assert_uint_eq(hdr_len(b.data), b.len - WIRE_HDR_LEN);
	ck_assert_uint_eq(b.data[WIRE_HDR_LEN], COM_CHANGE_USER);
	ck_assert(wire_parse_change_user(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, caps, &back));
	ck_assert_str_eq(back.user, "bob");
	ck_assert_uint_eq(back.auth_len, 20);
	ck_assert_mem_eq(back.auth, answer20, 20);
	ck_assert_str_eq(back.db, "sales");
	ck_assert_uint_eq(back.charset, 0xff);
	ck_assert_str_eq(back.auth_plugin, "mysql_native_password");
	wire_buf_free(&b);
}
END_TEST

/* ---- OK / ERR / EOF ---- */

#define CAPS41 (CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION)

static bool parse_ok_hex(const char *hex, uint32_t caps, struct wire_ok *ok, uint8_t **keep,
                         size_t *len)
{
	uint8_t raw[256];
	size_t n = unhex(hex, raw, sizeof(raw));
	uint8_t *p = dup_exact(raw, n);
	bool r = wire_parse_ok(p, n, caps, ok);

	/* The caller frees the copy: info and state point into it. */
	*keep = p;
	*len = n;
	return r;
}

START_TEST(test_ok_parse)
{
	struct wire_ok ok;
	uint8_t *p;
	size_t n;

	/* The docs' example: OK with AUTOCOMMIT, nothing else. */
	ck_assert(parse_ok_hex("00 00 00 02 00 00 00", CAPS41, &ok, &p, &n));
	ck_assert_uint_eq(ok.affected_rows, 0);
	ck_assert_uint_eq(ok.last_insert_id, 0);
	ck_assert_uint_eq(ok.status, SERVER_STATUS_AUTOCOMMIT);
	ck_assert_uint_eq(ok.warnings, 0);
	ck_assert_uint_eq(ok.info_len, 0);
	ck_assert_uint_eq(ok.state_len, 0);
	free(p);

	/* Without CLIENT_SESSION_TRACK the info is string<EOF>. */
	ck_assert(parse_ok_hex("00 01 fc 00 01 22 00 03 00"
	                       " 52 6f 77 73 20 6d 61 74 63 68 65 64 3a 20 31",
	                       CAPS41, &ok, &p, &n));
	ck_assert_uint_eq(ok.affected_rows, 1);
	ck_assert_uint_eq(ok.last_insert_id, 256);
	ck_assert_uint_eq(ok.status, 0x0022);
	ck_assert_uint_eq(ok.warnings, 3);
	ck_assert_uint_eq(ok.info_len, 15);
	ck_assert_mem_eq(ok.info, "Rows matched: 1", 15);
	free(p);

	/* Large counts use the longer lenenc forms. */
	ck_assert(parse_ok_hex("00 fd 00 00 01 fe 01 00 00 00 01 00 00 00 00 00 00 00", CAPS41, &ok,
	                       &p, &n));
	ck_assert_uint_eq(ok.affected_rows, 0x10000);
	ck_assert_uint_eq(ok.last_insert_id, 0x0000000100000001ull);
	free(p);
}
END_TEST

START_TEST(test_ok_parse_session_track)
{
	const uint32_t caps = CAPS41 | CLIENT_SESSION_TRACK;
	struct wire_ok ok;
	uint8_t *p;
	size_t n;

	/* info as string<lenenc>; SERVER_SESSION_STATE_CHANGED (0x4000) adds the state
	 * block: here SESSION_TRACK_SCHEMA (01), length 05, schema "test" as lenenc. */
	ck_assert(
	    parse_ok_hex("00 00 00 02 40 00 00 00 07 01 05 04 74 65 73 74", caps, &ok, &p, &n));
	ck_assert_uint_eq(ok.status, SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED);
	ck_assert_uint_eq(ok.info_len, 0);
	ck_assert_uint_eq(ok.state_len, 7);
	ck_assert_ptr_eq(ok.state, p + 9);
	ck_assert_uint_eq(ok.state[0], SESSION_TRACK_SCHEMA);
	free(p);

	/* info present, no state change flag: the trailing bytes are not state. */
	ck_assert(parse_ok_hex("00 00 00 02 00 00 00 03 61 62 63", caps, &ok, &p, &n));
	ck_assert_uint_eq(ok.info_len, 3);
	ck_assert_mem_eq(ok.info, "abc", 3);
	ck_assert_uint_eq(ok.state_len, 0);
	free(p);

	/* Same bytes without CLIENT_SESSION_TRACK: servers still write string<lenenc>, as
	 * libmysqlclient and mysqlnd read it (issue 12). */
	ck_assert(parse_ok_hex("00 00 00 02 00 00 00 03 61 62 63", CAPS41, &ok, &p, &n));
	ck_assert_uint_eq(ok.info_len, 3);
	ck_assert_mem_eq(ok.info, "abc", 3);
	free(p);
	/* ... and a plain string<EOF> whose first byte is no fitting length is the rest. */
	ck_assert(parse_ok_hex("00 00 00 02 00 00 00 52 6f 77 73", CAPS41, &ok, &p, &n));
	ck_assert_uint_eq(ok.info_len, 4);
	ck_assert_mem_eq(ok.info, "Rows", 4);
	free(p);

	/* Servers omit the info entirely when it is empty and nothing changed. */
	ck_assert(parse_ok_hex("00 00 00 02 00 00 00", caps, &ok, &p, &n));
	ck_assert_uint_eq(ok.info_len, 0);
	free(p);

	/* A lenenc info longer than the packet, or a state block cut short: malformed. */
	ck_assert(!parse_ok_hex("00 00 00 02 00 00 00 05 61 62", caps, &ok, &p, &n));
	free(p);
	ck_assert(!parse_ok_hex("00 00 00 02 40 00 00 00 07 01 05 04", caps, &ok, &p, &n));
	free(p);
}
END_TEST

START_TEST(test_ok_parse_bad)
{
	static const char *const bad[] = {
		"",                     /* empty */
		"01 00 00 02 00 00 00", /* not an OK header */
		"ff 00 00 02 00 00 00",
		"00",                   /* no affected rows */
		"00 00",                /* no insert id */
		"00 00 00 02 00 00",    /* warnings cut */
		"00 fc 00",             /* lenenc cut */
		"00 fb 00 02 00 00 00", /* NULL is not a count */
	};
	struct wire_ok ok;
	uint8_t *p;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!parse_ok_hex(bad[i], CAPS41, &ok, &p, &n), "accepted '%s'", bad[i]);
		free(p);
	}
	/* 0xFE header: the OK that ends a result set under CLIENT_DEPRECATE_EOF. */
	ck_assert(parse_ok_hex("fe 00 00 22 00 01 00", CAPS41 | CLIENT_DEPRECATE_EOF, &ok, &p, &n));
	ck_assert_uint_eq(ok.status, 0x22);
	ck_assert_uint_eq(ok.warnings, 1);
	free(p);
}
END_TEST

START_TEST(test_ok_build)
{
	struct wire_buf b;
	uint8_t want[32];
	size_t n = unhex("0c 00 00 02 00 fc 2c 01 fd 70 11 01 03 00 07 00", want, sizeof(want));
	struct wire_ok ok;

	wire_buf_init(&b);
	wire_build_ok(&b, 2, CAPS41, 300, 70000, 0x0003, 7);
	ck_assert(!b.failed);
	ck_assert_uint_eq(b.len, n);
	ck_assert_mem_eq(b.data, want, n);
	ck_assert(wire_parse_ok(b.data + 4, b.len - 4, CAPS41, &ok));
	ck_assert_uint_eq(ok.affected_rows, 300);
	ck_assert_uint_eq(ok.last_insert_id, 70000);
	ck_assert_uint_eq(ok.status, 3);
	ck_assert_uint_eq(ok.warnings, 7);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_err)
{
	uint8_t raw[64], *p;
	size_t n;
	struct wire_err e;
	struct wire_buf b;

	/* The docs' example: 17 00 00 01 ff 48 04 23 48 59 30 30 30 "No tables used". */
	n = unhex("ff 48 04 23 48 59 30 30 30 4e 6f 20 74 61 62 6c 65 73 20 75 73 65 64", raw,
	          sizeof(raw));
	ck_assert_uint_eq(n, 0x17);
	p = dup_exact(raw, n);
	ck_assert(wire_parse_err(p, n, &e));
	ck_assert_uint_eq(e.code, 1096);
	ck_assert_str_eq(e.sqlstate, "HY000");
	ck_assert_uint_eq(e.msg_len, 14);
	ck_assert_mem_eq(e.msg, "No tables used", 14);
	/* Cut before the code ends: refused. */
	ck_assert(!wire_parse_err(p, 2, &e));
	ck_assert(!wire_parse_err(p, 1, &e));
	ck_assert(!wire_parse_err(p, 0, &e));
	/* Code only: a valid, if terse, error. */
	ck_assert(wire_parse_err(p, 3, &e));
	ck_assert_uint_eq(e.code, 1096);
	ck_assert_uint_eq(e.msg_len, 0);
	free(p);

	/* Without the '#' marker the message starts right after the code. */
	n = unhex("ff 15 04 41 63 63 65 73 73", raw, sizeof(raw));
	p = dup_exact(raw, n);
	ck_assert(wire_parse_err(p, n, &e));
	ck_assert_uint_eq(e.code, 1045);
	ck_assert_uint_eq(e.msg_len, 6);
	ck_assert_mem_eq(e.msg, "Access", 6);
	free(p);

	/* Not an ERR. */
	n = unhex("00 48 04 23 48 59 30 30 30", raw, sizeof(raw));
	ck_assert(!wire_parse_err(raw, n, &e));

	/* The builder: header, code, '#', state, message. */
	wire_buf_init(&b);
	wire_build_err(&b, 1, 1045, "28000", "Access denied for user '%s'", "bob");
	ck_assert(!b.failed);
	n = unhex("25 00 00 01 ff 15 04 23 32 38 30 30 30", raw, sizeof(raw));
	ck_assert_uint_eq(b.len, 4 + 0x25);
	ck_assert_mem_eq(b.data, raw, n);
	ck_assert_mem_eq(b.data + n, "Access denied for user 'bob'", 28);
	ck_assert(wire_parse_err(b.data + 4, b.len - 4, &e));
	ck_assert_uint_eq(e.code, 1045);
	ck_assert_str_eq(e.sqlstate, "28000");
	ck_assert_uint_eq(e.msg_len, 28);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_eof)
{
	uint8_t raw[16], *p;
	size_t n;
	uint16_t w = 99, s = 99;
	struct wire_buf b;

	/* The docs' example: 05 00 00 05 fe 00 00 02 00 (0 warnings, AUTOCOMMIT). */
	n = unhex("fe 00 00 02 00", raw, sizeof(raw));
	p = dup_exact(raw, n);
	ck_assert(wire_parse_eof(p, n, &w, &s));
	ck_assert_uint_eq(w, 0);
	ck_assert_uint_eq(s, SERVER_STATUS_AUTOCOMMIT);
	free(p);

	n = unhex("fe 03 00 0a 00", raw, sizeof(raw));
	ck_assert(wire_parse_eof(raw, n, &w, &s));
	ck_assert_uint_eq(w, 3);
	ck_assert_uint_eq(s, SERVER_STATUS_AUTOCOMMIT | SERVER_MORE_RESULTS_EXISTS);

	/* A 9-byte packet starting with 0xFE is a lenenc integer, not an EOF. */
	n = unhex("fe 00 00 02 00 00 00 00 00", raw, sizeof(raw));
	ck_assert(!wire_parse_eof(raw, n, &w, &s));
	n = unhex("00 00 00 02 00", raw, sizeof(raw));
	ck_assert(!wire_parse_eof(raw, n, &w, &s));
	ck_assert(!wire_parse_eof(raw, 0, &w, &s));

	wire_buf_init(&b);
	wire_build_eof(&b, 5, 0, SERVER_STATUS_AUTOCOMMIT);
	n = unhex("05 00 00 05 fe 00 00 02 00", raw, sizeof(raw));
	ck_assert_uint_eq(b.len, n);
	ck_assert_mem_eq(b.data, raw, n);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_is_eof)
{
	static const uint8_t fe[1] = { 0xfe };
	static const uint8_t zero[1] = { 0x00 };

	ck_assert(wire_is_eof(fe, 5, CAPS41));
	ck_assert(wire_is_eof(fe, 1, CAPS41));
	ck_assert(wire_is_eof(fe, 8, CAPS41));
	ck_assert(!wire_is_eof(fe, 9, CAPS41));
	ck_assert(!wire_is_eof(zero, 5, CAPS41));
	ck_assert(!wire_is_eof(fe, 0, CAPS41));
	/* Under DEPRECATE_EOF the terminator is an OK with 0xFE (can be long, with
	 * session state); only a packet of 0xffffff bytes is a row (MariaDB docs,
	 * "Result Set Packets"). */
	ck_assert(wire_is_eof(fe, 7, CAPS41 | CLIENT_DEPRECATE_EOF));
	ck_assert(wire_is_eof(fe, 200, CAPS41 | CLIENT_DEPRECATE_EOF));
	ck_assert(wire_is_eof(fe, WIRE_MAX_PAYLOAD - 1, CAPS41 | CLIENT_DEPRECATE_EOF));
	ck_assert(!wire_is_eof(fe, WIRE_MAX_PAYLOAD, CAPS41 | CLIENT_DEPRECATE_EOF));
}
END_TEST

/* ---- response tracker ---- */

#define CAPS_EOF (CAPS41 | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)
#define CAPS_DEP (CAPS_EOF | CLIENT_DEPRECATE_EOF)

/* Building blocks, as servers send them. */
#define OK_        "00 00 00 02 00 00 00"
#define OK_AFF     "00 03 05 02 00 00 00" /* 3 rows, insert id 5 */
#define OK_MORE    "00 01 00 0a 00 00 00" /* AUTOCOMMIT | MORE_RESULTS_EXISTS */
#define OK_STATE   "00 00 00 02 40 00 00" /* SESSION_STATE_CHANGED */
#define OKFE       "fe 00 00 02 00 00 00" /* result-set end under DEPRECATE_EOF */
#define OKFE_MORE  "fe 00 00 0a 00 00 00"
#define EOF_       "fe 00 00 02 00"
#define EOF_MORE   "fe 00 00 0a 00"
#define EOF_CURSOR "fe 00 00 42 00" /* AUTOCOMMIT | CURSOR_EXISTS */
#define EOF_LAST   "fe 00 00 82 00" /* AUTOCOMMIT | LAST_ROW_SENT */
#define ERR_       "ff 48 04 23 48 59 30 30 30 4e 6f"
/* A Column Definition: def, test, t, t, id, id, 0x0c, charset 63, length 11, LONG. */
#define COL                                                                                        \
	"03 64 65 66 04 74 65 73 74 01 74 01 74 02 69 64 02 69 64"                                 \
	" 0c 3f 00 0b 00 00 00 03 03 42 00 00 00"
#define ROW2                  "01 31 01 32"       /* text row "1", "2" */
#define ROW2NULL              "fb 01 33"          /* text row NULL, "3" */
#define BINROW                "00 00 2a 00 00 00" /* binary row: header, null bitmap, LONG 42 */
#define STMT_OK(cols, params) "00 01 00 00 00 " cols " " params " 00 00 00"

/* Steps: M = MORE, D = DONE, I = INFILE (the harness then calls infile_sent), B = BAD. */
struct resp_case {
	const char *name;
	enum wire_resp_kind kind;
	uint32_t caps;
	const char *pkts[16];
	const char *steps;
	bool is_err;
	int status;       /* expected r.status at the end, -1 = don't check */
	int64_t affected; /* expected r.affected_rows, -1 = don't check */
};

static const struct resp_case resp_cases[] = {
	/* One OK or ERR. */
	{ "query ok", WIRE_RESP_QUERY, CAPS_EOF, { OK_AFF }, "D", false, 2, 3 },
	{ "query ok dep", WIRE_RESP_QUERY, CAPS_DEP, { OK_AFF }, "D", false, 2, 3 },
	{ "query err", WIRE_RESP_QUERY, CAPS_EOF, { ERR_ }, "D", true, -1, -1 },
	{ "ping ok", WIRE_RESP_OK, CAPS_EOF, { OK_ }, "D", false, 2, 0 },
	{ "init_db err", WIRE_RESP_OK, CAPS_DEP, { ERR_ }, "D", true, -1, -1 },
	/* COM_SET_OPTION / COM_DEBUG answer with an EOF_Packet. */
	{ "set_option eof", WIRE_RESP_OK, CAPS_EOF, { EOF_ }, "D", false, 2, -1 },
	{ "set_option eof dep", WIRE_RESP_OK, CAPS_DEP, { OKFE }, "D", false, 2, -1 },

	/* Text result set, 2 columns, 2 rows. */
	{ "resultset eof",
	  WIRE_RESP_QUERY,
	  CAPS_EOF,
	  { "02", COL, COL, EOF_, ROW2, ROW2NULL, EOF_ },
	  "MMMMMMD",
	  false,
	  2,
	  -1 },
	{ "resultset dep",
	  WIRE_RESP_QUERY,
	  CAPS_DEP,
	  { "02", COL, COL, ROW2, ROW2NULL, OKFE },
	  "MMMMMD",
	  false,
	  2,
	  -1 },
	{ "resultset no rows",
	  WIRE_RESP_QUERY,
	  CAPS_EOF,
	  { "02", COL, COL, EOF_, EOF_ },
	  "MMMMD",
	  false,
	  2,
	  -1 },
	{ "resultset no rows dep",
	  WIRE_RESP_QUERY,
	  CAPS_DEP,
	  { "02", COL, COL, OKFE },
	  "MMMD",
	  false,
	  2,
	  -1 },
	{ "resultset err mid-rows",
	  WIRE_RESP_QUERY,
	  CAPS_EOF,
	  { "02", COL, COL, EOF_, ROW2, ERR_ },
	  "MMMMMD",
	  true,
	  -1,
	  -1 },
	{ "resultset err mid-rows dep",
	  WIRE_RESP_QUERY,
	  CAPS_DEP,
	  { "02", COL, COL, ROW2, ERR_ },
	  "MMMMD",
	  true,
	  -1,
	  -1 },
	/* A session-state OK at the end of rows (DEPRECATE_EOF) is still the end. */
	{ "resultset dep state",
	  WIRE_RESP_QUERY,
	  CAPS_DEP | CLIENT_SESSION_TRACK,
	  { "01", COL, ROW2, "fe 00 00 02 40 00 00 00 07 01 05 04 74 65 73 74" },
	  "MMMD",
	  false,
	  0x4002,
	  -1 },

	/* Multiple results: OK(more), result set(more), OK. */
	{ "multi eof",
	  WIRE_RESP_QUERY,
	  CAPS_EOF,
	  { OK_MORE, "01", COL, EOF_, ROW2, EOF_MORE, OK_AFF },
	  "MMMMMMD",
	  false,
	  2,
	  3 },
	{ "multi dep",
	  WIRE_RESP_QUERY,
	  CAPS_DEP,
	  { OK_MORE, "01", COL, ROW2, OKFE_MORE, "01", COL, OKFE },
	  "MMMMMMMD",
	  false,
	  2,
	  -1 },
	{ "multi err second", WIRE_RESP_QUERY, CAPS_EOF, { OK_MORE, ERR_ }, "MD", true, -1, -1 },

	/* LOAD DATA LOCAL INFILE: 0xFB + filename, then (after the file) OK or ERR. */
	{ "infile ok",
	  WIRE_RESP_QUERY,
	  CAPS_EOF,
	  { "fb 2f 74 6d 70 2f 78", OK_AFF },
	  "ID",
	  false,
	  2,
	  3 },
	{ "infile err",
	  WIRE_RESP_QUERY,
	  CAPS_DEP,
	  { "fb 2f 74 6d 70 2f 78", ERR_ },
	  "ID",
	  true,
	  -1,
	  -1 },
	{ "infile then more",
	  WIRE_RESP_QUERY,
	  CAPS_EOF,
	  { "fb 78", OK_MORE, "01", COL, EOF_, EOF_ },
	  "IMMMMD",
	  false,
	  2,
	  -1 },

	/* COM_FIELD_LIST: column definitions until EOF, no count. */
	{ "field_list",
	  WIRE_RESP_FIELD_LIST,
	  CAPS_EOF,
	  { COL " fb", COL " fb", EOF_ },
	  "MMD",
	  false,
	  2,
	  -1 },
	{ "field_list empty", WIRE_RESP_FIELD_LIST, CAPS_EOF, { EOF_ }, "D", false, 2, -1 },
	{ "field_list dep",
	  WIRE_RESP_FIELD_LIST,
	  CAPS_DEP,
	  { COL " fb", OKFE },
	  "MD",
	  false,
	  2,
	  -1 },
	{ "field_list err", WIRE_RESP_FIELD_LIST, CAPS_EOF, { ERR_ }, "D", true, -1, -1 },

	/* COM_STMT_PREPARE: STMT_PREPARE_OK, params (+EOF), columns (+EOF). */
	{ "prepare 3p 2c",
	  WIRE_RESP_PREPARE,
	  CAPS_EOF,
	  { STMT_OK("02 00", "03 00"), COL, COL, COL, EOF_, COL, COL, EOF_ },
	  "MMMMMMMD",
	  false,
	  -1,
	  -1 },
	{ "prepare 3p 2c dep",
	  WIRE_RESP_PREPARE,
	  CAPS_DEP,
	  { STMT_OK("02 00", "03 00"), COL, COL, COL, COL, COL },
	  "MMMMMD",
	  false,
	  -1,
	  -1 },
	{ "prepare 2p",
	  WIRE_RESP_PREPARE,
	  CAPS_EOF,
	  { STMT_OK("00 00", "02 00"), COL, COL, EOF_ },
	  "MMMD",
	  false,
	  -1,
	  -1 },
	{ "prepare 2p dep",
	  WIRE_RESP_PREPARE,
	  CAPS_DEP,
	  { STMT_OK("00 00", "02 00"), COL, COL },
	  "MMD",
	  false,
	  -1,
	  -1 },
	{ "prepare 1c",
	  WIRE_RESP_PREPARE,
	  CAPS_EOF,
	  { STMT_OK("01 00", "00 00"), COL, EOF_ },
	  "MMD",
	  false,
	  -1,
	  -1 },
	{ "prepare none",
	  WIRE_RESP_PREPARE,
	  CAPS_EOF,
	  { STMT_OK("00 00", "00 00") },
	  "D",
	  false,
	  -1,
	  -1 },
	{ "prepare err", WIRE_RESP_PREPARE, CAPS_EOF, { ERR_ }, "D", true, -1, -1 },

	/* COM_STMT_EXECUTE: binary result set; a cursor ends it after the column EOF. */
	{ "execute rows",
	  WIRE_RESP_EXECUTE,
	  CAPS_EOF,
	  { "01", COL, EOF_, BINROW, BINROW, EOF_ },
	  "MMMMMD",
	  false,
	  2,
	  -1 },
	{ "execute ok", WIRE_RESP_EXECUTE, CAPS_EOF, { OK_AFF }, "D", false, 2, 3 },
	{ "execute cursor",
	  WIRE_RESP_EXECUTE,
	  CAPS_EOF,
	  { "01", COL, EOF_CURSOR },
	  "MMD",
	  false,
	  0x42,
	  -1 },
	/* Under DEPRECATE_EOF the cursor's status comes in an OK (0xFE) right after the
	 * column definitions, in place of the first row. */
	{ "execute cursor dep",
	  WIRE_RESP_EXECUTE,
	  CAPS_DEP,
	  { "01", COL, "fe 00 00 42 00 00 00" },
	  "MMD",
	  false,
	  0x42,
	  -1 },
	/* COM_STMT_FETCH: rows until EOF. */
	{ "fetch",
	  WIRE_RESP_FETCH,
	  CAPS_EOF,
	  { BINROW, BINROW, EOF_LAST },
	  "MMD",
	  false,
	  0x82,
	  -1 },
	{ "fetch err", WIRE_RESP_FETCH, CAPS_EOF, { ERR_ }, "D", true, -1, -1 },

	/* COM_STATISTICS: one string<EOF> packet. */
	{ "statistics",
	  WIRE_RESP_ONE_PACKET,
	  CAPS_EOF,
	  { "55 70 74 69 6d 65 3a 20 31 30 20 20 54 68 72 65 61 64 73 3a 20 31" },
	  "D",
	  false,
	  -1,
	  -1 },

	/* Garbage: the connection is out of sync. */
	{ "empty first", WIRE_RESP_QUERY, CAPS_EOF, { "" }, "B", false, -1, -1 },
	{ "colcount trailing", WIRE_RESP_QUERY, CAPS_EOF, { "02 00" }, "B", false, -1, -1 },
	{ "colcount cut", WIRE_RESP_QUERY, CAPS_EOF, { "fc 01" }, "B", false, -1, -1 },
	{ "colcount null", WIRE_RESP_EXECUTE, CAPS_EOF, { "fb" }, "B", false, -1, -1 },
	{ "ok truncated", WIRE_RESP_QUERY, CAPS_EOF, { "00 00" }, "B", false, -1, -1 },
	{ "err truncated", WIRE_RESP_QUERY, CAPS_EOF, { "ff 01" }, "B", false, -1, -1 },
	{ "ok kind junk", WIRE_RESP_OK, CAPS_EOF, { "01 02 03" }, "B", false, -1, -1 },
	{ "ok kind row-ish fe",
	  WIRE_RESP_OK,
	  CAPS_EOF,
	  { "fe 01 02 03 04 05 06 07 08 09" },
	  "B",
	  false,
	  -1,
	  -1 },
	{ "row where EOF due",
	  WIRE_RESP_QUERY,
	  CAPS_EOF,
	  { "01", COL, ROW2 },
	  "MMB",
	  false,
	  -1,
	  -1 },
	{ "empty coldef", WIRE_RESP_QUERY, CAPS_EOF, { "01", "" }, "MB", false, -1, -1 },
	{ "prepare short", WIRE_RESP_PREPARE, CAPS_EOF, { "00 01 00" }, "B", false, -1, -1 },
	{ "prepare param eof missing",
	  WIRE_RESP_PREPARE,
	  CAPS_EOF,
	  { STMT_OK("00 00", "01 00"), COL, COL },
	  "MMB",
	  false,
	  -1,
	  -1 },
	{ "field_list empty pkt", WIRE_RESP_FIELD_LIST, CAPS_EOF, { "" }, "B", false, -1, -1 },
	{ "infile junk", WIRE_RESP_QUERY, CAPS_EOF, { "fb 78", "01" }, "IB", false, -1, -1 },
	{ "after done", WIRE_RESP_QUERY, CAPS_EOF, { OK_, OK_ }, "DB", false, -1, -1 },
	{ "state changed", WIRE_RESP_OK, CAPS_EOF, { OK_STATE }, "D", false, 0x4002, 0 },
};

START_TEST(test_resp_table)
{
	const struct resp_case *tc = &resp_cases[_i];
	struct wire_resp r;
	size_t k;

	wire_resp_init(&r, tc->kind, tc->caps);
	ck_assert_uint_eq(r.kind, tc->kind);
	ck_assert_uint_eq(r.caps, tc->caps);
	for (k = 0; tc->steps[k] != '\0'; k++) {
		uint8_t raw[256], *p;
		size_t n;
		enum wire_resp_step st;
		char got;

		ck_assert_msg(tc->pkts[k] != NULL, "%s: table has fewer packets than steps",
		              tc->name);
		n = unhex(tc->pkts[k], raw, sizeof(raw));
		p = dup_exact(raw, n);
		st = wire_resp_feed(&r, p, n);
		free(p);
		got = st == WIRE_STEP_MORE     ? 'M'
		      : st == WIRE_STEP_DONE   ? 'D'
		      : st == WIRE_STEP_INFILE ? 'I'
		      : st == WIRE_STEP_BAD    ? 'B'
		                               : '?';
		ck_assert_msg(got == tc->steps[k], "%s: packet %zu: step %c, want %c", tc->name, k,
		              got, tc->steps[k]);
		if (st == WIRE_STEP_INFILE)
			wire_resp_infile_sent(&r);
		if (st == WIRE_STEP_BAD)
			return;
	}
	ck_assert_msg(tc->pkts[k] == NULL, "%s: more packets than steps", tc->name);
	ck_assert_uint_eq(r.state, WRS_DONE);
	ck_assert_msg(r.is_err == tc->is_err, "%s: is_err %d", tc->name, r.is_err);
	if (tc->is_err)
		ck_assert_uint_eq(r.err_code, 1096);
	if (tc->status >= 0)
		ck_assert_msg(r.status == tc->status, "%s: status 0x%x want 0x%x", tc->name,
		              r.status, tc->status);
	if (tc->affected >= 0)
		ck_assert_uint_eq(r.affected_rows, (uint64_t)tc->affected);
	if (tc->status >= 0) {
		ck_assert(r.state_changed == ((tc->status & SERVER_SESSION_STATE_CHANGED) != 0));
		ck_assert(r.has_status);
	}
	/* An ERR alone carries no status flags, so none may be reported. */
	if (tc->is_err && k == 1)
		ck_assert_msg(!r.has_status, "%s: status from an ERR", tc->name);
}
END_TEST

START_TEST(test_resp_prepare_fields)
{
	struct wire_resp r;
	uint8_t raw[32];
	size_t n = unhex("00 78 56 34 12 02 00 03 00 00 01 00", raw, sizeof(raw));

	wire_resp_init(&r, WIRE_RESP_PREPARE, CAPS_EOF);
	ck_assert_uint_eq(wire_resp_feed(&r, raw, n), WIRE_STEP_MORE);
	ck_assert_uint_eq(r.stmt_id, 0x12345678);
	ck_assert_uint_eq(r.prep_cols, 2);
	ck_assert_uint_eq(r.left, 3);
	ck_assert_uint_eq(r.state, WRS_PREP_PARAMS);
}
END_TEST

START_TEST(test_resp_none)
{
	struct wire_resp r;

	/* COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA: nothing comes back, so any
	 * packet is out of sync. */
	wire_resp_init(&r, WIRE_RESP_NONE, CAPS_EOF);
	ck_assert_uint_eq(r.state, WRS_DONE);
	ck_assert_uint_eq(wire_resp_feed(&r, (const uint8_t *)"\x00\x00\x00\x02\x00\x00\x00", 7),
	                  WIRE_STEP_BAD);
}
END_TEST

/* The recorded COM_FIELD_LIST response from the protocol docs, fed through framing. */
START_TEST(test_resp_field_list_capture)
{
	static const char stream[] =
	    "31 00 00 01 03 64 65 66 04 74 65 73 74 09 66 69 65 6c 64 6c 69 73 74 09 66 69"
	    " 65 6c 64 6c 69 73 74 02 69 64 02 69 64 0c 3f 00 0b 00 00 00 03 00 00 00 00 00"
	    " fb 05 00 00 02 fe 00 00 02 00";
	uint8_t raw[128];
	size_t n = unhex(stream, raw, sizeof(raw)), pos = 0;
	struct wire_resp r;
	enum wire_resp_step st = WIRE_STEP_MORE;
	int packets = 0;

	wire_resp_init(&r, wire_cmd_resp_kind(COM_FIELD_LIST), CAPS_EOF);
	while (pos < n) {
		uint32_t len = hdr_len(raw + pos);

		ck_assert_uint_le(pos + 4 + len, n);
		ck_assert_uint_eq(raw[pos + 3], packets + 1);
		ck_assert_uint_eq(st, WIRE_STEP_MORE);
		st = wire_resp_feed(&r, raw + pos + 4, len);
		pos += 4 + len;
		packets++;
	}
	ck_assert_int_eq(packets, 2);
	ck_assert_uint_eq(st, WIRE_STEP_DONE);
	ck_assert_uint_eq(r.status, SERVER_STATUS_AUTOCOMMIT);
}
END_TEST

/* Under DEPRECATE_EOF a text row may begin with 0xFE (a string of 2^24+ bytes); only its
 * length tells it apart from the terminating OK. */
START_TEST(test_resp_huge_fe_row)
{
	struct wire_resp r;
	uint8_t *row = calloc(1, WIRE_MAX_PAYLOAD);

	ck_assert_ptr_nonnull(row);
	row[0] = 0xfe;
	wire_resp_init(&r, WIRE_RESP_QUERY, CAPS_DEP);
	ck_assert_uint_eq(wire_resp_feed(&r, (const uint8_t *)"\x01", 1), WIRE_STEP_MORE);
	ck_assert_uint_eq(wire_resp_feed(&r,
	                                 (const uint8_t *)"\x03"
	                                                  "def",
	                                 4),
	                  WIRE_STEP_MORE);
	ck_assert_uint_eq(r.state, WRS_ROWS);
	ck_assert(wire_resp_can_stream(&r, 0xfe, WIRE_MAX_PAYLOAD));
	ck_assert_uint_eq(wire_resp_feed(&r, row, WIRE_MAX_PAYLOAD), WIRE_STEP_MORE);
	ck_assert_uint_eq(wire_resp_feed(&r, (const uint8_t *)"\xfe\x00\x00\x02\x00\x00\x00", 7),
	                  WIRE_STEP_DONE);
	free(row);
}
END_TEST

START_TEST(test_resp_can_stream)
{
	struct wire_resp r;

	wire_resp_init(&r, WIRE_RESP_QUERY, CAPS_EOF);
	/* Nothing before the rows may be streamed. */
	ck_assert(!wire_resp_can_stream(&r, 0x01, 1));
	ck_assert_uint_eq(wire_resp_feed(&r, (const uint8_t *)"\x01", 1), WIRE_STEP_MORE);
	ck_assert(!wire_resp_can_stream(&r, 0x03, 40));
	ck_assert_uint_eq(wire_resp_feed(&r,
	                                 (const uint8_t *)"\x03"
	                                                  "def",
	                                 4),
	                  WIRE_STEP_MORE);
	ck_assert(!wire_resp_can_stream(&r, 0xfe, 5)); /* the column EOF */
	ck_assert_uint_eq(wire_resp_feed(&r, (const uint8_t *)"\xfe\x00\x00\x02\x00", 5),
	                  WIRE_STEP_MORE);
	/* Rows: yes; the terminating EOF and ERR: no. */
	ck_assert(wire_resp_can_stream(&r, 0x01, 1000000));
	ck_assert(wire_resp_can_stream(&r, 0xfb, 3));
	ck_assert(wire_resp_can_stream(&r, 0xfe, 9)); /* 9+ bytes: a row */
	ck_assert(!wire_resp_can_stream(&r, 0xfe, 5));
	ck_assert(!wire_resp_can_stream(&r, 0xff, 20));
}
END_TEST

static const struct {
	uint8_t cmd;
	enum wire_resp_kind kind;
} cmd_kind_cases[] = {
	{ COM_QUIT, WIRE_RESP_NONE },
	{ COM_STMT_CLOSE, WIRE_RESP_NONE },
	{ COM_STMT_SEND_LONG_DATA, WIRE_RESP_NONE },
	{ COM_QUERY, WIRE_RESP_QUERY },
	{ COM_STMT_EXECUTE, WIRE_RESP_EXECUTE },
	{ COM_STMT_FETCH, WIRE_RESP_FETCH },
	{ COM_FIELD_LIST, WIRE_RESP_FIELD_LIST },
	{ COM_STMT_PREPARE, WIRE_RESP_PREPARE },
	{ COM_STATISTICS, WIRE_RESP_ONE_PACKET },
	/* "COM_PROCESS_INFO ... Returns: Text Resultset or a ERR_Packet" */
	{ COM_PROCESS_INFO, WIRE_RESP_QUERY },
	{ COM_PING, WIRE_RESP_OK },
	{ COM_INIT_DB, WIRE_RESP_OK },
	{ COM_RESET_CONNECTION, WIRE_RESP_OK },
	{ COM_STMT_RESET, WIRE_RESP_OK },
	{ COM_SET_OPTION, WIRE_RESP_OK },
	{ COM_PROCESS_KILL, WIRE_RESP_OK },
	{ COM_DEBUG, WIRE_RESP_OK },
};

START_TEST(test_cmd_resp_kind)
{
	ck_assert_msg(wire_cmd_resp_kind(cmd_kind_cases[_i].cmd) == cmd_kind_cases[_i].kind,
	              "command 0x%02x: kind %d, want %d", cmd_kind_cases[_i].cmd,
	              wire_cmd_resp_kind(cmd_kind_cases[_i].cmd), cmd_kind_cases[_i].kind);
}
END_TEST

/* ---- buffer ---- */

START_TEST(test_buf_basics)
{
	struct wire_buf b;

	wire_buf_init(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert(!b.failed);
	wire_put_u8(&b, 0x01);
	wire_put_u16(&b, 0x0302);
	wire_put_u24(&b, 0x060504);
	wire_put_u32(&b, 0x0a090807);
	wire_put_u64(&b, 0x1211100f0e0d0c0bull);
	wire_put_cstr(&b, "ab");
	wire_put_lenenc_str(&b, "xyz", 3);
	ck_assert(!b.failed);
	ck_assert_uint_eq(b.len, 1 + 2 + 3 + 4 + 8 + 3 + 4);
	ck_assert_mem_eq(b.data,
	                 "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12"
	                 "ab\0\x03xyz",
	                 25);
	wire_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	/* Growing far past the initial capacity keeps earlier bytes. */
	for (int i = 0; i < 10000; i++)
		wire_put_u8(&b, (uint8_t)i);
	ck_assert_uint_eq(b.len, 10000);
	for (int i = 0; i < 10000; i++)
		ck_assert_uint_eq(b.data[i], (uint8_t)i);
	/* An impossible reservation sets the sticky flag; later writes are dropped. */
	ck_assert(!wire_buf_reserve(&b, SIZE_MAX - 8));
	ck_assert(b.failed);
	wire_put_u8(&b, 1);
	ck_assert_uint_eq(b.len, 10000);
	wire_buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

/* ---- prepared statements ---- */

START_TEST(test_prepare_ok_parse)
{
	const uint8_t ok[] = { 0x00, 0x07, 0, 0, 0, 0x02, 0, 0x03, 0, 0x00, 0, 0 };
	struct wire_prepare_ok out;

	ck_assert(wire_parse_prepare_ok(ok, sizeof(ok), &out));
	ck_assert_uint_eq(out.stmt_id, 7);
	ck_assert_uint_eq(out.ncols, 2);
	ck_assert_uint_eq(out.nparams, 3);
	ck_assert(!wire_parse_prepare_ok(ok, sizeof(ok) - 1, &out));
	{
		const uint8_t err[] = { 0xff, 0x10, 0x04, '#', '4', '2',
			                '0',  '0',  '0',  'x', 'y', 'z' };

		ck_assert(!wire_parse_prepare_ok(err, sizeof(err), &out));
	}
}
END_TEST

START_TEST(test_execute_parse)
{
	/* id 5, no cursor, 1 iteration; 3 parameters: NULL bitmap, flag 1, 3 types, values */
	const uint8_t with_types[] = { 0x17, 5,    0,    0,    0,    0x00, 1,    0, 0, 0, 0x04,
		                       0x01, 0x08, 0x00, 0xfd, 0x00, 0x08, 0x80, 1, 2, 3 };
	const uint8_t no_params[] = { 0x17, 9, 0, 0, 0, 0x01, 1, 0, 0, 0 };
	struct wire_execute e;

	ck_assert(wire_parse_execute(with_types, sizeof(with_types), 3, &e));
	ck_assert_uint_eq(e.stmt_id, 5);
	ck_assert_uint_eq(e.flags, 0);
	ck_assert(e.types_sent);
	ck_assert_uint_eq(e.types_off, 12);
	/* Cut inside the types: refused. Cut before the flag: refused. */
	ck_assert(!wire_parse_execute(with_types, 15, 3, &e));
	ck_assert(!wire_parse_execute(with_types, 11, 3, &e));
	/* A statement with no parameters stops after the iteration count. */
	ck_assert(wire_parse_execute(no_params, sizeof(no_params), 0, &e));
	ck_assert_uint_eq(e.stmt_id, 9);
	ck_assert_uint_eq(e.flags, 1);
	ck_assert(!e.types_sent);
	ck_assert(!wire_parse_execute(no_params, 9, 0, &e));
	ck_assert(!wire_parse_execute(with_types + 1, sizeof(with_types) - 1, 3, &e));
	/* 9 parameters: a 2-byte NULL bitmap, then the flag. */
	{
		const uint8_t nine[] = { 0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x00 };

		ck_assert(wire_parse_execute(nine, sizeof(nine), 9, &e));
		ck_assert(!e.types_sent);
		ck_assert_uint_eq(e.types_off, 13);
	}
}
END_TEST

/* An execute that left its types out gets them, with the flag set; the values follow. */
START_TEST(test_execute_build_injects_types)
{
	const uint8_t p[] = { 0x17, 5, 0, 0, 0, 0x00, 1, 0, 0, 0, 0x00, 0x00, 42, 0, 0, 0, 7 };
	const uint8_t types[] = { 0x03, 0x00, 0x01, 0x80 };
	const uint8_t want[] = { 0x17, 0x21, 0x43, 0,    0,    0x00, 1, 0, 0, 0, 0x00,
		                 0x01, 0x03, 0x00, 0x01, 0x80, 42,   0, 0, 0, 7 };
	struct wire_execute e;
	struct wire_buf b;

	ck_assert(wire_parse_execute(p, sizeof(p), 2, &e));
	ck_assert(!e.types_sent);
	wire_buf_init(&b);
	wire_build_execute(&b, 0, p, sizeof(p), 2, &e, 0x4321, types);
	ck_assert_uint_eq(b.len, WIRE_HDR_LEN + sizeof(want));
	ck_assert_uint_eq(wire_u24(b.data), sizeof(want));
	ck_assert_uint_eq(b.data[3], 0);
	ck_assert_int_eq(memcmp(b.data + WIRE_HDR_LEN, want, sizeof(want)), 0);

	/* Types the client sent stay as they are: only the id changes. */
	{
		uint8_t sent[sizeof(want)];

		memcpy(sent, want, sizeof(want));
		ck_assert(wire_parse_execute(sent, sizeof(sent), 2, &e));
		ck_assert(e.types_sent);
		wire_buf_reset(&b);
		wire_build_execute(&b, 0, sent, sizeof(sent), 2, &e, 9, types);
		ck_assert_uint_eq(wire_u24(b.data), sizeof(sent));
		ck_assert_uint_eq(wire_u32(b.data + WIRE_HDR_LEN + 1), 9);
		ck_assert_int_eq(memcmp(b.data + WIRE_HDR_LEN + 5, sent + 5, sizeof(sent) - 5), 0);
	}
	/* No types known: the packet goes as it came, with the new id. */
	wire_buf_reset(&b);
	ck_assert(wire_parse_execute(p, sizeof(p), 2, &e));
	wire_build_execute(&b, 0, p, sizeof(p), 2, &e, 9, NULL);
	ck_assert_uint_eq(wire_u24(b.data), sizeof(p));
	ck_assert_uint_eq(wire_u32(b.data + WIRE_HDR_LEN + 1), 9);
	ck_assert_int_eq(memcmp(b.data + WIRE_HDR_LEN + 5, p + 5, sizeof(p) - 5), 0);
	wire_buf_free(&b);
}
END_TEST

/* COM_STMT_BULK_EXECUTE: the id is mapped; types the client left out go in after the
 * flags, with SEND_TYPES set; the rows follow untouched. */
START_TEST(test_bulk_parse_build)
{
	/* id 5, flags 0, 2 rows of 2 parameters: indicator 0 + INT, indicator 1 (NULL) */
	const uint8_t p[] = { 0xfa, 5, 0, 0, 0, 0x00, 0x00, 0, 42, 0, 0, 0, 1, 0, 7, 0, 0, 0, 1 };
	const uint8_t types[] = { 0x03, 0x00, 0x03, 0x80 };
	const uint8_t want[] = { 0xfa, 0x21, 0x43, 0, 0, 0x80, 0x00, 0x03, 0x00, 0x03, 0x80, 0,
		                 42,   0,    0,    0, 1, 0,    7,    0,    0,    0,    1 };
	struct wire_bulk bk;
	struct wire_buf b;

	ck_assert(wire_parse_bulk(p, sizeof(p), 2, &bk));
	ck_assert_uint_eq(bk.stmt_id, 5);
	ck_assert(!bk.types_sent);
	wire_buf_init(&b);
	wire_build_bulk(&b, 0, p, sizeof(p), 2, &bk, 0x4321, types);
	ck_assert_uint_eq(wire_u24(b.data), sizeof(want));
	ck_assert_int_eq(memcmp(b.data + WIRE_HDR_LEN, want, sizeof(want)), 0);
	/* Sent with types: they stay, only the id changes. */
	ck_assert(wire_parse_bulk(want, sizeof(want), 2, &bk));
	ck_assert(bk.types_sent);
	wire_buf_reset(&b);
	wire_build_bulk(&b, 0, want, sizeof(want), 2, &bk, 9, types);
	ck_assert_uint_eq(wire_u24(b.data), sizeof(want));
	ck_assert_uint_eq(wire_u32(b.data + WIRE_HDR_LEN + 1), 9);
	ck_assert_int_eq(memcmp(b.data + WIRE_HDR_LEN + 5, want + 5, sizeof(want) - 5), 0);
	/* Too short for its flags, or for the types it says follow; not a bulk execute. */
	ck_assert(!wire_parse_bulk(p, 6, 2, &bk));
	ck_assert(!wire_parse_bulk(want, 10, 2, &bk));
	ck_assert(!wire_parse_bulk(want + 1, sizeof(want) - 1, 2, &bk));
	ck_assert_int_eq(wire_cmd_resp_kind(COM_STMT_BULK_EXECUTE), WIRE_RESP_EXECUTE);
	wire_buf_free(&b);
}
END_TEST

/* MariaDB's capabilities 32-63: in the greeting's and the response's reserved bytes, only
 * without CLIENT_LONG_PASSWORD (CLIENT_MYSQL). */
START_TEST(test_ext_caps)
{
	struct wire_handshake h, hb;
	struct wire_handshake_resp r, rb;
	struct wire_buf b;

	memset(&h, 0, sizeof(h));
	h.protocol = 10;
	strcpy(h.server_version, "5.5.5-10.11.6-MariaDB");
	h.caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
	h.ext_caps = MARIADB_CLIENT_STMT_BULK_OPERATIONS | 0x10;
	strcpy(h.auth_plugin, "mysql_native_password");
	wire_buf_init(&b);
	wire_build_handshake(&b, 0, &h);
	ck_assert(wire_parse_handshake(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &hb));
	ck_assert_uint_eq(hb.ext_caps, h.ext_caps);
	h.caps |= CLIENT_LONG_PASSWORD; /* a MySQL server: the bytes stay zero */
	wire_buf_reset(&b);
	wire_build_handshake(&b, 0, &h);
	ck_assert(wire_parse_handshake(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &hb));
	ck_assert_uint_eq(hb.ext_caps, 0);

	memset(&r, 0, sizeof(r));
	r.caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
	r.ext_caps = MARIADB_CLIENT_STMT_BULK_OPERATIONS;
	strcpy(r.user, "alice");
	strcpy(r.auth_plugin, "mysql_native_password");
	wire_buf_reset(&b);
	wire_build_handshake_resp(&b, 1, &r);
	ck_assert(wire_parse_handshake_resp(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &rb));
	ck_assert_uint_eq(rb.ext_caps, MARIADB_CLIENT_STMT_BULK_OPERATIONS);
	ck_assert_str_eq(rb.user, "alice");
	/* bytes 28..31 of the payload */
	ck_assert_uint_eq(wire_u32(b.data + WIRE_HDR_LEN + 4 + 4 + 1 + 19),
	                  MARIADB_CLIENT_STMT_BULK_OPERATIONS);
	r.caps |= CLIENT_LONG_PASSWORD;
	wire_buf_reset(&b);
	wire_build_handshake_resp(&b, 1, &r);
	ck_assert(wire_parse_handshake_resp(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &rb));
	ck_assert_uint_eq(rb.ext_caps, 0);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_stmt_cmd_build)
{
	const uint8_t p[] = { 0x18, 3, 0, 0, 0, 1, 0, 'a', 'b', 'c' };
	struct wire_buf b;

	wire_buf_init(&b);
	wire_build_stmt_cmd(&b, 0, p, sizeof(p), 0x01020304);
	ck_assert_uint_eq(wire_u24(b.data), sizeof(p));
	ck_assert_uint_eq(b.data[WIRE_HDR_LEN], 0x18);
	ck_assert_uint_eq(wire_u32(b.data + WIRE_HDR_LEN + 1), 0x01020304);
	ck_assert_int_eq(memcmp(b.data + WIRE_HDR_LEN + 5, p + 5, sizeof(p) - 5), 0);
	wire_buf_free(&b);
	{
		uint8_t at[6] = { 0 };

		wire_put_u32_at(at + 1, 0xa0b0c0d0u);
		ck_assert_uint_eq(wire_u32(at + 1), 0xa0b0c0d0u);
		ck_assert_uint_eq(at[0], 0);
		ck_assert_uint_eq(at[5], 0);
	}
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc;

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
	tc = tcase_create("lenenc");
	tcase_add_loop_test(tc, test_lenenc_get, 0, N(lenenc_get_cases));
	tcase_add_test(tc, test_lenenc_null);
	tcase_add_loop_test(tc, test_lenenc_put, 0, N(lenenc_put_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("cursor");
	tcase_add_test(tc, test_cursor_fixed_ints);
	tcase_add_test(tc, test_cursor_strings);
	tcase_add_test(tc, test_buf_basics);
	suite_add_tcase(s, tc);

	tc = tcase_create("packet");
	tcase_set_timeout(tc, 60); /* a few 16-32 MiB buffers; slow under ASan/valgrind */
	tcase_add_test(tc, test_packet_small);
	tcase_add_test(tc, test_packet_below_limit);
	tcase_add_test(tc, test_packet_exact_limit);
	tcase_add_test(tc, test_packet_two_limits_plus_ten);
	tcase_add_test(tc, test_packet_two_limits_exact);
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake");
	tcase_add_test(tc, test_handshake_parse_capture);
	tcase_add_test(tc, test_handshake_truncated);
	tcase_add_test(tc, test_handshake_roundtrip);
	tcase_add_test(tc, test_handshake_ext_caps);
	tcase_add_test(tc, test_coldef_ext_block);
	tcase_add_loop_test(tc, test_handshake_resp_parse, 0, N(hresp_caps_cases));
	tcase_add_test(tc, test_handshake_resp_auth_too_long);
	tcase_add_test(tc, test_ssl_request);
	tcase_add_test(tc, test_handshake_resp_no_41);
	tcase_add_loop_test(tc, test_handshake_resp_roundtrip, 0, N(hresp_caps_cases));
	tcase_add_test(tc, test_change_user);
	tcase_add_test(tc, test_ext_caps);
	suite_add_tcase(s, tc);

	tc = tcase_create("generic");
	tcase_add_test(tc, test_ok_parse);
	tcase_add_test(tc, test_ok_parse_session_track);
	tcase_add_test(tc, test_ok_parse_bad);
	tcase_add_test(tc, test_ok_build);
	tcase_add_test(tc, test_err);
	tcase_add_test(tc, test_eof);
	tcase_add_test(tc, test_is_eof);
	suite_add_tcase(s, tc);

	tc = tcase_create("resp");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_resp_table, 0, N(resp_cases));
	tcase_add_test(tc, test_resp_prepare_fields);
	tcase_add_test(tc, test_resp_none);
	tcase_add_test(tc, test_resp_field_list_capture);
	tcase_add_test(tc, test_resp_huge_fe_row);
	tcase_add_test(tc, test_resp_can_stream);
	tcase_add_loop_test(tc, test_cmd_resp_kind, 0, N(cmd_kind_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("stmt");
	tcase_add_test(tc, test_prepare_ok_parse);
	tcase_add_test(tc, test_execute_parse);
	tcase_add_test(tc, test_execute_build_injects_types);
	tcase_add_test(tc, test_stmt_cmd_build);
	tcase_add_test(tc, test_bulk_parse_build);
	suite_add_tcase(s, tc);
#undef N
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
