/*
 * check_session.c - the session-state tracker (session tracking data in OK packets, the
 * replay statement built from it, the OK rewrite for old clients) and the SQL scan that
 * decides pins, with hand-made packets whose bytes follow the protocol docs.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/pins.h"
#include "proto/session.h"
#include "proto/sqlscan.h"
#include "proto/stmt.h"

/* gw_session_build_set() for session variables alone. */
static bool build_set(struct wire_buf *b, const struct gw_vars *want, const struct gw_vars *have,
                      bool tracking)
{
	struct gw_sync sync = { .want = want, .have = have, .tracking = tracking };

	return gw_session_build_set(b, &sync);
}

/* Append a length-encoded string (short ones only: < 251 bytes). */
static size_t put_lenenc(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	p[0] = (uint8_t)n;
	memcpy(p + 1, s, n);
	return n + 1;
}

/* One SESSION_TRACK_SYSTEM_VARIABLES entry: type 0, lenenc(lenenc name, lenenc value). */
static size_t put_sysvar(uint8_t *p, const char *name, const char *value)
{
	uint8_t data[300];
	size_t n = put_lenenc(data, name);

	n += put_lenenc(data + n, value);
	p[0] = 0x00;
	p[1] = (uint8_t)n;
	memcpy(p + 2, data, n);
	return n + 2;
}

START_TEST(test_parse_sysvars_schema_state)
{
	uint8_t st[512];
	size_t n = 0;
	struct gw_vars vs = { 0 };
	struct gw_session_change chg;

	n += put_sysvar(st + n, "time_zone", "+01:00");
	n += put_sysvar(st + n, "autocommit", "OFF");
	n += put_sysvar(st + n, "session_track_schema", "ON"); /* sluice's own: not recorded */
	st[n++] = 0x01;                                        /* schema: lenenc(lenenc "shop") */
	st[n++] = 5;
	n += put_lenenc(st + n, "shop");
	st[n++] = 0x02; /* state change, as MariaDB 10.11 sends it: lenenc("1") */
	st[n++] = 1;
	st[n++] = '1';
	ck_assert(gw_session_parse(st, n, &vs, &chg));
	ck_assert_uint_eq(chg.nvars, 3);
	ck_assert(chg.schema);
	ck_assert_str_eq(chg.db, "shop");
	ck_assert(chg.state_changed);
	ck_assert(!chg.overflow);
	ck_assert_uint_eq(vs.n, 2);
	/* sorted by name */
	ck_assert_str_eq(vs.v[0].name, "autocommit");
	ck_assert_str_eq(vs.v[0].value, "OFF");
	ck_assert_str_eq(vs.v[1].name, "time_zone");
	ck_assert_str_eq(vs.v[1].value, "+01:00");
	gw_vars_free(&vs);
}
END_TEST

START_TEST(test_parse_rejects_truncated)
{
	uint8_t st[64];
	size_t n = put_sysvar(st, "sql_mode", "ANSI");
	struct gw_vars vs = { 0 };
	struct gw_session_change chg;

	for (size_t cut = 1; cut < n; cut++)
		ck_assert_msg(!gw_session_parse(st, cut, &vs, &chg), "accepted %zu of %zu", cut, n);
	gw_vars_free(&vs);
}
END_TEST

START_TEST(test_state_change_alone_means_unreplayable)
{
	/* SET @x = 1 on MariaDB 10.11, bytes as captured: only "state changed" */
	const uint8_t st[] = { 0x02, 0x01, '1' };
	/* the form of MySQL's documentation: the flag as a string<lenenc> of its own */
	const uint8_t doc[] = { 0x02, 0x02, 0x01, '1' };
	/* SET time_zone = '+03:00' on MariaDB 10.11: the variable, then "state changed" */
	const uint8_t tz[] = { 0x00, 0x11, 0x09, 't', 'i', 'm', 'e', '_', 'z',  'o',  'n',
		               'e',  0x06, '+',  '0', '3', ':', '0', '0', 0x02, 0x01, '1' };
	struct gw_vars vs = { 0 };
	struct gw_session_change chg;

	ck_assert(gw_session_parse(st, sizeof(st), NULL, &chg));
	ck_assert(chg.state_changed && chg.nvars == 0 && !chg.schema);
	ck_assert(gw_session_parse(doc, sizeof(doc), NULL, &chg));
	ck_assert(chg.state_changed && chg.nvars == 0 && !chg.schema);
	ck_assert(gw_session_parse(tz, sizeof(tz), &vs, &chg));
	ck_assert(chg.state_changed && chg.nvars == 1 && !chg.overflow);
	ck_assert_uint_eq(vs.n, 1);
	ck_assert_str_eq(vs.v[0].name, "time_zone");
	ck_assert_str_eq(vs.v[0].value, "+03:00");
	gw_vars_free(&vs);
}
END_TEST

