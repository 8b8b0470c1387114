/*
 * extmeta.c - what a MariaDB client that asks for extended column metadata
 * (MARIADB_CLIENT_EXTENDED_METADATA, which libmariadb asks for by itself) learns about
 * columns: every column's definition with its extended type name and format
 * (mariadb_field_attr), from a text query, a prepared statement's metadata, its
 * execute's rows, and COM_FIELD_LIST. extended_metadata.t runs it against MariaDB
 * directly and through sluice: the two outputs must be the same (issue 12, symptom 9).
 *
 * Usage: extmeta HOST PORT USER PASSWORD DB TABLE
 * Prints one line per column and value; exits 1 when a call failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

static int failed;

static void print_field(const char *what, const MYSQL_FIELD *f)
{
	MARIADB_CONST_STRING tname = { NULL, 0 }, fmt = { NULL, 0 };

	mariadb_field_attr(&tname, f, MARIADB_FIELD_ATTR_DATA_TYPE_NAME);
	mariadb_field_attr(&fmt, f, MARIADB_FIELD_ATTR_FORMAT_NAME);
	printf("%s: %s.%s.%s (%s.%s) type %d charset %u length %lu flags 0x%x decimals %u "
	       "type_name '%.*s' format '%.*s'\n",
	       what, f->db, f->table, f->name, f->org_table, f->org_name, (int)f->type,
	       f->charsetnr, f->length, f->flags, f->decimals, (int)tname.length,
	       tname.str ? tname.str : "", (int)fmt.length, fmt.str ? fmt.str : "");
}

static void fail(const char *what, const char *err)
{
	printf("FAILED %s: %s\n", what, err);
	failed = 1;
}

int main(int argc, char **argv)
{
	MYSQL *m;
	MYSQL_RES *res;
	MYSQL_ROW row;
	MYSQL_STMT *st;
	MYSQL_BIND rb[3];
	char sql[256], v[3][128];
	unsigned long vlen[3];
	my_bool isnull[3];
	unsigned timeout = 10;
	unsigned i, n;

	if (argc != 7) {
		fprintf(stderr, "usage: extmeta HOST PORT USER PASSWORD DB TABLE\n");
		return 2;
	}
	m = mysql_init(NULL);
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	if (!mysql_real_connect(m, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
	                        NULL, 0)) {
		fail("connect", mysql_error(m));
		return 1;
	}
	snprintf(sql, sizeof(sql), "SELECT j, i, u FROM %s ORDER BY i", argv[6]);

	/* The text protocol. */
	if (mysql_query(m, sql) != 0 || !(res = mysql_store_result(m))) {
		fail("query", mysql_error(m));
	} else {
		n = mysql_num_fields(res);
		for (i = 0; i < n; i++)
			print_field("query", mysql_fetch_field_direct(res, i));
		while ((row = mysql_fetch_row(res)))
			printf("query row: %s | %s | %s\n", row[0], row[1], row[2]);
		mysql_free_result(res);
	}

	/* A prepared statement: the prepare's column definitions, then its execute's. */
	st = mysql_stmt_init(m);
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
		fail("prepare", mysql_stmt_error(st));
	} else if (!(res = mysql_stmt_result_metadata(st))) {
		fail("metadata", mysql_stmt_error(st));
	} else {
		n = mysql_num_fields(res);
		for (i = 0; i < n; i++)
			print_field("prepare", mysql_fetch_field_direct(res, i));
		mysql_free_result(res);
		memset(rb, 0, sizeof(rb));
		for (i = 0; i < 3; i++) {
			rb[i].buffer_type = MYSQL_TYPE_STRING;
			rb[i].buffer = v[i];
			rb[i].buffer_length = sizeof(v[i]) - 1;
			rb[i].length = &vlen[i];
			rb[i].is_null = &isnull[i];
		}
		if (mysql_stmt_execute(st) != 0 || mysql_stmt_bind_result(st, rb) != 0) {
			fail("execute", mysql_stmt_error(st));
		} else {
			/* The execute's own column definitions replace the prepare's. */
			res = mysql_stmt_result_metadata(st);
			for (i = 0; res && i < mysql_num_fields(res); i++)
				print_field("execute", mysql_fetch_field_direct(res, i));
			mysql_free_result(res);
			while (mysql_stmt_fetch(st) == 0) {
				for (i = 0; i < 3; i++)
					v[i][isnull[i] ? 0 : vlen[i]] = '\0';
				printf("execute row: %s | %s | %s\n", v[0], v[1], v[2]);
			}
		}
	}
	mysql_stmt_close(st);

	/* COM_FIELD_LIST. */
	if (!(res = mysql_list_fields(m, argv[6], NULL))) {
		fail("list_fields", mysql_error(m));
	} else {
		n = mysql_num_fields(res);
		for (i = 0; i < n; i++)
			print_field("field_list", mysql_fetch_field_direct(res, i));
		mysql_free_result(res);
	}

	/* The session goes on in step. */
	if (mysql_query(m, "SELECT 'still in step'") != 0 || !(res = mysql_store_result(m))) {
		fail("last query", mysql_error(m));
	} else {
		row = mysql_fetch_row(res);
		printf("last: %s\n", row ? row[0] : "(no row)");
		mysql_free_result(res);
	}
	mysql_close(m);
	return failed;
}
