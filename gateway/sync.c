/*
 * sync.c - bringing a backend connection in line with the client whose statement it is
 * about to run, in one write answered in order: COM_CHANGE_USER (alone: another account,
 * other credentials), COM_SET_OPTION, the replay SET (session and user variables,
 * LAST_INSERT_ID(), session tracking), a DO that empties the diagnostics area,
 * COM_INIT_DB, and the client's prepared statement prepared again where it is not yet
 * (docs/pooling.md). The answers are read by server.c, which comes back to
 * server_prepare() when they are all in. And the one statement sluice sends after a
 * client's: the capture that reads back what it left (uvars.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/done.h"
#include "gateway/login.h"
#include "gateway/route.h"
#include "gateway/server.h"
#include "gateway/sync.h"
#include "proto/auth.h"
#include "proto/log.h"
#include "proto/sqlscan.h"
#include "proto/util.h"

static void prep_push(struct gw_server *s, enum gw_prep_step step)
{
	GW_BUG_ON(s->prep_n >= GW_PREP_MAX);
	s->prep_q[s->prep_n++] = step;
}

bool gw_server_needs_sync(const struct gw_server *s, const struct gw_client *c)
{
	if (gw.cfg.no_replay)
		return false;
	return !gw_vars_equal(&c->uvars, &s->uvars) ||
	       ((c->sql_flags & SQL_LAST_INSERT_ID) && s->lid_client != c->id);
}

/* The steps after the identity that bring s's session in line with c's, into b; with
 * clear, one that empties the diagnostics area (server_prepare). */
static void prep_build_rest(struct gw_server *s, const struct gw_client *c, bool clear,
                            struct wire_buf *b)
{
	struct gw_sync sync = { 0 };
	size_t off;

	if ((s->caps ^ c->caps) & CLIENT_MULTI_STATEMENTS) {
		off = wire_packet_begin(b, 0);
		wire_put_u8(b, COM_SET_OPTION);
		/* MYSQL_OPTION_MULTI_STATEMENTS_ON = 0, _OFF = 1 */
		wire_put_u16(b, (c->caps & CLIENT_MULTI_STATEMENTS) ? 0 : 1);
		wire_packet_end(b, off);
		prep_push(s, GW_PREP_SET_OPTION);
	}
	sync.want = gw.cfg.no_replay ? &s->vars : &c->vars;
	sync.have = &s->vars;
	sync.tracking = !s->tracking;
	/* User variables whenever the connection's differ from the session's, whatever the
	 * statement names: a trigger, procedure or function reads them too (SET @app_user
	 * before an INSERT whose trigger audits it); another session's go to NULL. */
	if (!gw.cfg.no_replay) {
		sync.uwant = &c->uvars;
		sync.uhave = &s->uvars;
		if (!gw_vars_names_within(&s->uvars, &c->uvars))
			s->uvars_foreign = true; /* (set to NULL, their names stay) */
	}
	/* LAST_INSERT_ID() for a statement that names it. */
	sync.set_lid =
	    (c->sql_flags & SQL_LAST_INSERT_ID) && s->lid_client != c->id && !gw.cfg.no_replay;
	sync.lid = c->last_insert_id;
	sync.charset = c->charset;
	if (gw_session_build_set(b, &sync))
		prep_push(s, GW_PREP_SET);
	if (clear) {
		/* Only a statement that uses a table starts a new diagnostics area (DO 0,
		 * SELECT 1, a SET keep the old one); LIMIT 0 reads nothing. */
		static const char nothing[] = "DO (SELECT 1 FROM information_schema.COLLATIONS "
					      "LIMIT 0)";

		off = wire_packet_begin(b, 0);
		wire_put_u8(b, COM_QUERY);
		wire_put_bytes(b, nothing, sizeof(nothing) - 1);
		wire_packet_end(b, off);
		prep_push(s, GW_PREP_CLEAR);
	}
	/* Last, so that a refused COM_INIT_DB (a dropped schema) leaves nothing behind it and
	 * the connection, whose earlier steps are recorded, can be kept. A login's check
	 * (issue 12) asks even when s is in that schema already: it may have been dropped
	 * or its grant revoked since s went there. */
	if (strcmp(s->db, c->db) != 0 || (c->login_check && !c->login_db_verified)) {
		off = wire_packet_begin(b, 0);
		wire_put_u8(b, COM_INIT_DB);
		wire_put_bytes(b, c->db, strlen(c->db));
		wire_packet_end(b, off);
		prep_push(s, GW_PREP_INIT_DB);
	}
}