START_TEST(test_build_set)
{
	struct gw_vars want = { 0 }, have = { 0 };
	struct wire_buf b;
	char sql[512];

	ck_assert(gw_vars_set(&want, "time_zone", 9, "+01:00", 6));
	ck_assert(gw_vars_set(&want, "wait_timeout", 12, "100", 3));
	ck_assert(gw_vars_set(&want, "sql_mode", 8, "it's", 4));
	ck_assert(gw_vars_set(&have, "time_zone", 9, "+01:00", 6)); /* same: not sent */
	ck_assert(gw_vars_set(&have, "autocommit", 10, "OFF", 3));  /* not wanted: DEFAULT */
	wire_buf_init(&b);
	ck_assert(build_set(&b, &want, &have, false));
	ck_assert(!b.failed);
	ck_assert_uint_eq(b.data[4], 0x03); /* COM_QUERY */
	ck_assert_uint_eq(b.len - 4, b.data[0] | b.data[1] << 8 | b.data[2] << 16);
	memcpy(sql, b.data + 5, b.len - 5);
	sql[b.len - 5] = '\0';
	ck_assert_str_eq(sql, "SET @@SESSION.autocommit=DEFAULT, @@SESSION.sql_mode='it''s', "
	                      "@@SESSION.wait_timeout=100");
	wire_buf_free(&b);
	/* equal sets: nothing to send; with tracking: the tracking switches only */
	wire_buf_init(&b);
	ck_assert(!build_set(&b, &want, &want, false));
	ck_assert(build_set(&b, &want, &want, true));
	memcpy(sql, b.data + 5, b.len - 5);
	sql[b.len - 5] = '\0';
	ck_assert_ptr_nonnull(strstr(sql, "session_track_system_variables='*'"));
	ck_assert_ptr_null(strstr(sql, "time_zone"));
	wire_buf_free(&b);
	gw_vars_free(&want);
	gw_vars_free(&have);
}
END_TEST

/* The SET that turns an empty connection into one with name=value, as text. */
static void set_sql(const struct gw_vars *want, char *sql, size_t n)
{
	struct gw_vars none = { 0 };
	struct wire_buf b;

	wire_buf_init(&b);
	ck_assert(build_set(&b, want, &none, false));
	ck_assert(!b.failed);
	ck_assert_uint_lt(b.len - 5, n);
	memcpy(sql, b.data + 5, b.len - 5);
	sql[b.len - 5] = '\0';
	wire_buf_free(&b);
}

/* Issue 11: a value learned from a client is a literal, never SQL. */
static const struct {
	const char *value;
	const char *sql; /* the whole SET for default_master_connection=value */
} hostile[] = {
	{ "@@global.version,@z:=GET_LOCK('x',0)",
	  "SET @@SESSION.default_master_connection='@@global.version,@z:=GET_LOCK(''x'',0)'" },
	{ "@@global.interactive_timeout",
	  "SET @@SESSION.default_master_connection='@@global.interactive_timeout'" },
	{ "a'; SELECT 1; -- ", "SET @@SESSION.default_master_connection='a''; SELECT 1; -- '" },
	{ "\\'", "SET @@SESSION.default_master_connection=X'5C27'" },
	{ "x\"y`z/*", "SET @@SESSION.default_master_connection='x\"y`z/*'" },
	{ "\xc3\xa9\n", "SET @@SESSION.default_master_connection=X'C3A90A'" },
	{ "1.2.3", "SET @@SESSION.default_master_connection='1.2.3'" },
	{ "-1 OR 1", "SET @@SESSION.default_master_connection='-1 OR 1'" },
	{ "-12.5", "SET @@SESSION.default_master_connection=-12.5" },
	{ "", "SET @@SESSION.default_master_connection=''" },
};

START_TEST(test_build_set_hostile)
{
	struct gw_vars want = { 0 };
	char sql[512];

	ck_assert(gw_vars_set(&want, "default_master_connection", 25, hostile[_i].value,
	                      strlen(hostile[_i].value)));
	set_sql(&want, sql, sizeof(sql));
	ck_assert_str_eq(sql, hostile[_i].sql);
	gw_vars_free(&want);
}
END_TEST

START_TEST(test_build_set_every_byte)
{
	struct gw_vars want = { 0 };
	char value[256], sql[1024], hexed[600];

	/* Bytes 1..255 in one value: all of it hex, nothing else in the statement. */
	for (int i = 1; i < 256; i++)
		value[i - 1] = (char)i;
	value[255] = '\0';
	ck_assert(gw_vars_set(&want, "v", 1, value, 255));
	set_sql(&want, sql, sizeof(sql));
	for (int i = 1; i < 256; i++)
		snprintf(hexed + 2 * (i - 1), 3, "%02X", i);
	ck_assert_str_eq(sql + strlen("SET @@SESSION.v=X'"), strcat(hexed, "'"));
	gw_vars_free(&want);
}
END_TEST

