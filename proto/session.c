/*
 * session.c - tracked session variables and their replay (see session.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/session.h"
#include "proto/uvars.h"

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ull;
	}
	return h * 1099511628211ull;
}

static void rehash(struct gw_vars *vs)
{
	uint64_t h = 14695981039346656037ull;

	for (uint32_t i = 0; i < vs->n; i++)
		h = fnv(fnv(h, vs->v[i].name), vs->v[i].value) ^ vs->v[i].expr;
	vs->hash = vs->n ? h : 0;
}

void gw_vars_clear(struct gw_vars *vs)
{
	for (uint32_t i = 0; i < vs->n; i++)
		free(vs->v[i].name);
	vs->n = 0;
	vs->hash = 0;
}

void gw_vars_free(struct gw_vars *vs)
{
	gw_vars_clear(vs);
	free(vs->v);
	memset(vs, 0, sizeof(*vs));
}

static bool vars_put(struct gw_vars *vs, const char *name, size_t nlen, const char *value,
                     size_t vlen, bool expr)
{
	uint32_t lo = 0, hi = vs->n;
	char *mem;

	if (nlen == 0 || nlen > 64 || vlen > GW_VAR_VALUE_MAX || memchr(value, 0, vlen))
		return false;
	/* System variable names only: they are written into SET statements as they are. */
	for (size_t i = 0; i < nlen; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	mem = malloc(nlen + vlen + 2);
	if (!mem)
		return false;
	memcpy(mem, name, nlen);
	mem[nlen] = '\0';
	memcpy(mem + nlen + 1, value, vlen);
	mem[nlen + 1 + vlen] = '\0';
	while (lo < hi) { /* binary search by name */
		uint32_t mid = (lo + hi) / 2;
		int cmp = strcmp(vs->v[mid].name, mem);

		if (cmp == 0) {
			free(vs->v[mid].name);
			vs->v[mid].name = mem;
			vs->v[mid].value = mem + nlen + 1;
			vs->v[mid].expr = expr;
			rehash(vs);
			return true;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (vs->n >= GW_VARS_MAX) {
		free(mem);
		return false;
	}
	if (vs->n == vs->cap) {
		uint32_t cap = vs->cap ? vs->cap * 2 : 8;
		struct gw_var *nv = realloc(vs->v, cap * sizeof(*nv));

		if (!nv) {
			free(mem);
			return false;
		}
		vs->v = nv;
		vs->cap = cap;
	}
	memmove(vs->v + lo + 1, vs->v + lo, (vs->n - lo) * sizeof(*vs->v));
	vs->v[lo].name = mem;
	vs->v[lo].value = mem + nlen + 1;
	vs->v[lo].expr = expr;
	vs->n++;
	rehash(vs);
	return true;
}

bool gw_vars_set(struct gw_vars *vs, const char *name, size_t nlen, const char *value, size_t vlen)
{
	return vars_put(vs, name, nlen, value, vlen, /* expr= */ false);
}

/* The only SQL sluice writes as a variable's value: a CLIENT_INTERACTIVE session's
 * wait_timeout. */
static const char *const own_exprs[] = { "@@global.interactive_timeout" };

bool gw_vars_set_expr(struct gw_vars *vs, const char *name, const char *expr)
{
	for (size_t i = 0; i < sizeof(own_exprs) / sizeof(own_exprs[0]); i++) {
		if (strcmp(expr, own_exprs[i]) == 0)
			return vars_put(vs, name, strlen(name), expr, strlen(expr),
			                /* expr= */ true);
	}
	return false;
}

bool gw_vars_set_literal(struct gw_vars *vs, const char *name, size_t nlen, const char *lit,
                         size_t litlen)
{
	return vars_put(vs, name, nlen, lit, litlen, /* expr= */ true);
}

void gw_vars_remove(struct gw_vars *vs, const char *name)
{
	for (uint32_t i = 0; i < vs->n; i++) {
		if (strcmp(vs->v[i].name, name) == 0) {
			free(vs->v[i].name);
			memmove(vs->v + i, vs->v + i + 1, (vs->n - i - 1) * sizeof(*vs->v));
			vs->n--;
			rehash(vs);
			return;
		}
	}
}

bool gw_vars_copy(struct gw_vars *dst, const struct gw_vars *src)
{
	gw_vars_clear(dst);
	for (uint32_t i = 0; i < src->n; i++) {
		if (!vars_put(dst, src->v[i].name, strlen(src->v[i].name), src->v[i].value,
		              strlen(src->v[i].value), src->v[i].expr))
			return false;
	}
	return true;
}

bool gw_vars_equal(const struct gw_vars *a, const struct gw_vars *b)
{
	if (a->n != b->n || a->hash != b->hash)
		return false;
	for (uint32_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].name, b->v[i].name) != 0 ||
		    strcmp(a->v[i].value, b->v[i].value) != 0 || a->v[i].expr != b->v[i].expr)
			return false;
	}
	return true;
}

