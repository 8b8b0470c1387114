/*
 * stmt.c - the prepared-statement maps of clients and backend connections (stmt.h).
 *
 * Owns: statement ids as clients see them, and which backend id serves each on a
 * connection. Must not touch: sockets, the scheduler lock, packets (client.c and
 * server.c build and parse those).
 */
#include <stdlib.h>
#include <string.h>

#include "proto/stmt.h"

uint64_t gw_stmt_key(const struct gw_stmt_ctx *ctx, const char *sql, uint32_t sql_len)
{
	uint64_t h = 14695981039346656037ull;

	for (const char *p = ctx->db; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ 0xffu) * 1099511628211ull; /* no byte of a schema name: the separator */
	for (uint32_t i = 0; i < sql_len; i++)
		h = (h ^ (uint8_t)sql[i]) * 1099511628211ull;
	h = (h ^ ctx->charset) * 1099511628211ull;
	return h ^ ctx->vars_hash * 0x9e3779b97f4a7c15ull;
}

/* db and sql in one allocation: "db\0sql". */
static char *dup_key(const char *db, const char *sql, uint32_t sql_len, char **sql_out)
{
	size_t dlen = strlen(db);
	char *m = malloc(dlen + 1 + (size_t)sql_len + 1);

	if (!m)
		return NULL;
	memcpy(m, db, dlen + 1);
	memcpy(m + dlen + 1, sql, sql_len);
	m[dlen + 1 + sql_len] = '\0';
	*sql_out = m + dlen + 1;
	return m;
}

/* ---- a client's statements ---- */

static void stmt_release(struct gw_stmt *st)
{
	free(st->db);
	free(st->types);
}

void gw_stmts_clear(struct gw_stmts *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		stmt_release(&t->v[i]);
	t->n = 0;
	t->last_id = 0;
}

void gw_stmts_free(struct gw_stmts *t)
{
	gw_stmts_clear(t);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static uint32_t stmts_index(const struct gw_stmts *t, uint32_t id)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct gw_stmt *gw_stmts_find(struct gw_stmts *t, uint32_t id)
{
	uint32_t i;

	if (id == GW_STMT_ID_LAST)
		id = t->last_id;
	if (id == 0)
		return NULL;
	i = stmts_index(t, id);
	return i < t->n && t->v[i].id == id ? &t->v[i] : NULL;
}

struct gw_stmt *gw_stmts_add(struct gw_stmts *t, const struct gw_stmt_ctx *ctx, const char *sql,
                             uint32_t sql_len, uint16_t nparams, uint16_t ncols)
{
	struct gw_stmt *st;

	t->last_id = 0;
	if (t->n >= GW_STMTS_MAX || t->next_id >= GW_STMT_ID_LAST - 1)
		return NULL;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 8;
		struct gw_stmt *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	st = &t->v[t->n];
	memset(st, 0, sizeof(*st));
	st->db = dup_key(ctx->db, sql, sql_len, &st->sql);
	if (!st->db)
		return NULL;
	st->sql_len = sql_len;
	st->key = gw_stmt_key(ctx, sql, sql_len);
	st->vars_hash = ctx->vars_hash;
	st->charset = ctx->charset;
	st->nparams = nparams;
	st->ncols = ncols;
	st->id = ++t->next_id;
	t->last_id = st->id;
	t->n++;
	return st;
}

bool gw_stmts_remove(struct gw_stmts *t, uint32_t id)
{
	struct gw_stmt *st = gw_stmts_find(t, id);
	uint32_t i;

	if (!st)
		return false;
	i = (uint32_t)(st - t->v);
	if (st->id == t->last_id)
		t->last_id = 0;
	stmt_release(st);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*st));
	t->n--;
	return true;
}

void gw_stmt_make_private(struct gw_stmt *st, uint64_t client_id)
{
	st->owner = client_id ? client_id : 1;
}

bool gw_stmt_set_types(struct gw_stmt *st, const uint8_t *types)
{
	size_t n = 2u * st->nparams;

	if (n == 0)
		return true;
	if (!st->types) {
		st->types = malloc(n);
		if (!st->types)
			return false;
	}
	memcpy(st->types, types, n);
	return true;
}

/* ---- a backend connection's statements ---- */

void gw_sstmts_close_later(struct gw_sstmts *t, uint32_t backend_id)
{
	/* Full: the statement stays on the backend until the connection's session ends
	 * (at most GW_SSTMTS_MAX more per connection). */
	if (t->nclosing < GW_SSTMTS_MAX)
		t->closing[t->nclosing++] = backend_id;
}

void gw_sstmts_clear(struct gw_sstmts *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->v[i].db);
	t->n = 0;
	t->nclosing = 0;
}

void gw_sstmts_free(struct gw_sstmts *t)
{
	gw_sstmts_clear(t);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static struct gw_sstmt *sstmts_lookup(struct gw_sstmts *t, const struct gw_stmt *st)
{
	for (uint32_t i = 0; i < t->n; i++) {
		struct gw_sstmt *e = &t->v[i];

		if (e->key == st->key && e->owner == st->owner && e->sql_len == st->sql_len &&
		    e->vars_hash == st->vars_hash && e->charset == st->charset &&
		    strcmp(e->db, st->db) == 0 && memcmp(e->sql, st->sql, st->sql_len) == 0)
			return e;
	}
	return NULL;
}

uint32_t gw_sstmts_find(struct gw_sstmts *t, const struct gw_stmt *st)
{
	struct gw_sstmt *e = sstmts_lookup(t, st);

	if (!e)
		return 0;
	e->used = ++t->tick;
	return e->backend_id;
}

bool gw_sstmts_add(struct gw_sstmts *t, const struct gw_stmt *st, uint32_t backend_id)
{
	struct gw_sstmt *e = sstmts_lookup(t, st);
	char *m, *msql;

	if (e) {
		/* Prepared twice here (two clients prepared the same text): keep the new. */
		gw_sstmts_close_later(t, e->backend_id);
		e->backend_id = backend_id;
		e->used = ++t->tick;
		return true;
	}
	if (!t->v) {
		t->v = calloc(GW_SSTMTS_MAX, sizeof(*t->v));
		if (!t->v) {
			gw_sstmts_close_later(t, backend_id);
			return false;
		}
	}
	m = dup_key(st->db, st->sql, st->sql_len, &msql);
	if (!m) {
		gw_sstmts_close_later(t, backend_id);
		return false;
	}
	if (t->n == GW_SSTMTS_MAX) {
		uint32_t lru = 0;

		for (uint32_t i = 1; i < t->n; i++) {
			if (t->v[i].used < t->v[lru].used)
				lru = i;
		}
		gw_sstmts_close_later(t, t->v[lru].backend_id);
		free(t->v[lru].db);
		t->v[lru] = t->v[--t->n];
	}
	e = &t->v[t->n++];
	e->key = st->key;
	e->vars_hash = st->vars_hash;
	e->charset = st->charset;
	e->owner = st->owner;
	e->db = m;
	e->sql = msql;
	e->sql_len = st->sql_len;
	e->backend_id = backend_id;
	e->used = ++t->tick;
	return true;
}