START_TEST(test_vars_names_and_exprs)
{
	struct gw_vars a = { 0 }, b = { 0 };
	char sql[256];

	/* Names are identifiers, nothing else. */
	ck_assert(!gw_vars_set(&a, "x=1,y", 5, "1", 1));
	ck_assert(!gw_vars_set(&a, "x y", 3, "1", 1));
	ck_assert(!gw_vars_set(&a, "x`", 2, "1", 1));
	ck_assert(!gw_vars_set(&a, "x\0y", 3, "1", 1));
	ck_assert(!gw_vars_set(&a, "x", 1, "1\0", 2));
	/* Only sluice's own expressions are written as SQL. */
	ck_assert(!gw_vars_set_expr(&a, "wait_timeout", "@@global.version"));
	ck_assert(gw_vars_set_expr(&a, "wait_timeout", "@@global.interactive_timeout"));
	set_sql(&a, sql, sizeof(sql));
	ck_assert_str_eq(sql, "SET @@SESSION.wait_timeout=@@global.interactive_timeout");
	/* The same text learned as a value is another state, and a literal. */
	ck_assert(gw_vars_set(&b, "wait_timeout", 12, "@@global.interactive_timeout", 28));
	ck_assert(!gw_vars_equal(&a, &b));
	set_sql(&b, sql, sizeof(sql));
	ck_assert_str_eq(sql, "SET @@SESSION.wait_timeout='@@global.interactive_timeout'");
	ck_assert(gw_vars_copy(&b, &a));
	ck_assert(gw_vars_equal(&a, &b));
	gw_vars_free(&a);
	gw_vars_free(&b);
}
END_TEST

/* Issue 11: one account's holding sessions cannot take what others need (pins.h). */
static const struct {
	uint32_t held, rule, held_total, pool, reserved_others;
	bool room;
} pin_cases[] = {
	/* the automatic cap: half the pool */
	{ 0, 0, 0, 4, 0, true },
	{ 1, 0, 1, 4, 0, true },
	{ 2, 0, 2, 4, 0, false },
	{ 63, 0, 63, 128, 0, true },
	{ 64, 0, 64, 128, 0, false },
	/* a rule of its own, under the pool's own bound: one connection stays free */
	{ 3, 4, 3, 4, 0, false },
	{ 2, 4, 2, 4, 0, true },
	{ 1, 1, 1, 4, 0, false },
	/* others' holdings count against the pool bound */
	{ 0, 0, 3, 4, 0, false },
	{ 0, 0, 2, 4, 0, true },
	/* the other accounts' reservations are kept back */
	{ 1, 4, 1, 4, 2, true },
	{ 2, 4, 2, 4, 2, false },
	{ 0, 4, 1, 4, 9, false }, /* reservations beyond the pool: one may still hold */
	{ 0, 4, 0, 4, 9, true },
	/* a pool of 1: nothing to keep back, one holder */
	{ 0, 0, 0, 1, 0, true },
	{ 1, 0, 1, 1, 0, false },
	{ 0, 0, 0, 1, 5, true },
};

START_TEST(test_pin_room)
{
	ck_assert_msg(gw_pin_room(pin_cases[_i].held, pin_cases[_i].rule, pin_cases[_i].held_total,
	                          pin_cases[_i].pool,
	                          pin_cases[_i].reserved_others) == pin_cases[_i].room,
	              "case %d", _i);
}
END_TEST

START_TEST(test_pin_cap)
{
	ck_assert_uint_eq(gw_pin_cap(0, 0), 1);
	ck_assert_uint_eq(gw_pin_cap(0, 1), 1);
	ck_assert_uint_eq(gw_pin_cap(0, 3), 1);
	ck_assert_uint_eq(gw_pin_cap(0, 128), 64);
	ck_assert_uint_eq(gw_pin_cap(7, 128), 7);
}
END_TEST

START_TEST(test_vars_equal_and_hash)
{
	struct gw_vars a = { 0 }, b = { 0 };

	ck_assert(gw_vars_set(&a, "x", 1, "1", 1));
	ck_assert(gw_vars_set(&a, "y", 1, "2", 1));
	ck_assert(gw_vars_set(&b, "y", 1, "2", 1));
	ck_assert(gw_vars_set(&b, "x", 1, "1", 1));
	ck_assert(gw_vars_equal(&a, &b));
	ck_assert_uint_eq(a.hash, b.hash);
	ck_assert(gw_vars_set(&b, "x", 1, "3", 1)); /* replace */
	ck_assert_uint_eq(b.n, 2);
	ck_assert(!gw_vars_equal(&a, &b));
	gw_vars_free(&a);
	gw_vars_free(&b);
}
END_TEST

