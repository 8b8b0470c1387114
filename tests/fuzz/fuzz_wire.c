/*
 * fuzz_wire.c - libFuzzer target for proto/wire.c.
 *
 * Feeds the input, as is, to every parser in wire.h, in both directions: what a client
 * sends (handshake response, SSLRequest, COM_CHANGE_USER) and what a server sends
 * (handshake, OK, ERR, EOF). Then cuts the input into packets three ways and drives the
 * response tracker with them, for every response kind and with and without
 * CLIENT_DEPRECATE_EOF / CLIENT_SESSION_TRACK:
 *   - as a framed stream (3-byte length + sequence id headers, as on the socket);
 *   - as one-byte-length-prefixed chunks (split points the fuzzer controls directly);
 *   - at pseudo-random points drawn from a seed taken from the input's last bytes.
 *
 * Besides the sanitizers, it checks invariants the callers rely on and abort()s when one
 * breaks: parsed strings are terminated, borrowed pointers stay inside the input,
 * builders round-trip through parsers, and the tracker's DONE/INFILE/BAD steps agree
 * with its state. Owns nothing; links against libgateway.a only for wire.o.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print what broke, then abort so the fuzzer records the input. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_wire: %s:%d: check failed: %s\n", __FILE__,          \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define BASE_CAPS                                                                                  \
	(CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS |                         \
	 CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH |                    \
	 CLIENT_LOCAL_FILES)

static const uint32_t caps_sets[] = {
	BASE_CAPS,
	BASE_CAPS | CLIENT_DEPRECATE_EOF,
	BASE_CAPS | CLIENT_SESSION_TRACK,
	BASE_CAPS | CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK,
};

#define N_CAPS (sizeof(caps_sets) / sizeof(caps_sets[0]))

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
	if (n == 0)
		return true;
	return p != NULL && p >= base && p + n <= base + size;
}

/* ---- parsers on the whole input ---- */

static void fuzz_handshake(const uint8_t *data, size_t size)
{
	struct wire_handshake h, back;
	struct wire_buf b;

	if (!wire_parse_handshake(data, size, &h))
		return;
	CHECK(h.protocol == 10);
	CHECK(terminated(h.server_version, sizeof(h.server_version)));
	CHECK(terminated(h.auth_plugin, sizeof(h.auth_plugin)));

	/* The builder always writes the 4.1 layout with a 20-byte salt and a plugin name;
	 * what it writes must parse back to the same fields. */
	h.caps |= CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
	wire_buf_init(&b);
	wire_build_handshake(&b, 0, &h);
	if (!b.failed) {
		CHECK(b.len >= WIRE_HDR_LEN && wire_u24(b.data) == b.len - WIRE_HDR_LEN);
		CHECK(wire_parse_handshake(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &back));
		CHECK(strcmp(back.server_version, h.server_version) == 0);
		CHECK(back.conn_id == h.conn_id && back.caps == h.caps);
		CHECK(back.charset == h.charset && back.status == h.status);
		CHECK(memcmp(back.scramble, h.scramble, sizeof(h.scramble)) == 0);
		CHECK(strcmp(back.auth_plugin, h.auth_plugin) == 0);
	}
	wire_buf_free(&b);
}

static void fuzz_handshake_resp(const uint8_t *data, size_t size)
{
	struct wire_handshake_resp r, back;
	struct wire_buf b;

	if (!wire_parse_handshake_resp(data, size, &r))
		return;
	CHECK(r.auth_len <= sizeof(r.auth));
	CHECK(terminated(r.user, sizeof(r.user)));
	CHECK(terminated(r.db, sizeof(r.db)));
	CHECK(terminated(r.auth_plugin, sizeof(r.auth_plugin)));
	CHECK(inside(r.attrs, r.attrs_len, data, size));
	if (r.is_ssl_request) {
		CHECK(size == 32);
		return;
	}
	/* Round trip, for the layouts the builder writes (length-prefixed auth data). */
	if (!(r.caps & (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SECURE_CONNECTION)))
		return;
	if (!(r.caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) && r.auth_len > 255)
		return;
	wire_buf_init(&b);
	wire_build_handshake_resp(&b, 1, &r);
	if (!b.failed) {
		CHECK(
		    wire_parse_handshake_resp(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN, &back));
		CHECK(back.caps == r.caps && back.max_packet == r.max_packet);
		CHECK(back.charset == r.charset && !back.is_ssl_request);
		CHECK(strcmp(back.user, r.user) == 0 && strcmp(back.db, r.db) == 0);
		CHECK(back.auth_len == r.auth_len && memcmp(back.auth, r.auth, r.auth_len) == 0);
		if (r.caps & CLIENT_PLUGIN_AUTH)
			CHECK(strcmp(back.auth_plugin, r.auth_plugin) == 0);
		CHECK(back.attrs_len == r.attrs_len);
		CHECK(r.attrs_len == 0 || memcmp(back.attrs, r.attrs, r.attrs_len) == 0);
	}
	wire_buf_free(&b);
}