const struct gw_var *gw_vars_get(const struct gw_vars *vs, const char *name)
{
	for (uint32_t i = 0; i < vs->n; i++) {
		if (strcmp(vs->v[i].name, name) == 0)
			return &vs->v[i];
	}
	return NULL;
}

bool gw_vars_names_within(const struct gw_vars *a, const struct gw_vars *b)
{
	uint32_t j = 0;

	/* both sorted by name */
	for (uint32_t i = 0; i < a->n; i++) {
		while (j < b->n && strcmp(b->v[j].name, a->v[i].name) < 0)
			j++;
		if (j == b->n || strcmp(b->v[j].name, a->v[i].name) != 0)
			return false;
	}
	return true;
}

bool gw_session_parse(const uint8_t *state, size_t len, struct gw_vars *vs,
                      struct gw_session_change *out)
{
	struct wire_cur c = wire_cur_init(state, len);

	memset(out, 0, sizeof(*out));
	while (wire_cur_left(&c) > 0) {
		uint8_t type;
		const uint8_t *data, *a, *b;
		size_t dlen, alen, blen;
		struct wire_cur d;

		if (!wire_get_u8(&c, &type) || !wire_get_lenenc_str(&c, &data, &dlen))
			return false;
		d = wire_cur_init(data, dlen);
		switch (type) {
		case SESSION_TRACK_SYSTEM_VARIABLES:
			/* Several name/value pairs may follow one another. */
			while (wire_cur_left(&d) > 0) {
				if (!wire_get_lenenc_str(&d, &a, &alen) ||
				    !wire_get_lenenc_str(&d, &b, &blen))
					return false;
				out->nvars++;
				if (alen >= 13 && memcmp(a, "session_track", 13) == 0)
					continue;
				if (alen == 14 && memcmp(a, "last_insert_id", 14) == 0) {
					/* What LAST_INSERT_ID() returns, carried like one
					 * (uvars.h), never replayed as a variable. */
					out->lid = 0;
					out->lid_set = blen > 0 && blen <= 20;
					for (size_t i = 0; i < blen; i++) {
						if (b[i] < '0' || b[i] > '9')
							out->lid_set = false;
						out->lid = out->lid * 10 + (uint64_t)(b[i] - '0');
					}
					if (!out->lid_set)
						out->overflow = true;
					continue;
				}
				if (alen == 9 && memcmp(a, "insert_id", 9) == 0) {
					/* For the next insert only: replaying it would give every
					 * later insert that id. Kept where it is (the session
					 * pins). */
					out->overflow = true;
					continue;
				}
				if (vs &&
				    !gw_vars_set(vs, (const char *)a, alen, (const char *)b, blen))
					out->overflow = true;
			}
			break;
		case SESSION_TRACK_SCHEMA:
			if (!wire_get_lenenc_str(&d, &a, &alen) || alen >= sizeof(out->db))
				return false;
			memcpy(out->db, a, alen);
			out->db[alen] = '\0';
			out->schema = true;
			break;
		case SESSION_TRACK_STATE_CHANGE:
			/* MariaDB sends the flag bare (02 01 '1'); MySQL's documentation has
			 * it as a string<lenenc> inside the entry (02 02 01 '1'). Take both. */
			if (dlen == 1) {
				a = data;
				alen = 1;
			} else if (!wire_get_lenenc_str(&d, &a, &alen)) {
				return false;
			}
			out->state_changed = alen == 1 && a[0] == '1';
			break;
		default:
			break; /* GTIDs, transaction characteristics: not ours */
		}
	}
	return true;
}

/* -?digits[.digits]: safe to write bare (an integer variable refuses a quoted value). */
static bool is_plain_number(const char *v)
{
	const char *p = v + (*v == '-');
	bool dot = false;

	if (!(*p >= '0' && *p <= '9'))
		return false;
	for (; *p; p++) {
		if (*p == '.' && !dot && p[1] >= '0' && p[1] <= '9')
			dot = true;
		else if (!(*p >= '0' && *p <= '9'))
			return false;
	}
	return true;
}

/*
 * A value learned from the client or the backend, as a literal: never as SQL text
 * (issue 11: a value beginning "@@global." once went out bare and ran as SQL). The
 * literal must read the same whatever sql_mode the connection parses it under, so no
 * backslash escapes (NO_BACKSLASH_ESCAPES) and no double quotes (ANSI_QUOTES): plain
 * numbers and NULL bare, printable ASCII without a backslash in single quotes with the
 * quotes doubled, the rest as X'..' (the bytes as they are, in no character set).
 */
static void put_value(struct wire_buf *b, const struct gw_var *var)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *v = var->value;
	bool plain = true;

	if (var->expr || is_plain_number(v) || strcmp(v, "NULL") == 0) {
		wire_put_bytes(b, v, strlen(v));
		return;
	}
	for (const char *p = v; *p; p++) {
		if ((uint8_t)*p < 0x20 || (uint8_t)*p > 0x7e || *p == '\\')
			plain = false;
	}
	if (!plain) {
		wire_put_bytes(b, "X'", 2);
		for (const char *p = v; *p; p++) {
			wire_put_u8(b, (uint8_t)hex[(uint8_t)*p >> 4]);
			wire_put_u8(b, (uint8_t)hex[(uint8_t)*p & 15]);
		}
		wire_put_u8(b, '\'');
		return;
	}
	wire_put_u8(b, '\'');
	for (const char *p = v; *p; p++) {
		if (*p == '\'')
			wire_put_u8(b, '\'');
		wire_put_u8(b, (uint8_t)*p);
	}
	wire_put_u8(b, '\'');
}

