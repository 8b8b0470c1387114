/*
 * wire.c - the MySQL protocol codec (see wire.h). Pure and bounded: every read goes
 * through struct wire_cur, every write through struct wire_buf with its sticky flag.
 */
#include "proto/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cursor ---- */

bool wire_get_u8(struct wire_cur *c, uint8_t *v)
{
	if (wire_cur_left(c) < 1)
		return false;
	*v = c->p[c->off++];
	return true;
}

bool wire_get_u16(struct wire_cur *c, uint16_t *v)
{
	if (wire_cur_left(c) < 2)
		return false;
	*v = wire_u16(c->p + c->off);
	c->off += 2;
	return true;
}

bool wire_get_u24(struct wire_cur *c, uint32_t *v)
{
	if (wire_cur_left(c) < 3)
		return false;
	*v = wire_u24(c->p + c->off);
	c->off += 3;
	return true;
}

bool wire_get_u32(struct wire_cur *c, uint32_t *v)
{
	if (wire_cur_left(c) < 4)
		return false;
	*v = wire_u32(c->p + c->off);
	c->off += 4;
	return true;
}

bool wire_get_u64(struct wire_cur *c, uint64_t *v)
{
	if (wire_cur_left(c) < 8)
		return false;
	*v = (uint64_t)wire_u32(c->p + c->off) | (uint64_t)wire_u32(c->p + c->off + 4) << 32;
	c->off += 8;
	return true;
}

bool wire_get_lenenc(struct wire_cur *c, uint64_t *v, bool *is_null)
{
	uint8_t first;
	uint16_t v16;
	uint32_t v24;

	if (is_null)
		*is_null = false;
	if (!wire_get_u8(c, &first))
		return false;
	if (first < 0xfb) {
		*v = first;
		return true;
	}
	switch (first) {
	case 0xfb:
		if (!is_null)
			return false;
		*is_null = true;
		*v = 0;
		return true;
	case 0xfc:
		if (!wire_get_u16(c, &v16))
			return false;
		*v = v16;
		return true;
	case 0xfd:
		if (!wire_get_u24(c, &v24))
			return false;
		*v = v24;
		return true;
	case 0xfe:
		return wire_get_u64(c, v);
	default:
		return false; /* 0xff is not an integer */
	}
}

bool wire_get_bytes(struct wire_cur *c, size_t n, const uint8_t **out)
{
	if (wire_cur_left(c) < n)
		return false;
	*out = c->p + c->off;
	c->off += n;
	return true;
}

bool wire_get_cstr(struct wire_cur *c, const char **out, size_t *n)
{
	const uint8_t *start = c->p + c->off;
	const uint8_t *nul = memchr(start, 0, wire_cur_left(c));

	if (!nul)
		return false;
	*out = (const char *)start;
	*n = (size_t)(nul - start);
	c->off += *n + 1;
	return true;
}

bool wire_get_lenenc_str(struct wire_cur *c, const uint8_t **out, size_t *n)
{
	uint64_t len;

	if (!wire_get_lenenc(c, &len, NULL) || len > wire_cur_left(c))
		return false;
	*n = (size_t)len;
	return wire_get_bytes(c, *n, out);
}

void wire_get_rest(struct wire_cur *c, const uint8_t **out, size_t *n)
{
	*out = c->p + c->off;
	*n = wire_cur_left(c);
	c->off = c->len;
}

/* Copy a counted string into a fixed NUL-terminated field; false if it does not fit. */
static bool copy_field(char *dst, size_t cap, const void *src, size_t n)
{
	if (n >= cap)
		return false;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return true;
}

/* ---- builder ---- */