START_TEST(test_ok_strip_tracking)
{
	/* OK: affected 1, insert id 2, status IN_TRANS|AUTOCOMMIT|STATE_CHANGED, warnings 0,
	 * info "Rows matched: 1" (lenenc), state block */
	uint8_t ok[128];
	size_t n = 0;
	struct wire_buf b;
	struct wire_ok parsed;
	const char info[] = "Rows matched: 1";

	ok[n++] = 0x00;
	ok[n++] = 1;
	ok[n++] = 2;
	ok[n++] = 0x03;
	ok[n++] = 0x40;
	ok[n++] = 0;
	ok[n++] = 0;
	n += put_lenenc(ok + n, info);
	ok[n++] = 4;
	ok[n++] = 0x02;
	ok[n++] = 0x02;
	ok[n++] = 0x01;
	ok[n++] = '1';
	wire_buf_init(&b);
	gw_ok_strip_tracking(&b, 7, ok, n, CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK);
	ck_assert(!b.failed);
	ck_assert_uint_eq(b.data[3], 7);
	ck_assert(wire_parse_ok(b.data + 4, b.len - 4, CLIENT_PROTOCOL_41, &parsed));
	ck_assert_uint_eq(parsed.affected_rows, 1);
	ck_assert_uint_eq(parsed.last_insert_id, 2);
	ck_assert_uint_eq(parsed.status, 0x0003); /* STATE_CHANGED cleared */
	ck_assert_uint_eq(parsed.info_len, sizeof(info) - 1);
	ck_assert(memcmp(parsed.info, info, parsed.info_len) == 0);
	/* The info keeps its length byte, as mysqlnd reads it (issue 12), and nothing
	 * follows it. */
	ck_assert_uint_eq(b.data[4 + 7], sizeof(info) - 1);
	ck_assert_uint_eq(b.len, 4 + 7 + 1 + sizeof(info) - 1);
	wire_buf_free(&b);
}
END_TEST

struct scan_case {
	const char *sql;
	unsigned want; /* flags that must be set */
	unsigned not ; /* flags that must not be */
};

static const struct scan_case scan_cases[] = {
	{ "SELECT 1", 0, SQL_PINS },
	{ "SET @x = 1", SQL_USER_VAR, 0 },
	{ "select @y := 2", SQL_USER_VAR, 0 },
	{ "SELECT @@session.time_zone, @@sql_mode", 0, SQL_USER_VAR },
	{ "INSERT INTO t VALUES ('a@b.com', \"c@d\")", 0, SQL_PINS },
	{ "SELECT 1 /* @x */ -- @y\n", 0, SQL_USER_VAR },
	{ "select 1 # @z", 0, SQL_USER_VAR },
	{ "SELECT `@col` FROM t", 0, SQL_USER_VAR },
	{ "SELECT 'it''s @x'", 0, SQL_USER_VAR },
	{ "SELECT 'a\\'@b'", 0, SQL_USER_VAR },
	{ "LOCK TABLES t READ", SQL_LOCK, 0 },
	{ "SELECT GET_LOCK('a', 1)", SQL_LOCK, 0 },
	{ "UNLOCK TABLES", 0, SQL_LOCK },
	{ "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", SQL_FOUND_ROWS, 0 },
	{ "create temporary table tt (a int)", SQL_TEMPORARY, 0 },
	{ "PREPARE s FROM 'select 1'", SQL_PREPARE, 0 },
	{ "XA START 'x'", SQL_XA, 0 },
	{ "SELECT LAST_INSERT_ID()", SQL_LAST_INSERT_ID, 0 },
	{ "SELECT * FROM information_schema.USER_VARIABLES", SQL_USER_VAR, SQL_PINS },
	{ "/*!40101 SET @saved = @@sql_mode */", SQL_USER_VAR, 0 },
	{ "kill query 12", SQL_KILL, 0 },
	/* statements that are only SET or USE: their state changes are explained */
	{ "SET time_zone = '+01:00'", 0, SQL_NOT_SET_USE },
	{ "  set names latin1; USE shop ;", 0, SQL_NOT_SET_USE },
	{ "/* why */ SET SESSION sql_mode = 'ANSI'", 0, SQL_NOT_SET_USE },
	{ "/*!40101 SET NAMES utf8 */", 0, SQL_NOT_SET_USE },
	{ "/*M!100101 SET NAMES utf8 */", 0, SQL_NOT_SET_USE },
	{ "-- note\nSET autocommit = 0", 0, SQL_NOT_SET_USE },
	/* anything else may hide state no variable explains */
	{ "CALL p()", SQL_NOT_SET_USE, 0 },
	{ "SET time_zone = '+01:00'; CALL p()", SQL_NOT_SET_USE, 0 },
	{ "SELECT 1", SQL_NOT_SET_USE, 0 },
	{ "EXECUTE s", SQL_NOT_SET_USE, 0 },
	{ "(SELECT 1)", SQL_NOT_SET_USE, 0 },
	{ "SETX = 1", SQL_NOT_SET_USE, 0 },
	{ "DO 1", SQL_NOT_SET_USE, 0 },
	/* statements that open a transaction (pins.h): held before they run */
	{ "BEGIN", SQL_TRANS, 0 },
	{ "begin work", SQL_TRANS, 0 },
	{ "START TRANSACTION READ ONLY", SQL_TRANS, 0 },
	{ "SELECT 1; /* x */ start transaction", SQL_TRANS, 0 },
	{ "SELECT 'BEGIN'", 0, SQL_TRANS },
	{ "SELECT begin FROM t", 0, SQL_TRANS },
	{ "BEGINNING", 0, SQL_TRANS },
	{ "COMMIT", 0, SQL_TRANS },
	/* what issue 12 follows from session to session */
	{ "SELECT * FROM information_schema.USER_VARIABLES", SQL_UVAR_LIST, 0 },
	{ "SELECT @user_variables", 0, SQL_UVAR_LIST },
	{ "SET @lock = 1, @kill = @temporary", SQL_USER_VAR, SQL_LOCK | SQL_KILL | SQL_TEMPORARY },
	{ "SELECT ID FROM information_schema.PROCESSLIST", SQL_PROCESSLIST, 0 },
	{ "show full processlist", SQL_PROCESSLIST, 0 },
	{ "SELECT ROW_COUNT()", SQL_ROW_COUNT, 0 },
	{ "SHOW WARNINGS", SQL_DIAG, 0 },
	{ "show count(*) errors", SQL_DIAG, 0 },
	{ "SELECT @@warning_count, @@session.error_count", SQL_DIAG, 0 },
	{ "SELECT @@SESSION.WARNING_COUNT", SQL_DIAG, 0 },
	{ "GET DIAGNOSTICS @n = NUMBER", SQL_DIAG, 0 },
	{ "SELECT @@warning_counts, 'SHOW WARNINGS', @warning_count", 0, SQL_DIAG },
	/* statements that may use a table (MariaDB then starts a new diagnostics area) */
	{ "SELECT a FROM t", SQL_TABLES, 0 },
	{ "insert into t values (1)", SQL_TABLES, 0 },
	{ "SHOW WARNINGS", SQL_TABLES | SQL_DIAG, 0 },
	{ "SELECT 2", 0, SQL_TABLES },
	{ "SET @x = 1, sql_mode = 'ANSI'", 0, SQL_TABLES },
	{ "DO 0; COMMIT", 0, SQL_TABLES },
	{ "SELECT 'FROM t', `from`", 0, SQL_TABLES },
};

