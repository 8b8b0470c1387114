/*
 * done.c - the end of a client's command, and what reaches a client from elsewhere:
 * the scheduler's messages (run on this server, expired, failed, room to hold), the
 * answer complete (what it tells of the session, whether it pins or holds, a capture
 * first, the bill to qos, the server given back or kept), and a server lost under it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/accounts.h"
#include "gateway/client.h"
#include "gateway/done.h"
#include "gateway/hold.h"
#include "gateway/intake.h"
#include "gateway/login.h"
#include "gateway/pins.h"
#include "gateway/pool.h"
#include "gateway/server.h"
#include "gateway/sync.h"
#include "gateway/thread.h"
#include "proto/log.h"
#include "proto/util.h"

/* A message from the scheduler (maybe from another worker). */
void gw_client_on_msg(struct gw_msg *m)
{
	struct gw_client *c = m->client;
	struct gw_server *s = m->server;
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	char msg[300];

	if (m->kind == GW_MSG_KILL) {
		client_on_kill(m);
		return;
	}
	if (c->zombie) {
		/* The client left while this was on its way: give back what it carried. */
		pthread_mutex_lock(&gw.sched_lock);
		(void)gw_client_req_done_locked(c, 0, gw_now_ns());
		pthread_mutex_unlock(&gw.sched_lock);
		if (m->kind == GW_MSG_RUN && s) {
			/* s is ASSIGNED and untouched: still logged in and clean (or a slot
			 * that never connected, which release closes). */
			s->client = NULL;
			c->server = NULL;
			gw_server_release(s, /* reusable= */ true);
		} else {
			gw_sched_kick();
		}
		c->zombie = false;
		if (!c->parked) /* else the end of this pass frees it */
			client_free(c);
		return;
	}
	switch (m->kind) {
	case GW_MSG_HOLD:
		/* Room under the cap is c's now: its command goes on (client_command again,
		 * without what its intake did the first time). */
		client_set_state(c, GW_CL_IDLE);
		c->resumed = true; /* read and cleared by client_command() */
		client_process(c);
		break;
	case GW_MSG_RUN:
		/* From here the client owns s: closing it now hands s back (orphan). */
		client_set_state(c, GW_CL_RUNNING);
		gw_server_run(s, c);
		break;
	case GW_MSG_EXPIRE:
		if (client_peek_packet(c, &p, &len, &seq))
			client_consume(c, WIRE_HDR_LEN + len);
		snprintf(msg, sizeof(msg),
		         "User '%s' has exceeded the 'queue_timeout_ms' resource (current value: "
		         "%u): no backend connection became free in time",
		         c->account->name, c->account->limits.queue_timeout_ms);
		if (c->holds) { /* its statement never ran */
			pthread_mutex_lock(&gw.sched_lock);
			gw_client_hold_drop_locked(c);
			pthread_mutex_unlock(&gw.sched_lock);
			gw_sched_kick(); /* a session waiting for the room may go on */
		}
		client_set_state(c, GW_CL_IDLE);
		client_send_err(c, 1, 1226, "42000", msg);
		client_process(c);
		break;
	case GW_MSG_FAIL:
		/* No backend connection can be opened now (a recent connect failed). */
		pthread_mutex_lock(&gw.sched_lock);
		(void)gw_client_req_done_locked(c, 0, gw_now_ns());
		snprintf(msg, sizeof(msg), "Can't connect to backend server: %s",
		         gw.backend_error[0] ? gw.backend_error : "unavailable");
		gw_client_hold_drop_locked(c); /* its statement never ran */
		pthread_mutex_unlock(&gw.sched_lock);
		gw_sched_kick(); /* its place under max_pinned may go to a waiting session */
		if (client_peek_packet(c, &p, &len, &seq))
			client_consume(c, WIRE_HDR_LEN + len);
		client_set_state(c, GW_CL_IDLE);
		client_send_err(c, 1, 2003, "HY000", msg);
		client_process(c);
		break;
	case GW_MSG_KILL:
		break;
	}
}

void gw_client_infile_begin(struct gw_client *c)
{
	c->infile = true;
	client_process(c);
}

bool gw_client_req_done_locked(struct gw_client *c, uint64_t cost, uint64_t now)
{
	if (!c->req_running)
		return false;
	qos_complete(gw.qos, &c->req, cost, now);
	c->req_running = false;
	return true;
}

void gw_client_unqueued_done_locked(struct gw_client *c)
{
	if (c->unqueued) {
		c->unqueued = false;
		c->account->unqueued_active--;
	}
}

