/*
 * check_uvars.c - what a session carries from one pooled connection to the next (issue
 * 12): the user variables a statement names (sqlscan), the literal that restores each
 * (type and character set included, nothing a value can break out of), the capture's
 * query and the parse of its answer from hand-made packets, and the SET that replays
 * them with LAST_INSERT_ID().
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/session.h"
#include "proto/sqlscan.h"
#include "proto/uvars.h"

/* ---- names ---- */

START_TEST(test_scan_names)
{
	struct sql_uvars v;
	unsigned f;

	f = sql_scan_vars((const uint8_t *)"SET @A = 1, @b_2 = 'x @c', @a = 3 /* @d */", 42, false,
	                  &v);
	ck_assert(f & SQL_USER_VAR);
	ck_assert(f & SQL_UVAR_WRITE);
	ck_assert(!(f & SQL_UVAR_PIN));
	ck_assert_uint_eq(v.n, 2); /* @A and @a are one variable; quoted and comments skipped */
	ck_assert_str_eq(v.name[0], "a");
	ck_assert_str_eq(v.name[1], "b_2");

	f = sql_scan_vars((const uint8_t *)"SELECT * FROM t WHERE id = @x", 29, false, &v);
	ck_assert(f & SQL_USER_VAR);
	ck_assert(!(f & SQL_UVAR_WRITE)); /* read only: nothing to capture */
	ck_assert_uint_eq(v.n, 1);

	f = sql_scan_vars((const uint8_t *)"select @y := 2", 14, false, &v);
	ck_assert(f & SQL_UVAR_WRITE);
	f = sql_scan_vars((const uint8_t *)"SELECT v INTO @z FROM t", 23, false, &v);
	ck_assert(f & SQL_UVAR_WRITE);
	ck_assert_str_eq(v.name[0], "z");
	f = sql_scan_vars((const uint8_t *)"SELECT ':=' , @w", 16, false, &v);
	ck_assert(!(f & SQL_UVAR_WRITE)); /* ':=' inside a string */
}
END_TEST

START_TEST(test_scan_unreplayable_names)
{
	static const char *const odd[] = { "SET @`a b` = 1", "SET @'q' = 1", "SET @a$b = 1",
		                           "SET @\xc3\xa9 = 1", "SET @a.b = 1" };
	struct sql_uvars v;
	char many[600];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		unsigned f = sql_scan_vars((const uint8_t *)odd[i], strlen(odd[i]), false, &v);

		ck_assert_msg(f & SQL_UVAR_PIN, "%s", odd[i]);
		ck_assert_msg(f & SQL_PINS, "%s", odd[i]);
	}
	n += (size_t)snprintf(many, sizeof(many), "SET @v0 = 0");
	for (int i = 1; i <= SQL_UVARS_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, ", @v%d = %d", i, i);
	ck_assert(sql_scan_vars((const uint8_t *)many, n, false, &v) & SQL_UVAR_PIN);
	ck_assert_uint_eq(v.n, SQL_UVARS_MAX);
	/* a 65-character name */
	memset(many, 'n', sizeof(many));
	memcpy(many, "SET @", 5);
	memcpy(many + 5 + 65, " = 1", 4);
	ck_assert(sql_scan_vars((const uint8_t *)many, 5 + 65 + 4, false, &v) & SQL_UVAR_PIN);
}
END_TEST

