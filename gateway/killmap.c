/*
 * killmap.c - CONNECTION_ID() and KILL through a pool.
 *
 * A client sees its sluice connection id (the id in its greeting, and what
 * SELECT CONNECTION_ID() answers), never a backend thread id, which changes from one
 * statement to the next. KILL [QUERY|CONNECTION] <id> is taken by sluice:
 *  - the id must be a client of the same account (else ERR 1095, like MySQL);
 *  - if that client's statement is running on a backend connection, the connection is
 *    marked kill_hold under the scheduler lock and the requester's statement becomes
 *    KILL QUERY <backend thread id>, run on another connection of the same account.
 *    A held connection is closed, never reused, when its statement ends: so the KILL can
 *    only ever stop that statement, never someone else's that came later;
 *  - KILL CONNECTION also ends the target's session (through its worker's inbox).
 * The registry maps ids to (account, worker) under its own mutex; it never holds a
 * pointer that is dereferenced across threads.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gateway/killmap.h"
#include "proto/log.h"

#define REG_BUCKETS 65536u

struct reg_entry {
	uint32_t id;
	const void *key;            /* the client's address: compared, never dereferenced */
	struct gw_account *account; /* accounts live forever */
	struct gw_worker *worker;
	struct reg_entry *next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg_entry *reg[REG_BUCKETS];

void gw_killmap_add(struct gw_client *c)
{
	struct reg_entry *e = calloc(1, sizeof(*e));
	uint32_t id = (uint32_t)c->id;

	if (!e)
		return; /* only KILL of this client will say "unknown thread" */
	e->id = id;
	e->key = c;
	e->worker = c->worker;
	pthread_mutex_lock(&reg_lock);
	e->next = reg[id % REG_BUCKETS];
	reg[id % REG_BUCKETS] = e;
	pthread_mutex_unlock(&reg_lock);
}

/* The client logged in (or changed user): KILL checks its account from now on. */
void gw_killmap_set_account(struct gw_client *c)
{
	uint32_t id = (uint32_t)c->id;

	pthread_mutex_lock(&reg_lock);
	for (struct reg_entry *e = reg[id % REG_BUCKETS]; e; e = e->next) {
		if (e->key == c)
			e->account = c->account;
	}
	pthread_mutex_unlock(&reg_lock);
}

