/*
 * changeuser.c - COM_CHANGE_USER naming a schema, through libmariadb (login_schema.t,
 * issue 12): what mysql_change_user() answers, and what the session is afterwards (its
 * schema, its user, a user variable set before). MariaDB refuses a schema that does not
 * exist or that the user may not use, and keeps the session of the user before, with its
 * schema; login_schema.t runs this against MariaDB directly and through sluice and
 * compares.
 *
 * Usage: changeuser HOST PORT USER PASSWORD DB0 USER2 PASSWORD2 DB2
 * Logs in as USER into DB0, changes to USER2 into DB2; prints what it saw.
 */
#include <stdio.h>
#include <stdlib.h>

#include <mysql.h>

static void show(MYSQL *m, const char *sql)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(m, sql) != 0 || !(res = mysql_store_result(m))) {
		printf("%s: error %u %s\n", sql, mysql_errno(m), mysql_error(m));
		return;
	}
	row = mysql_fetch_row(res);
	printf("%s: %s\n", sql, row && row[0] ? row[0] : "NULL");
	mysql_free_result(res);
}

int main(int argc, char **argv)
{
	MYSQL *m;
	unsigned timeout = 10;

	if (argc != 9) {
		fprintf(stderr, "usage: changeuser HOST PORT USER PASS DB0 USER2 PASS2 DB2\n");
		return 2;
	}
	m = mysql_init(NULL);
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	if (!mysql_real_connect(m, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
	                        NULL, 0)) {
		printf("connect: error %u %s\n", mysql_errno(m), mysql_error(m));
		return 1;
	}
	show(m, "SELECT @x := 5");
	if (mysql_change_user(m, argv[6], argv[7], argv[8]) != 0)
		printf("change_user: error %u %s\n", mysql_errno(m), mysql_error(m));
	else
		printf("change_user: ok\n");
	show(m, "SELECT DATABASE()");
	show(m, "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)");
	show(m, "SELECT @x");
	mysql_close(m);
	return 0;
}