START_TEST(test_scan_last_insert_id)
{
	static const char *nbs = "SELECT 'C:\\', @q := 1";
	struct sql_uvars v;
	unsigned f;

	ck_assert(!(sql_scan((const uint8_t *)"SELECT LAST_INSERT_ID()", 23) & SQL_LID_SET));
	ck_assert(!(sql_scan((const uint8_t *)"select last_insert_id( )", 24) & SQL_LID_SET));
	ck_assert(sql_scan((const uint8_t *)"SELECT LAST_INSERT_ID(5)", 24) & SQL_LID_SET);
	ck_assert(sql_scan((const uint8_t *)"UPDATE t SET id = last_insert_id (id + 1)", 41) &
	          SQL_LID_SET);
	ck_assert(
	    !(sql_scan((const uint8_t *)"SELECT 'LAST_INSERT_ID(5)'", 26) & SQL_LAST_INSERT_ID));
	/* Neither pins any more: they are carried. */
	ck_assert(!(sql_scan((const uint8_t *)"SELECT LAST_INSERT_ID(5), @x := 1", 33) & SQL_PINS));
	/* NO_BACKSLASH_ESCAPES: 'C:\' ends the string, and the assignment after it counts */
	f = sql_scan_vars((const uint8_t *)nbs, strlen(nbs), true, &v);
	ck_assert(f & SQL_UVAR_WRITE);
	ck_assert_uint_eq(v.n, 1);
	f = sql_scan_vars((const uint8_t *)nbs, strlen(nbs), false, &v);
	ck_assert_uint_eq(v.n, 0); /* (without it the string goes on to the end) */
}
END_TEST

/* ---- literals ---- */

struct lit_case {
	uint8_t type;
	const char *num, *hex, *cs, *coll;
	const char *want; /* NULL: refused */
};

static const struct lit_case lit_cases[] = {
	{ 8, "5", "", "", "", "5" },
	{ 8, "-3", "", "", "", "-3" },
	{ 8, "18446744073709551615", "", "", "", "18446744073709551615" },
	{ 8, "1.5", "", "", "", NULL },
	{ 8, "1; DROP TABLE t", "", "", "", NULL },
	{ 246, "1.50", "", "", "", "1.50" },
	{ 246, "-0.001", "", "", "", "-0.001" },
	{ 246, "1.", "", "", "", NULL },
	{ 5, "0.30000000000000004", "", "", "", "0.30000000000000004e0" },
	{ 5, "1e300", "", "", "", "1e300" },
	{ 5, "-2.5e-7", "", "", "", "-2.5e-7" },
	{ 5, "e1", "", "", "", NULL },
	{ 5, "1)", "", "", "", NULL },
	{ 251, "h\xc3\xa9llo", "68C3A96C6C6F", "utf8mb4", "utf8mb4_general_ci",
	  "_utf8mb4 X'68C3A96C6C6F' COLLATE `utf8mb4_general_ci`" },
	{ 251, "", "", "utf8mb4", "utf8mb4_bin", "_utf8mb4 X'' COLLATE `utf8mb4_bin`" },
	{ 253, "\x00\xff", "00FF", "binary", "binary", "_binary X'00FF' COLLATE `binary`" },
	{ 251, "x", "6", "utf8mb4", "utf8mb4_bin", NULL },        /* odd hex */
	{ 251, "x", "6G", "utf8mb4", "utf8mb4_bin", NULL },       /* not hex */
	{ 251, "x", "78", "utf8mb4 X'00'", "utf8mb4_bin", NULL }, /* a charset that is SQL */
	{ 251, "x", "78", "utf8mb4", "x` OR 1", NULL },           /* a collation that is SQL */
	{ 7, "2020-01-01", "", "", "", NULL },                    /* no variable has this type */
};

START_TEST(test_literal)
{
	const struct lit_case *t = &lit_cases[_i];
	char out[256];
	bool ok = gw_uvar_literal(out, sizeof(out), t->type, (const uint8_t *)t->num,
	                          t->type >= 249 ? 0 : strlen(t->num), (const uint8_t *)t->hex,
	                          strlen(t->hex), (const uint8_t *)t->cs, strlen(t->cs),
	                          (const uint8_t *)t->coll, strlen(t->coll));

	if (!t->want) {
		ck_assert_msg(!ok, "case %d: accepted '%s'", _i, ok ? out : "");
		return;
	}
	ck_assert_msg(ok, "case %d refused", _i);
	ck_assert_str_eq(out, t->want);
}
END_TEST

