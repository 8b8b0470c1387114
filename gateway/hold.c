/*
 * hold.c - a client holding a backend connection between statements (a transaction, a
 * pin, its diagnostics area) within its account's max_pinned (issue 11, pins.h): the
 * count taken and given back under gw.sched_lock, the clients waiting for room
 * (HOLD_WAIT) and the grant when room frees; and the sweep every worker runs on its
 * tick: handshakes that take too long, HOLD_WAIT and queue timeouts, a stuck pool's
 * reserve, holds idle past pinned_idle_timeout_ms, diagnostics kept past
 * --diag-keep-ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/accounts.h"
#include "gateway/client.h"
#include "gateway/hold.h"
#include "gateway/login.h"
#include "gateway/pins.h"
#include "gateway/pool.h"
#include "gateway/sync.h"
#include "proto/log.h"
#include "proto/util.h"

/* Under sched_lock: count c in its account's holding; false when the account or the
 * pool is at its cap. */
bool client_hold_take_locked(struct gw_client *c)
{
	struct gw_account *a = c->account;
	uint32_t others = gw.reserved - (a->dead ? 0 : a->limits.reservation);

	if (c->holds)
		return true;
	if (!gw_pin_room(a->holding, a->max_pinned, gw.holding, gw.cfg.pool_size, others))
		return false;
	a->holding++;
	gw.holding++;
	c->holds = true;
	return true;
}

void gw_client_hold_drop_locked(struct gw_client *c)
{
	if (!c->holds)
		return;
	c->holds = false;
	c->account->holding--;
	gw.holding--;
	gw.hold_room = true;
}

/* Under sched_lock: c's command waits for room under its account's cap. */
void client_hold_wait_locked(struct gw_client *c)
{
	c->hold_waiting = true;
	c->hold_next = NULL;
	c->hold_prev = gw.hold_waiters_tail;
	if (gw.hold_waiters_tail)
		gw.hold_waiters_tail->hold_next = c;
	else
		gw.hold_waiters = c;
	gw.hold_waiters_tail = c;
}

/* Under sched_lock: take c out of the waiters; false when it was not there (its
 * GW_MSG_HOLD is on its way). */
bool client_hold_unwait_locked(struct gw_client *c)
{
	if (!c->hold_waiting)
		return false;
	if (c->hold_prev)
		c->hold_prev->hold_next = c->hold_next;
	else
		gw.hold_waiters = c->hold_next;
	if (c->hold_next)
		c->hold_next->hold_prev = c->hold_prev;
	else
		gw.hold_waiters_tail = c->hold_prev;
	c->hold_waiting = false;
	c->hold_next = c->hold_prev = NULL;
	return true;
}

void gw_client_hold_grant_locked(struct gw_msg **local, struct gw_msg **remote)
{
	struct gw_client *c = gw.hold_waiters, *next;
	uint64_t pass = ++gw.hold_pass;

	if (!gw.hold_room)
		return; /* nothing let go since the last pass: no one fits now either */
	gw.hold_room = false;
	for (; c; c = next) {
		struct gw_msg *m = &c->msg;

		next = c->hold_next;
		if (c->account->hold_full_pass == pass)
			continue;
		if (!client_hold_take_locked(c)) {
			/* its account is still at its cap (the rest of its waiters too);
			 * other accounts' may fit */
			c->account->hold_full_pass = pass;
			continue;
		}
		client_hold_unwait_locked(c);
		m->client = c;
		m->server = NULL;
		m->kind = GW_MSG_HOLD;
		gw_msg_chain(m, local, remote);
	}
}

/*
 * Would c's command, should it succeed, leave c holding its server? What the statement's
 * text and the session's status tell before it runs: a pinning statement, BEGIN / START
 * TRANSACTION, or (autocommit off) any statement but SET and USE, since the first one
 * that touches a table opens a transaction.
 */
bool client_expects_hold(const struct gw_client *c, uint8_t cmd)
{
	bool autocommit = (c->status & SERVER_STATUS_AUTOCOMMIT) != 0;

	switch (cmd) {
	case COM_QUERY:
		return (c->sql_flags & (SQL_PINS | SQL_TRANS)) ||
		       (!autocommit && (c->sql_flags & SQL_NOT_SET_USE));
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		return c->pin_pending || (c->sql_flags & (SQL_PINS | SQL_TRANS)) || !autocommit;
	case COM_STMT_PREPARE:
		return (c->sql_flags & SQL_ROW_COUNT) != 0;
	case COM_STMT_SEND_LONG_DATA:
	case COM_SET_OPTION:
		return true;
	default:
		return false;
	}
}