START_TEST(test_sql_scan)
{
	const struct scan_case *c = &scan_cases[_i];
	unsigned got = sql_scan((const uint8_t *)c->sql, strlen(c->sql));

	ck_assert_msg((got & c->want) == c->want, "%s: flags 0x%x lack 0x%x", c->sql, got, c->want);
	ck_assert_msg((got & c->not ) == 0, "%s: flags 0x%x have 0x%x", c->sql, got, c->not );
}
END_TEST

START_TEST(test_parse_use_and_status)
{
	char db[32];

	ck_assert(sql_parse_use((const uint8_t *)" USE shop ;", 11, db, sizeof(db)));
	ck_assert_str_eq(db, "shop");
	ck_assert(sql_parse_use((const uint8_t *)"use `my db`", 11, db, sizeof(db)));
	ck_assert_str_eq(db, "my db");
	ck_assert(!sql_parse_use((const uint8_t *)"USE shop; DROP TABLE t", 22, db, sizeof(db)));
	ck_assert(!sql_parse_use((const uint8_t *)"USER()", 6, db, sizeof(db)));
	ck_assert(!sql_parse_use((const uint8_t *)"use `x", 6, db, sizeof(db)));

	ck_assert(sql_reads_status((const uint8_t *)"SHOW STATUS LIKE 'Compression'", 30));
	ck_assert(sql_reads_status((const uint8_t *)" show global status", 19));
	ck_assert(sql_reads_status(
	    (const uint8_t *)"SELECT * FROM information_schema.SESSION_STATUS", 47));
	ck_assert(!sql_reads_status((const uint8_t *)"SELECT * FROM my_session_status", 31));
	ck_assert(!sql_reads_status((const uint8_t *)"SHOW TABLES", 11));
}
END_TEST

START_TEST(test_kill_parse)
{
	bool q;
	uint32_t id;

	ck_assert(sql_kill_parse((const uint8_t *)"KILL 42", 7, &q, &id) && !q && id == 42);
	ck_assert(sql_kill_parse((const uint8_t *)" kill  QUERY 7 ;", 16, &q, &id) && q && id == 7);
	ck_assert(sql_kill_parse((const uint8_t *)"KILL CONNECTION 9", 17, &q, &id) && !q);
	ck_assert(!sql_kill_parse((const uint8_t *)"KILL QUERY x", 12, &q, &id));
	ck_assert(!sql_kill_parse((const uint8_t *)"KILL 4294967296", 15, &q, &id));
	ck_assert(!sql_kill_parse((const uint8_t *)"KILL 1; DROP TABLE t", 20, &q, &id));
	ck_assert(!sql_kill_parse((const uint8_t *)"SKILL 1", 7, &q, &id));
}
END_TEST

/* ---- prepared statements (stmt.c) ---- */

static const struct gw_stmt_ctx ctx1 = { "db1", 0, 45 };

/* sql_subst on a copy of sql; the result as a string. */
static size_t subst(const char *sql, const struct sql_subst_how *how, char *out,
                    struct sql_sub *subs)
{
	size_t n = strlen(sql), k;

	memcpy(out, sql, n + 1);
	k = sql_subst((uint8_t *)out, n, how, subs, 4);
	ck_assert_uint_eq(strlen(out), n); /* the length never changes */
	return k;
}