START_TEST(test_literal_too_long)
{
	char hex[600], out[64];

	memset(hex, 'A', sizeof(hex));
	ck_assert(!gw_uvar_literal(out, sizeof(out), 251, NULL, 0, (const uint8_t *)hex,
	                           sizeof(hex), (const uint8_t *)"binary", 6,
	                           (const uint8_t *)"binary", 6));
}
END_TEST

/* ---- the capture ---- */

/* A packet (header + payload) into buf at *n. */
static void pkt(uint8_t *buf, size_t *n, const uint8_t *p, size_t len, uint8_t seq)
{
	buf[*n] = (uint8_t)len;
	buf[*n + 1] = (uint8_t)(len >> 8);
	buf[*n + 2] = (uint8_t)(len >> 16);
	buf[*n + 3] = seq;
	memcpy(buf + *n + 4, p, len);
	*n += 4 + len;
}

/* A column definition payload named name, of type type. */
static size_t coldef(uint8_t *p, const char *name, uint8_t type)
{
	size_t n = 0;
	const char *parts[6] = { "def", "", "", "", name, "" };

	for (int i = 0; i < 6; i++) {
		p[n++] = (uint8_t)strlen(parts[i]);
		memcpy(p + n, parts[i], strlen(parts[i]));
		n += strlen(parts[i]);
	}
	p[n++] = 0x0c;
	p[n++] = 63; /* charset */
	p[n++] = 0;
	memset(p + n, 0, 4); /* length */
	n += 4;
	p[n++] = type;
	p[n++] = 0; /* flags */
	p[n++] = 0;
	p[n++] = 0; /* decimals */
	p[n++] = 0; /* filler */
	p[n++] = 0;
	return n;
}

static size_t lenstr(uint8_t *p, const char *s)
{
	p[0] = (uint8_t)strlen(s);
	memcpy(p + 1, s, strlen(s));
	return 1 + strlen(s);
}

/* Feed the packets in buf[0..n) one by one; the last step. */
static enum gw_capture_step feed_all(struct gw_capture *cap, const uint8_t *buf, size_t n,
                                     struct gw_vars *uv)
{
	enum gw_capture_step st = GW_CAP_MORE;
	size_t off = 0;

	while (off < n && st == GW_CAP_MORE) {
		size_t len = buf[off] | (size_t)buf[off + 1] << 8 | (size_t)buf[off + 2] << 16;

		st = gw_capture_feed(cap, buf + off + 4, len, uv);
		off += 4 + len;
	}
	ck_assert_uint_eq(off, n);
	return st;
}

START_TEST(test_capture_round_trip)
{
	struct sql_uvars names = { 0 };
	struct gw_capture cap;
	struct gw_vars uv = { 0 };
	struct wire_buf q;
	uint8_t buf[2048], p[512];
	size_t n = 0, k;
	static const uint8_t eof[5] = { 0xfe, 0, 0, 2, 0 };
	const char *expect_q = "SELECT LAST_INSERT_ID(),HEX(@a),CHARSET(@a),COLLATION(@a),@a,"
			       "HEX(@s),CHARSET(@s),COLLATION(@s),@s,HEX(@n),CHARSET(@n),"
			       "COLLATION(@n),@n";

	names.n = 3;
	strcpy(names.name[0], "a");
	strcpy(names.name[1], "s");
	strcpy(names.name[2], "n");
	ck_assert(gw_vars_set_literal(&uv, "n", 1, "7", 1)); /* @n was set: now NULL string */
	wire_buf_init(&q);
	ck_assert(gw_capture_begin(&cap, &q, true, &names, false, NULL));
	ck_assert_uint_eq(q.data[4], 0x03); /* COM_QUERY */
	ck_assert_uint_eq(q.len - 5, strlen(expect_q));
	ck_assert(memcmp(q.data + 5, expect_q, strlen(expect_q)) == 0);
	wire_buf_free(&q);

	p[0] = 13;
	pkt(buf, &n, p, 1, 1);
	pkt(buf, &n, p, coldef(p, "LAST_INSERT_ID()", 8), 2);
	for (int v = 0; v < 3; v++) {
		pkt(buf, &n, p, coldef(p, "HEX", 253), 3);
		pkt(buf, &n, p, coldef(p, "CHARSET", 253), 3);
		pkt(buf, &n, p, coldef(p, "COLLATION", 253), 3);
		pkt(buf, &n, p, coldef(p, "@v", v == 0 ? 8 : 251), 3);
	}
	pkt(buf, &n, eof, sizeof(eof), 4);
	k = lenstr(p, "1000");
	k += lenstr(p + k, "2A");
	k += lenstr(p + k, "binary");
	k += lenstr(p + k, "binary");
	k += lenstr(p + k, "42");
	k += lenstr(p + k, "C3A9");
	k += lenstr(p + k, "utf8mb4");
	k += lenstr(p + k, "utf8mb4_bin");
	k += lenstr(p + k, "\xc3\xa9");
	for (int i = 0; i < 4; i++)
		p[k++] = 0xfb; /* @n: NULL */
	pkt(buf, &n, p, k, 5);
	pkt(buf, &n, eof, sizeof(eof), 6);

	ck_assert_int_eq(feed_all(&cap, buf, n, &uv), GW_CAP_OK);
	ck_assert_uint_eq(cap.lid_value, 1000);
	ck_assert_uint_eq(uv.n, 2);
	ck_assert_str_eq(gw_vars_get(&uv, "a")->value, "42");
	ck_assert_str_eq(gw_vars_get(&uv, "s")->value, "_utf8mb4 X'C3A9' COLLATE `utf8mb4_bin`");
	ck_assert_ptr_null(gw_vars_get(&uv, "n"));
	gw_vars_free(&uv);
}
END_TEST