/* Has c, holding its server, been idle past its account's pinned_idle_timeout_ms? */
static bool client_hold_expired(const struct gw_client *c, uint64_t now)
{
	uint32_t ms = __atomic_load_n(&c->account->pinned_idle_timeout_ms, __ATOMIC_RELAXED);

	return ms && now - c->idle_since_ns > (uint64_t)ms * 1000000u;
}

/* ERR 1226 for the command at the head of the input, which waited for room under the
 * cap for queue_timeout_ms; the command goes. */
static void client_refuse_hold(struct gw_client *c)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	char msg[400];
	uint32_t cap, held, pool;

	pthread_mutex_lock(&gw.sched_lock);
	cap = gw_pin_cap(c->account->max_pinned, gw.cfg.pool_size);
	held = c->account->holding;
	pool = gw.cfg.pool_size;
	pthread_mutex_unlock(&gw.sched_lock);
	if (held < cap)
		snprintf(msg, sizeof(msg),
		         "User '%s' has exceeded the 'max_pinned' resource (current value: %u): "
		         "the backend connections other accounts need (of %u) cannot be held by "
		         "a transaction, lock, temporary table or user variable now",
		         c->account->name, cap, pool);
	else
		snprintf(msg, sizeof(msg),
		         "User '%s' has exceeded the 'max_pinned' resource (current value: %u): "
		         "its sessions already hold that many backend connections with "
		         "transactions, locks, temporary tables or user variables",
		         c->account->name, cap);
	if (client_peek_packet(c, &p, &len, &seq))
		client_consume(c, WIRE_HDR_LEN + len);
	c->sql_flags = 0;
	c->pin_pending = false;
	client_set_state(c, GW_CL_IDLE);
	client_send_err(c, 1, 1226, "42000", msg);
	client_process(c);
}

void gw_client_sweep(struct gw_worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)gw.cfg.handshake_timeout_ms * 1000000u;
	struct gw_client *c, *next;

	for (c = w->clients; c; c = next) {
		next = c->next;
		if (c->state == GW_CL_AUTH_DELAY && now >= c->auth_answer_ns) {
			client_auth_finish(c);
			continue;
		}
		if ((c->state == GW_CL_HANDSHAKE || c->state == GW_CL_AUTH_SWITCH) &&
		    now - c->connected_ns > limit) {
			gw_log_info("C-%llu %s: handshake not finished after %u ms, dropped",
			            (unsigned long long)c->id, c->addr,
			            gw.cfg.handshake_timeout_ms);
			client_close(c, "handshake timeout");
		} else if (c->state == GW_CL_HOLD_WAIT) {
			bool expired;

			pthread_mutex_lock(&gw.sched_lock);
			expired = c->account->limits.queue_timeout_ms &&
			          now - c->enqueued_ns >
			              (uint64_t)c->account->limits.queue_timeout_ms * 1000000u &&
			          client_hold_unwait_locked(c);
			if (expired)
				gw_account_reject_locked(c->account, GW_REJECT_MAX_PINNED);
			pthread_mutex_unlock(&gw.sched_lock);
			if (expired)
				client_refuse_hold(c);
		} else if (c->state == GW_CL_QUEUED &&
		           now - __atomic_load_n(&gw.freed_ns, __ATOMIC_RELAXED) >
		               GW_RESERVE_AFTER_NS) {
			/* The pool may have got stuck since it queued (server.c). */
			struct gw_server *s = NULL;

			pthread_mutex_lock(&gw.sched_lock);
			if (c->req_queued) /* not picked meanwhile */
				s = gw_server_take_reserve_locked(c);
			pthread_mutex_unlock(&gw.sched_lock);
			if (s) {
				c->req_running = false;
				client_set_state(c, GW_CL_RUNNING);
				gw_server_run(s, c);
			}
		} else if (c->state == GW_CL_IDLE && c->diag_kept &&
		           now - c->idle_since_ns > (uint64_t)gw.cfg.diag_keep_ms * 1000000u) {
			client_diag_release(c); /* no SHOW WARNINGS came: its warnings go */
		} else if (c->state == GW_CL_IDLE && c->server && !c->diag_kept &&
		           client_hold_expired(c, now)) {
			gw_log_info("C-%llu %s: held its backend connection for %u ms without a "
			            "statement (pinned_idle_timeout_ms): connection given back, "
			            "session ended",
			            (unsigned long long)c->id, c->account->name,
			            (unsigned)((now - c->idle_since_ns) / 1000000u));
			client_drop_server(c);
			c->ended = "held a backend connection longer than its account's "
				   "pinned_idle_timeout_ms without a statement";
		}
	}
}