void wire_buf_init(struct wire_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void wire_buf_free(struct wire_buf *b)
{
	free(b->data);
	wire_buf_init(b);
}

void wire_buf_reset(struct wire_buf *b)
{
	b->len = 0;
	b->failed = false;
}

bool wire_buf_reserve(struct wire_buf *b, size_t extra)
{
	size_t want, cap;
	uint8_t *p;

	if (b->failed)
		return false;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	want = b->len + extra;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void wire_put_bytes(struct wire_buf *b, const void *p, size_t n)
{
	if (n == 0 || !wire_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void wire_put_u8(struct wire_buf *b, uint8_t v)
{
	wire_put_bytes(b, &v, 1);
}

void wire_put_u16(struct wire_buf *b, uint16_t v)
{
	uint8_t t[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	wire_put_bytes(b, t, sizeof(t));
}

void wire_put_u24(struct wire_buf *b, uint32_t v)
{
	uint8_t t[3] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16) };

	wire_put_bytes(b, t, sizeof(t));
}

void wire_put_u32(struct wire_buf *b, uint32_t v)
{
	uint8_t t[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	wire_put_bytes(b, t, sizeof(t));
}

void wire_put_u64(struct wire_buf *b, uint64_t v)
{
	wire_put_u32(b, (uint32_t)v);
	wire_put_u32(b, (uint32_t)(v >> 32));
}

void wire_put_lenenc(struct wire_buf *b, uint64_t v)
{
	if (v < 0xfb) {
		wire_put_u8(b, (uint8_t)v);
	} else if (v <= 0xffff) {
		wire_put_u8(b, 0xfc);
		wire_put_u16(b, (uint16_t)v);
	} else if (v <= 0xffffff) {
		wire_put_u8(b, 0xfd);
		wire_put_u24(b, (uint32_t)v);
	} else {
		wire_put_u8(b, 0xfe);
		wire_put_u64(b, v);
	}
}

void wire_put_cstr(struct wire_buf *b, const char *s)
{
	wire_put_bytes(b, s, strlen(s) + 1);
}

void wire_put_lenenc_str(struct wire_buf *b, const void *p, size_t n)
{
	wire_put_lenenc(b, n);
	wire_put_bytes(b, p, n);
}

size_t wire_packet_begin(struct wire_buf *b, uint8_t seq)
{
	size_t off = b->len;
	uint8_t hdr[4] = { 0, 0, 0, seq };

	wire_put_bytes(b, hdr, sizeof(hdr));
	return off;
}

/*
 * The payload was written contiguously after one header; a payload of 0xffffff bytes
 * or more must travel as several packets, each with its own header, the last one
 * shorter than 0xffffff (possibly empty). Insert the extra headers by moving the tail.
 */
uint8_t wire_packet_end(struct wire_buf *b, size_t off)
{
	uint8_t seq;
	size_t payload, pos, chunks, extra, i;

	if (b->failed || off + WIRE_HDR_LEN > b->len)
		return 0;
	seq = b->data[off + 3];
	payload = b->len - off - WIRE_HDR_LEN;
	if (payload < WIRE_MAX_PAYLOAD) {
		b->data[off] = (uint8_t)payload;
		b->data[off + 1] = (uint8_t)(payload >> 8);
		b->data[off + 2] = (uint8_t)(payload >> 16);
		return (uint8_t)(seq + 1);
	}
	chunks = payload / WIRE_MAX_PAYLOAD + 1; /* the last one may be empty */
	extra = (chunks - 1) * WIRE_HDR_LEN;
	if (!wire_buf_reserve(b, extra))
		return 0;
	/* Move chunks back to front so nothing is overwritten before it moves. */
	for (i = chunks; i-- > 1;) {
		size_t src = off + WIRE_HDR_LEN + i * WIRE_MAX_PAYLOAD;
		size_t dst = src + i * WIRE_HDR_LEN;
		size_t n = i == chunks - 1 ? payload - i * WIRE_MAX_PAYLOAD : WIRE_MAX_PAYLOAD;

		memmove(b->data + dst, b->data + src, n);
	}
	b->len += extra;
	pos = off;
	for (i = 0; i < chunks; i++) {
		size_t n = i == chunks - 1 ? payload - i * WIRE_MAX_PAYLOAD : WIRE_MAX_PAYLOAD;

		b->data[pos] = (uint8_t)n;
		b->data[pos + 1] = (uint8_t)(n >> 8);
		b->data[pos + 2] = (uint8_t)(n >> 16);
		b->data[pos + 3] = seq++;
		pos += WIRE_HDR_LEN + n;
	}
	return seq;
}

/* ---- handshake ---- */

bool wire_parse_handshake(const uint8_t *p, size_t n, struct wire_handshake *h)
{
	struct wire_cur c = wire_cur_init(p, n);
	const char *s;
	size_t slen;
	const uint8_t *part1, *part2;
	uint16_t caps_lo, caps_hi;
	uint8_t auth_len = 0;
	const uint8_t *filler;

	memset(h, 0, sizeof(*h));
	if (!wire_get_u8(&c, &h->protocol) || h->protocol != 10)
		return false;
	if (!wire_get_cstr(&c, &s, &slen) ||
	    !copy_field(h->server_version, sizeof(h->server_version), s, slen))
		return false;
	if (!wire_get_u32(&c, &h->conn_id) || !wire_get_bytes(&c, 8, &part1) ||
	    !wire_get_bytes(&c, 1, &filler) || !wire_get_u16(&c, &caps_lo))
		return false;
	memcpy(h->scramble, part1, 8);
	h->caps = caps_lo;
	if (wire_cur_left(&c) == 0)
		return true; /* pre-4.1 server: nothing more */
	if (!wire_get_u8(&c, &h->charset) || !wire_get_u16(&c, &h->status) ||
	    !wire_get_u16(&c, &caps_hi) || !wire_get_u8(&c, &auth_len) ||
	    !wire_get_bytes(&c, 10, &filler))
		return false;
	h->caps |= (uint32_t)caps_hi << 16;
	if (!(h->caps & CLIENT_MYSQL))
		h->ext_caps = wire_u32(filler + 6);
	if (h->caps & CLIENT_SECURE_CONNECTION) {
		/* max(13, auth_len - 8) bytes, the last one a NUL. */
		size_t l2 = auth_len > 8 ? (size_t)auth_len - 8 : 0;

		if (l2 < 13)
			l2 = 13;
		if (!wire_get_bytes(&c, l2, &part2))
			return false;
		memcpy(h->scramble + 8, part2, 12);
	}
	if (h->caps & CLIENT_PLUGIN_AUTH) {
		if (wire_get_cstr(&c, &s, &slen)) {
			if (!copy_field(h->auth_plugin, sizeof(h->auth_plugin), s, slen))
				return false;
		} else {
			const uint8_t *rest;

			wire_get_rest(&c, &rest, &slen);
			if (!copy_field(h->auth_plugin, sizeof(h->auth_plugin), rest, slen))
				return false;
		}
	}
	return true;
}

void wire_build_handshake(struct wire_buf *b, uint8_t seq, const struct wire_handshake *h)
{
	static const uint8_t zeros[10];
	size_t off = wire_packet_begin(b, seq);

	wire_put_u8(b, 10);
	wire_put_cstr(b, h->server_version);
	wire_put_u32(b, h->conn_id);
	wire_put_bytes(b, h->scramble, 8);
	wire_put_u8(b, 0);
	wire_put_u16(b, (uint16_t)h->caps);
	wire_put_u8(b, h->charset);
	wire_put_u16(b, h->status);
	wire_put_u16(b, (uint16_t)(h->caps >> 16));
	wire_put_u8(b, 21);
	wire_put_bytes(b, zeros, 6);
	wire_put_u32(b, (h->caps & CLIENT_MYSQL) ? 0 : h->ext_caps);
	wire_put_bytes(b, h->scramble + 8, 12);
	wire_put_u8(b, 0);
	wire_put_cstr(b, h->auth_plugin);
	wire_packet_end(b, off);
}

bool wire_parse_handshake_resp(const uint8_t *p, size_t n, struct wire_handshake_resp *r)
{
	struct wire_cur c = wire_cur_init(p, n);
	const uint8_t *filler, *auth;
	const char *s;
	size_t slen;
	uint64_t alen;

	memset(r, 0, sizeof(*r));
	if (!wire_get_u32(&c, &r->caps) || !(r->caps & CLIENT_PROTOCOL_41))
		return false;
	if (!wire_get_u32(&c, &r->max_packet) || !wire_get_u8(&c, &r->charset) ||
	    !wire_get_bytes(&c, 23, &filler))
		return false;
	if (!(r->caps & CLIENT_MYSQL))
		r->ext_caps = wire_u32(filler + 19);
	if (wire_cur_left(&c) == 0 && (r->caps & CLIENT_SSL)) {
		r->is_ssl_request = true;
		return true;
	}
	if (!wire_get_cstr(&c, &s, &slen) || !copy_field(r->user, sizeof(r->user), s, slen))
		return false;
	if (r->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
		if (!wire_get_lenenc(&c, &alen, NULL))
			return false;
	} else if (r->caps & CLIENT_SECURE_CONNECTION) {
		uint8_t l8;

		if (!wire_get_u8(&c, &l8))
			return false;
		alen = l8;
	} else {
		/* Old clients: NUL-terminated auth data. */
		if (!wire_get_cstr(&c, &s, &slen))
			return false;
		alen = slen;
		c.off -= slen + 1;
	}
	if (alen > sizeof(r->auth) || !wire_get_bytes(&c, (size_t)alen, &auth))
		return false;
	memcpy(r->auth, auth, (size_t)alen);
	r->auth_len = (size_t)alen;
	if (!(r->caps & (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SECURE_CONNECTION)))
		c.off++; /* the NUL */
	if (r->caps & CLIENT_CONNECT_WITH_DB) {
		if (!wire_get_cstr(&c, &s, &slen) || !copy_field(r->db, sizeof(r->db), s, slen))
			return false;
	}
	if (r->caps & CLIENT_PLUGIN_AUTH) {
		if (wire_get_cstr(&c, &s, &slen)) {
			if (!copy_field(r->auth_plugin, sizeof(r->auth_plugin), s, slen))
				return false;
		} else if (wire_cur_left(&c) > 0) {
			const uint8_t *rest;

			wire_get_rest(&c, &rest, &slen);
			if (!copy_field(r->auth_plugin, sizeof(r->auth_plugin), rest, slen))
				return false;
		}
	}
	if ((r->caps & CLIENT_CONNECT_ATTRS) && wire_cur_left(&c) > 0) {
		uint64_t attrs_len;
		const uint8_t *attrs;

		if (!wire_get_lenenc(&c, &attrs_len, NULL) ||
		    !wire_get_bytes(&c, (size_t)attrs_len, &attrs))
			return false;
		r->attrs = attrs;
		r->attrs_len = (size_t)attrs_len;
	}
	return true;
}

void wire_build_handshake_resp(struct wire_buf *b, uint8_t seq, const struct wire_handshake_resp *r)
{
	static const uint8_t zeros[19];
	size_t off = wire_packet_begin(b, seq);

	wire_put_u32(b, r->caps);
	wire_put_u32(b, r->max_packet);
	wire_put_u8(b, r->charset);
	wire_put_bytes(b, zeros, sizeof(zeros));
	wire_put_u32(b, (r->caps & CLIENT_MYSQL) ? 0 : r->ext_caps);
	wire_put_cstr(b, r->user);
	if (r->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
		wire_put_lenenc_str(b, r->auth, r->auth_len);
	} else {
		wire_put_u8(b, (uint8_t)r->auth_len);
		wire_put_bytes(b, r->auth, r->auth_len);
	}
	if (r->caps & CLIENT_CONNECT_WITH_DB)
		wire_put_cstr(b, r->db);
	if (r->caps & CLIENT_PLUGIN_AUTH)
		wire_put_cstr(b, r->auth_plugin);
	if (r->caps & CLIENT_CONNECT_ATTRS) {
		wire_put_lenenc(b, r->attrs_len);
		wire_put_bytes(b, r->attrs, r->attrs_len);
	}
	wire_packet_end(b, off);
}

bool wire_parse_change_user(const uint8_t *p, size_t n, uint32_t caps, struct wire_change_user *cu)
{
	struct wire_cur c = wire_cur_init(p, n);
	uint8_t cmd, alen;
	const char *s;
	size_t slen;
	const uint8_t *auth;

	memset(cu, 0, sizeof(*cu));
	if (!wire_get_u8(&c, &cmd) || cmd != COM_CHANGE_USER)
		return false;
	if (!wire_get_cstr(&c, &s, &slen) || !copy_field(cu->user, sizeof(cu->user), s, slen))
		return false;
	if (caps & CLIENT_SECURE_CONNECTION) {
		if (!wire_get_u8(&c, &alen) || !wire_get_bytes(&c, alen, &auth))
			return false;
		memcpy(cu->auth, auth, alen);
		cu->auth_len = alen;
	} else {
		if (!wire_get_cstr(&c, &s, &slen) || slen > sizeof(cu->auth))
			return false;
		memcpy(cu->auth, s, slen);
		cu->auth_len = slen;
	}
	if (!wire_get_cstr(&c, &s, &slen) || !copy_field(cu->db, sizeof(cu->db), s, slen))
		return false;
	if (wire_cur_left(&c) >= 2) {
		if (!wire_get_u16(&c, &cu->charset))
			return false;
		if ((caps & CLIENT_PLUGIN_AUTH) && wire_cur_left(&c) > 0) {
			if (!wire_get_cstr(&c, &s, &slen) ||
			    !copy_field(cu->auth_plugin, sizeof(cu->auth_plugin), s, slen))
				return false;
		}
	}
	return true; /* connection attributes, if any, are ignored */
}

void wire_build_change_user(struct wire_buf *b, uint8_t seq, uint32_t caps,
                            const struct wire_change_user *cu)
{
	size_t off = wire_packet_begin(b, seq);

	wire_put_u8(b, COM_CHANGE_USER);
	wire_put_cstr(b, cu->user);
	wire_put_u8(b, (uint8_t)cu->auth_len);
	wire_put_bytes(b, cu->auth, cu->auth_len);
	wire_put_cstr(b, cu->db);
	wire_put_u16(b, cu->charset);
	if (caps & CLIENT_PLUGIN_AUTH)
		wire_put_cstr(b, cu->auth_plugin);
	if (caps & CLIENT_CONNECT_ATTRS)
		wire_put_lenenc(b, 0);
	wire_packet_end(b, off);
}

/* ---- OK / ERR / EOF ---- */

bool wire_parse_ok(const uint8_t *p, size_t n, uint32_t caps, struct wire_ok *ok)
{
	struct wire_cur c = wire_cur_init(p, n);
	uint8_t hdr;

	memset(ok, 0, sizeof(*ok));
	if (!wire_get_u8(&c, &hdr) || (hdr != 0x00 && hdr != 0xfe))
		return false;
	if (!wire_get_lenenc(&c, &ok->affected_rows, NULL) ||
	    !wire_get_lenenc(&c, &ok->last_insert_id, NULL))
		return false;
	if (caps & CLIENT_PROTOCOL_41) {
		if (!wire_get_u16(&c, &ok->status) || !wire_get_u16(&c, &ok->warnings))
			return false;
	} else if (caps & CLIENT_TRANSACTIONS) {
		if (!wire_get_u16(&c, &ok->status))
			return false;
	}
	if (wire_cur_left(&c) == 0)
		return true;
	if (caps & CLIENT_SESSION_TRACK) {
		if (!wire_get_lenenc_str(&c, &ok->info, &ok->info_len))
			return false;
		if (ok->status & SERVER_SESSION_STATE_CHANGED) {
			if (!wire_get_lenenc_str(&c, &ok->state, &ok->state_len))
				return false;
		}
	} else {
		/* Servers write the info as string<lenenc> here too (libmysqlclient and
		 * mysqlnd read a length first); a plain string<EOF> is taken as well. */
		struct wire_cur save = c;

		if (!wire_get_lenenc_str(&c, &ok->info, &ok->info_len) || wire_cur_left(&c) != 0) {
			c = save;
			wire_get_rest(&c, &ok->info, &ok->info_len);
		}
	}
	return true;
}

void wire_build_ok(struct wire_buf *b, uint8_t seq, uint32_t caps, uint64_t affected,
                   uint64_t insert_id, uint16_t status, uint16_t warnings)
{
	size_t off = wire_packet_begin(b, seq);

	wire_put_u8(b, 0x00);
	wire_put_lenenc(b, affected);
	wire_put_lenenc(b, insert_id);
	wire_put_u16(b, status);
	wire_put_u16(b, warnings);
	(void)caps;
	wire_packet_end(b, off);
}

bool wire_parse_eof(const uint8_t *p, size_t n, uint16_t *warnings, uint16_t *status)
{
	struct wire_cur c = wire_cur_init(p, n);
	uint8_t hdr;

	*warnings = 0;
	*status = 0;
	if (!wire_get_u8(&c, &hdr) || hdr != 0xfe || n >= 9)
		return false;
	if (wire_cur_left(&c) >= 4) {
		wire_get_u16(&c, warnings);
		wire_get_u16(&c, status);
	}
	return true;
}

void wire_build_eof(struct wire_buf *b, uint8_t seq, uint16_t warnings, uint16_t status)
{
	size_t off = wire_packet_begin(b, seq);

	wire_put_u8(b, 0xfe);
	wire_put_u16(b, warnings);
	wire_put_u16(b, status);
	wire_packet_end(b, off);
}

bool wire_parse_err(const uint8_t *p, size_t n, struct wire_err *e)
{
	struct wire_cur c = wire_cur_init(p, n);
	uint8_t hdr;
	const uint8_t *state;

	memset(e, 0, sizeof(*e));
	if (!wire_get_u8(&c, &hdr) || hdr != 0xff || !wire_get_u16(&c, &e->code))
		return false;
	if (wire_cur_left(&c) >= 6 && c.p[c.off] == '#') {
		c.off++;
		if (!wire_get_bytes(&c, 5, &state))
			return false;
		memcpy(e->sqlstate, state, 5);
	} else {
		memcpy(e->sqlstate, "HY000", 5);
	}
	wire_get_rest(&c, &e->msg, &e->msg_len);
	return true;
}

void wire_build_err(struct wire_buf *b, uint8_t seq, uint16_t code, const char *sqlstate,
                    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;
	size_t off = wire_packet_begin(b, seq);

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	wire_put_u8(b, 0xff);
	wire_put_u16(b, code);
	wire_put_u8(b, '#');
	wire_put_bytes(b, sqlstate, 5);
	wire_put_bytes(b, msg, (size_t)n);
	wire_packet_end(b, off);
}

/* ---- response tracking ---- */

void wire_resp_init(struct wire_resp *r, enum wire_resp_kind kind, uint32_t caps)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->caps = caps;
	r->state = kind == WIRE_RESP_NONE ? WRS_DONE : WRS_FIRST;
	if (kind == WIRE_RESP_FETCH)
		r->state = WRS_ROWS;
	if (kind == WIRE_RESP_FIELD_LIST)
		r->state = WRS_COLDEFS;
}

enum wire_resp_kind wire_cmd_resp_kind(uint8_t cmd)
{
	switch (cmd) {
	case COM_QUIT:
	case COM_STMT_CLOSE:
	case COM_STMT_SEND_LONG_DATA:
		return WIRE_RESP_NONE;
	case COM_PROCESS_INFO: /* answered with a text result set, like a query */
	case COM_QUERY:
		return WIRE_RESP_QUERY;
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE: /* an OK or ERR (or, asked for, a result set) */
		return WIRE_RESP_EXECUTE;
	case COM_STMT_FETCH:
		return WIRE_RESP_FETCH;
	case COM_FIELD_LIST:
		return WIRE_RESP_FIELD_LIST;
	case COM_STMT_PREPARE:
		return WIRE_RESP_PREPARE;
	case COM_STATISTICS:
		return WIRE_RESP_ONE_PACKET;
	default:
		return WIRE_RESP_OK;
	}
}

/* A final OK/EOF: remember its status, and end the response unless more results follow. */
static enum wire_resp_step resp_end(struct wire_resp *r, uint16_t status)
{
	r->status = status;
	r->has_status = true;
	if (status & SERVER_MORE_RESULTS_EXISTS) {
		r->state = WRS_FIRST;
		return WIRE_STEP_MORE;
	}
	r->state = WRS_DONE;
	return WIRE_STEP_DONE;
}

static enum wire_resp_step resp_ok(struct wire_resp *r, const uint8_t *p, size_t n)
{
	struct wire_ok ok;

	if (!wire_parse_ok(p, n, r->caps, &ok))
		return WIRE_STEP_BAD;
	r->affected_rows = ok.affected_rows;
	r->last_insert_id = ok.last_insert_id;
	r->warnings = ok.warnings;
	r->result_set = false;
	r->state_changed = (ok.status & SERVER_SESSION_STATE_CHANGED) != 0;
	r->ok_seen = true;
	return resp_end(r, ok.status);
}

static enum wire_resp_step resp_err(struct wire_resp *r, const uint8_t *p, size_t n)
{
	struct wire_err e;

	if (!wire_parse_err(p, n, &e))
		return WIRE_STEP_BAD;
	r->is_err = true;
	r->err_code = e.code;
	r->state = WRS_DONE;
	/* An ERR ends the whole response, more results or not; status stays as it was. */
	return WIRE_STEP_DONE;
}

/* EOF (or, under DEPRECATE_EOF, OK-with-0xfe) that closes a row stream. */
static enum wire_resp_step resp_rows_end(struct wire_resp *r, const uint8_t *p, size_t n)
{
	uint16_t warnings, status;
	enum wire_resp_step step;

	if (r->caps & CLIENT_DEPRECATE_EOF) {
		step = resp_ok(r, p, n);
		r->result_set = true;
		return step;
	}
	if (!wire_parse_eof(p, n, &warnings, &status))
		return WIRE_STEP_BAD;
	r->warnings = warnings;
	r->result_set = true;
	r->eof_changed = r->eof_changed || (status & SERVER_SESSION_STATE_CHANGED);
	return resp_end(r, status);
}

static enum wire_resp_step resp_first(struct wire_resp *r, const uint8_t *p, size_t n)
{
	struct wire_cur c = wire_cur_init(p, n);
	uint64_t cols;

	if (n == 0)
		return WIRE_STEP_BAD;
	if (r->kind == WIRE_RESP_ONE_PACKET) {
		r->state = WRS_DONE;
		return WIRE_STEP_DONE;
	}
	if (p[0] == 0xff)
		return resp_err(r, p, n);
	switch (r->kind) {
	case WIRE_RESP_OK:
		if (p[0] == 0xfe && n < 9) /* COM_SET_OPTION may answer with EOF */
			return resp_rows_end(r, p, n);
		return p[0] == 0x00 ? resp_ok(r, p, n) : WIRE_STEP_BAD;
	case WIRE_RESP_PREPARE: {
		uint8_t hdr, filler;
		uint16_t ncols, nparams;

		if (!wire_get_u8(&c, &hdr) || hdr != 0x00 || !wire_get_u32(&c, &r->stmt_id) ||
		    !wire_get_u16(&c, &ncols) || !wire_get_u16(&c, &nparams) ||
		    !wire_get_u8(&c, &filler))
			return WIRE_STEP_BAD;
		r->prep_cols = ncols;
		r->left = nparams;
		if (nparams) {
			r->state = WRS_PREP_PARAMS;
			return WIRE_STEP_MORE;
		}
		if (ncols) {
			r->left = ncols;
			r->state = WRS_PREP_COLS;
			return WIRE_STEP_MORE;
		}
		r->state = WRS_DONE;
		return WIRE_STEP_DONE;
	}
	case WIRE_RESP_QUERY:
	case WIRE_RESP_EXECUTE:
		if (p[0] == 0x00)
			return resp_ok(r, p, n);
		if (p[0] == 0xfb && r->kind == WIRE_RESP_QUERY) {
			r->state = WRS_INFILE;
			return WIRE_STEP_INFILE;
		}
		if (!wire_get_lenenc(&c, &cols, NULL) || cols == 0 || wire_cur_left(&c) != 0)
			return WIRE_STEP_BAD;
		r->left = cols;
		r->state = WRS_COLDEFS;
		return WIRE_STEP_MORE;
	case WIRE_RESP_NONE:
	case WIRE_RESP_FETCH:
	case WIRE_RESP_FIELD_LIST:
	case WIRE_RESP_ONE_PACKET:
		break;
	}
	return WIRE_STEP_BAD;
}

bool wire_coldef_ext_block(const uint8_t *p, size_t n, bool has_ext, size_t *cut, size_t *cut_len)
{
	struct wire_cur c = wire_cur_init(p, n);
	const uint8_t *s;
	size_t slen;
	uint64_t ext;

	/* catalog, schema, table alias, table, column alias, column */
	for (int i = 0; i < 6; i++) {
		if (!wire_get_lenenc_str(&c, &s, &slen))
			return false;
	}
	*cut = c.off;
	*cut_len = 0;
	if (has_ext) {
		if (!wire_get_lenenc(&c, &ext, NULL) || ext > wire_cur_left(&c) ||
		    !wire_get_bytes(&c, (size_t)ext, &s))
			return false;
		*cut_len = c.off - *cut;
	}
	/* The fixed part follows: its length (0x0c) and 12 bytes at least. */
	return wire_cur_left(&c) >= 13;
}

enum wire_resp_step wire_resp_feed(struct wire_resp *r, const uint8_t *p, size_t n)
{
	bool deprecate_eof = (r->caps & CLIENT_DEPRECATE_EOF) != 0;

	switch (r->state) {
	case WRS_FIRST:
		return resp_first(r, p, n);
	case WRS_COLDEFS:
		if (r->kind == WIRE_RESP_FIELD_LIST) {
			/* Column definitions until EOF (or ERR); no count up front. */
			if (n > 0 && p[0] == 0xff)
				return resp_err(r, p, n);
			if (wire_is_eof(p, n, r->caps))
				return resp_rows_end(r, p, n);
			return n > 0 ? WIRE_STEP_MORE : WIRE_STEP_BAD;
		}
		if (n == 0)
			return WIRE_STEP_BAD;
		if (--r->left == 0)
			r->state = deprecate_eof ? WRS_ROWS : WRS_COLDEFS_EOF;
		return WIRE_STEP_MORE;
	case WRS_COLDEFS_EOF: {
		uint16_t warnings, status;

		if (!wire_parse_eof(p, n, &warnings, &status))
			return WIRE_STEP_BAD;
		r->eof_changed = r->eof_changed || (status & SERVER_SESSION_STATE_CHANGED);
		/* A cursor was opened: no rows follow until COM_STMT_FETCH. */
		if (r->kind == WIRE_RESP_EXECUTE && (status & SERVER_STATUS_CURSOR_EXISTS)) {
			r->warnings = warnings;
			r->result_set = true;
			return resp_end(r, status);
		}
		r->state = WRS_ROWS;
		return WIRE_STEP_MORE;
	}
	case WRS_ROWS:
		if (n > 0 && p[0] == 0xff)
			return resp_err(r, p, n);
		if (wire_is_eof(p, n, r->caps))
			return resp_rows_end(r, p, n);
		return WIRE_STEP_MORE;
	case WRS_PREP_PARAMS:
	case WRS_PREP_COLS:
		if (n == 0)
			return WIRE_STEP_BAD;
		if (--r->left > 0)
			return WIRE_STEP_MORE;
		if (deprecate_eof) {
			if (r->state == WRS_PREP_PARAMS && r->prep_cols) {
				r->left = r->prep_cols;
				r->state = WRS_PREP_COLS;
				return WIRE_STEP_MORE;
			}
			r->state = WRS_DONE;
			return WIRE_STEP_DONE;
		}
		r->state = r->state == WRS_PREP_PARAMS ? WRS_PREP_PARAMS_EOF : WRS_PREP_COLS_EOF;
		return WIRE_STEP_MORE;
	case WRS_PREP_PARAMS_EOF:
	case WRS_PREP_COLS_EOF: {
		uint16_t warnings, status;

		if (!wire_parse_eof(p, n, &warnings, &status))
			return WIRE_STEP_BAD;
		if (r->state == WRS_PREP_PARAMS_EOF && r->prep_cols) {
			r->left = r->prep_cols;
			r->state = WRS_PREP_COLS;
			return WIRE_STEP_MORE;
		}
		r->state = WRS_DONE;
		return WIRE_STEP_DONE;
	}
	case WRS_INFILE:
		/* After the file: one OK or ERR. */
		if (n > 0 && p[0] == 0xff)
			return resp_err(r, p, n);
		if (n > 0 && p[0] == 0x00)
			return resp_ok(r, p, n);
		return WIRE_STEP_BAD;
	case WRS_DONE:
		return WIRE_STEP_BAD;
	}
	return WIRE_STEP_BAD;
}

void wire_resp_infile_sent(struct wire_resp *r)
{
	r->state = WRS_INFILE;
}

bool wire_resp_can_stream(const struct wire_resp *r, uint8_t first, size_t n)
{
	if (r->state != WRS_ROWS)
		return false;
	if (first == 0xff)
		return false;
	return !wire_is_eof(&first, n, r->caps);
}

/* ---- prepared statements ---- */

bool wire_parse_prepare_ok(const uint8_t *p, size_t n, struct wire_prepare_ok *out)
{
	/* 0x00, id<4>, columns<2>, parameters<2>, filler<1>, warnings<2> */
	if (n < 12 || p[0] != 0x00)
		return false;
	out->stmt_id = wire_u32(p + 1);
	out->ncols = wire_u16(p + 5);
	out->nparams = wire_u16(p + 7);
	return true;
}

bool wire_parse_execute(const uint8_t *p, size_t n, uint16_t nparams, struct wire_execute *e)
{
	size_t nullmap = ((size_t)nparams + 7) / 8;

	/* 0x17, id<4>, flags<1>, iterations<4>, then with parameters: the NULL bitmap,
	 * the new-params-bound flag, the types when it is set, the values. */
	memset(e, 0, sizeof(*e));
	if (n < 10 || p[0] != 0x17)
		return false;
	e->stmt_id = wire_u32(p + 1);
	e->flags = p[5];
	if (nparams == 0)
		return true;
	e->types_off = 10 + nullmap + 1;
	if (n < e->types_off)
		return false;
	e->types_sent = p[10 + nullmap] != 0;
	return !e->types_sent || n >= e->types_off + 2u * nparams;
}

void wire_build_execute(struct wire_buf *b, uint8_t seq, const uint8_t *p, size_t n,
                        uint16_t nparams, const struct wire_execute *e, uint32_t id,
                        const uint8_t *types)
{
	size_t off = wire_packet_begin(b, seq);

	wire_put_u8(b, p[0]);
	wire_put_u32(b, id);
	if (types && nparams > 0 && !e->types_sent) {
		wire_put_bytes(b, p + 5, e->types_off - 1 - 5);
		wire_put_u8(b, 1);
		wire_put_bytes(b, types, 2u * nparams);
		wire_put_bytes(b, p + e->types_off, n - e->types_off);
	} else {
		wire_put_bytes(b, p + 5, n - 5);
	}
	wire_packet_end(b, off);
}

bool wire_parse_bulk(const uint8_t *p, size_t n, uint16_t nparams, struct wire_bulk *bk)
{
	memset(bk, 0, sizeof(*bk));
	if (n < 7 || p[0] != COM_STMT_BULK_EXECUTE)
		return false;
	bk->stmt_id = wire_u32(p + 1);
	bk->flags = wire_u16(p + 5);
	bk->types_off = 7;
	bk->types_sent = (bk->flags & WIRE_BULK_SEND_TYPES) != 0;
	return !bk->types_sent || n >= bk->types_off + 2u * nparams;
}

void wire_build_bulk(struct wire_buf *b, uint8_t seq, const uint8_t *p, size_t n, uint16_t nparams,
                     const struct wire_bulk *bk, uint32_t id, const uint8_t *types)
{
	size_t off = wire_packet_begin(b, seq);

	wire_put_u8(b, p[0]);
	wire_put_u32(b, id);
	if (types && nparams > 0 && !bk->types_sent) {
		wire_put_u16(b, (uint16_t)(bk->flags | WIRE_BULK_SEND_TYPES));
		wire_put_bytes(b, types, 2u * nparams);
	} else {
		wire_put_u16(b, bk->flags);
	}
	wire_put_bytes(b, p + bk->types_off, n - bk->types_off);
	wire_packet_end(b, off);
}

void wire_build_stmt_cmd(struct wire_buf *b, uint8_t seq, const uint8_t *p, size_t n, uint32_t id)
{
	size_t off = wire_packet_begin(b, seq);

	wire_put_u8(b, p[0]);
	wire_put_u32(b, id);
	wire_put_bytes(b, p + 5, n - 5);
	wire_packet_end(b, off);
}
