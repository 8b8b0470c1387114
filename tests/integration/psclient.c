/*
 * psclient.c - server-side prepared statements through a pool, with the real MariaDB
 * client library (libmariadb), against a sluice of pool size 1 whose backend
 * connection this program closes under it (KILL, as root over MariaDB's socket), so
 * that executes must run on a connection that never saw the prepare:
 *  - an execute after the reconnect is prepared again there and keeps the parameter
 *    types, which libmariadb sends with the first execute only;
 *  - a statement keeps the schema it was prepared in after COM_INIT_DB, as it does
 *    straight to MariaDB (the same steps are run there first, for the expected answer);
 *  - statement id -1 (mariadb_stmt_execute_direct: prepare and execute in one write);
 *  - 8 clients with the same statement on one backend connection, interleaved;
 *  - a statement closed and prepared again;
 *  - a 17 MiB parameter (an execute of several packets);
 *  - an execute that does what a query pins for (SQL_CALC_FOUND_ROWS) pins.
 *
 * With "big" after them (prepared_big.t), only:
 *  - 17 MiB executes, again without their types on a connection that never saw the
 *    statement (prepared there, the types put back, the execute split again).
 * With "bulk" after them (bulk.t), only:
 *  - COM_STMT_BULK_EXECUTE (array binding): offered, its affected rows and insert id, and
 *    run again without its types on a backend connection that never saw the statement.
 *
 * Usage: psclient HOST PORT USER PASSWORD DB DB2 MARIADB_PORT MARIADB_SOCKET [bulk|big]
 * (MARIADB_SOCKET "": root over TCP at HOST:MARIADB_PORT; MARIADB_ROOT_PASSWORD from the
 * environment, as tests/integration/lib.py takes it).
 * DB and DB2 each hold a table ps_w with one row: v = 'one' in DB, 'two' in DB2.
 * Prints TAP; every check compares what came back with what was sent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>

#include "tests/integration/tap.h"

static const char *host, *user, *pass, *db, *db2, *sock;
static unsigned port, direct_port;
static char only; /* 'b': only test_bulk(); 'B': only test_big_reprepare() */
static MYSQL *open_at(unsigned at_port, const char *schema)
{
	MYSQL *m = mysql_init(NULL);
	unsigned timeout = 10;

	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	if (!mysql_real_connect(m, host, user, pass, schema, at_port, NULL, 0)) {
		printf("# connect to port %u failed: %s\n", at_port, mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* KILL a backend thread as root over MariaDB's socket. */
static int kill_backend(unsigned long long tid)
{
	MYSQL *r = mysql_init(NULL);
	char sql[64];
	int rc;

	const char *rootpw = getenv("MARIADB_ROOT_PASSWORD");

	/* MARIADB_SOCKET "" = root over TCP, as tests/integration/lib.py does it. */
	if (!mysql_real_connect(r, sock[0] ? NULL : host, "root", rootpw ? rootpw : "", NULL,
	                        sock[0] ? 0 : direct_port, sock[0] ? sock : NULL, 0)) {
		printf("# root connect failed: %s\n", mysql_error(r));
		mysql_close(r);
		return -1;
	}
	snprintf(sql, sizeof(sql), "KILL %llu", tid);
	rc = mysql_query(r, sql);
	if (rc)
		printf("# %s: %s\n", sql, mysql_error(r));
	mysql_close(r);
	usleep(200000); /* for sluice to see the connection go */
	return rc;
}

/* Execute st (one BIGINT parameter, or none when param is NULL) and read one row of up
 * to two BIGINT columns. 0 on success. */
static int exec_ints(MYSQL_STMT *st, long long *param, long long *c1, long long *c2)
{
	MYSQL_BIND pb, rb[2];
	unsigned ncols = mysql_stmt_field_count(st);

	if (param) {
		memset(&pb, 0, sizeof(pb));
		pb.buffer_type = MYSQL_TYPE_LONGLONG;
		pb.buffer = param;
		if (mysql_stmt_bind_param(st, &pb))
			return -1;
	}
	if (mysql_stmt_execute(st))
		return -1;
	memset(rb, 0, sizeof(rb));
	rb[0].buffer_type = rb[1].buffer_type = MYSQL_TYPE_LONGLONG;
	rb[0].buffer = c1;
	rb[1].buffer = c2;
	if (ncols > 2 || mysql_stmt_bind_result(st, rb) || mysql_stmt_fetch(st) != 0)
		return -1;
	mysql_stmt_free_result(st);
	return 0;
}

/* Bind the types once, execute, move the statement to a new backend connection,
 * execute again with only new values: libmariadb leaves the types out. */
static void test_reprepare(MYSQL *m)
{
	MYSQL_STMT *st = mysql_stmt_init(m);
	long long param = 21, v = 0, cid1 = 0, cid2 = 0;
	const char *sql = "SELECT CAST(? AS SIGNED) * 2, @@pseudo_thread_id";
	MYSQL_BIND rb[2];
	int rc;

	ok(mysql_stmt_prepare(st, sql, strlen(sql)) == 0, "prepare with a parameter: %s",
	   mysql_stmt_error(st));
	rc = exec_ints(st, &param, &v, &cid1);
	ok(rc == 0 && v == 42, "execute with 21 -> %lld on backend thread %lld: %s", v, cid1,
	   mysql_stmt_error(st));
	ok(kill_backend((unsigned long long)cid1) == 0, "KILL backend thread %lld (as root)", cid1);
	/* Only the value changes: no bind_param, so no types in the next execute. */
	param = 50;
	rc = mysql_stmt_execute(st);
	if (rc) {
		/* The KILL may land while sluice still holds the dead connection: one retry. */
		printf("# first execute after the KILL: %s\n", mysql_stmt_error(st));
		rc = mysql_stmt_execute(st);
	}
	memset(rb, 0, sizeof(rb));
	rb[0].buffer_type = rb[1].buffer_type = MYSQL_TYPE_LONGLONG;
	rb[0].buffer = &v;
	rb[1].buffer = &cid2;
	v = 0;
	if (rc == 0)
		rc = mysql_stmt_bind_result(st, rb) || mysql_stmt_fetch(st) != 0;
	mysql_stmt_free_result(st);
	ok(rc == 0 && v == 100 && cid2 != cid1 && cid2 != 0,
	   "the same statement, value 50 without its types, on backend thread %lld: %lld: %s", cid2,
	   v, mysql_stmt_error(st));
	mysql_stmt_close(st);
}

/* Prepare "SELECT v FROM ps_w" in db, COM_INIT_DB db2, execute; on `at_port`. With
 * kill, the backend connection is closed between the two. "" on failure. */
static void schema_case(unsigned at_port, int kill, char *out, size_t outlen)
{
	MYSQL *m = open_at(at_port, db);
	MYSQL_STMT *st;
	MYSQL_BIND rb;
	const char *sql = "SELECT v FROM ps_w";
	char v[32] = "";
	unsigned long vlen = 0;
	long long cid = 0, dummy = 0;

	out[0] = '\0';
	if (!m)
		return;
	if (kill) {
		MYSQL_STMT *q = mysql_stmt_init(m);
		const char *qs = "SELECT @@pseudo_thread_id";

		if (mysql_stmt_prepare(q, qs, strlen(qs)) || exec_ints(q, NULL, &cid, &dummy))
			printf("# @@pseudo_thread_id: %s\n", mysql_stmt_error(q));
		mysql_stmt_close(q);
	}
	st = mysql_stmt_init(m);
	if (mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_select_db(m, db2)) {
		printf("# prepare / select_db: %s %s\n", mysql_stmt_error(st), mysql_error(m));
		goto done;
	}
	if (kill && cid)
		kill_backend((unsigned long long)cid);
	memset(&rb, 0, sizeof(rb));
	rb.buffer_type = MYSQL_TYPE_STRING;
	rb.buffer = v;
	rb.buffer_length = sizeof(v) - 1;
	rb.length = &vlen;
	if (mysql_stmt_execute(st) && (!kill || mysql_stmt_execute(st))) {
		printf("# execute: %s\n", mysql_stmt_error(st));
		goto done;
	}
	if (mysql_stmt_bind_result(st, &rb) || mysql_stmt_fetch(st) != 0) {
		printf("# fetch: %s\n", mysql_stmt_error(st));
		goto done;
	}
	snprintf(out, outlen, "%.*s", (int)vlen, v);
done:
	mysql_stmt_close(st);
	mysql_close(m);
}

static void test_schema(void)
{
	char direct[32], through[32];

	schema_case(direct_port, 0, direct, sizeof(direct));
	schema_case(port, 1, through, sizeof(through));
	ok(direct[0] && strcmp(direct, through) == 0,
	   "prepared in %s, executed after COM_INIT_DB %s on another backend connection: '%s' "
	   "(straight to MariaDB: '%s')",
	   db, db2, through, direct);
}

static void test_execute_direct(MYSQL *m)
{
	MYSQL_STMT *st = mysql_stmt_init(m);
	long long v = 0;
	MYSQL_BIND rb;
	int rc = mariadb_stmt_execute_direct(st, "SELECT 6 * 7", (size_t)-1);

	memset(&rb, 0, sizeof(rb));
	rb.buffer_type = MYSQL_TYPE_LONGLONG;
	rb.buffer = &v;
	if (rc == 0)
		rc = mysql_stmt_bind_result(st, &rb) || mysql_stmt_fetch(st) != 0;
	ok(rc == 0 && v == 42, "mariadb_stmt_execute_direct (statement id -1): %lld: %s", v,
	   mysql_stmt_error(st));
	mysql_stmt_close(st);
}

#define NCLIENTS 8

static void test_many_clients(void)
{
	MYSQL *m[NCLIENTS];
	MYSQL_STMT *st[NCLIENTS];
	const char *sql = "SELECT CAST(? AS SIGNED) + 1000";
	int good = 0, opened = 0;

	for (int i = 0; i < NCLIENTS; i++) {
		m[i] = open_at(port, db);
		st[i] = m[i] ? mysql_stmt_init(m[i]) : NULL;
		if (st[i] && mysql_stmt_prepare(st[i], sql, strlen(sql)) == 0)
			opened++;
	}
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < NCLIENTS; i++) {
			long long p = round * 100 + i, v = 0, dummy = 0;

			if (st[i] && exec_ints(st[i], &p, &v, &dummy) == 0 && v == p + 1000)
				good++;
		}
	}
	ok(opened == NCLIENTS && good == NCLIENTS * 5,
	   "%d clients prepared the same statement; %d of %d interleaved executes right", opened,
	   good, NCLIENTS * 5);
	for (int i = 0; i < NCLIENTS; i++) {
		if (st[i])
			mysql_stmt_close(st[i]);
		if (m[i])
			mysql_close(m[i]);
	}
}

/* The same text closed and prepared again, and a second statement beside it. */
static void test_close_reprepare(MYSQL *m)
{
	const char *sql = "SELECT CAST(? AS SIGNED) - 1";
	long long p = 10, v = 0, dummy = 0;
	MYSQL_STMT *a = mysql_stmt_init(m), *b;
	int rc;

	rc = mysql_stmt_prepare(a, sql, strlen(sql)) || exec_ints(a, &p, &v, &dummy);
	ok(rc == 0 && v == 9, "prepare and execute: %lld", v);
	mysql_stmt_close(a); /* COM_STMT_CLOSE: no answer */
	b = mysql_stmt_init(m);
	p = 20;
	v = 0;
	rc = mysql_stmt_prepare(b, sql, strlen(sql)) || exec_ints(b, &p, &v, &dummy);
	ok(rc == 0 && v == 19, "closed, prepared again, executed: %lld: %s", v,
	   mysql_stmt_error(b));
	mysql_stmt_close(b);
}

/* An execute that does what a query pins for (SQL_CALC_FOUND_ROWS) pins the same way:
 * FOUND_ROWS() answers for it, and losing its backend connection ends the session. */
static void test_pins_like_query(void)
{
	MYSQL *m = open_at(port, db);
	MYSQL_STMT *st;
	const char *sql = "SELECT SQL_CALC_FOUND_ROWS @@pseudo_thread_id FROM ps_w LIMIT 0";
	MYSQL_RES *res;
	MYSQL_ROW row;
	long long cid = 0, dummy = 0;
	char found[32] = "";
	int rc, lost;

	if (!m) {
		ok(0, "connect for the pin check");
		return;
	}
	/* The backend thread first (the LIMIT 0 statement returns no row). */
	st = mysql_stmt_init(m);
	rc = mysql_stmt_prepare(st, "SELECT @@pseudo_thread_id", 25) ||
	     exec_ints(st, NULL, &cid, &dummy);
	mysql_stmt_close(st);
	st = mysql_stmt_init(m);
	rc = rc || mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_stmt_execute(st) ||
	     mysql_stmt_store_result(st);
	mysql_stmt_close(st);
	if (!rc && mysql_query(m, "SELECT FOUND_ROWS()") == 0 && (res = mysql_store_result(m))) {
		if ((row = mysql_fetch_row(res)) && row[0])
			snprintf(found, sizeof(found), "%s", row[0]);
		mysql_free_result(res);
	}
	ok(rc == 0 && strcmp(found, "1") == 0,
	   "a prepared SQL_CALC_FOUND_ROWS, then FOUND_ROWS() as a query: %s", found);
	kill_backend((unsigned long long)cid);
	lost = mysql_query(m, "SELECT 1") != 0;
	ok(lost && (mysql_errno(m) == 2013 || mysql_errno(m) == 2006),
	   "... it pinned the session: with its backend connection KILLed, the session is lost"
	   " (%u %s), where an unpinned one goes on",
	   mysql_errno(m), mysql_error(m));
	mysql_close(m);
}

/* An execute of more than 16 MiB travels as several packets: the first keeps its
 * length and sequence id, only the statement id changes. */
static void test_big_execute(MYSQL *m)
{
	const size_t n = 17u << 20;
	char *blob = malloc(n), buf[64] = "";
	MYSQL_STMT *st = mysql_stmt_init(m);
	MYSQL_BIND pb;
	unsigned long len = (unsigned long)n;
	const char *ins = "INSERT INTO ps_big VALUES (?)";
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	if (!blob) {
		ok(0, "17 MiB for the big execute");
		return;
	}
	for (size_t i = 0; i < n; i++)
		blob[i] = (char)('a' + i % 26);
	rc = mysql_query(m, "DROP TABLE IF EXISTS ps_big") ||
	     mysql_query(m, "CREATE TABLE ps_big (b LONGBLOB)") ||
	     mysql_stmt_prepare(st, ins, strlen(ins));
	memset(&pb, 0, sizeof(pb));
	pb.buffer_type = MYSQL_TYPE_LONG_BLOB;
	pb.buffer = blob;
	pb.buffer_length = len;
	pb.length = &len;
	rc = rc || mysql_stmt_bind_param(st, &pb) || mysql_stmt_execute(st);
	if (rc)
		printf("# big execute: %s %s\n", mysql_error(m), mysql_stmt_error(st));
	mysql_stmt_close(st);
	if (!rc &&
	    mysql_query(m, "SELECT CONCAT(LENGTH(b), ' ', MD5(b) = MD5(REPEAT("
	                   "'abcdefghijklmnopqrstuvwxyz', 17 * 1048576 DIV 26 + 1)) OR "
	                   "LEFT(b, 26) = 'abcdefghijklmnopqrstuvwxyz') FROM ps_big") == 0 &&
	    (res = mysql_store_result(m))) {
		if ((row = mysql_fetch_row(res)) && row[0])
			snprintf(buf, sizeof(buf), "%s", row[0]);
		mysql_free_result(res);
	}
	ok(rc == 0 && strcmp(buf, "17825792 1") == 0,
	   "a 17 MiB parameter through COM_STMT_EXECUTE arrived whole (length, start: %s)", buf);
	mysql_query(m, "DROP TABLE IF EXISTS ps_big");
	free(blob);
}

/* One bulk execute (STMT_ATTR_ARRAY_SIZE: COM_STMT_BULK_EXECUTE, types only the first
 * time) of NBULK rows; its affected rows and insert id. */
#define NBULK 200
static int bulk_insert(MYSQL_STMT *st, int base, unsigned long long *affected,
                       unsigned long long *id)
{
	static int v[NBULK];
	static char s[NBULK][8], *sp[NBULK]; /* column-wise strings: an array of pointers */
	static unsigned long slen[NBULK];
	static char ind[NBULK];
	unsigned size = NBULK;
	MYSQL_BIND pb[2];

	for (int i = 0; i < NBULK; i++) {
		v[i] = base + i;
		slen[i] = (unsigned long)snprintf(s[i], sizeof(s[i]), "r%d", base + i);
		sp[i] = s[i];
		ind[i] = i % 50 == 49 ? STMT_INDICATOR_NULL : STMT_INDICATOR_NONE;
	}
	memset(pb, 0, sizeof(pb));
	pb[0].buffer_type = MYSQL_TYPE_LONG;
	pb[0].buffer = v;
	pb[1].buffer_type = MYSQL_TYPE_STRING;
	pb[1].buffer = sp;
	pb[1].length = slen;
	pb[1].u.indicator = ind;
	if (mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &size) ||
	    (base == 0 && mysql_stmt_bind_param(st, pb)) || mysql_stmt_execute(st))
		return -1;
	*affected = mysql_stmt_affected_rows(st);
	*id = mysql_stmt_insert_id(st);
	return 0;
}

