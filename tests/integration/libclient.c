/*
 * libclient.c - protocol features through sluice with the real MariaDB client library
 * (libmariadb): COM_CHANGE_USER, server-side prepared statements with a cursor and
 * COM_STMT_SEND_LONG_DATA, the compressed protocol, a client that offers
 * caching_sha2_password first (as MySQL 8 clients do), and a client that insists on TLS.
 *
 * Usage: libclient HOST PORT USER PASSWORD USER2 PASSWORD2 DB
 * Prints TAP. Each check can fail: it compares what came back with what was sent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "tests/integration/tap.h"

static const char *host, *user, *pass, *user2, *pass2, *db;
static unsigned port;

static MYSQL *open_conn(unsigned long flags, const char *auth_plugin, int compress)
{
	MYSQL *m = mysql_init(NULL);
	unsigned timeout = 10;

	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	if (auth_plugin)
		mysql_options(m, MYSQL_DEFAULT_AUTH, auth_plugin);
	if (compress)
		mysql_options(m, MYSQL_OPT_COMPRESS, NULL);
	if (!mysql_real_connect(m, host, user, pass, db, port, NULL, flags)) {
		printf("# connect failed: %s\n", mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* The first column of the first row of a query, as a string ("" on failure). */
static const char *scalar(MYSQL *m, const char *sql, char *buf, size_t len)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	buf[0] = '\0';
	if (mysql_query(m, sql) != 0) {
		printf("# %s: %s\n", sql, mysql_error(m));
		return buf;
	}
	res = mysql_store_result(m);
	if (res && (row = mysql_fetch_row(res)) && row[0])
		snprintf(buf, len, "%s", row[0]);
	mysql_free_result(res);
	return buf;
}

static void test_change_user(void)
{
	MYSQL *m = open_conn(0, NULL, 0);
	char buf[256];
	unsigned err;
	int rc;

	ok(m != NULL, "connect as %s", user);
	if (!m)
		return;
	ok(strncmp(scalar(m, "SELECT CURRENT_USER()", buf, sizeof(buf)), user, strlen(user)) == 0,
	   "CURRENT_USER() is %s before COM_CHANGE_USER (got %s)", user, buf);
	ok(mysql_change_user(m, user2, pass2, db) == 0, "COM_CHANGE_USER to %s: %s", user2,
	   mysql_error(m));
	ok(strncmp(scalar(m, "SELECT CURRENT_USER()", buf, sizeof(buf)), user2, strlen(user2)) == 0,
	   "CURRENT_USER() is %s after COM_CHANGE_USER (got %s)", user2, buf);
	rc = mysql_change_user(m, user2, "wrong-password", db);
	err = mysql_errno(m);
	ok(rc != 0 && err == 1045,
	   "COM_CHANGE_USER with a wrong password is refused with 1045 "
	   "(got %u)",
	   err);
	mysql_close(m);
}