/* The statements s's cache let go, closed on the backend (COM_STMT_CLOSE: no answer). */
void stmt_build_closes(struct gw_server *s, struct wire_buf *b)
{
	for (uint32_t i = 0; i < s->stmts.nclosing; i++) {
		size_t off = wire_packet_begin(b, 0);

		wire_put_u8(b, COM_STMT_CLOSE);
		wire_put_u32(b, s->stmts.closing[i]);
		wire_packet_end(b, off);
	}
	s->stmts.nclosing = 0;
}

static void stmt_build_init_db(struct gw_server *s, struct wire_buf *b, const char *db)
{
	size_t off = wire_packet_begin(b, 0);

	wire_put_u8(b, COM_INIT_DB);
	wire_put_bytes(b, db, strlen(db));
	wire_packet_end(b, off);
	prep_push(s, GW_PREP_STMT_DB);
}

/*
 * The statement c's command names, prepared on s first when s does not have it: in the
 * schema it was prepared in (COM_INIT_DB there and back when c has moved on since; a
 * statement prepared with no schema is prepared in c's).
 */
static void stmt_build_prepare(struct gw_server *s, struct gw_client *c, struct wire_buf *b)
{
	const struct gw_stmt *st = gw_client_stmt_pending(c);
	bool move;
	size_t off;

	if (!st || gw_sstmts_find(&s->stmts, st))
		return;
	move = st->db[0] && c->db[0] && strcmp(st->db, c->db) != 0;
	if (move)
		stmt_build_init_db(s, b, st->db);
	off = wire_packet_begin(b, 0);
	wire_put_u8(b, COM_STMT_PREPARE);
	wire_put_bytes(b, st->sql, st->sql_len);
	wire_packet_end(b, off);
	prep_push(s, GW_PREP_STMT);
	s->prep_stmt_id = st->id;
	s->prep_stmt_backend = 0;
	s->prep_stmt_left = 0;
	if (move)
		stmt_build_init_db(s, b, c->db);
}

/* One packet of the answer to a step of stmt_build_prepare() (never an ERR: those take
 * the common path). */
void stmt_answer(struct gw_server *s, struct gw_client *c, enum gw_prep_step step, const uint8_t *p,
                 uint32_t len)
{
	struct wire_prepare_ok ok;
	const struct gw_stmt *st;

	if (step == GW_PREP_STMT_DB) {
		if (p[0] != 0x00) {
			server_close(s, "unexpected answer to COM_INIT_DB");
			return;
		}
		server_prep_answered(s, c);
		return;
	}
	if (s->prep_stmt_backend == 0) {
		bool eof = !(s->caps & CLIENT_DEPRECATE_EOF);

		if (!wire_parse_prepare_ok(p, len, &ok) || ok.stmt_id == 0) {
			server_close(s, "unexpected answer to COM_STMT_PREPARE");
			return;
		}
		s->prep_stmt_backend = ok.stmt_id;
		/* Parameter and column definitions follow, each list closed by an EOF
		 * unless CLIENT_DEPRECATE_EOF: read them away. */
		s->prep_stmt_left =
		    (uint32_t)ok.nparams + ok.ncols + (eof && ok.nparams) + (eof && ok.ncols);
	} else {
		s->prep_stmt_left--;
	}
	if (s->prep_stmt_left > 0)
		return;
	st = gw_stmts_find(&c->stmts, s->prep_stmt_id);
	if (!st || !gw_sstmts_add(&s->stmts, st, s->prep_stmt_backend)) {
		server_close(s, "out of memory");
		return;
	}
	s->prep_stmt_backend = 0;
	server_prep_answered(s, c);
}

/*
 * Would c's statement, reading information_schema.USER_VARIABLES on s, list the names of
 * user variables other sessions set there? Then s starts a fresh session first (a
 * COM_CHANGE_USER to the same account: MariaDB cannot drop one variable), unless c keeps
 * state on s already.
 */
static bool server_uvars_listed_foreign(const struct gw_server *s, const struct gw_client *c)
{
	return (c->sql_flags & SQL_UVAR_LIST) && !gw.cfg.no_replay && !c->pinned && !c->in_trans &&
	       !c->diag_stay && (s->uvars_foreign || !gw_vars_names_within(&s->uvars, &c->uvars));
}

/*
 * Might s hold user variables a stored function of another session set, unknown to
 * sluice (a capture that could not list them: gw_server_capture)? Then c gets a fresh
 * session on it first.
 */
static bool server_uvars_unlisted(const struct gw_server *s, const struct gw_client *c)
{
	return s->uvars_unlisted && s->uvars_unlisted != c->id && !c->pinned && !c->in_trans &&
	       !c->diag_stay;
}