static void fuzz_change_user(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < N_CAPS + 1; i++) {
		/* The last round: a pre-4.1 layout (NUL-terminated auth data). */
		uint32_t caps = i < N_CAPS ? caps_sets[i] | CLIENT_CONNECT_ATTRS : 0;
		struct wire_change_user cu, back;
		struct wire_buf b;

		if (!wire_parse_change_user(data, size, caps, &cu))
			continue;
		CHECK(cu.auth_len <= sizeof(cu.auth));
		CHECK(terminated(cu.user, sizeof(cu.user)));
		CHECK(terminated(cu.db, sizeof(cu.db)));
		CHECK(terminated(cu.auth_plugin, sizeof(cu.auth_plugin)));
		if (!(caps & CLIENT_SECURE_CONNECTION))
			continue;
		wire_buf_init(&b);
		wire_build_change_user(&b, 0, caps, &cu);
		if (!b.failed) {
			CHECK(wire_parse_change_user(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN,
			                             caps, &back));
			CHECK(strcmp(back.user, cu.user) == 0 && strcmp(back.db, cu.db) == 0);
			CHECK(back.auth_len == cu.auth_len &&
			      memcmp(back.auth, cu.auth, cu.auth_len) == 0);
			CHECK(back.charset == cu.charset);
			CHECK(strcmp(back.auth_plugin, cu.auth_plugin) == 0);
		}
		wire_buf_free(&b);
	}
}

static void fuzz_generic(const uint8_t *data, size_t size)
{
	struct wire_err e;
	uint16_t warnings, status;

	for (size_t i = 0; i < N_CAPS; i++) {
		struct wire_ok ok, back;
		struct wire_buf b;

		if (!wire_parse_ok(data, size, caps_sets[i], &ok))
			continue;
		CHECK(size > 0 && (data[0] == 0x00 || data[0] == 0xfe));
		CHECK(inside(ok.info, ok.info_len, data, size));
		CHECK(inside(ok.state, ok.state_len, data, size));
		wire_buf_init(&b);
		wire_build_ok(&b, 1, caps_sets[i], ok.affected_rows, ok.last_insert_id, ok.status,
		              ok.warnings);
		if (!b.failed) {
			CHECK(wire_parse_ok(b.data + WIRE_HDR_LEN, b.len - WIRE_HDR_LEN,
			                    caps_sets[i] & ~CLIENT_SESSION_TRACK, &back));
			CHECK(back.affected_rows == ok.affected_rows);
			CHECK(back.last_insert_id == ok.last_insert_id);
			CHECK(back.status == ok.status && back.warnings == ok.warnings);
		}
		wire_buf_free(&b);
	}

	if (wire_parse_err(data, size, &e)) {
		CHECK(size >= 3 && data[0] == 0xff);
		CHECK(inside(e.msg, e.msg_len, data, size));
		CHECK(terminated(e.sqlstate, sizeof(e.sqlstate)));
	}

	if (wire_parse_eof(data, size, &warnings, &status)) {
		CHECK(size > 0 && size < 9 && data[0] == 0xfe);
		CHECK(wire_is_eof(data, size, BASE_CAPS));
	}
	(void)wire_is_eof(data, size, BASE_CAPS | CLIENT_DEPRECATE_EOF);
}

/* Drive the cursor getters with the input as both the program and the data: each step
 * takes an opcode byte, then applies a getter to what follows. */
