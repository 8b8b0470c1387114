/*
 * stmt.h - server-side prepared statements through a pool. Pure: no sockets, no locks.
 *
 * A client's statements (struct gw_stmts) carry the ids sluice gave it, the SQL text, the
 * schema, session variables and character set they were prepared under, and the
 * parameter types its last execute sent. A backend connection's statements (struct
 * gw_sstmts) map those to that backend's own statement id. An execute runs on whichever
 * connection the scheduler picks: where the statement is not prepared yet, sluice
 * prepares it first, and the execute goes out with the backend's id and, when the
 * client left them out, the parameter types (docs/pooling.md, "Prepared statements").
 */
#ifndef SLUICE_STMT_H
#define SLUICE_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_STMTS_MAX    16382 /* a client's open statements (MySQL's max_prepared_stmt_count) */
#define GW_SSTMTS_MAX   64    /* kept on one backend connection; the least used one goes */
#define GW_STMT_ID_LAST 0xffffffffu /* "the statement prepared last" (MariaDB 10.2+) */

/* What a statement is prepared under, besides its text. */
struct gw_stmt_ctx {
	const char *db;
	uint64_t vars_hash; /* gw_vars.hash of the session variables */
	uint8_t charset;
};

struct gw_stmt {
	uint32_t id;      /* the id the client knows */
	uint16_t nparams; /* from the backend's answer to the prepare */
	uint16_t ncols;
	uint64_t key;       /* gw_stmt_key() */
	uint64_t vars_hash; /* what it was prepared under (struct gw_stmt_ctx) */
	uint8_t charset;
	unsigned sql_flags; /* sql_scan() of its text (SQL_PINS, SQL_TRANS): executing it pins
	                     * and holds as the query would */
	bool reads_status;  /* its text may read the Compression status variable: a compressed
	                     * client's execute hears ON (issue 12) */
	uint64_t owner;     /* 0: shares the backend statement of its text with every client;
	                     * else (a cursor, long data: state of its own) a backend
	                     * statement of its own (gw_stmt_make_private) */
	char *db;           /* owned, NUL-terminated: the schema it was prepared in */
	char *sql;          /* sql_len bytes, in db's allocation */
	uint32_t sql_len;
	uint8_t *types; /* owned: 2 * nparams bytes, from the last execute that sent
	                 * them; NULL until one did */
};

/* A client's statements, sorted by id (ids only grow, so adding appends). */
struct gw_stmts {
	struct gw_stmt *v; /* owned */
	uint32_t n, cap;
	uint32_t next_id; /* the next id to give out, from 1 */
	uint32_t last_id; /* the last statement prepared, 0 after a failed prepare */
};

void gw_stmts_free(struct gw_stmts *t);
/* Forget every statement (COM_RESET_CONNECTION, COM_CHANGE_USER); ids go on growing. */
void gw_stmts_clear(struct gw_stmts *t);
/* The statement with this id (GW_STMT_ID_LAST: the last prepared), or NULL. Pointers into
 * the table are good until the next gw_stmts_add or _remove. */
struct gw_stmt *gw_stmts_find(struct gw_stmts *t, uint32_t id);
/* A new statement, sql prepared under ctx: NULL when out of memory or at GW_STMTS_MAX. */
struct gw_stmt *gw_stmts_add(struct gw_stmts *t, const struct gw_stmt_ctx *ctx, const char *sql,
                             uint32_t sql_len, uint16_t nparams, uint16_t ncols);
/* COM_STMT_CLOSE: false when there is no such statement. */
bool gw_stmts_remove(struct gw_stmts *t, uint32_t id);
/* Keep the 2 * nparams bytes of types an execute sent; false when out of memory. */
bool gw_stmt_set_types(struct gw_stmt *st, const uint8_t *types);
/* From now on st needs a backend statement of its own, tagged with its client's id
 * (unique for the gateway's life). */
void gw_stmt_make_private(struct gw_stmt *st, uint64_t client_id);

/* 64-bit FNV-1a of (ctx, sql). */
uint64_t gw_stmt_key(const struct gw_stmt_ctx *ctx, const char *sql, uint32_t sql_len);

/* One statement prepared on a backend connection. */
struct gw_sstmt {
	uint64_t key;
	uint64_t vars_hash;
	uint8_t charset;
	uint64_t owner;
	char *db; /* owned, with the sql after it in the same allocation */
	char *sql;
	uint32_t sql_len;
	uint32_t backend_id;
	uint64_t used; /* tick of its last use */
};

/* A backend connection's statements. Statements evicted or replaced are queued in
 * closing, to go out as COM_STMT_CLOSE (which has no answer) with the next write. */
struct gw_sstmts {
	struct gw_sstmt *v; /* owned, GW_SSTMTS_MAX slots once the first one is added */
	uint32_t n;
	uint64_t tick;
	uint32_t closing[GW_SSTMTS_MAX];
	uint32_t nclosing;
};

void gw_sstmts_free(struct gw_sstmts *t);
/* The session ended (COM_CHANGE_USER, COM_RESET_CONNECTION, a new connection): the
 * backend forgot them all, and nothing is left to close. */
void gw_sstmts_clear(struct gw_sstmts *t);
/* The backend id of st on this connection (and mark it used), or 0 (MariaDB's and
 * MySQL's statement ids start at 1). */
uint32_t gw_sstmts_find(struct gw_sstmts *t, const struct gw_stmt *st);
/* Record st -> backend_id. A full table closes its least recently used entry; an entry
 * for the same statement is replaced and its old id closed. false when out of memory
 * (backend_id is then queued for closing). */
bool gw_sstmts_add(struct gw_sstmts *t, const struct gw_stmt *st, uint32_t backend_id);
/* Queue a backend id for COM_STMT_CLOSE (dropped when the queue is full: the statement
 * then lives until the connection's session ends). */
void gw_sstmts_close_later(struct gw_sstmts *t, uint32_t backend_id);

#endif