/*
 * c's command on s answered: what the answer tells of the session (status, schema, a
 * reset), and whether the command pins. Returns that; the rest of the booking is
 * gw_client_response_done()'s.
 */
static bool client_settle(struct gw_client *c, struct gw_server *s)
{
	const struct wire_resp *r = &s->resp;
	bool pin = false;

	if (!r->is_err && r->has_status) {
		c->status = r->status;
		/* autocommit=0 alone is a replayed variable; the first statement that
		 * touches a table sets IN_TRANS, and that pins. */
		c->in_trans = (r->status & SERVER_STATUS_IN_TRANS) != 0;
	}
	/* A result set's EOF tells of a state change without saying what (the OK that says
	 * it, server_on_ok(), ends results only under CLIENT_DEPRECATE_EOF): explained only
	 * for SET / USE and the user variables or LAST_INSERT_ID(expr) a statement names;
	 * anything else (a stored function that set a variable, say) pins. */
	if (!r->is_err && r->eof_changed &&
	    !(c->cmd == COM_QUERY && (!(c->sql_flags & SQL_NOT_SET_USE) ||
	                              (c->sql_flags & (SQL_UVAR_WRITE | SQL_LID_SET)))))
		c->pin_pending = true;
	if (!r->is_err) {
		if (c->db_change_pending) {
			gw_strlcpy(c->db, c->pending_db, sizeof(c->db));
			gw_strlcpy(s->db, c->pending_db, sizeof(s->db));
		}
		if (c->cmd == COM_SET_OPTION || c->pin_pending ||
		    ((c->cmd == COM_QUERY || c->cmd == COM_STMT_EXECUTE ||
		      c->cmd == COM_STMT_BULK_EXECUTE) &&
		     (c->sql_flags & SQL_PINS)))
			pin = true;
		if (c->cmd == COM_RESET_CONNECTION) {
			gw_vars_clear(&c->vars);
			gw_stmts_clear(&c->stmts);
			client_forget_carried(c);
			gw_server_session_reset(s);
			if (c->pinned) {
				c->pinned = false;
				pin = false;
				pthread_mutex_lock(&gw.sched_lock);
				c->account->pinned--;
				pthread_mutex_unlock(&gw.sched_lock);
			}
		}
	}
	if (gw.cfg.no_replay && !(c->cmd == COM_SET_OPTION || c->cmd == COM_STMT_SEND_LONG_DATA ||
	                          (c->cmd == COM_STMT_EXECUTE && c->pin_pending)))
		pin = false; /* testing only: show what goes wrong without pins */
	if (c->sql_flags & SQL_LID_SET)
		s->lid_client = c->id; /* LAST_INSERT_ID(expr) set c's value there */
	/* Warnings or an error live in the connection's diagnostics area until its next
	 * statement: worth keeping it for the session a moment (gw_client_response_done). */
	c->diag_want =
	    ((r->is_err || r->warnings > 0) && (c->cmd == COM_QUERY || c->cmd == COM_STMT_EXECUTE ||
	                                        c->cmd == COM_STMT_BULK_EXECUTE)) ||
	    c->diag_stay;
	c->diag_stay = false;
	/* What ROW_COUNT() says after it, as MariaDB counts: the final OK's rows, -1 after
	 * rows or an error (client_subst). */
	if (c->cmd != COM_STMT_SEND_LONG_DATA)
		c->row_count = r->is_err || r->result_set ? -1 : (int64_t)r->affected_rows;
	c->pin_pending = false;
	c->kill_backend = false;
	c->sql_flags = 0;
	c->status_compress = false;
	if (c->cmd == COM_STMT_SEND_LONG_DATA)
		pin = true; /* the data waits on that server for the execute */
	c->db_change_pending = false;
	return pin;
}