START_TEST(test_capture_refused_and_malformed)
{
	struct sql_uvars names = { 0 };
	struct gw_capture cap;
	struct gw_vars uv = { 0 };
	struct wire_buf q;
	static const uint8_t err[] = { 0xff, 0x10, 0x04, '#', '4', '2', '0', '0', '0', 'x' };
	static const uint8_t two[] = { 2 };

	names.n = 1;
	strcpy(names.name[0], "a");
	wire_buf_init(&q);
	ck_assert(!gw_capture_begin(&cap, &q, false, NULL, true, NULL)); /* nothing to ask */
	ck_assert_uint_eq(q.len, 0);
	ck_assert(gw_capture_begin(&cap, &q, false, &names, true, NULL));
	wire_buf_free(&q);
	/* An ERR at once: nothing was read, the session keeps its connection. */
	ck_assert_int_eq(gw_capture_feed(&cap, err, sizeof(err), &uv), GW_CAP_FAIL);
	/* A column count that is not what was asked: out of sync. */
	wire_buf_init(&q);
	ck_assert(gw_capture_begin(&cap, &q, false, &names, true, NULL));
	wire_buf_free(&q);
	ck_assert_int_eq(gw_capture_feed(&cap, two, 1, &uv), GW_CAP_BAD);
	ck_assert_int_eq(gw_capture_feed(&cap, two, 0, &uv), GW_CAP_BAD);
}
END_TEST

/* The names on the connection (a stored function may set variables the statement does
 * not name): each must be known or asked, whatever its case; none at all is NULL. */
static enum gw_capture_step capture_listing(const char *list)
{
	struct sql_uvars names = { 0 };
	struct gw_vars known = { 0 }, uv = { 0 };
	struct gw_capture cap;
	struct wire_buf q;
	uint8_t buf[1024], p[512];
	size_t n = 0, k;
	static const uint8_t eof[5] = { 0xfe, 0, 0, 2, 0 };
	static const char *expect_q = "SELECT HEX(@a),CHARSET(@a),COLLATION(@a),@a,(SELECT "
				      "GROUP_CONCAT(VARIABLE_NAME) FROM "
				      "information_schema.USER_VARIABLES WHERE VARIABLE_VALUE "
				      "IS NOT NULL)";
	enum gw_capture_step st;