static void put_name(struct wire_buf *b, const char *name, bool *first)
{
	wire_put_bytes(b, *first ? " " : ", ", *first ? 1 : 2);
	*first = false;
	wire_put_u8(b, '@');
	wire_put_u8(b, '@');
	wire_put_bytes(b, "SESSION.", 8);
	wire_put_bytes(b, name, strlen(name));
	wire_put_u8(b, '=');
}

/* The variables a login's character set gives their session values (and SET NAMES
 * changes). */
static bool is_handshake_charset_var(const char *name)
{
	return strcmp(name, "character_set_client") == 0 ||
	       strcmp(name, "character_set_connection") == 0 ||
	       strcmp(name, "character_set_results") == 0 ||
	       strcmp(name, "collation_connection") == 0;
}

bool gw_session_build_set(struct wire_buf *b, const struct gw_sync *sync)
{
	const struct gw_vars *want = sync->want, *have = sync->have;
	bool tracking = sync->tracking;
	bool uvars = sync->uwant && !gw_vars_equal(sync->uwant, sync->uhave);
	size_t off;
	bool first = true;

	if (!tracking && !uvars && !sync->set_lid && gw_vars_equal(want, have))
		return false;
	off = wire_packet_begin(b, 0);
	wire_put_u8(b, COM_QUERY);
	wire_put_bytes(b, "SET", 3);
	if (tracking) {
		put_name(b, "session_track_system_variables", &first);
		wire_put_bytes(b, "'*'", 3);
		put_name(b, "session_track_schema", &first);
		wire_put_bytes(b, "'ON'", 4);
		put_name(b, "session_track_state_change", &first);
		wire_put_bytes(b, "'ON'", 4);
	}
	/* Variables the connection has that the client does not: back to defaults, the
	 * character set ones to the client's handshake collation (issue 12: after another
	 * session's SET NAMES utf8mb4, DEFAULT made a utf8mb4 client's results latin1). */
	for (uint32_t i = 0; i < have->n; i++) {
		if (!gw_vars_get(want, have->v[i].name)) {
			put_name(b, have->v[i].name, &first);
			/* (not 255, MySQL 8's utf8mb4_0900_ai_ci: unknown to MariaDB before
			 * 11.4, which then gives the session its defaults, as DEFAULT does) */
			if (sync->charset && sync->charset != 255 &&
			    is_handshake_charset_var(have->v[i].name)) {
				char id[8];

				snprintf(id, sizeof(id), "%u", sync->charset);
				wire_put_bytes(b, id, strlen(id));
			} else {
				wire_put_bytes(b, "DEFAULT", 7);
			}
		}
	}
	for (uint32_t i = 0; i < want->n; i++) {
		const struct gw_var *cur = gw_vars_get(have, want->v[i].name);

		if (cur && cur->expr == want->v[i].expr &&
		    strcmp(cur->value, want->v[i].value) == 0)
			continue;
		put_name(b, want->v[i].name, &first);
		put_value(b, &want->v[i]);
	}
	if (sync->set_lid) {
		char num[24];

		put_name(b, "last_insert_id", &first);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)sync->lid);
		wire_put_bytes(b, num, strlen(num));
	}
	if (uvars)
		gw_uvars_put_set(b, sync->uwant, sync->uhave, &first);
	if (first) { /* nothing differed after all */
		b->len = off;
		return false;
	}
	wire_packet_end(b, off);
	return true;
}

void gw_ok_strip_tracking(struct wire_buf *b, uint8_t seq, const uint8_t *p, size_t n,
                          uint32_t server_caps)
{
	struct wire_ok ok;
	size_t off;

	if (!wire_parse_ok(p, n, server_caps, &ok)) {
		/* Not ours to judge: pass it on as it came. */
		off = wire_packet_begin(b, seq);
		wire_put_bytes(b, p, n);
		wire_packet_end(b, off);
		return;
	}
	off = wire_packet_begin(b, seq);
	wire_put_u8(b, p[0]);
	wire_put_lenenc(b, ok.affected_rows);
	wire_put_lenenc(b, ok.last_insert_id);
	wire_put_u16(b, (uint16_t)(ok.status & ~SERVER_SESSION_STATE_CHANGED));
	wire_put_u16(b, ok.warnings);
	/* The info is string<lenenc> in this format too, as MariaDB writes it: mysqlnd reads
	 * a length first (issue 12: PHP saw "additional data length is past 45 bytes the
	 * packet size" and every command after it failed with 2014). */
	if (ok.info_len > 0) {
		wire_put_lenenc(b, ok.info_len);
		wire_put_bytes(b, ok.info, ok.info_len);
	}
	wire_packet_end(b, off);
}
