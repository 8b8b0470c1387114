/*
 * sqlscan.h - a one-pass look at a COM_QUERY's text for what the backend cannot tell us:
 * statements that create session state sluice cannot replay (user variables, locks,
 * FOUND_ROWS, ...) and so must pin the client to its backend connection. Pure; skips
 * string literals, quoted identifiers and comments, so 'a@b.com' pins nothing.
 */
#ifndef SLUICE_SQLSCAN_H
#define SLUICE_SQLSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SQL_USER_VAR       0x01u  /* @name (not @@): user variables live on the server */
#define SQL_LOCK           0x02u  /* LOCK TABLES, GET_LOCK(), FLUSH ... WITH READ LOCK */
#define SQL_FOUND_ROWS     0x04u  /* SQL_CALC_FOUND_ROWS / FOUND_ROWS() */
#define SQL_TEMPORARY      0x08u  /* CREATE TEMPORARY TABLE */
#define SQL_PREPARE        0x10u  /* PREPARE / EXECUTE / DEALLOCATE (SQL level) */
#define SQL_XA             0x20u  /* XA START ... : the transaction must stay */
#define SQL_LAST_INSERT_ID 0x40u  /* LAST_INSERT_ID() */
#define SQL_HANDLER        0x80u  /* HANDLER ... OPEN */
#define SQL_CONNECTION_ID  0x100u /* CONNECTION_ID(): answered or mapped by sluice */
#define SQL_KILL           0x200u /* KILL: client ids are sluice's, not the backend's */
#define SQL_NOT_SET_USE                                                                            \
	0x400u /* a statement that is neither SET nor USE: a state change                          \
	        * it reports may hide what no variable explains (a                                 \
	        * procedure that sets a user variable, say) */

#define SQL_TRANS                                                                                  \
	0x800u /* BEGIN / START TRANSACTION: the statement opens a transaction,                    \
	        * which holds the connection (pins.h) */

#define SQL_LID_SET                                                                                \
	0x1000u /* LAST_INSERT_ID(expr): the statement may set the value                           \
	         * LAST_INSERT_ID() returns */
#define SQL_UVAR_WRITE                                                                             \
	0x2000u /* may assign a user variable: a SET statement, ':=' or INTO                       \
	         * next to an @name */
#define SQL_UVAR_PIN                                                                               \
	0x4000u /* a user variable sluice cannot capture and replay (a quoted                      \
	         * or odd name, too many names): the session pins */

#define SQL_ROW_COUNT 0x8000u /* ROW_COUNT(): the session's, rewritten (sql_subst) */
#define SQL_UVAR_LIST                                                                              \
	0x10000u /* information_schema.USER_VARIABLES: lists the connection's user                 \
	          * variables, names of other sessions' included */
#define SQL_PROCESSLIST                                                                            \
	0x20000u /* the processlist (SHOW PROCESSLIST, information_schema): its ids                \
	          * are the backend's */
#define SQL_DIAG                                                                                   \
	0x40000u /* reads the diagnostics area: SHOW WARNINGS / ERRORS, @@warning_count,           \
	          * @@error_count, GET DIAGNOSTICS */
#define SQL_TABLES                                                                                 \
	0x80000u /* a word of a statement that may use a table (FROM, INTO, UPDATE,                \
	          * SHOW, CALL, ...): without one, MariaDB keeps the diagnostics area              \
	          * of the statement before */

/* User variables are captured and replayed (uvars.h) and LAST_INSERT_ID() carried from
 * connection to connection (issue 12): neither pins any more. */
#define SQL_PINS                                                                                   \
	(SQL_UVAR_PIN | SQL_LOCK | SQL_FOUND_ROWS | SQL_TEMPORARY | SQL_PREPARE | SQL_XA |         \
	 SQL_HANDLER)

#define SQL_UVARS_MAX     16 /* distinct user variables one statement may name */
#define SQL_UVAR_NAME_MAX 64