	names.n = 1;
	strcpy(names.name[0], "a");
	ck_assert(gw_vars_set(&known, "x", 1, "", 0));
	wire_buf_init(&q);
	ck_assert(gw_capture_begin(&cap, &q, false, &names, false, &known));
	ck_assert_uint_eq(q.len - 5, strlen(expect_q));
	ck_assert(memcmp(q.data + 5, expect_q, strlen(expect_q)) == 0);
	wire_buf_free(&q);
	p[0] = 5;
	pkt(buf, &n, p, 1, 1);
	pkt(buf, &n, p, coldef(p, "HEX", 253), 2);
	pkt(buf, &n, p, coldef(p, "CHARSET", 253), 3);
	pkt(buf, &n, p, coldef(p, "COLLATION", 253), 4);
	pkt(buf, &n, p, coldef(p, "@a", 8), 5);
	pkt(buf, &n, p, coldef(p, "(SELECT", 253), 6);
	pkt(buf, &n, eof, sizeof(eof), 7);
	k = lenstr(p, "2A");
	k += lenstr(p + k, "binary");
	k += lenstr(p + k, "binary");
	k += lenstr(p + k, "42");
	if (list)
		k += lenstr(p + k, list);
	else
		p[k++] = 0xfb;
	pkt(buf, &n, p, k, 8);
	pkt(buf, &n, eof, sizeof(eof), 9);
	st = feed_all(&cap, buf, n, &uv);
	/* the variable asked is read back either way */
	ck_assert_str_eq(gw_vars_get(&uv, "a")->value, "42");
	gw_vars_free(&uv);
	gw_vars_free(&known);
	return st;
}

START_TEST(test_capture_lists_names)
{
	ck_assert_int_eq(capture_listing("a"), GW_CAP_OK);
	ck_assert_int_eq(capture_listing("X,a"), GW_CAP_OK);
	ck_assert_int_eq(capture_listing(NULL), GW_CAP_OK);
	/* set by a function the statement called: the session keeps the connection */
	ck_assert_int_eq(capture_listing("a,x,fv"), GW_CAP_FAIL);
	ck_assert_int_eq(capture_listing("a,,x"), GW_CAP_FAIL);
}
END_TEST

/* ---- replay ---- */

START_TEST(test_build_set_uvars_and_lid)
{
	struct gw_vars none = { 0 }, want = { 0 }, have = { 0 };
	struct wire_buf b;
	struct gw_sync sync = { .want = &none, .have = &none };
	const char *expect = "SET @@SESSION.last_insert_id=1000, @gone=NULL, @a=5, "
			     "@s=_binary X'00' COLLATE `binary`";

	ck_assert(gw_vars_set_literal(&want, "a", 1, "5", 1));
	ck_assert(gw_vars_set_literal(&want, "s", 1, "_binary X'00' COLLATE `binary`", 30));
	ck_assert(gw_vars_set_literal(&have, "gone", 4, "1", 1));
	ck_assert(gw_vars_set_literal(&have, "s", 1, "_binary X'00' COLLATE `binary`", 30));
	wire_buf_init(&b);
	ck_assert(!gw_session_build_set(&b, &sync)); /* nothing differs */
	sync.uwant = &want;
	sync.uhave = &have;
	sync.set_lid = true;
	sync.lid = 1000;
	ck_assert(gw_session_build_set(&b, &sync));
	/* "@s" is the same on both sides: not written again. */
	ck_assert_uint_eq(b.len - 5,
	                  strlen(expect) - strlen(", @s=_binary X'00' COLLATE `binary`"));
	ck_assert(memcmp(b.data + 5, expect, b.len - 5) == 0);
	wire_buf_free(&b);
	gw_vars_free(&want);
	gw_vars_free(&have);
}
END_TEST

/* Another session's SET NAMES left on the connection: the character set variables go
 * back to the client's handshake collation, not to DEFAULT (the server's global ones). */
