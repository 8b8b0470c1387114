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

#include "gateway/compress.h"
#include "gateway/engine.h"
#include "gateway/session.h"
#include "gateway/sqlscan.h"

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
		gw_session_build_set(&b, &vs, &empty, true);
		gw_session_build_set(&b, &empty, &vs, false);
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

	/* COM_QUERY text */
	(void)sql_scan(data, size);
	if (sql_kill_parse(data, size, &query_only, &id) && size == 0)
		abort();

	/* compressed frames */
	if (gw_buf_append(&raw, data, size)) {
		enum gw_z_result r = gw_z_unwrap(&raw, &plain, &seq);

		if (r == GW_Z_OK && plain.end > plain.cap)
			abort();
		if (r == GW_Z_OK && plain.end - plain.start > 0) {
			struct gw_buf again = { 0 }, back = { 0 };
			uint8_t s1 = 0, s2 = 0;

			/* what we wrap, we unwrap to the same bytes */
			if (gw_z_wrap(plain.data + plain.start, plain.end - plain.start, &again,
			              &s1) &&
			    gw_z_unwrap(&again, &back, &s2) == GW_Z_OK &&
			    (back.end - back.start != plain.end - plain.start ||
			     memcmp(back.data + back.start, plain.data + plain.start,
			            plain.end - plain.start) != 0))
				abort();
			gw_buf_free(&again);
			gw_buf_free(&back);
		}
	}
	gw_buf_free(&raw);
	gw_buf_free(&plain);
	return 0;
}