/* What the bulk executes of test_bulk() left: "rows sum(v) nulls". */
static void bulk_table(MYSQL *m, char *out, size_t n)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	out[0] = '\0';
	if (mysql_query(m, "SELECT CONCAT(COUNT(*), ' ', SUM(v), ' ', SUM(s IS NULL)) FROM "
	                   "ps_bulk") == 0 &&
	    (res = mysql_store_result(m))) {
		if ((row = mysql_fetch_row(res)) && row[0])
			snprintf(out, n, "%s", row[0]);
		mysql_free_result(res);
	}
}

/* COM_STMT_BULK_EXECUTE (issue 12, symptom 2): offered, its OK passed on whole, and run
 * again, without its types, on a backend connection that never saw the statement. */
static void test_bulk(MYSQL *m)
{
	const char *ins = "INSERT INTO ps_bulk (v, s) VALUES (?, ?)";
	MYSQL_STMT *st = mysql_stmt_init(m), *q;
	unsigned long long affected = 0, id = 0;
	long long cid = 0, dummy = 0;
	char table[64];
	int rc;
	unsigned long caps = 0, ext = 0;

	mariadb_get_infov(m, MARIADB_CONNECTION_SERVER_CAPABILITIES, &caps);
	mariadb_get_infov(m, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &ext);
	ok(!(caps & CLIENT_MYSQL) && (ext & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32)),
	   "the server offers MARIADB_CLIENT_STMT_BULK_OPERATIONS (capabilities %#lx, %#lx)", caps,
	   ext);
	rc = mysql_query(m, "DROP TABLE IF EXISTS ps_bulk") ||
	     mysql_query(m, "CREATE TABLE ps_bulk (id INT AUTO_INCREMENT PRIMARY KEY, v INT, "
	                    "s VARCHAR(8)) AUTO_INCREMENT=1001") ||
	     mysql_stmt_prepare(st, ins, strlen(ins));
	rc = rc || bulk_insert(st, 0, &affected, &id);
	ok(rc == 0 && affected == NBULK && id == 1001,
	   "a bulk insert of %d rows: %llu affected, insert id %llu (straight to MariaDB: %d, 1001)"
	   ": %s",
	   NBULK, affected, id, NBULK, mysql_stmt_error(st));
	/* Its backend connection goes: the next one must prepare it again, and be given
	 * the types libmariadb sent the first time only. */
	q = mysql_stmt_init(m);
	if (mysql_stmt_prepare(q, "SELECT @@pseudo_thread_id", 25) ||
	    exec_ints(q, NULL, &cid, &dummy))
		printf("# @@pseudo_thread_id: %s\n", mysql_stmt_error(q));
	mysql_stmt_close(q);
	ok(cid && kill_backend((unsigned long long)cid) == 0, "KILL backend thread %lld", cid);
	affected = id = 0;
	rc = bulk_insert(st, 1000, &affected, &id);
	if (rc) {
		/* The KILL may land while sluice still holds the dead connection: one retry. */
		printf("# first bulk execute after the KILL: %s\n", mysql_stmt_error(st));
		rc = bulk_insert(st, 1000, &affected, &id);
	}
	/* (InnoDB hands a bulk insert its ids in blocks: the next ones may skip some.) */
	ok(rc == 0 && affected == NBULK && id >= 1201,
	   "the same bulk insert again, without its types, on another backend connection: %llu "
	   "affected, insert id %llu (at least 1201): %s",
	   affected, id, mysql_stmt_error(st));
	mysql_stmt_close(st);
	bulk_table(m, table, sizeof(table));
	ok(strcmp(table, "400 239800 8") == 0,
	   "the table holds what was sent: rows, SUM(v), NULLs = '%s' (want '400 239800 8')",
	   table);
	mysql_query(m, "DROP TABLE IF EXISTS ps_bulk");
}