/* The server's response to the client's command is complete. */
void gw_client_response_done(struct gw_client *c, struct gw_server *s)
{
	uint64_t now;
	uint64_t cost;
	bool pin, keep, diag, completed = false, over = false;

	if (!c->settled) {
		c->settle_pin = client_settle(c, s);
		/* A connection about to go back to the pool first gives up what the session
		 * carries to the next one (uvars.h); the command ends when that is read. */
		if (!c->pinned && !c->settle_pin && !c->in_trans && gw_server_capture(s, c))
			return; /* (c may be closed by now: s failed) */
	}
	c->settled = false;
	pin = c->settle_pin;
	now = gw_now_ns();
	cost = now - s->started_ns;
	keep = c->pinned || pin || c->in_trans;
	diag = !keep && c->diag_want && gw.cfg.diag_keep_ms && !gw.cfg.no_replay;
	c->diag_want = false;
	pthread_mutex_lock(&gw.sched_lock);
	if (gw_client_req_done_locked(c, cost, now)) {
		completed = true;
	} else {
		qos_charge(gw.qos, c->account->qa, cost, now);
	}
	gw_client_unqueued_done_locked(c);
	/* Holding its server from now on: within the account's cap (reserved before the
	 * statement when it was expected to hold), or over it, when nothing said so
	 * beforehand (a procedure that opened a transaction, say). */
	if (keep)
		over = !client_hold_take_locked(c);
	else if (diag && client_hold_take_locked(c))
		c->diag_kept = true; /* room under the cap: the diagnostics stay a moment */
	else
		gw_client_hold_drop_locked(c);

	if (pin && !c->pinned) {
		c->pinned = true;
		c->account->pinned++;
		gw_log_debug("C-%llu %s pinned to its backend connection (command 0x%02x)",
		             (unsigned long long)c->id, c->account->name, c->cmd);
	}
	pthread_mutex_unlock(&gw.sched_lock);
	gw_account_record(c->account, (uint32_t)c->worker->id, now, now - c->enqueued_ns, cost);
	client_set_state(c, GW_CL_IDLE);
	c->idle_since_ns = now;
	if (over) {
		/* Its answer is out; the state it made cannot stay on a connection that
		 * others need: the session ends (its server is closed, which rolls back). */
		gw_log_info("C-%llu %s: command 0x%02x would hold a backend connection over the "
		            "account's max_pinned cap: session ended",
		            (unsigned long long)c->id, c->account->name, c->cmd);
		client_close(c, "max_pinned");
		return;
	}
	if (keep && completed)
		gw_sched_kick(); /* its server stays: queued work may fit under the cap */
	if (!keep && !c->diag_kept) {
		c->server = NULL;
		s->client = NULL;
		s->may_hold = true; /* its account may get it back (anticipation) */
		gw_server_release(s, /* reusable= */ true);
	}
	if (client_in_held(c) > 0 || c->zin.in_frame) /* (unwrapped or not yet) */
		client_process(c);
	client_resume_reading(c);
}

/* The server died or failed while c's command was running (or preparing). */
void gw_client_server_lost(struct gw_client *c, uint8_t seq, const char *why)
{
	char msg[300];
	/* A chunk of long data lost with its server: the execute would store the rest. */
	bool end_session = c->pinned || c->in_trans || c->cmd == COM_STMT_SEND_LONG_DATA;
	uint64_t now = gw_now_ns();

	/* Lost while sluice read back what the command left (a capture): the command's
	 * whole answer is out, so nothing may be answered now, and the variables it set
	 * are gone: the session ends, as one whose connection dies between statements. */
	bool captured = c->settled;

	c->settled = false;
	snprintf(msg, sizeof(msg), "Lost connection to backend server during query: %s%s", why,
	         end_session || captured ? " (the session's transaction or state is gone)" : "");
	pthread_mutex_lock(&gw.sched_lock);
	(void)gw_client_req_done_locked(c, 0, now);
	gw_client_unqueued_done_locked(c);
	if (c->pinned)
		c->account->pinned--;
	gw_client_hold_drop_locked(c);
	pthread_mutex_unlock(&gw.sched_lock);
	gw_sched_kick(); /* server_close dispatched before this statement was done */
	c->pinned = false;
	c->in_trans = false;
	c->infile = false;
	c->cmd_continued = false;
	c->cont_shift = false;
	c->server = NULL;
	if (c->login_check) {
		client_login_refuse(c, 2013, "HY000", msg);
		return;
	}
	if (c->state == GW_CL_IDLE && c->diag_kept) {
		/* Kept only for a SHOW WARNINGS: the session has nothing on it. */
		c->diag_kept = false;
		return;
	}
	if (c->state == GW_CL_IDLE || captured) {
		/* Between statements (a pinned or in-transaction session whose connection
		 * was killed or timed out): nothing was asked, so nothing is answered. The
		 * session ends as MariaDB ends one, by closing; the client's next statement
		 * reports the lost connection. */
		client_close(c, msg);
		return;
	}
	client_send_err(c, seq, 2013, "HY000", msg);
	if (c->state == GW_CL_CLOSED)
		return;
	if (end_session) {
		client_close(c, "backend lost inside a transaction or pinned session");
		return;
	}
	client_set_state(c, GW_CL_IDLE);
	/* Drop what the client may have sent after the command (file data, continuation):
	 * of a compressed client, the frames received too, unwrapped or not. */
	c->in.start = c->in.end = 0;
	if (c->compress)
		gw_z_drop(&c->zin, &c->zraw);
}