/*
 * Bring s in line with c, or send c's command when it already is. The steps go out in
 * one write and the backend answers them in order, so that bringing a connection over
 * costs one round trip, not one per step. A COM_CHANGE_USER goes alone: MariaDB answers
 * it with an AuthSwitchRequest (a fresh scramble for every authentication), and the
 * rest waits for the change's OK, since a refused change leaves the connection logged in
 * as the account it had (issue 11). The command itself waits for the answers: were a
 * step refused, the command must not have run.
 */
void server_prepare(struct gw_server *s, struct gw_client *c)
{
	struct wire_buf b;

	wire_buf_init(&b);
	s->prep_n = s->prep_i = 0;
	stmt_build_closes(s, &b);
	/* A connection authenticated with other credentials than the client proved (its
	 * account's password changed since, issue 11) is switched like one of another
	 * account: the client's statements run only where its own credentials got in. */
	if (s->account != c->account || s->cred_gen != c->cred.gen || s->charset != c->charset ||
	    (!c->db[0] && s->db[0]) || server_uvars_listed_foreign(s, c) ||
	    server_uvars_unlisted(s, c)) {
		struct wire_change_user cu;

		memset(&cu, 0, sizeof(cu));
		gw_strlcpy(cu.user, c->account->name, sizeof(cu.user));
		if (c->cred.has_password) {
			auth_native_scramble(c->cred.stage1, s->salt, cu.auth);
			cu.auth_len = 20;
		}
		gw_strlcpy(cu.db, c->db, sizeof(cu.db));
		cu.charset = c->charset;
		gw_strlcpy(cu.auth_plugin, AUTH_NATIVE, sizeof(cu.auth_plugin));
		wire_build_change_user(&b, 0, s->caps, &cu);
		prep_push(s, GW_PREP_CHANGE_USER);
		if (s->account != c->account)
			__atomic_fetch_add(&gw.account_switches, 1, __ATOMIC_RELAXED);
	} else {
		/* A statement that reads the diagnostics area (SHOW WARNINGS) on a connection
		 * the session did not keep for it: what is there is another statement's
		 * (another session's, or a SET above), where directly the area would be the
		 * session's own, which had nothing worth keeping. An empty one, as after a
		 * statement without warnings; once (server_prepare comes back here when the
		 * steps are answered). */
		bool clear = (c->sql_flags & SQL_DIAG) && !c->pinned && !c->in_trans &&
		             !c->diag_stay && !c->diag_cleared && !gw.cfg.no_replay;

		c->diag_cleared = c->diag_cleared || clear;
		prep_build_rest(s, c, clear, &b);
		stmt_build_prepare(s, c, &b);
	}
	if (s->prep_n > 0) {
		server_set_state(s, GW_SV_PREPARE);
		server_send_wbuf(s, &b);
		return;
	}
	if (b.len > 0 && !server_send_wbuf(s, &b)) /* COM_STMT_CLOSEs only */
		return;
	wire_buf_free(&b);
	if (c->login_check) {
		/* Its login's schema was accepted: there is no command to send. */
		gw_client_login_checked(c, s, NULL, 0, /* reusable= */ true);
		return;
	}
	server_set_state(s, GW_SV_ACTIVE);
	gw_client_send_command(c, s);
}

void gw_server_run(struct gw_server *s, struct gw_client *c)
{
	s->started_ns = gw_now_ns(); /* its PREPARE counts too (gw_client_send_command resets it) */
	if (s->fd >= 0 && s->caps_class != (c->caps & GW_CAPS_CLASS_MASK)) {
		/* Opened for clients with other capabilities: reopen for this one. */
		gw_log_debug("S-%u reopened for C-%llu: capability class 0x%08x, was 0x%08x", s->id,
		             (unsigned long long)c->id, c->caps & GW_CAPS_CLASS_MASK,
		             s->caps_class);
		event_del(s->ev);
		event_del(s->wev);
		close(s->fd);
		s->fd = -1;
	}
	if (s->fd < 0) {
		server_connect(s, c);
		return;
	}
	server_attach(s, c->worker);
	server_prepare(s, c);
}

/* ---- capture: reading back user variables and LAST_INSERT_ID() (uvars.h) ---- */

/* Does ask name every variable in have? */
static bool ask_covers(const struct sql_uvars *ask, const struct gw_vars *have)
{
	for (uint32_t i = 0; i < have->n; i++) {
		uint32_t j = 0;

		while (j < ask->n && strcmp(ask->name[j], have->v[i].name) != 0)
			j++;
		if (j == ask->n)
			return false;
	}
	return true;
}