/* CONNECTION_ID() alone rewritten, to id */
static size_t connid(const char *sql, uint32_t id, bool nbs, char *out, struct sql_sub *subs)
{
	struct sql_subst_how how = { .connid = true, .id = id, .no_backslash = nbs };

	return subst(sql, &how, out, subs);
}

START_TEST(test_connid_rewrite)
{
	struct sql_sub subs[4];
	char out[256], name[64];

	ck_assert_uint_eq(connid("SELECT CONNECTION_ID()", 1000000064, false, out, subs), 1);
	ck_assert_str_eq(out, "SELECT 000001000000064");
	ck_assert_uint_eq(subs[0].len, 15);
	ck_assert_uint_eq(connid("select 1, connection_id ( ) + 1 FROM t WHERE x = CONNECTION_ID()",
	                         7, false, out, subs),
	                  2);
	ck_assert_str_eq(out, "select 1, 00000000000000007 + 1 FROM t WHERE x = 000000000000007");
	/* literals, comments, quoted identifiers, other things of that name */
	ck_assert_uint_eq(
	    connid("SELECT 'CONNECTION_ID()', `CONNECTION_ID()`, \"a\\\"CONNECTION_ID()\", "
	           "/* CONNECTION_ID() */ t.CONNECTION_ID, @CONNECTION_ID, "
	           "db.CONNECTION_ID(), CONNECTION_ID -- CONNECTION_ID()\n",
	           7, false, out, subs),
	    0);
	/* an executable comment is run: rewritten */
	ck_assert_uint_eq(connid("SELECT /*!100000 CONNECTION_ID() */", 7, false, out, subs), 1);
	/* definitions keep the function, and so does the rest of the packet: a stored
	 * program's body has statements of its own (a review found the procedure below
	 * stored with the creating session's id as a constant) */
	ck_assert_uint_eq(connid("CREATE VIEW v AS SELECT CONNECTION_ID(); SELECT CONNECTION_ID()",
	                         7, false, out, subs),
	                  0);
	ck_assert_uint_eq(connid("CREATE PROCEDURE p() BEGIN DECLARE x INT; "
	                         "SET x = CONNECTION_ID(); SELECT CONNECTION_ID(); END",
	                         7, false, out, subs),
	                  0);
	ck_assert_uint_eq(connid("SELECT CONNECTION_ID(); CREATE VIEW v AS SELECT CONNECTION_ID()",
	                         7, false, out, subs),
	                  1);
	ck_assert_uint_eq(connid(" alter EVENT e DO SELECT CONNECTION_ID()", 7, false, out, subs),
	                  0);
	/* NO_BACKSLASH_ESCAPES: 'C:\' ends the string, the call after it is real */
	ck_assert_uint_eq(connid("SELECT 'C:\\', CONNECTION_ID()", 7, false, out, subs), 0);
	ck_assert_uint_eq(connid("SELECT 'C:\\', CONNECTION_ID()", 7, true, out, subs), 1);
	ck_assert_uint_eq(connid("SELECT 'C:\\', 'CONNECTION_ID()'", 7, true, out, subs), 0);

	/* column names back */
	connid("SELECT connection_id ( ) + 1", 1000000064, false, out, subs);
	snprintf(name, sizeof(name), "%.40s", out + 7);
	ck_assert_str_eq(name, "00000001000000064 + 1");
	ck_assert_int_eq(sql_subst_unname((uint8_t *)name, strlen(name), subs, 1), SQL_FN_NONE);
	ck_assert_str_eq(name, "connection_id ( ) + 1");
	snprintf(name, sizeof(name), "%.17s", out + 7);
	ck_assert_int_eq(sql_subst_unname((uint8_t *)name, strlen(name), subs, 1),
	                 SQL_FN_CONNECTION_ID);
	ck_assert_str_eq(name, "connection_id ( )");
	/* a longer number that merely contains the literal is left alone */
	snprintf(name, sizeof(name), "1%.17s", out + 7);
	ck_assert_int_eq(sql_subst_unname((uint8_t *)name, strlen(name), subs, 1), SQL_FN_NONE);
	ck_assert_str_eq(name, "100000001000000064");
}
END_TEST

/* ROW_COUNT() is the session's previous statement's count, in the packet's first
 * statement only (a later one follows a statement of the same packet, on the same
 * connection); CONNECTION_ID() is left alone when not asked for (a statement that reads
 * the processlist) */
