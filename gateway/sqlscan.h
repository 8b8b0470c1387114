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
 * [A-Za-z0-9_]{1,64}, or more than SQL_UVARS_MAX names, sets SQL_UVAR_PIN. */
unsigned sql_scan_vars(const uint8_t *q, size_t n, struct sql_uvars *vars);
/*
 * CONNECTION_ID() as the session's id (issue 12): each call in q[0..n) outside literals,
 * comments and quoted identifiers is overwritten in place by the decimal id, padded with
 * leading zeros to the call's own length ("CONNECTION_ID()" -> "000000000000129"), so
 * that the column MariaDB names after the text as written can be named back
 * (sql_connid_unname). Not in a statement that begins with CREATE or ALTER: a
 * definition (view, routine, trigger, event, CREATE TABLE ... SELECT) must keep the
 * function, not a constant. no_backslash: the session has NO_BACKSLASH_ESCAPES, where
 * a backslash in a string is a plain character. Returns the number of calls rewritten;
 * the first max of them are described in subs.
 */
#define SQL_CONNID_TEXT_MAX 48
struct sql_connid_sub {
	uint8_t len;                    /* the call's length, and its literal's */
	char text[SQL_CONNID_TEXT_MAX]; /* the call as the client wrote it */
};
size_t sql_connid_rewrite(uint8_t *q, size_t n, uint32_t id, bool no_backslash,
                          struct sql_connid_sub *subs, size_t max);
/* A column name (or org_name) name[0..n) of a statement rewritten by
 * sql_connid_rewrite: each literal it put there becomes the text the client wrote again,
 * in place. Returns true if name was exactly one such literal (the column is the call
 * itself: its type is CONNECTION_ID()'s). */
bool sql_connid_unname(uint8_t *name, size_t n, uint32_t id, const struct sql_connid_sub *subs,
                       size_t nsubs);

/* Is q[0..n) exactly KILL [QUERY | CONNECTION] <number> [;]? */
bool sql_kill_parse(const uint8_t *q, size_t n, bool *query_only, uint32_t *id);

#endif