static void fuzz_cursor(const uint8_t *data, size_t size)
{
	struct wire_cur c = wire_cur_init(data, size);
	uint8_t op;

	while (wire_get_u8(&c, &op)) {
		size_t before = c.off;
		uint8_t v8;
		uint16_t v16;
		uint32_t v32;
		uint64_t v64;
		bool is_null;
		const uint8_t *b;
		const char *s;
		size_t n = 0;
		bool ok = false;

		switch (op % 10) {
		case 0:
			ok = wire_get_u16(&c, &v16);
			break;
		case 1:
			ok = wire_get_u24(&c, &v32);
			break;
		case 2:
			ok = wire_get_u32(&c, &v32);
			break;
		case 3:
			ok = wire_get_u64(&c, &v64);
			break;
		case 4:
			ok = wire_get_lenenc(&c, &v64, NULL);
			break;
		case 5:
			ok = wire_get_lenenc(&c, &v64, &is_null);
			break;
		case 6:
			ok = wire_get_cstr(&c, &s, &n);
			CHECK(!ok ||
			      (inside((const uint8_t *)s, n + 1, data, size) && s[n] == '\0'));
			break;
		case 7:
			ok = wire_get_lenenc_str(&c, &b, &n);
			CHECK(!ok || inside(b, n, data, size));
			break;
		case 8:
			ok = wire_get_bytes(&c, op / 10, &b);
			CHECK(!ok || inside(b, op / 10, data, size));
			break;
		default:
			ok = wire_get_u8(&c, &v8);
			break;
		}
		CHECK(c.off <= c.len);
		CHECK(!ok || c.off >= before);
		if (!ok)
			break;
	}
	{
		const uint8_t *rest;
		size_t n;

		wire_get_rest(&c, &rest, &n);
		CHECK(c.off == c.len && inside(rest, n, data, size));
	}
}

/* ---- response tracker ---- */

struct splitter {
	const uint8_t *data;
	size_t size;
	size_t pos;
	int mode;     /* 0 framed, 1 one-byte length prefix, 2 pseudo-random cuts */
	uint32_t rng; /* mode 2 */
};

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* The next packet's payload, or false when the input is used up. */
static bool next_packet(struct splitter *sp, const uint8_t **p, size_t *n)
{
	size_t left = sp->size - sp->pos;
	size_t len;

	switch (sp->mode) {
	case 0:
		if (left < WIRE_HDR_LEN)
			return false;
		len = wire_u24(sp->data + sp->pos);
		sp->pos += WIRE_HDR_LEN;
		left -= WIRE_HDR_LEN;
		if (len > left)
			return false; /* a packet still arriving: never fed */
		break;
	case 1:
		if (left == 0)
			return false;
		len = sp->data[sp->pos++];
		left--;
		if (len > left)
			len = left;
		break;
	default:
		if (left == 0)
			return false;
		/* Mostly short packets, sometimes empty, sometimes everything left. */
		len = xorshift(&sp->rng) % (left < 48 ? left + 1 : 49);
		if ((sp->rng & 0xf00) == 0)
			len = left;
		break;
	}
	*p = sp->data + sp->pos;
	*n = len;
	sp->pos += len;
	return true;
}

static void run_tracker(enum wire_resp_kind kind, uint32_t caps, struct splitter *sp)
{
	struct wire_resp r;
	const uint8_t *p;
	size_t n;
	int packets = 0;

	wire_resp_init(&r, kind, caps);
	CHECK(r.kind == kind && r.caps == caps);
	while (next_packet(sp, &p, &n)) {
		/* Copy each payload to its own exact-size buffer so ASan sees the end. */
		uint8_t *pkt = malloc(n ? n : 1);
		bool stream;
		enum wire_resp_step st;

		CHECK(pkt != NULL);
		if (n)
			memcpy(pkt, p, n);
		stream = n > 0 && wire_resp_can_stream(&r, pkt[0], n);
		st = wire_resp_feed(&r, pkt, n);
		free(pkt);
		packets++;
		/* A packet the caller may stream before it has arrived must not be one that
		 * ends or reshapes the response. */
		if (stream)
			CHECK(st == WIRE_STEP_MORE && r.state == WRS_ROWS);
		switch (st) {
		case WIRE_STEP_MORE:
			CHECK(r.state != WRS_DONE);
			CHECK(!r.is_err);
			break;
		case WIRE_STEP_DONE:
			CHECK(r.state == WRS_DONE);
			/* Nothing may follow the end of a response. */
			CHECK(wire_resp_feed(&r, (const uint8_t *)"\x00\x00\x00\x02\x00\x00\x00",
			                     7) == WIRE_STEP_BAD);
			return;
		case WIRE_STEP_INFILE:
			CHECK(kind == WIRE_RESP_QUERY && r.state == WRS_INFILE);
			wire_resp_infile_sent(&r);
			break;
		case WIRE_STEP_BAD:
			return;
		}
	}
	(void)packets;
}