/* n bytes of 'a'..'z' from letter `off` on, as REPEAT() makes them in big_check(). */
static void big_fill(char *b, size_t n, int off)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)('a' + (i + (size_t)off) % 26);
}

/* "n length md5-matches" of each row of ps_big2, in order, as one string. */
static void big_check(MYSQL *m, size_t len, char *out, size_t n)
{
	char sql[400];
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t used = 0;

	out[0] = '\0';
	snprintf(sql, sizeof(sql),
	         "SELECT CONCAT(n, ' ', LENGTH(b) = %zu, ' ', MD5(b) = MD5(SUBSTRING(REPEAT("
	         "'abcdefghijklmnopqrstuvwxyz', %zu DIV 26 + 2), n + 1, %zu))) FROM ps_big2 "
	         "ORDER BY n",
	         len, len, len);
	if (mysql_query(m, sql) != 0 || !(res = mysql_store_result(m))) {
		snprintf(out, n, "query failed: %s", mysql_error(m));
		return;
	}
	while ((row = mysql_fetch_row(res)) && used < n)
		used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "",
		                         row[0] ? row[0] : "NULL");
	mysql_free_result(res);
}

/*
 * Prepared executes over 16 MiB (issue 12, symptom 10) with a parameter of len bytes:
 * the first with its types, the next two without them (libmariadb sends the types only
 * after a bind), the first of those on a backend connection that never saw the
 * statement, where sluice must prepare it, put the types back in, and split the now
 * longer execute into 16 MiB packets again.
 */
