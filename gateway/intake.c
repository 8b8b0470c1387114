/*
 * intake.c - a client's command, from the head of its input to where it runs: answered
 * here (COM_PING, COM_QUIT, a malformed packet, KILL of a session), on the server it
 * holds, on a server HELD for its account or a spare one, or queued in qos for the next
 * free one. On the way: USE and the SQL scan (what the statement pins or carries),
 * CONNECTION_ID() and ROW_COUNT() written in, the hold of a statement expected to hold
 * (pins.h), and the diagnostics area kept for it (issue 12).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/accounts.h"
#include "gateway/client.h"
#include "gateway/hold.h"
#include "gateway/intake.h"
#include "gateway/killmap.h"
#include "gateway/login.h"
#include "gateway/pins.h"
#include "gateway/pool.h"
#include "gateway/route.h"
#include "gateway/sync.h"
#include "gateway/thread.h"
#include "proto/log.h"
#include "proto/sqlscan.h"
#include "proto/util.h"

/* ---- what a session carries from connection to connection (uvars.h) ---- */

/* A new session (COM_CHANGE_USER, COM_RESET_CONNECTION): no user variables, and
 * LAST_INSERT_ID() is 0 again. */
void client_forget_carried(struct gw_client *c)
{
	gw_vars_clear(&c->uvars);
	if (c->uv_dirty)
		c->uv_dirty->n = 0;
	c->last_insert_id = 0;
	c->lid_dirty = false;
}

/* What a statement's scan means for what c carries from connection to connection: the
 * user variables it may assign are read back when it ends (uvars.h); one that names
 * LAST_INSERT_ID makes the value exact from then on. Returns flags, with SQL_UVAR_PIN when
 * the variables are more than a capture takes. */
unsigned client_note_carried(struct gw_client *c, unsigned flags, const struct sql_uvars *names)
{
	if (flags & SQL_LAST_INSERT_ID)
		c->lid_used = true;
	if (flags & SQL_LID_SET)
		c->lid_dirty = true;
	if (!(flags & SQL_UVAR_WRITE) || !names)
		return flags;
	if (!c->uv_dirty && !(c->uv_dirty = calloc(1, sizeof(*c->uv_dirty))))
		return flags | SQL_UVAR_PIN;
	for (uint32_t i = 0; i < names->n; i++) {
		struct sql_uvars *d = c->uv_dirty;
		uint32_t j = 0;

		while (j < d->n && strcmp(d->name[j], names->name[i]) != 0)
			j++;
		if (j < d->n)
			continue;
		if (d->n == SQL_UVARS_MAX)
			return flags | SQL_UVAR_PIN;
		memcpy(d->name[d->n++], names->name[i], sizeof(names->name[i]));
	}
	return flags;
}

/* The scan of a COM_QUERY's text, noted (client_note_carried). */
unsigned client_scan_query(struct gw_client *c, const uint8_t *q, size_t n)
{
	struct sql_uvars names;

	return client_note_carried(
	    c, sql_scan_vars(q, n, (c->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0, &names),
	    &names);
}

/* ---- commands ---- */

/*
 * KILL [QUERY|CONNECTION] <id> (see killmap.c), as SQL (as_sql) or as COM_PROCESS_KILL.
 * Returns true when the statement must go on to a backend (as KILL QUERY <backend thread
 * id>, in subst_pkt); false when it was answered here.
 */

static bool client_kill(struct gw_client *c, const uint8_t *p, uint32_t len, bool as_sql)
{
	bool query_only = false;
	uint32_t id;

	if (as_sql && !sql_kill_parse(p + 1, len - 1, &query_only, &id)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1064, "42000",
		                "sluice takes KILL [QUERY | CONNECTION] <id> with a plain number");
		return false;
	}
	if (!as_sql) {
		if (len < 5) {
			client_consume(c, WIRE_HDR_LEN + len);
			client_send_err(c, 1, 1047, "08S01", "Malformed COM_PROCESS_KILL");
			return false;
		}
		id = wire_u32(p + 1); /* the whole connection, as MariaDB does it */
	}
	return client_kill_id(c, id, query_only, len);
}

/* The KILL of id, for the command of len bytes at the head of c's input: true when it
 * must go on to a backend as subst_pkt, false when answered here. */