/* The user variables a statement names, lower-cased (MariaDB's are case-insensitive). */
struct sql_uvars {
	uint32_t n;
	char name[SQL_UVARS_MAX][SQL_UVAR_NAME_MAX + 1];
};

/* Flags for the statement(s) in q[0..n). */
unsigned sql_scan(const uint8_t *q, size_t n);
/* The same, and the user variables named, into *vars (emptied first): a name that is not
 * [A-Za-z0-9_]{1,64}, or more than SQL_UVARS_MAX names, sets SQL_UVAR_PIN. no_backslash:
 * the session has NO_BACKSLASH_ESCAPES, where a backslash in a string is a plain
 * character ('C:\' ends there). */
unsigned sql_scan_vars(const uint8_t *q, size_t n, bool no_backslash, struct sql_uvars *vars);
/*
 * Functions whose value is the session's, not the backend connection's (issue 12), written
 * in place as the session's value: CONNECTION_ID() anywhere, as the session's id;
 * ROW_COUNT() in the packet's first statement (a later one follows a statement of the
 * same packet, on the same connection), as what the session's previous statement left.
 * Each call outside literals, comments and quoted identifiers becomes a decimal literal
 * padded with leading zeros to the call's own length ("CONNECTION_ID()" ->
 * "000000000000129", "ROW_COUNT()" -> "-0000000001"), so that the column MariaDB names
 * after the text as written can be named back (sql_subst_unname). Not in a statement
 * that begins with CREATE or ALTER, nor after one in the packet: a definition (view,
 * routine, trigger, event, CREATE TABLE ... SELECT) must keep the function, not a
 * constant.
 */
enum sql_fn {
	SQL_FN_NONE = 0,
	SQL_FN_CONNECTION_ID,
	SQL_FN_ROW_COUNT,
};
struct sql_subst_how {
	bool connid; /* CONNECTION_ID() -> id */
	uint32_t id;
	bool row_count; /* ROW_COUNT() -> rows */
	int64_t rows;
	bool no_backslash; /* the session has NO_BACKSLASH_ESCAPES: a backslash in a string is
	                    * a plain character */
};
#define SQL_CONNID_TEXT_MAX 48
/* One call rewritten: kept only when no longer than SQL_CONNID_TEXT_MAX. */
struct sql_sub {
	uint8_t len;                    /* the call's length, and its literal's */
	uint8_t fn;                     /* enum sql_fn */
	char text[SQL_CONNID_TEXT_MAX]; /* the call as the client wrote it */
	char lit[SQL_CONNID_TEXT_MAX];  /* the literal written over it */
};
/* Returns the number of calls rewritten; the first max of them are described in subs. */
size_t sql_subst(uint8_t *q, size_t n, const struct sql_subst_how *how, struct sql_sub *subs,
                 size_t max);
/* A column name (or org_name) name[0..n) of a statement rewritten by sql_subst(): each
 * literal it put there becomes the text the client wrote again, in place. Returns the
 * function when name was exactly one such literal (the column is the call itself: its
 * type is the function's), else SQL_FN_NONE. */
enum sql_fn sql_subst_unname(uint8_t *name, size_t n, const struct sql_sub *subs, size_t nsubs);

/* Is q[0..n) only USE <db> [;]? The name (unquoted) goes to out. */
bool sql_parse_use(const uint8_t *q, size_t n, char *out, size_t outlen);

/*
 * May the statement read the Compression status variable? SHOW [GLOBAL | SESSION | LOCAL]
 * STATUS in any form, or a query that names information_schema's SESSION_STATUS or
 * GLOBAL_STATUS as words of their own. Its answer is about the backend's connection,
 * which is never compressed; a compressed client must hear about its own (issue 12):
 * server.c turns a row (Compression, OFF) into ON.
 */
bool sql_reads_status(const uint8_t *q, size_t n);

/* Is q[0..n) exactly KILL [QUERY | CONNECTION] <number> [;]? */
bool sql_kill_parse(const uint8_t *q, size_t n, bool *query_only, uint32_t *id);

#endif