START_TEST(test_row_count_rewrite)
{
	struct sql_sub subs[4];
	char out[256], name[64];
	struct sql_subst_how how = { .row_count = true, .rows = 3 };

	ck_assert_uint_eq(subst("SELECT ROW_COUNT()", &how, out, subs), 1);
	ck_assert_str_eq(out, "SELECT 00000000003");
	how.rows = -1;
	ck_assert_uint_eq(subst("SELECT row_count( ), x-ROW_COUNT() FROM t", &how, out, subs), 2);
	ck_assert_str_eq(out, "SELECT -00000000001, x--0000000001 FROM t");
	/* names back: the whole call, and a call inside an expression */
	snprintf(name, sizeof(name), "%.12s", out + 7);
	ck_assert_int_eq(sql_subst_unname((uint8_t *)name, strlen(name), subs, 2),
	                 SQL_FN_ROW_COUNT);
	ck_assert_str_eq(name, "row_count( )");
	snprintf(name, sizeof(name), "%.13s", out + 21);
	ck_assert_int_eq(sql_subst_unname((uint8_t *)name, strlen(name), subs, 2), SQL_FN_NONE);
	ck_assert_str_eq(name, "x-ROW_COUNT()");
	/* only the first statement; not in definitions; not other things of that name */
	ck_assert_uint_eq(subst("UPDATE t SET v = 1; SELECT ROW_COUNT()", &how, out, subs), 0);
	ck_assert_uint_eq(subst("CREATE PROCEDURE p() SELECT ROW_COUNT()", &how, out, subs), 0);
	ck_assert_uint_eq(
	    subst("SELECT 'ROW_COUNT()', t.ROW_COUNT, @ROW_COUNT, db.ROW_COUNT(), ROW_COUNT", &how,
	          out, subs),
	    0);
	/* a count too long for the call's text is left to the backend */
	how.rows = 123456789012LL;
	ck_assert_uint_eq(subst("SELECT ROW_COUNT()", &how, out, subs), 0);
	ck_assert_uint_eq(subst("SELECT ROW_COUNT(  )", &how, out, subs), 1);
	ck_assert_str_eq(out, "SELECT 0123456789012");
	/* both functions in one statement, each named back as written */
	how.rows = 2;
	how.connid = true;
	how.id = 7;
	ck_assert_uint_eq(subst("SELECT CONNECTION_ID(), ROW_COUNT()", &how, out, subs), 2);
	ck_assert_str_eq(out, "SELECT 000000000000007, 00000000002");
	ck_assert_uint_eq(subs[0].fn, SQL_FN_CONNECTION_ID);
	ck_assert_uint_eq(subs[1].fn, SQL_FN_ROW_COUNT);
	how.connid = false;
	ck_assert_uint_eq(subst("SELECT CONNECTION_ID(), ROW_COUNT()", &how, out, subs), 1);
	ck_assert_str_eq(out, "SELECT CONNECTION_ID(), 00000000002");
}
END_TEST

START_TEST(test_stmts_ids)
{
	struct gw_stmts t = { 0 };
	struct gw_stmt *a, *b, *c;
	const struct gw_stmt_ctx ctx2 = { "db2", 0, 45 }, ctx1v = { "db1", 77, 45 };
	const uint8_t types[] = { 8, 0, 253, 0 };

	a = gw_stmts_add(&t, &ctx1, "SELECT ?", 8, 1, 1);
	b = gw_stmts_add(&t, &ctx1, "SELECT ?, ?", 11, 2, 2);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(t.v[0].id, 1);
	ck_assert_uint_eq(t.v[1].id, 2);
	ck_assert_uint_eq(gw_stmts_find(&t, GW_STMT_ID_LAST)->id, 2);
	ck_assert_str_eq(gw_stmts_find(&t, 1)->db, "db1");
	ck_assert_int_eq(memcmp(gw_stmts_find(&t, 1)->sql, "SELECT ?", 8), 0);
	ck_assert_uint_eq(gw_stmts_find(&t, 1)->charset, 45);
	ck_assert_ptr_null(gw_stmts_find(&t, 3));
	ck_assert_ptr_null(gw_stmts_find(&t, 0));
	ck_assert(gw_stmt_set_types(gw_stmts_find(&t, 2), types));
	ck_assert_int_eq(memcmp(gw_stmts_find(&t, 2)->types, types, 4), 0);

	ck_assert(gw_stmts_remove(&t, 2)); /* the last prepared: id -1 names nothing now */
	ck_assert_ptr_null(gw_stmts_find(&t, GW_STMT_ID_LAST));
	ck_assert(!gw_stmts_remove(&t, 2));
	c = gw_stmts_add(&t, &ctx1, "SELECT 1", 8, 0, 1);
	ck_assert_uint_eq(c->id, 3); /* ids are never reused */
	ck_assert_uint_eq(gw_stmts_find(&t, 3)->ncols, 1);
	ck_assert_uint_eq(gw_stmts_find(&t, 1)->nparams, 1);
	/* The same text under another schema or other variables: another key. */
	ck_assert(gw_stmts_find(&t, 1)->key != gw_stmt_key(&ctx2, "SELECT ?", 8));
	ck_assert(gw_stmts_find(&t, 1)->key != gw_stmt_key(&ctx1v, "SELECT ?", 8));
	ck_assert(gw_stmts_find(&t, 1)->key == gw_stmt_key(&ctx1, "SELECT ?", 8));

	gw_stmts_clear(&t);
	ck_assert_ptr_null(gw_stmts_find(&t, 1));
	ck_assert_uint_eq(gw_stmts_add(&t, &ctx1, "x", 1, 0, 0)->id, 4);
	gw_stmts_free(&t);
}
END_TEST