static void fuzz_tracker(const uint8_t *data, size_t size)
{
	static const enum wire_resp_kind kinds[] = {
		WIRE_RESP_NONE,  WIRE_RESP_OK,         WIRE_RESP_QUERY,   WIRE_RESP_EXECUTE,
		WIRE_RESP_FETCH, WIRE_RESP_FIELD_LIST, WIRE_RESP_PREPARE, WIRE_RESP_ONE_PACKET,
	};
	uint32_t seed = 0x9e3779b9u;

	/* Mode 2 takes its seed from the last 4 bytes and splits the rest. */
	if (size >= 4)
		seed ^= wire_u32(data + size - 4);
	if (seed == 0)
		seed = 1;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t c = 0; c < N_CAPS; c++) {
			for (int mode = 0; mode < 3; mode++) {
				struct splitter sp = { data, size, 0, mode, seed };

				if (mode == 2 && size >= 4)
					sp.size = size - 4;
				run_tracker(kinds[k], caps_sets[c], &sp);
			}
		}
	}
	/* Every command byte maps to some kind; the mapping must be total. */
	if (size > 0) {
		enum wire_resp_kind kind = wire_cmd_resp_kind(data[0]);

		CHECK(kind >= WIRE_RESP_NONE && kind <= WIRE_RESP_ONE_PACKET);
	}
}

/* Wrap the input as a packet and check the header the builder writes. */
static void fuzz_builder(const uint8_t *data, size_t size)
{
	struct wire_buf b;
	size_t off;
	uint8_t seq = size > 0 ? data[0] : 0, next;

	wire_buf_init(&b);
	off = wire_packet_begin(&b, seq);
	wire_put_bytes(&b, data, size);
	next = wire_packet_end(&b, off);
	if (!b.failed) {
		CHECK(next == (uint8_t)(seq + 1));
		CHECK(wire_u24(b.data) == size && b.data[3] == seq);
		CHECK(size == 0 || memcmp(b.data + WIRE_HDR_LEN, data, size) == 0);
	}
	wire_buf_free(&b);
}

/* Prepared statements: the input as a prepare answer and as an execute, its parameter
 * count from the first two bytes; a rebuilt execute keeps everything after the types. */
static void fuzz_stmt(const uint8_t *data, size_t size)
{
	struct wire_prepare_ok pok;
	struct wire_execute e;
	uint16_t nparams = size >= 2 ? (uint16_t)(wire_u16(data) % 300) : 0;
	const uint8_t *p = size >= 2 ? data + 2 : data;
	size_t n = size >= 2 ? size - 2 : size;
	uint8_t types[600];

	if (wire_parse_prepare_ok(data, size, &pok))
		CHECK(size >= 12 && data[0] == 0x00);
	if (!wire_parse_execute(p, n, nparams, &e))
		return;
	CHECK(n >= 10 && p[0] == 0x17);
	CHECK(nparams == 0 || e.types_off <= n);
	CHECK(!e.types_sent || e.types_off + 2u * nparams <= n);
	memset(types, 0xab, sizeof(types));
	for (int with_types = 0; with_types < 2; with_types++) {
		struct wire_buf b;
		size_t len;

		wire_buf_init(&b);
		wire_build_execute(&b, 0, p, n, nparams, &e, 77, with_types ? types : NULL);
		if (!b.failed && b.len - WIRE_HDR_LEN < WIRE_MAX_PAYLOAD) {
			len = wire_u24(b.data);
			CHECK(wire_u32(b.data + WIRE_HDR_LEN + 1) == 77);
			if (with_types && nparams > 0 && !e.types_sent) {
				CHECK(len == n + 2u * nparams);
				CHECK(memcmp(b.data + WIRE_HDR_LEN + e.types_off + 2u * nparams,
				             p + e.types_off, n - e.types_off) == 0);
			} else {
				CHECK(len == n);
				CHECK(memcmp(b.data + WIRE_HDR_LEN + 5, p + 5, n - 5) == 0);
			}
		}
		wire_buf_free(&b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_handshake(data, size);
	fuzz_handshake_resp(data, size);
	fuzz_change_user(data, size);
	fuzz_generic(data, size);
	fuzz_cursor(data, size);
	fuzz_tracker(data, size);
	fuzz_builder(data, size);
	fuzz_stmt(data, size);
	return 0;
}