static void test_prepared(void)
{
	MYSQL *m = open_conn(0, NULL, 0);
	MYSQL_STMT *st;
	MYSQL_BIND pb[2], rb[2];
	int id = 0, got_id = 0, rows = 0, sum = 0;
	char data[64] = "", got[64];
	unsigned long got_len = 0;
	unsigned long cursor = CURSOR_TYPE_READ_ONLY, prefetch = 2;
	char buf[64];

	if (!m) {
		ok(0, "connect for prepared statements");
		return;
	}
	mysql_query(m, "DROP TABLE IF EXISTS ps_t");
	ok(mysql_query(m, "CREATE TABLE ps_t (id INT PRIMARY KEY, v MEDIUMBLOB)") == 0,
	   "create table: %s", mysql_error(m));
	st = mysql_stmt_init(m);
	ok(mysql_stmt_prepare(st, "INSERT INTO ps_t VALUES (?, ?)", 30) == 0,
	   "COM_STMT_PREPARE insert: %s", mysql_stmt_error(st));
	memset(pb, 0, sizeof(pb));
	pb[0].buffer_type = MYSQL_TYPE_LONG;
	pb[0].buffer = &id;
	pb[1].buffer_type = MYSQL_TYPE_STRING;
	pb[1].buffer = data;
	mysql_stmt_bind_param(st, pb);
	for (id = 1; id <= 10; id++) {
		/* row 7's text travels with COM_STMT_SEND_LONG_DATA */
		if (id == 7) {
			mysql_stmt_send_long_data(st, 1, "long-", 5);
			mysql_stmt_send_long_data(st, 1, "data", 4);
		} else {
			snprintf(data, sizeof(data), "v%d", id);
			pb[1].buffer_length = strlen(data);
		}
		if (mysql_stmt_execute(st) != 0)
			break;
	}
	ok(id == 11, "10 COM_STMT_EXECUTE inserts: %s", mysql_stmt_error(st));
	{
		/* a NULL parameter, then a 100 kB blob parameter */
		my_bool is_null = 1;
		static char blob[100 * 1024];
		int rc1, rc2;

		memset(blob, 'b', sizeof(blob));
		id = 11;
		pb[1].buffer_type = MYSQL_TYPE_STRING;
		pb[1].is_null = &is_null;
		mysql_stmt_bind_param(st, pb);
		rc1 = mysql_stmt_execute(st);
		id = 12;
		is_null = 0;
		pb[1].buffer_type = MYSQL_TYPE_BLOB;
		pb[1].buffer = blob;
		pb[1].buffer_length = sizeof(blob);
		mysql_stmt_bind_param(st, pb);
		rc2 = mysql_stmt_execute(st);
		ok(rc1 == 0 && rc2 == 0,
		   "COM_STMT_EXECUTE with a NULL and a 100 kB blob parameter: %s",
		   mysql_stmt_error(st));
	}
	mysql_stmt_close(st);
	ok(strcmp(
	       scalar(m,
	              "SELECT CONCAT(v IS NULL, ':', (SELECT LENGTH(v) FROM ps_t WHERE id = 12)) "
	              "FROM ps_t WHERE id = 11",
	              buf, sizeof(buf)),
	       "1:102400") == 0,
	   "the NULL arrived as NULL and the blob whole (got '%s')", buf);
	ok(strcmp(scalar(m, "SELECT v FROM ps_t WHERE id = 7", buf, sizeof(buf)), "long-data") == 0,
	   "COM_STMT_SEND_LONG_DATA arrived whole (got '%s')", buf);

	st = mysql_stmt_init(m);
	mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &cursor);
	mysql_stmt_attr_set(st, STMT_ATTR_PREFETCH_ROWS, &prefetch);
	ok(mysql_stmt_prepare(st, "SELECT id, v FROM ps_t ORDER BY id", 34) == 0,
	   "COM_STMT_PREPARE select: %s", mysql_stmt_error(st));
	ok(mysql_stmt_execute(st) == 0, "execute with a cursor: %s", mysql_stmt_error(st));
	memset(rb, 0, sizeof(rb));
	rb[0].buffer_type = MYSQL_TYPE_LONG;
	rb[0].buffer = &got_id;
	rb[1].buffer_type = MYSQL_TYPE_STRING;
	rb[1].buffer = got;
	rb[1].buffer_length = sizeof(got);
	rb[1].length = &got_len;
	mysql_stmt_bind_result(st, rb);
	for (;;) {
		int f = mysql_stmt_fetch(st);

		if (f != 0 && f != MYSQL_DATA_TRUNCATED) /* the blob does not fit got[] */
			break;
		rows++;
		sum += got_id;
	}
	ok(rows == 12 && sum == 78, "COM_STMT_FETCH through a cursor: %d rows, id sum %d", rows,
	   sum);
	mysql_stmt_close(st);
	mysql_query(m, "DROP TABLE ps_t");
	mysql_close(m);
}

static void test_compress(void)
{
	MYSQL *m = open_conn(0, NULL, 1);
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned long *len;
	int good = 0;

	ok(m != NULL, "connect with MYSQL_OPT_COMPRESS");
	if (!m)
		return;
	if (mysql_query(m, "SELECT REPEAT('sluice', 200000), 1 + 1") == 0 &&
	    (res = mysql_use_result(m)) != NULL) {
		row = mysql_fetch_row(res);
		len = mysql_fetch_lengths(res);
		good = row && len[0] == 1200000 && strcmp(row[1], "2") == 0;
		mysql_free_result(res);
	}
	ok(good, "a 1.2 MB value through the compressed protocol: %s", mysql_error(m));
	mysql_close(m);
}

static void test_sha2_client(void)
{
	MYSQL *m = open_conn(0, "caching_sha2_password", 0);
	char buf[64];

	ok(m != NULL, "a client offering caching_sha2_password first gets in (AuthSwitch)");
	if (m) {
		ok(strcmp(scalar(m, "SELECT 6 * 7", buf, sizeof(buf)), "42") == 0, "and can query");
		mysql_close(m);
	}
}

static void test_tls_refused(void)
{
	MYSQL *m = mysql_init(NULL);
	my_bool enforce = 1;
	unsigned timeout = 5;

	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &enforce);
	ok(mysql_real_connect(m, host, user, pass, db, port, NULL, 0) == NULL,
	   "a client that insists on TLS is refused, not hung: %u %s", mysql_errno(m),
	   mysql_error(m));
	mysql_close(m);
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: libclient HOST PORT USER PASS USER2 PASS2 DB\n");
		return 2;
	}
	host = argv[1];
	port = (unsigned)atoi(argv[2]);
	user = argv[3];
	pass = argv[4];
	user2 = argv[5];
	pass2 = argv[6];
	db = argv[7];
	test_change_user();
	test_prepared();
	test_compress();
	test_sha2_client();
	test_tls_refused();
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