static void test_big_reprepare(MYSQL *m, size_t blen, const char *what)
{
	const char *ins = "INSERT INTO ps_big2 VALUES (?, ?)";
	MYSQL_STMT *st = mysql_stmt_init(m), *q;
	char *blob = malloc(blen), rows[200];
	unsigned long len = (unsigned long)blen;
	long long cid = 0, dummy = 0;
	int n = 0, rc;
	MYSQL_BIND pb[2];

	if (!blob) {
		ok(0, "memory for the big executes");
		return;
	}
	rc = mysql_query(m, "DROP TABLE IF EXISTS ps_big2") ||
	     mysql_query(m, "CREATE TABLE ps_big2 (n INT, b LONGBLOB)") ||
	     mysql_stmt_prepare(st, ins, strlen(ins));
	memset(pb, 0, sizeof(pb));
	pb[0].buffer_type = MYSQL_TYPE_LONG;
	pb[0].buffer = &n;
	pb[1].buffer_type = MYSQL_TYPE_LONG_BLOB;
	pb[1].buffer = blob;
	pb[1].buffer_length = len;
	pb[1].length = &len;
	big_fill(blob, blen, n);
	rc = rc || mysql_stmt_bind_param(st, pb) || mysql_stmt_execute(st);
	ok(rc == 0, "%s: an execute with its types: %s", what, mysql_stmt_error(st));
	q = mysql_stmt_init(m);
	if (mysql_stmt_prepare(q, "SELECT @@pseudo_thread_id", 25) ||
	    exec_ints(q, NULL, &cid, &dummy))
		printf("# @@pseudo_thread_id: %s\n", mysql_stmt_error(q));
	mysql_stmt_close(q);
	ok(cid && kill_backend((unsigned long long)cid) == 0, "%s: KILL backend thread %lld", what,
	   cid);
	/* New values in the bound buffers, no bind: the execute goes without types. */
	n = 1;
	big_fill(blob, blen, n);
	rc = mysql_stmt_execute(st);
	if (rc) {
		/* The KILL may land while sluice still holds the dead connection: one retry. */
		printf("# first big execute after the KILL: %s\n", mysql_stmt_error(st));
		rc = mysql_stmt_execute(st);
	}
	ok(rc == 0, "%s: the same execute without its types, on another backend connection: %s",
	   what, mysql_stmt_error(st));
	n = 2;
	big_fill(blob, blen, n);
	rc = mysql_stmt_execute(st);
	ok(rc == 0, "%s: once more, without types: %s", what, mysql_stmt_error(st));
	mysql_stmt_close(st);
	free(blob);
	big_check(m, blen, rows, sizeof(rows));
	ok(strcmp(rows, "0 1 1, 1 1 1, 2 1 1") == 0,
	   "%s: each row arrived whole, byte for byte (n, LENGTH right, MD5 right): %s", what,
	   rows);
	mysql_query(m, "DROP TABLE IF EXISTS ps_big2");
}