bool client_kill_id(struct gw_client *c, uint32_t id, bool query_only, uint32_t len)
{
	struct gw_worker *tw = NULL;
	enum gw_kill_result res;
	uint32_t tid = 0, target = 0;
	char msg[160];
	struct gw_msg *m;

	res = gw_kill_prepare(c, id, &tid, &target, &tw);
	if (res == GW_KILL_UNKNOWN) {
		client_consume(c, WIRE_HDR_LEN + len);
		snprintf(msg, sizeof(msg), "Unknown thread id: %u", id);
		client_send_err(c, 1, 1094, "HY000", msg);
		return false;
	}
	/* The target's own worker cancels a queued statement or ends the session. */
	m = calloc(1, sizeof(*m));
	if (m) {
		m->kind = GW_MSG_KILL;
		m->to = tw;
		m->kill_id = target;
		m->kill_query_only = query_only;
		gw_worker_post_to(tw, m);
	}
	if (res == GW_KILL_BACKEND) {
		size_t off;
		char sql[48];
		int n = snprintf(sql, sizeof(sql), "KILL QUERY %u", tid);

		wire_buf_reset(&c->subst_pkt);
		off = wire_packet_begin(&c->subst_pkt, 0);
		wire_put_u8(&c->subst_pkt, COM_QUERY);
		wire_put_bytes(&c->subst_pkt, sql, (size_t)n);
		wire_packet_end(&c->subst_pkt, off);
		c->sql_flags = 0;
		c->kill_backend = true;
		return true;
	}
	client_consume(c, WIRE_HDR_LEN + len);
	client_send_ok(c, 1);
	return false;
}

/* A KILL aimed at one of this worker's clients, from any thread. */
void client_on_kill(struct gw_msg *m)
{
	struct gw_worker *w = m->to;
	struct gw_client *c;
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	bool cancelled = false;

	for (c = w->clients; c; c = c->next) {
		if ((uint32_t)c->id == m->kill_id)
			break;
	}
	if (c && !m->kill_query_only) {
		client_close(c, "KILL CONNECTION");
	} else if (c && (c->state == GW_CL_QUEUED || c->state == GW_CL_HOLD_WAIT)) {
		pthread_mutex_lock(&gw.sched_lock);
		if (c->req_queued && qos_cancel(gw.qos, &c->req)) {
			c->req_queued = false;
			cancelled = true;
		} else if (c->state == GW_CL_HOLD_WAIT && client_hold_unwait_locked(c)) {
			cancelled = true;
		}
		if (cancelled)
			gw_client_hold_drop_locked(c); /* a place it took for its statement */
		pthread_mutex_unlock(&gw.sched_lock);
		if (cancelled) {
			gw_sched_kick(); /* the place may go to a session waiting for one */
			if (client_peek_packet(c, &p, &len, &seq))
				client_consume(c, WIRE_HDR_LEN + len);
			client_set_state(c, GW_CL_IDLE);
			client_send_err(c, 1, 1317, "70100", "Query execution was interrupted");
			client_process(c);
		}
	}
	free(m);
}

/*
 * CONNECTION_ID() is the session's id in every form, ROW_COUNT() what its previous
 * statement left, whichever connection runs the statement: each call in q[0..n) (the head
 * packet in c->in, a COM_QUERY's or a COM_STMT_PREPARE's text) is rewritten in place, its
 * length unchanged; the column definitions of the answer are named back. A statement
 * that reads the processlist keeps CONNECTION_ID(): the processlist's ids are the
 * backend's (WHERE ID = CONNECTION_ID() finds the session's row). A prepared
 * statement's ROW_COUNT() is left to the backend: it is read at each execute.
 */