START_TEST(test_build_set_charset_back_to_handshake)
{
	struct gw_vars none = { 0 }, have = { 0 };
	struct wire_buf b;
	struct gw_sync sync = { .want = &none, .have = &have, .charset = 45 };
	const char *expect = "SET @@SESSION.character_set_client=45, "
			     "@@SESSION.character_set_connection=45, "
			     "@@SESSION.character_set_results=45, "
			     "@@SESSION.collation_connection=45, @@SESSION.time_zone=DEFAULT";

	ck_assert(gw_vars_set(&have, "character_set_client", 20, "latin1", 6));
	ck_assert(gw_vars_set(&have, "character_set_connection", 24, "latin1", 6));
	ck_assert(gw_vars_set(&have, "character_set_results", 21, "latin1", 6));
	ck_assert(gw_vars_set(&have, "collation_connection", 20, "latin1_swedish_ci", 17));
	ck_assert(gw_vars_set(&have, "time_zone", 9, "+01:00", 6));
	wire_buf_init(&b);
	ck_assert(gw_session_build_set(&b, &sync));
	ck_assert_uint_eq(b.len - 5, strlen(expect));
	ck_assert(memcmp(b.data + 5, expect, b.len - 5) == 0);
	wire_buf_free(&b);
	/* 255 (MySQL 8's utf8mb4_0900_ai_ci) is unknown to MariaDB 10: DEFAULT, as the
	 * login with it gave (a numeric 255 would fail the SET with 1115) */
	sync.charset = 255;
	wire_buf_init(&b);
	ck_assert(gw_session_build_set(&b, &sync));
	ck_assert(memmem(b.data, b.len, "character_set_results=DEFAULT", 29) != NULL);
	ck_assert(memmem(b.data, b.len, "=255", 4) == NULL);
	wire_buf_free(&b);
	gw_vars_free(&have);
}
END_TEST

/* The session-state block of an OK after SET last_insert_id = 77 / SET insert_id = 5. */
START_TEST(test_parse_last_insert_id_var)
{
	uint8_t st[64];
	size_t n = 0;
	struct gw_vars vs = { 0 };
	struct gw_session_change chg;
	uint8_t data[40];
	size_t k;

	k = lenstr(data, "last_insert_id");
	k += lenstr(data + k, "77");
	st[n++] = 0x00;
	st[n++] = (uint8_t)k;
	memcpy(st + n, data, k);
	n += k;
	ck_assert(gw_session_parse(st, n, &vs, &chg));
	ck_assert(chg.lid_set);
	ck_assert_uint_eq(chg.lid, 77);
	ck_assert(!chg.overflow);
	ck_assert_uint_eq(vs.n, 0); /* not a variable to replay */

	n = 0;
	k = lenstr(data, "insert_id");
	k += lenstr(data + k, "5");
	st[n++] = 0x00;
	st[n++] = (uint8_t)k;
	memcpy(st + n, data, k);
	n += k;
	ck_assert(gw_session_parse(st, n, &vs, &chg));
	ck_assert(chg.overflow); /* kept where it is: the session pins */
	ck_assert_uint_eq(vs.n, 0);
	gw_vars_free(&vs);
}
END_TEST

static Suite *uvars_suite(void)
{
	Suite *s = suite_create("uvars");
	TCase *tc = tcase_create("scan");

	tcase_add_test(tc, test_scan_names);
	tcase_add_test(tc, test_scan_unreplayable_names);
	tcase_add_test(tc, test_scan_last_insert_id);
	suite_add_tcase(s, tc);
	tc = tcase_create("literal");
	tcase_add_loop_test(tc, test_literal, 0, sizeof(lit_cases) / sizeof(lit_cases[0]));
	tcase_add_test(tc, test_literal_too_long);
	suite_add_tcase(s, tc);
	tc = tcase_create("capture");
	tcase_add_test(tc, test_capture_round_trip);
	tcase_add_test(tc, test_capture_refused_and_malformed);
	tcase_add_test(tc, test_capture_lists_names);
	tcase_add_test(tc, test_build_set_uvars_and_lid);
	tcase_add_test(tc, test_parse_last_insert_id_var);
	tcase_add_test(tc, test_build_set_charset_back_to_handshake);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(uvars_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