int main(int argc, char **argv)
{
	MYSQL *m;

	if (argc == 10 && strcmp(argv[9], "bulk") == 0) {
		/* bulk.t: only the bulk execute checks */
		argc = 9;
		only = 'b';
	} else if (argc == 10 && strcmp(argv[9], "big") == 0) {
		/* prepared_big.t: only the executes over 16 MiB */
		argc = 9;
		only = 'B';
	}
	if (argc != 9) {
		fprintf(
		    stderr,
		    "usage: psclient HOST PORT USER PASSWORD DB DB2 MARIADB_PORT MARIADB_SOCKET\n");
		return 2;
	}
	host = argv[1];
	port = (unsigned)atoi(argv[2]);
	user = argv[3];
	pass = argv[4];
	db = argv[5];
	db2 = argv[6];
	direct_port = (unsigned)atoi(argv[7]);
	sock = argv[8];
	m = open_at(port, db);
	ok(m != NULL, "connect through sluice as %s", user);
	if (!m)
		return 1;
	if (only) {
		if (only == 'b')
			test_bulk(m);
		else {
			/* An execute of the statement below without types is 25 bytes and
			 * the parameter; with them, 29. */
			test_big_reprepare(m, 17u << 20, "17 MiB");
			/* 2 x 16 MiB - 4 from the client; 2 x 16 MiB with the types: a
			 * 16 MiB packet, another, and an empty one to end it */
			test_big_reprepare(m, 2 * (size_t)0xffffff - 29, "2 x 16 MiB - 29");
			/* with the types 1 byte more: the last packet is 1 byte long */
			test_big_reprepare(m, 2 * (size_t)0xffffff - 28, "2 x 16 MiB - 28");
		}
		mysql_close(m);
		printf("1..%d\n", test_no);
		return failures ? 1 : 0;
	}
	test_reprepare(m);
	test_schema();
	test_execute_direct(m);
	test_many_clients();
	test_close_reprepare(m);
	test_big_execute(m);
	mysql_close(m);
	test_pins_like_query(); /* last: it loses its session on purpose */
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