bool gw_server_capture(struct gw_server *s, struct gw_client *c)
{
	struct wire_buf b;
	/* LAST_INSERT_ID() once the session has used it in SQL (or always, with
	 * --exact-last-insert-id): until then the OK packets' insert ids stand for it, which
	 * differ only after an insert with an explicit id (docs/pooling.md). */
	bool lid = c->lid_dirty && (c->lid_used || gw.cfg.exact_lid);
	bool names = c->uv_dirty && c->uv_dirty->n > 0;
	bool mariadb = names && gw.cfg.backend_mariadb;
	bool list = mariadb && !c->diag_want;
	struct sql_uvars ask;
	const struct sql_uvars *asked = c->uv_dirty;

	if ((!lid && !names) || gw.cfg.no_replay)
		return false;
	/*
	 * With the variables a statement assigned, every other the session has (up to
	 * SQL_UVARS_MAX in all), and the names of all that have a value: the connection had
	 * the session's variables alone (the rest NULL) when the statement began, so a value
	 * changed or a name that is not the session's was set by what it called (a stored
	 * function, a trigger). MariaDB's information_schema.USER_VARIABLES lists them (MySQL
	 * has no such table). After warnings or an error the list would empty the
	 * diagnostics area the session may read (it reads a table): then what a function
	 * left may stay on the connection unknown, and the next other session to use it gets
	 * a fresh session first (server_prepare).
	 */
	if (mariadb) {
		ask = *c->uv_dirty;
		for (uint32_t i = 0; i < c->uvars.n; i++) {
			uint32_t j = 0;

			while (j < ask.n && strcmp(ask.name[j], c->uvars.v[i].name) != 0)
				j++;
			if (j < ask.n)
				continue;
			if (ask.n == SQL_UVARS_MAX ||
			    strlen(c->uvars.v[i].name) > SQL_UVAR_NAME_MAX)
				break;
			memcpy(ask.name[ask.n++], c->uvars.v[i].name,
			       strlen(c->uvars.v[i].name) + 1);
		}
		if (ask_covers(&ask, &c->uvars))
			asked = &ask;
		if (!list)
			s->uvars_unlisted = c->id;
	}
	wire_buf_init(&b);
	if (!gw_capture_begin(&s->cap, &b, lid, asked, (s->caps & CLIENT_DEPRECATE_EOF) != 0,
	                      list ? &c->uvars : NULL)) {
		wire_buf_free(&b);
		return false;
	}
	server_set_state(s, GW_SV_CAPTURE);
	gw_server_pause(s, false); /* the answer is sluice's, whatever the client reads */
	/* Before the send: a send that fails closes s, and gw_client_server_lost() must
	 * know that the command's answer is out already. */
	c->settled = true;
	server_send_wbuf(s, &b);
	return true;
}

/* Whole packets of the capture's answer; at its end the client's command ends. */
void server_capture_read(struct gw_server *s)
{
	while (server_state(s) == GW_SV_CAPTURE) {
		const uint8_t *h = s->in.data + s->in.start;
		size_t avail = gw_buf_len(&s->in);
		struct gw_client *c = s->client;
		enum gw_capture_step step;
		uint32_t len;

		if (avail < WIRE_HDR_LEN || avail < WIRE_HDR_LEN + (size_t)wire_u24(h))
			return;
		len = wire_u24(h);
		s->in.start += WIRE_HDR_LEN + len;
		if (s->in.start == s->in.end)
			s->in.start = s->in.end = 0;
		step = gw_capture_feed(&s->cap, h + WIRE_HDR_LEN, len, &c->uvars);
		if (step == GW_CAP_MORE)
			continue;
		if (step == GW_CAP_BAD || !gw_vars_copy(&s->uvars, &c->uvars)) {
			server_close(s, step == GW_CAP_BAD ? "unexpected answer to the capture of "
			                                     "user variables"
			                                   : "out of memory");
			return;
		}
		if (s->cap.lid && step == GW_CAP_OK) {
			c->last_insert_id = s->cap.lid_value;
			c->lid_dirty = false;
		}
		if (c->uv_dirty)
			c->uv_dirty->n = 0;
		/* What cannot be written as a literal stays where it is: the session
		 * keeps this connection, as it would have before captures. */
		if (step == GW_CAP_FAIL)
			c->settle_pin = true;
		server_set_state(s, GW_SV_ACTIVE);
		gw_client_response_done(c, s);
		return;
	}
}