void gw_killmap_remove(struct gw_client *c)
{
	uint32_t id = (uint32_t)c->id;
	struct reg_entry **pp, *e;

	pthread_mutex_lock(&reg_lock);
	for (pp = &reg[id % REG_BUCKETS]; (e = *pp) != NULL; pp = &e->next) {
		if (e->key == c) {
			*pp = e->next;
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
}

/* The registry's entry for the session id: its client's address, account and worker. */
static bool reg_find_id(uint32_t id, const void **key, struct gw_account **acct,
                        struct gw_worker **worker)
{
	bool found = false;

	pthread_mutex_lock(&reg_lock);
	for (struct reg_entry *e = reg[id % REG_BUCKETS]; e; e = e->next) {
		if (e->id == id) {
			*key = e->key;
			*acct = e->account;
			*worker = e->worker;
			found = true;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

/* The same for the client at key (a walk over every bucket: only KILL with a backend
 * thread id comes here). */
static bool reg_find_key(const void *key, uint32_t *id, struct gw_account **acct,
                         struct gw_worker **worker)
{
	bool found = false;

	pthread_mutex_lock(&reg_lock);
	for (uint32_t b = 0; b < REG_BUCKETS && !found; b++) {
		for (struct reg_entry *e = reg[b]; e; e = e->next) {
			if (e->key == key) {
				*id = e->id;
				*acct = e->account;
				*worker = e->worker;
				found = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

/* The client (address, compared only) a backend connection with thread id tid serves
 * now, or NULL. */
static const void *served_by_thread(uint32_t tid)
{
	const void *key = NULL;

	pthread_mutex_lock(&gw.sched_lock);
	for (uint32_t i = 0; i < gw.pool_hwm && !key; i++) {
		const struct gw_server *s = &gw.servers[i];

		if (gw_server_state(s) != GW_SV_CLOSED && s->backend_conn_id == tid && s->client)
			key = s->client;
	}
	pthread_mutex_unlock(&gw.sched_lock);
	return key;
}

/*
 * KILL [QUERY | CONNECTION] id from c. id is a session id (a client's, as in its greeting
 * and CONNECTION_ID()), or else the thread id of a backend connection serving a session
 * now (what information_schema.PROCESSLIST shows). Either way the session must be of
 * c's account; another account's is as unknown as a missing one (no tenant learns that
 * another's id exists). *target_id is the session's id.
 */
enum gw_kill_result gw_kill_prepare(struct gw_client *c, uint32_t id, uint32_t *backend_tid,
                                    uint32_t *target_id, struct gw_worker **target_worker)
{
	const void *key = NULL;
	struct gw_account *acct = NULL;
	enum gw_kill_result res = GW_KILL_NOTHING;
	uint32_t sid = id;

	if (!reg_find_id(id, &key, &acct, target_worker) || acct != c->account) {
		key = served_by_thread(id);
		if (!key || !reg_find_key(key, &sid, &acct, target_worker) || acct != c->account)
			return GW_KILL_UNKNOWN;
	}
	*target_id = sid;
	pthread_mutex_lock(&gw.sched_lock);
	for (uint32_t i = 0; i < gw.pool_hwm; i++) {
		struct gw_server *s = &gw.servers[i];

		/* Its statement, while one runs: a session idle on a connection it holds (a
		 * transaction, kept diagnostics) has none, and a KILL QUERY then stops
		 * nothing, as in MariaDB (the one it sends next must not be stopped). */
		if (gw_server_state(s) == GW_SV_ACTIVE && (const void *)s->client == key &&
		    (const void *)s->client != (const void *)c &&
		    __atomic_load_n(&s->busy, __ATOMIC_ACQUIRE)) {
			s->kill_hold = true;
			*backend_tid = s->backend_conn_id;
			res = GW_KILL_BACKEND;
			break;
		}
	}
	pthread_mutex_unlock(&gw.sched_lock);
	return res;
}

/* Read a length-encoded string's bounds at p[*at..n); false if it does not fit. */
static bool coldef_str(const uint8_t *p, size_t n, size_t *at, size_t *off, size_t *len)
{
	uint64_t l;
	size_t k = *at;

	if (k >= n)
		return false;
	if (p[k] < 0xfb) {
		l = p[k];
		k += 1;
	} else if (p[k] == 0xfc && k + 3 <= n) {
		l = (uint64_t)p[k + 1] | (uint64_t)p[k + 2] << 8;
		k += 3;
	} else {
		return false; /* names are never 64 KiB */
	}
	if (l > n - k)
		return false;
	*off = k;
	*len = (size_t)l;
	*at = k + (size_t)l;
	return true;
}

void gw_subst_coldef(const struct gw_client *c, uint8_t *p, size_t n, bool retype)
{
	size_t at = 0, off = 0, len = 0;
	enum sql_fn whole = SQL_FN_NONE;
	uint16_t flags;

	/* catalog, schema, table, org_table, then name and org_name */
	for (int k = 0; k < 6; k++) {
		if (!coldef_str(p, n, &at, &off, &len))
			return;
		if (k == 4)
			whole = sql_subst_unname(p + off, len, c->subs, c->nsubs);
		else if (k == 5)
			sql_subst_unname(p + off, len, c->subs, c->nsubs);
	}
	/* The fixed part closes the packet: 0x0c, charset<2>, length<4>, type<1>,
	 * flags<2>, decimals<1>, filler<2>. */
	if (whole == SQL_FN_NONE || !retype || n < at + 13 || p[n - 13] != 0x0c)
		return;
	p[n - 9] = p[n - 8] = p[n - 7] = 0;
	if (whole == SQL_FN_ROW_COUNT) {
		/* BIGINT, 21 wide (the literal is a BIGINT already, as wide as its text) */
		p[n - 10] = 21;
		p[n - 6] = 0x08; /* MYSQL_TYPE_LONGLONG */
		return;
	}
	/* CONNECTION_ID() is INT UNSIGNED, 10 wide. */
	p[n - 10] = 10;
	p[n - 6] = 0x03; /* MYSQL_TYPE_LONG */
	flags = (uint16_t)(wire_u16(p + n - 5) | 0x0020u);
	p[n - 5] = (uint8_t)flags;
	p[n - 4] = (uint8_t)(flags >> 8);
}