static void client_subst(struct gw_client *c, uint8_t *q, size_t n, bool prepare)
{
	size_t max = sizeof(c->subs) / sizeof(c->subs[0]);
	struct sql_subst_how how = {
		.connid = (c->sql_flags & SQL_PROCESSLIST) == 0,
		.id = (uint32_t)c->id,
		.row_count = !prepare,
		.rows = c->row_count,
		.no_backslash = (c->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0,
	};
	size_t k = sql_subst(q, n, &how, c->subs, max);

	c->nsubs = (uint8_t)(k < max ? k : max);
}

/* Start the head command: locally, on the pinned server, or through qos. */
void client_command(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq)
{
	bool resumed;
	struct qos_account_stats qs;
	bool backlogged;
	enum qos_verdict v;
	uint64_t now;
	uint8_t cmd;

	if (seq != 0) {
		client_close(c, "wrong sequence id on a command");
		return;
	}
	if (len == 0) {
		client_close(c, "empty command packet");
		return;
	}
	cmd = p[0];
	c->cmd = cmd;
	c->db_change_pending = false;
	c->status_compress = false;
	resumed = c->resumed;
	c->resumed = false; /* (for this command only: not for one pipelined behind it) */
	if (!resumed) {
		c->kill_subst = false;
		c->kill_backend = false;
		wire_buf_reset(&c->subst_pkt); /* (a KILL's that never ran: expired, refused) */
	}
	if (c->ended && cmd != COM_QUIT) {
		char msg[300];

		snprintf(msg, sizeof(msg), "Connection was killed: this session %s", c->ended);
		client_send_err(c, 1, 1927, "70100", msg);
		client_close(c, "pinned_idle_timeout_ms");
		return;
	}
	if (__atomic_load_n(&c->account->dead, __ATOMIC_RELAXED) && cmd != COM_QUIT) {
		/* The account was deleted: its sessions end at their next statement. */
		char msg[200];

		snprintf(msg, sizeof(msg), "Connection was killed: sluice account '%s' was deleted",
		         c->account->name);
		client_send_err(c, 1, 1927, "70100", msg);
		client_close(c, "account deleted");
		return;
	}
	switch (cmd) {
	case COM_QUIT:
		client_close(c, "COM_QUIT");
		return;
	case COM_PING:
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_ok(c, 1);
		return;
	case COM_CHANGE_USER:
		client_change_user(c, p, len);
		client_consume(c, WIRE_HDR_LEN + len);
		return;
	case COM_RESET_CONNECTION:
		if (c->diag_kept)
			client_diag_release(c); /* nothing of the session is on it */
		if (!c->server) {
			client_consume(c, WIRE_HDR_LEN + len);
			c->status = SERVER_STATUS_AUTOCOMMIT;
			gw_vars_clear(&c->vars);
			gw_stmts_clear(&c->stmts);
			client_forget_carried(c);
			client_send_ok(c, 1);
			return;
		}
		break; /* the pinned server resets itself */
	case COM_INIT_DB:
		if (len - 1 > GW_DB_MAX) {
			client_consume(c, WIRE_HDR_LEN + len);
			client_send_err(c, 1, 1102, "42000", "Incorrect database name");
			return;
		}
		memcpy(c->pending_db, p + 1, len - 1);
		c->pending_db[len - 1] = '\0';
		c->db_change_pending = true;
		break;
	case COM_QUERY:
		if (len < 256 &&
		    sql_parse_use(p + 1, len - 1, c->pending_db, sizeof(c->pending_db)))
			c->db_change_pending = true;
		c->sql_flags = client_scan_query(c, p + 1, len - 1);
		c->diag_cleared = false;
		c->status_compress = c->compress && sql_reads_status(p + 1, len - 1);
		if (resumed)
			break; /* rewritten, and a KILL taken, the first time */
		c->nsubs = 0;
		if ((c->sql_flags & (SQL_CONNECTION_ID | SQL_ROW_COUNT)) && len < WIRE_MAX_PAYLOAD)
			client_subst(c, (uint8_t *)p + 1, len - 1, /* prepare= */ false);
		if ((c->sql_flags & SQL_KILL) && !client_kill(c, p, len, true))
			return; /* answered here */
		break;
	case COM_PROCESS_KILL:
		if (!client_kill(c, p, len, false))
			return; /* answered here */
		break;
	case COM_STMT_PREPARE:
		if (!resumed) {
			struct sql_uvars names;
			bool nbs = (c->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;

			c->nsubs = 0;
			c->sql_flags =
			    len < WIRE_MAX_PAYLOAD ? sql_scan_vars(p + 1, len - 1, nbs, &names) : 0;
			if (c->sql_flags & SQL_CONNECTION_ID)
				client_subst(c, (uint8_t *)p + 1, len - 1, /* prepare= */ true);
			/* One that reads ROW_COUNT() pins its session (route.c): its prepare
			 * holds, within the account's max_pinned (client_expects_hold). */
			c->sql_flags &= SQL_ROW_COUNT;
		}
		if (!client_stmt_prepare_begin(c, p, len))
			return; /* answered here */
		break;
	case COM_STMT_BULK_EXECUTE:
		/* Offered to a client only when the backend has it; one that did not ask
		 * for it gets what MariaDB answers it (ER_UNSUPPORTED_PS). */
		if (!(c->ext_caps & MARIADB_CLIENT_STMT_BULK_OPERATIONS)) {
			client_consume(c, WIRE_HDR_LEN + len);
			client_send_err(c, 1, 1295, "HY000",
			                "This command is not supported in the prepared statement "
			                "protocol yet");
			return;
		}
		/* fall through */
	case COM_STMT_EXECUTE:
	case COM_STMT_SEND_LONG_DATA:
	case COM_STMT_RESET:
	case COM_STMT_FETCH:
		if (!client_stmt_intake(c, p, len, resumed))
			return; /* answered here */
		break;
	case COM_STMT_CLOSE:
		/* No answer. The backend statements stay for other clients' executes of
		 * the same text, until their connection's cache evicts them. */
		if (len < 5) {
			client_close(c, "malformed COM_STMT_CLOSE");
			return;
		}
		gw_stmts_remove(&c->stmts, wire_u32(p + 1));
		client_consume(c, WIRE_HDR_LEN + len);
		return;
	case COM_FIELD_LIST:
	case COM_STATISTICS:
	case COM_SET_OPTION:
		break;
	default: {
		char msg[96];

		client_consume(c, WIRE_HDR_LEN + len);
		snprintf(msg, sizeof(msg), "Unknown command 0x%02x (not supported by sluice)", cmd);
		client_send_err(c, 1, 1047, "08S01", msg);
		return;
	}
	}
	c->diag_stay = false; /* (a command that failed before its answer left it set) */
	if (c->diag_kept) {
		/* Its server was kept for this: a statement that reads the diagnostics area
		 * runs there, and so does one that cannot use a table (SELECT 1, SET, DO),
		 * which leaves the area as it is in MariaDB (kept again when its answer still
		 * counts warnings); any other goes through the scheduler like every
		 * statement. */
		c->diag_kept = false;
		c->diag_stay =
		    (c->sql_flags & SQL_DIAG) || (cmd == COM_QUERY && !(c->sql_flags & SQL_TABLES));
		if (!c->diag_stay)
			client_diag_release(c);
	}
	now = gw_now_ns();
	if (!c->server && client_expects_hold(c, cmd)) {
		/* At the cap, the command waits (at most queue_timeout_ms) for one of the
		 * account's holding sessions to let go; it stays at the head of the input. */
		bool room;

		pthread_mutex_lock(&gw.sched_lock);
		room = client_hold_take_locked(c);
		if (!room)
			client_hold_wait_locked(c);
		pthread_mutex_unlock(&gw.sched_lock);
		if (!room) {
			c->enqueued_ns = now;
			client_set_state(c, GW_CL_HOLD_WAIT);
			return;
		}
	}
	c->enqueued_ns = now;
	if (c->server) {
		/* Pinned or inside a transaction: straight to its own server, by way of a
		 * prepare when the statement it names is not prepared there yet, or when it
		 * names user variables or LAST_INSERT_ID() set elsewhere before the hold. */
		const struct gw_stmt *st = gw_client_stmt_pending(c);

		c->req_running = false;
		if ((st && !gw_sstmts_find(&c->server->stmts, st)) ||
		    gw_server_needs_sync(c->server, c)) {
			client_set_state(c, GW_CL_RUNNING);
			gw_server_run(c->server, c);
		} else {
			gw_client_send_command(c, c->server);
		}
		return;
	}
	c->req.account = c->account->qa;
	c->req.affinity = (uint32_t)c->worker->id;
	pthread_mutex_lock(&gw.sched_lock);
	qos_account_get_stats(c->account->qa, &qs);
	if (qs.queued == 0) {
		/* A server held for this account (anticipation), or a spare one above
		 * --max-active: the statement need not queue (server.c). */
		struct gw_server *s = c->account->held ? gw_server_take_held_locked(c) : NULL;

		if (!s)
			s = gw_server_take_spare_locked(c);
		if (!s)
			s = gw_server_take_reserve_locked(c);
		if (s) {
			pthread_mutex_unlock(&gw.sched_lock);
			c->req_running = false;
			client_set_state(c, GW_CL_RUNNING);
			gw_server_run(s, c);
			return;
		}
	}
	backlogged = qs.queued >= GW_BACKLOG_DEEP;
	v = qos_enqueue(gw.qos, &c->req, now);
	if (v == QOS_OK) {
		c->req_queued = true;
		client_set_state(c, GW_CL_QUEUED);
	} else {
		gw_account_reject_locked(c->account, GW_REJECT_QUEUE_FULL);
	}
	pthread_mutex_unlock(&gw.sched_lock);
	if (v == QOS_OK) /* before the switch below: the step goes at this callback's priority */
		gw_sched_kick(); /* it runs at the end of this pass if a connection is free */
	if (backlogged != c->low_prio && !c->read_paused) {
		/* The account has (or no longer has) a queue: its clients' reads wait for
		 * (or stop waiting for) everything else on this thread. */
		event_del(c->ev);
		event_priority_set(c->ev, backlogged ? GW_PRIO_LOW : GW_PRIO_HIGH);
		event_add(c->ev, NULL);
		c->low_prio = backlogged;
	}
	if (v != QOS_OK) {
		char msg[200];

		client_consume(c, WIRE_HDR_LEN + len);
		snprintf(msg, sizeof(msg),
		         "User '%s' has exceeded the 'max_queue' resource (current value: %u)",
		         c->account->name, c->account->limits.max_queue);
		client_send_err(c, 1, 1226, "42000", msg);
	}
}
