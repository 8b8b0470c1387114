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

#include "gateway/engine.h"
#include "gateway/log.h"

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

enum gw_kill_result gw_kill_prepare(struct gw_client *c, uint32_t id, bool query_only,
                                    uint32_t *backend_tid, struct gw_worker **target_worker)
{
	const void *key = NULL;
	struct gw_account *acct = NULL;
	enum gw_kill_result res = GW_KILL_NOTHING;

	pthread_mutex_lock(&reg_lock);
	for (struct reg_entry *e = reg[id % REG_BUCKETS]; e; e = e->next) {
		if (e->id == id) {
			key = e->key;
			acct = e->account;
			*target_worker = e->worker;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	if (!key)
		return GW_KILL_UNKNOWN;
	if (acct != c->account)
		return GW_KILL_DENIED;
	pthread_mutex_lock(&gw.sched_lock);
	for (uint32_t i = 0; i < gw.pool_hwm; i++) {
		struct gw_server *s = &gw.servers[i];

		if (s->state == GW_SV_ACTIVE && (const void *)s->client == key &&
		    (const void *)s->client != (const void *)c) {
			s->kill_hold = true;
			*backend_tid = s->backend_conn_id;
			res = GW_KILL_BACKEND;
			break;
		}
	}
	pthread_mutex_unlock(&gw.sched_lock);
	(void)query_only;
	return res;
}
