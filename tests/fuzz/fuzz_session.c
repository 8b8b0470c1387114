/*
 * fuzz_session.c - libFuzzer target for the gateway's other parsers of network bytes:
 * the session-state block of OK packets (and the SET statement built from what it
 * recorded), the OK rewrite for clients without session tracking, the SQL scan and the
 * KILL parser that read COM_QUERY text, and the compressed-protocol unwrapper.
 * Every input goes through all of them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"
#include "proto/compress.h"
#include "proto/session.h"
#include "proto/sqlscan.h"
#include "proto/uvars.h"

/* gw_session_build_set() for session variables alone. */
static bool build_set(struct wire_buf *b, const struct gw_vars *want, const struct gw_vars *have,
                      bool tracking)
{
	struct gw_sync sync = { .want = want, .have = have, .tracking = tracking };

	return gw_session_build_set(b, &sync);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parse must leave the variable set sorted, hashed and within its limits. */
static void check_vars(const struct gw_vars *vs)
{
	if (vs->n > GW_VARS_MAX)
		abort();
	for (uint32_t i = 1; i < vs->n; i++) {
		if (strcmp(vs->v[i - 1].name, vs->v[i].name) >= 0)
			abort();
	}
}

/* Is v a literal of the forms uvars.c writes: a number, a typed NULL, or
 * _charset X'hex' COLLATE `collation`? Nothing else may reach a SET. */
static bool is_sluice_literal(const char *v)
{
	static const char ident[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
	size_t n;

	if (strcmp(v, "CAST(NULL AS SIGNED)") == 0 || strcmp(v, "CAST(NULL AS DECIMAL)") == 0 ||
	    strcmp(v, "CAST(NULL AS DOUBLE)") == 0)
		return true;
	if (*v != '_')
		return v[0] && strspn(v, "-+.0123456789eE") == strlen(v);
	v++;
	n = strspn(v, ident);
	if (n == 0 || strncmp(v + n, " X'", 3) != 0)
		return false;
	v += n + 3;
	v += strspn(v, "0123456789ABCDEF");
	if (strncmp(v, "' COLLATE `", 11) != 0)
		return false;
	v += 11;
	n = strspn(v, ident);
	return n > 0 && strcmp(v + n, "`") == 0;
}

/* Unwrap data again, fed a few bytes at a time and with a small limit, the output
 * taken away between calls (as a client's packets are): the same result and bytes as
 * all at once (whole: r, plain), and never more in the output than the limit. */
static void unwrap_trickled(const uint8_t *data, size_t size, enum gw_z_result whole_r,
                            const struct gw_buf *whole)
{
	struct gw_buf raw = { 0 }, plain = { 0 }, got = { 0 };
	struct gw_z_in z = { 0 };
	enum gw_z_result r = GW_Z_OK;
	size_t feed = size > 0 ? 1 + data[0] % 97 : 1, limit = 1 + (size * 31) % 4099;
	size_t fed = 0;
	uint8_t seq = 0;

	if (size == 0)
		return;
	for (;;) {
		size_t n = size - fed < feed ? size - fed : feed;
		size_t before_raw, before_got;

		if (!gw_buf_append(&raw, data + fed, n))
			goto out;
		fed += n;
		do {
			before_raw = gw_buf_len(&raw);
			before_got = gw_buf_len(&got);
			r = gw_z_unwrap(&z, &raw, &plain, limit, &seq);
			if (gw_buf_len(&plain) > limit)
				abort();
			if (gw_buf_len(&plain) > 0 &&
			    !gw_buf_append(&got, plain.data + plain.start, gw_buf_len(&plain)))
				goto out;
			plain.start = plain.end = 0;
		} while (r == GW_Z_OK &&
		         (gw_buf_len(&raw) != before_raw || gw_buf_len(&got) != before_got));
		if (r != GW_Z_OK || fed == size)
			break;
	}
	if (r == GW_Z_NOMEM)
		goto out;
	if (r != whole_r)
		abort();
	if (r == GW_Z_OK &&
	    (gw_buf_len(&got) != gw_buf_len(whole) ||
	     (gw_buf_len(&got) > 0 &&
	      memcmp(got.data + got.start, whole->data + whole->start, gw_buf_len(&got)) != 0)))
		abort();
out:
	gw_z_in_free(&z);
	gw_buf_free(&raw);
	gw_buf_free(&plain);
	gw_buf_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_vars vs = { 0 }, empty = { 0 }, copy = { 0 };
	struct gw_session_change chg;
	struct wire_buf b;
	struct gw_buf raw = { 0 }, plain = { 0 };
	bool query_only;
	uint32_t id;
	uint8_t seq = 0;

	/* session state, then replaying it onto an empty connection and back */
	if (gw_session_parse(data, size, &vs, &chg)) {
		check_vars(&vs);
		if (chg.schema && strlen(chg.db) >= sizeof(chg.db))
			abort();
		wire_buf_init(&b);
		build_set(&b, &vs, &empty, true);
		build_set(&b, &empty, &vs, false);
		wire_buf_free(&b);
		if (!gw_vars_copy(&copy, &vs) || !gw_vars_equal(&copy, &vs))
			abort();
	}
	gw_vars_free(&vs);
	gw_vars_free(&copy);

	/* an OK packet rewritten for an old client, both capability flavours */
	wire_buf_init(&b);
	gw_ok_strip_tracking(&b, 1, data, size, CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK);
	gw_ok_strip_tracking(&b, 2, data, size, CLIENT_PROTOCOL_41);
	wire_buf_free(&b);

	/* COM_QUERY text, and the user variables it names */
	(void)sql_scan(data, size);
	{
		struct sql_uvars names;

		(void)sql_scan_vars(data, size, size % 2 == 0, &names);
		if (names.n > SQL_UVARS_MAX)
			abort();
		for (uint32_t i = 0; i < names.n; i++) {
			if (strlen(names.name[i]) == 0 ||
			    strspn(names.name[i], "abcdefghijklmnopqrstuvwxyz0123456789_") !=
			        strlen(names.name[i]))
				abort();
		}
	}

	/* a capture's answer (uvars.h): the data split into packets by its own length
	 * bytes; every literal it yields must be one sluice writes */
	{
		struct sql_uvars names = { .n = 2, .name = { "a", "b" } };
		struct gw_vars known = { 0 };
		struct gw_capture cap;
		struct gw_vars uv = { 0 };
		enum gw_capture_step st = GW_CAP_MORE;
		size_t off = 0;

		if (!gw_vars_set(&known, "c", 1, "", 0))
			abort();
		wire_buf_init(&b);
		gw_capture_begin(&cap, &b, size > 0 && data[0] & 1, &names, size > 1 && data[1] & 1,
		                 size > 2 && data[2] & 1 ? &known : NULL);
		wire_buf_free(&b);
		while (st == GW_CAP_MORE && off + 2 <= size) {
			size_t len = data[off] | (size_t)(data[off + 1] & 1) << 8;

			off += 2;
			if (len > size - off)
				len = size - off;
			st = gw_capture_feed(&cap, data + off, len, &uv);
			off += len;
		}
		check_vars(&uv);
		for (uint32_t i = 0; i < uv.n; i++) {
			if (!is_sluice_literal(uv.v[i].value))
				abort();
		}
		gw_vars_free(&uv);
		gw_vars_free(&known);
	}
	if (sql_kill_parse(data, size, &query_only, &id) && size == 0)
		abort();
	{
		/* CONNECTION_ID() and ROW_COUNT() rewritten in place: the length never
		 * changes, and every column name built from the result reads back. */
		uint8_t *q = malloc(size ? size : 1);
		struct sql_sub subs[4];
		struct sql_subst_how how = { .connid = size % 3 != 0,
			                     .id = 1000000064u,
			                     .row_count = true,
			                     .rows = size % 5 == 0 ? -1 : (int64_t)size * 1000,
			                     .no_backslash = size % 2 == 0 };
		size_t k;

		if (q) {
			memcpy(q, data, size);
			k = sql_subst(q, size, &how, subs, 4);
			(void)sql_subst_unname(q, size, subs, k < 4 ? k : 4);
			free(q);
		}
	}

	/* compressed frames: all at once, then trickled with little room each time; both
	 * must agree, and the trickle must never write past its limit */
	if (gw_buf_append(&raw, data, size)) {
		struct gw_z_in z = { 0 };
		enum gw_z_result r = gw_z_unwrap(&z, &raw, &plain, SIZE_MAX, &seq);

		if (r == GW_Z_OK && plain.end > plain.cap)
			abort();
		if (r != GW_Z_NOMEM)
			unwrap_trickled(data, size, r, &plain);
		gw_z_in_free(&z);
		if (r == GW_Z_OK && plain.end - plain.start > 0) {
			struct gw_buf again = { 0 }, back = { 0 };
			struct gw_z_in z2 = { 0 };
			uint8_t s1 = 0, s2 = 0;

			/* what we wrap, we unwrap to the same bytes */
			if (gw_z_wrap(plain.data + plain.start, plain.end - plain.start, &again,
			              &s1) &&
			    gw_z_unwrap(&z2, &again, &back, SIZE_MAX, &s2) == GW_Z_OK &&
			    (back.end - back.start != plain.end - plain.start ||
			     memcmp(back.data + back.start, plain.data + plain.start,
			            plain.end - plain.start) != 0))
				abort();
			gw_z_in_free(&z2);
			gw_buf_free(&again);
			gw_buf_free(&back);
		}
	}
	gw_buf_free(&raw);
	gw_buf_free(&plain);
	return 0;
}