START_TEST(test_sstmts_cache)
{
	struct gw_sstmts t = { 0 };
	struct gw_stmts c = { 0 }, other = { 0 };
	const struct gw_stmt_ctx ctx2 = { "db2", 0, 45 }, ctx1v = { "db1", 77, 45 };
	struct gw_stmt *q1, *q;
	char sql[32];

	q1 = gw_stmts_add(&c, &ctx1, "SELECT ?", 8, 1, 1);
	ck_assert_uint_eq(gw_sstmts_find(&t, q1), 0);
	ck_assert(gw_sstmts_add(&t, q1, 101));
	ck_assert_uint_eq(gw_sstmts_find(&t, q1), 101);
	/* Another client's statement of the same text, schema and variables shares it. */
	q = gw_stmts_add(&other, &ctx1, "SELECT ?", 8, 1, 1);
	ck_assert_uint_eq(gw_sstmts_find(&t, q), 101);
	/* ... not under another schema, other variables, or once it has state of its own. */
	ck_assert_uint_eq(gw_sstmts_find(&t, gw_stmts_add(&other, &ctx2, "SELECT ?", 8, 1, 1)), 0);
	ck_assert_uint_eq(gw_sstmts_find(&t, gw_stmts_add(&other, &ctx1v, "SELECT ?", 8, 1, 1)), 0);
	q = gw_stmts_find(&other, 1);
	gw_stmt_make_private(q, 42);
	ck_assert_uint_eq(gw_sstmts_find(&t, q), 0);
	ck_assert(gw_sstmts_add(&t, q, 150));
	ck_assert_uint_eq(gw_sstmts_find(&t, q), 150);
	ck_assert_uint_eq(gw_sstmts_find(&t, q1), 101);

	/* Prepared twice here: the new id serves, the old one is closed. */
	ck_assert(gw_sstmts_add(&t, q1, 102));
	ck_assert_uint_eq(gw_sstmts_find(&t, q1), 102);
	ck_assert_uint_eq(t.nclosing, 1);
	ck_assert_uint_eq(t.closing[0], 101);
	t.nclosing = 0;

	/* Full: the least recently used goes (and is closed); q1, used last, stays. */
	for (uint32_t i = 2; i < GW_SSTMTS_MAX; i++) {
		int n = snprintf(sql, sizeof(sql), "SELECT %u", i);

		q = gw_stmts_add(&c, &ctx1, sql, (uint32_t)n, 0, 1);
		ck_assert(gw_sstmts_add(&t, q, 200 + i));
	}
	q1 = gw_stmts_find(&c, 1); /* the table may have moved */
	ck_assert_uint_eq(t.n, GW_SSTMTS_MAX);
	ck_assert_uint_eq(gw_sstmts_find(&t, q1), 102);
	ck_assert_uint_eq(gw_sstmts_find(&t, gw_stmts_find(&other, 1)), 150);
	q = gw_stmts_add(&c, &ctx1, "SELECT new", 10, 0, 1);
	ck_assert(gw_sstmts_add(&t, q, 999));
	ck_assert_uint_eq(t.n, GW_SSTMTS_MAX);
	ck_assert_uint_eq(t.nclosing, 1);
	ck_assert_uint_eq(t.closing[0], 202); /* "SELECT 2", the oldest untouched */
	q1 = gw_stmts_find(&c, 1);
	ck_assert_uint_eq(gw_sstmts_find(&t, q1), 102);

	gw_sstmts_clear(&t);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_uint_eq(t.nclosing, 0); /* a new session: nothing left to close */
	ck_assert_uint_eq(gw_sstmts_find(&t, q1), 0);
	gw_sstmts_free(&t);
	gw_stmts_free(&c);
	gw_stmts_free(&other);
}
END_TEST

static Suite *session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("tracking");

	tcase_add_test(tc, test_parse_sysvars_schema_state);
	tcase_add_test(tc, test_parse_rejects_truncated);
	tcase_add_test(tc, test_state_change_alone_means_unreplayable);
	tcase_add_test(tc, test_build_set);
	tcase_add_loop_test(tc, test_build_set_hostile, 0, sizeof(hostile) / sizeof(hostile[0]));
	tcase_add_test(tc, test_build_set_every_byte);
	tcase_add_test(tc, test_vars_names_and_exprs);
	tcase_add_test(tc, test_vars_equal_and_hash);
	tcase_add_loop_test(tc, test_pin_room, 0, sizeof(pin_cases) / sizeof(pin_cases[0]));
	tcase_add_test(tc, test_pin_cap);
	tcase_add_test(tc, test_ok_strip_tracking);
	suite_add_tcase(s, tc);
	tc = tcase_create("sqlscan");
	tcase_add_loop_test(tc, test_sql_scan, 0, sizeof(scan_cases) / sizeof(scan_cases[0]));
	tcase_add_test(tc, test_kill_parse);
	tcase_add_test(tc, test_connid_rewrite);
	tcase_add_test(tc, test_parse_use_and_status);
	tcase_add_test(tc, test_row_count_rewrite);
	suite_add_tcase(s, tc);
	tc = tcase_create("stmts");
	tcase_add_test(tc, test_stmts_ids);
	tcase_add_test(tc, test_sstmts_cache);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(session_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
