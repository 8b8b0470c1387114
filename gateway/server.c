/*
 * server.c - a backend connection's life: connect and log in, bring its identity, schema
 * and session in line with its client (COM_CHANGE_USER, COM_INIT_DB, the replay SET),
 * forward commands, stream responses back while tracking where they end, read back what
 * a statement left (capture), KILL for a client that left, close. The pool and the
 * scheduler's dispatch are pool.c's (server.h).
 *
 * A server slot is CLOSED (free), or on the way to a client (ASSIGNED), or working for
 * one (CONNECTING, LOGIN, PREPARE, ACTIVE), or idle in the pool, or draining a response
 * nobody waits for. Transitions into and out of IDLE and ASSIGNED happen under
 * gw.sched_lock; all others on the worker that holds the server's events.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/engine.h"
#include "gateway/server.h"
#include "proto/auth.h"
#include "proto/log.h"
#include "proto/sqlscan.h"
#include "proto/util.h"

#define BACKOFF_NS (500u * 1000000u) /* after a failed connect, fail fast this long */

static const char *const server_state_names[] = { GW_SERVER_STATES(GW_X_NAME) };

static void server_on_read(evutil_socket_t fd, short what, void *arg);
static void server_on_write(evutil_socket_t fd, short what, void *arg);
static void server_stream(struct gw_server *s);
static void server_kill_send(struct gw_server *k);
static bool server_auth_switch(struct gw_server *s, const uint8_t *p, uint32_t len, uint8_t seq,
                               const struct gw_cred *cred, struct wire_buf *b);

const char *gw_server_state_name(enum gw_server_state st)
{
	return st < GW_SV__COUNT ? server_state_names[st] : "?";
}

/* The state, stored: the only writer, with server_set_state() (which logs it too). */
void server_store_state(struct gw_server *s, enum gw_server_state st)
{
	__atomic_store_n(&s->state, st, __ATOMIC_RELEASE);
}

void server_set_state(struct gw_server *s, enum gw_server_state st)
{
	gw_log_noise("S-%u %s -> %s", s->id, gw_server_state_name(server_state(s)),
	             gw_server_state_name(st));
	server_store_state(s, st);
}

void gw_server_session_reset(struct gw_server *s)
{
	s->tracking = false;
	gw_vars_clear(&s->vars);
	gw_vars_clear(&s->uvars);
	s->uvars_foreign = false;
	s->lid_client = 0;
	gw_sstmts_clear(&s->stmts);
}

/* ---- events ---- */

/* Make worker w the home of s's events. */
void server_attach(struct gw_server *s, struct gw_worker *w)
{
	if (s->worker == w)
		return;
	event_del(s->ev); /* waits for a callback running on the old worker */
	event_del(s->wev);
	event_assign(s->ev, w->base, s->fd, EV_READ | EV_PERSIST, server_on_read, s);
	event_assign(s->wev, w->base, s->fd, EV_WRITE | EV_PERSIST, server_on_write, s);
	event_priority_set(s->ev, GW_PRIO_HIGH);
	event_priority_set(s->wev, GW_PRIO_HIGH);
	s->worker = w;
	if (s->fd >= 0 && !s->paused)
		event_add(s->ev, NULL);
}

void gw_server_pause(struct gw_server *s, bool pause)
{
	if (pause == s->paused)
		return;
	s->paused = pause;
	if (pause)
		event_del(s->ev);
	else if (s->fd >= 0)
		event_add(s->ev, NULL);
}

bool gw_server_send(struct gw_server *s, const void *p, size_t n)
{
	ssize_t k = 0;

	if (gw_buf_len(&s->out) == 0) {
		k = gw_send(s->fd, p, n);
		if (k < 0) {
			server_close(s, "send to backend failed");
			return false;
		}
		if ((size_t)k == n)
			return true;
	}
	if (!gw_buf_append(&s->out, (const uint8_t *)p + k, n - (size_t)k)) {
		server_close(s, "out of memory");
		return false;
	}
	event_add(s->wev, NULL);
	return true;
}

bool server_send_wbuf(struct gw_server *s, struct wire_buf *b)
{
	bool ok;

	if (b->failed) {
		wire_buf_free(b);
		server_close(s, "out of memory");
		return false;
	}
	ok = gw_server_send(s, b->data, b->len);
	wire_buf_free(b);
	return ok;
}

/*
 * Stop the statement orphan o still runs (issue 11: a client that leaves must not leave
 * its statement running on the backend): KILL QUERY as o's account, which may kill its
 * own threads, from an idle connection: one of that account's if there is one, else any,
 * switched to the account first with cred (what o's client proved). Without an idle
 * connection, o's drain waits for the end.
 */
static void server_kill_for(const struct gw_server *o, const struct gw_cred *cred)
{
	struct gw_server *k, *any = NULL;
	struct wire_buf b;

	pthread_mutex_lock(&gw.sched_lock);
	for (k = gw.idle; k; k = k->next) {
		if (k->fd < 0)
			continue;
		if (k->account == o->account && k->cred_gen == cred->gen)
			break;
		if (!any)
			any = k;
	}
	if (!k)
		k = any;
	if (k) {
		idle_remove_locked(k);
		server_set_state(k, GW_SV_ASSIGNED); /* its old worker's read event lets go */
	}
	pthread_mutex_unlock(&gw.sched_lock);
	if (!k)
		return;
	server_attach(k, o->worker);
	server_set_state(k, GW_SV_KILLER);
	k->kill_tid = o->backend_conn_id;
	k->kill_account = o->account;
	k->kill_cred = *cred;
	gw_log_debug("S-%u: KILL QUERY %u of S-%u (its client left)%s", k->id, o->backend_conn_id,
	             o->id, k->account == o->account ? "" : ", after a switch to its account");
	wire_buf_init(&b);
	if (k->account == o->account && k->cred_gen == cred->gen) {
		server_kill_send(k);
		return;
	}
	k->kill_step = 0;
	{
		struct wire_change_user cu;

		memset(&cu, 0, sizeof(cu));
		gw_strlcpy(cu.user, o->account->name, sizeof(cu.user));
		if (cred->has_password) {
			auth_native_scramble(cred->stage1, k->salt, cu.auth);
			cu.auth_len = 20;
		}
		cu.charset = k->charset;
		gw_strlcpy(cu.auth_plugin, AUTH_NATIVE, sizeof(cu.auth_plugin));
		wire_build_change_user(&b, 0, k->caps, &cu);
	}
	server_send_wbuf(k, &b);
}

/* KILLER k, as its target's account: send the KILL QUERY. */
static void server_kill_send(struct gw_server *k)
{
	struct wire_buf b;
	char sql[40];
	size_t off;
	int n = snprintf(sql, sizeof(sql), "KILL QUERY %u", k->kill_tid);

	k->kill_step = 2;
	wire_buf_init(&b);
	off = wire_packet_begin(&b, 0);
	wire_put_u8(&b, COM_QUERY);
	wire_put_bytes(&b, sql, (size_t)n);
	wire_packet_end(&b, off);
	server_send_wbuf(k, &b);
}

/* Whole packets of the answers to server_kill_for()'s steps: the switch (an auth switch
 * request, then OK; a refusal closes k), then the KILL's OK or ERR (the statement had
 * ended): either way k goes back to the pool, as the account it now is. */
static void server_killer_read(struct gw_server *k)
{
	while (server_state(k) == GW_SV_KILLER) {
		const uint8_t *h = k->in.data + k->in.start;
		size_t avail = gw_buf_len(&k->in);
		uint32_t len;
		uint8_t seq;

		if (avail < WIRE_HDR_LEN || avail < WIRE_HDR_LEN + (size_t)wire_u24(h))
			return;
		len = wire_u24(h);
		seq = h[3];
		k->in.start += WIRE_HDR_LEN + len;
		if (k->in.start == k->in.end)
			k->in.start = k->in.end = 0;
		if (len == 0) {
			server_close(k, "empty packet from backend");
			return;
		}
		if (k->kill_step == 2) {
			if (h[WIRE_HDR_LEN] != 0x00 && h[WIRE_HDR_LEN] != 0xff) {
				server_close(k, "unexpected answer to KILL QUERY");
				return;
			}
			explicit_bzero(&k->kill_cred, sizeof(k->kill_cred));
			server_set_state(k, GW_SV_ACTIVE);
			gw_server_release(k, /* reusable= */ true);
			return;
		}
		if (h[WIRE_HDR_LEN] == 0xfe && len > 1 && k->kill_step == 0) {
			struct wire_buf b;

			wire_buf_init(&b);
			if (!server_auth_switch(k, h + WIRE_HDR_LEN, len, seq, &k->kill_cred, &b)) {
				wire_buf_free(&b);
				return;
			}
			k->kill_step = 1;
			server_send_wbuf(k, &b);
			continue;
		}
		if (h[WIRE_HDR_LEN] != 0x00) {
			/* Refused (the account's password changed on the backend): what is left
			 * of the session is unknown, so it goes. */
			server_close(k, "account switch for a KILL refused");
			return;
		}
		/* Switched: a fresh session of the target's account. */
		k->account = k->kill_account;
		k->cred_gen = k->kill_cred.gen;
		k->db[0] = '\0';
		gw_server_session_reset(k);
		server_kill_send(k);
	}
}

/* ---- capture: reading back user variables and LAST_INSERT_ID() (uvars.h) ---- */

bool gw_server_capture(struct gw_server *s, struct gw_client *c)
{
	struct wire_buf b;
	/* LAST_INSERT_ID() once the session has used it in SQL (or always, with
	 * --exact-last-insert-id): until then the OK packets' insert ids stand for it, which
	 * differ only after an insert with an explicit id (docs/pooling.md). */
	bool lid = c->lid_dirty && (c->lid_used || gw.cfg.exact_lid);
	bool names = c->uv_dirty && c->uv_dirty->n > 0;

	if ((!lid && !names) || gw.cfg.no_replay)
		return false;
	wire_buf_init(&b);
	/* With the variables a statement assigned, the names of the others that have a
	 * value: the connection had the session's variables alone (the rest NULL) when the
	 * statement began, so any other was set by a stored function it called. Not after
	 * warnings or an error: the list reads a table, which would empty the diagnostics
	 * area the session may read. */
	if (!gw_capture_begin(&s->cap, &b, lid, c->uv_dirty, (s->caps & CLIENT_DEPRECATE_EOF) != 0,
	                      names && !c->diag_want ? &c->uvars : NULL)) {
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
static void server_capture_read(struct gw_server *s)
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

void gw_server_orphan(struct gw_server *s, bool awaits_client, const struct gw_cred *cred)
{
	s->client = NULL;
	if (server_state(s) != GW_SV_ACTIVE) {
		server_close(s, "client left before its command ran");
		return;
	}
	if (s->resp.state == WRS_INFILE || awaits_client) {
		/* The server waits for file data (or the command's tail) that will never
		 * come: closing aborts the statement, and MariaDB rolls it back. */
		server_close(s, "client left mid-statement");
		return;
	}
	server_set_state(s, GW_SV_DRAIN);
	gw_server_pause(s, false);
	if (s->resp.state != WRS_DONE && s->account)
		server_kill_for(s, cred);
}

/* Close the socket and free the slot; a client still bound learns it lost its server. */
void server_close(struct gw_server *s, const char *why)
{
	struct gw_msg *local = NULL, *remote = NULL;
	struct gw_client *c = s->client;
	enum gw_server_state st = server_state(s);

	if (st == GW_SV_CLOSED)
		return;
	gw_log_debug("S-%u closing (%s) in %s", s->id, why, gw_server_state_name(st));
	s->client = NULL;
	if (s->fd >= 0) {
		event_del(s->ev);
		event_del(s->wev);
		close(s->fd);
		s->fd = -1;
	}
	s->paused = false;
	__atomic_store_n(&s->busy, false, __ATOMIC_RELEASE);
	s->in.start = s->in.end = 0;
	s->out.start = s->out.end = 0;
	s->scan = s->skip = 0;
	s->continued = false;
	pthread_mutex_lock(&gw.sched_lock);
	if (st == GW_SV_IDLE)
		idle_remove_locked(s);
	else if (st == GW_SV_HELD)
		unhold_locked(s);
	server_set_state(s, GW_SV_CLOSED);
	s->kill_hold = false;
	s->account = NULL;
	s->db[0] = '\0';
	gw_sstmts_clear(&s->stmts);
	s->prep_resp_first = false;
	gw.nlive--;
	__atomic_store_n(&gw.freed_ns, gw_now_ns(), __ATOMIC_RELAXED);
	gw_sched_dispatch_locked(gw_now_ns(), &local, &remote);
	pthread_mutex_unlock(&gw.sched_lock);
	if (c) {
		uint8_t seq = st == GW_SV_ACTIVE ? (uint8_t)(s->last_seq + 1) : 1;

		if (st == GW_SV_ACTIVE && s->last_seq == 0)
			seq = 1;
		gw_client_server_lost(c, seq, why);
	}
	gw_sched_deliver(local, remote);
}

void gw_server_fail(struct gw_server *s, const char *why)
{
	server_close(s, why);
}

bool gw_server_flush_closes(struct gw_server *s)
{
	struct wire_buf b;

	if (s->stmts.nclosing == 0)
		return true;
	wire_buf_init(&b);
	stmt_build_closes(s, &b);
	return server_send_wbuf(s, &b);
}

/* A connect failure: remember it, fail fast for a while, tell the client. */
void server_connect_failed(struct gw_server *s, const char *what)
{
	char msg[300];
	bool changed;

	snprintf(msg, sizeof(msg), "%s:%u: %s", gw.cfg.backend_host, gw.cfg.backend_port, what);
	pthread_mutex_lock(&gw.sched_lock);
	changed = strcmp(gw.backend_error, msg) != 0;
	gw_strlcpy(gw.backend_error, msg, sizeof(gw.backend_error));
	gw.connect_failures++;
	gw.down_until_ns = gw_now_ns() + BACKOFF_NS;
	pthread_mutex_unlock(&gw.sched_lock);
	if (changed)
		gw_log_warn("backend %s", msg);
	server_close(s, "connect failed");
}

/* ---- connect and log in ---- */

void server_connect(struct gw_server *s, struct gw_client *c)
{
	struct gw_worker *w = c->worker;
	int one = 1, fd;
	struct sockaddr_storage sa;
	socklen_t salen;

	gw_sstmts_clear(&s->stmts); /* a new session: nothing prepared on it */
	pthread_mutex_lock(&gw.sched_lock);
	sa = gw.backend_sa; /* the admin API may change it */
	salen = gw.backend_salen;
	pthread_mutex_unlock(&gw.sched_lock);
	if (!s->ev) {
		s->ev = event_new(w->base, -1, EV_READ | EV_PERSIST, server_on_read, s);
		s->wev = event_new(w->base, -1, EV_WRITE | EV_PERSIST, server_on_write, s);
		s->hold_ev = event_new(w->base, -1, 0, server_on_hold_end, s);
		if (!s->ev || !s->wev || !s->hold_ev) {
			server_connect_failed(s, "out of memory");
			return;
		}
		event_priority_set(s->hold_ev, GW_PRIO_HIGH);
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	s->worker = w;
	s->caps_class = c->caps & GW_CAPS_CLASS_MASK;
	s->account = NULL;
	s->db[0] = '\0';
	s->paused = false;
	s->connect_start_ns = gw_now_ns();
	server_set_state(s, GW_SV_CONNECTING);
	if (fd < 0) {
		server_connect_failed(s, strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->fd = fd;
	event_assign(s->ev, w->base, fd, EV_READ | EV_PERSIST, server_on_read, s);
	event_assign(s->wev, w->base, fd, EV_WRITE | EV_PERSIST, server_on_write, s);
	event_priority_set(s->ev, GW_PRIO_HIGH);
	event_priority_set(s->wev, GW_PRIO_HIGH);
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0 && errno != EINPROGRESS) {
		server_connect_failed(s, strerror(errno));
		return;
	}
	event_add(s->wev, NULL); /* writable = connected (or failed) */
}

static void server_login(struct gw_server *s, const uint8_t *p, uint32_t len)
{
	struct gw_client *c = s->client;
	struct wire_handshake h;
	struct wire_handshake_resp r;
	struct wire_buf b;

	if (!wire_parse_handshake(p, len, &h)) {
		server_connect_failed(s, "not a MySQL server (bad handshake)");
		return;
	}
	memcpy(s->salt, h.scramble, sizeof(s->salt));
	s->backend_conn_id = h.conn_id;
	memset(&r, 0, sizeof(r));
	r.caps =
	    (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS |
	     CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
	     CLIENT_SESSION_TRACK | CLIENT_LOCAL_FILES | CLIENT_MULTI_RESULTS |
	     CLIENT_PS_MULTI_RESULTS | (c->caps & CLIENT_MULTI_STATEMENTS) | s->caps_class) &
	    h.caps;
	if (c->db[0])
		r.caps |= CLIENT_CONNECT_WITH_DB;
	r.max_packet = 1u << 30;
	r.charset = c->charset;
	gw_strlcpy(r.user, c->account->name, sizeof(r.user));
	if (c->cred.has_password) {
		auth_native_scramble(c->cred.stage1, s->salt, r.auth);
		r.auth_len = 20;
	}
	gw_strlcpy(r.db, c->db, sizeof(r.db));
	gw_strlcpy(r.auth_plugin, AUTH_NATIVE, sizeof(r.auth_plugin));
	/* MariaDB's bulk execute (it changes nothing else), and its extended metadata
	 * whatever this client asked: the connection serves clients of both kinds, and
	 * server_fix_coldef() converts. */
	if (!(r.caps & CLIENT_MYSQL))
		r.ext_caps = h.ext_caps & (MARIADB_CLIENT_STMT_BULK_OPERATIONS |
		                           MARIADB_CLIENT_EXTENDED_METADATA);
	s->caps = r.caps;
	s->ext_caps = r.ext_caps;
	wire_buf_init(&b);
	wire_build_handshake_resp(&b, 1, &r);
	if (!server_send_wbuf(s, &b))
		return;
	s->account = c->account;
	s->cred_gen = c->cred.gen;
	gw_strlcpy(s->db, c->db, sizeof(s->db));
	s->charset = c->charset;
	gw_server_session_reset(s);
	server_set_state(s, GW_SV_LOGIN);
	s->prep_n = s->prep_i = 0;
}

/* AuthSwitchRequest from the backend (login or COM_CHANGE_USER): the native answer goes
 * into b. False (s closed) when the backend wants a plugin sluice does not speak. */
static bool server_auth_switch(struct gw_server *s, const uint8_t *p, uint32_t len, uint8_t seq,
                               const struct gw_cred *cred, struct wire_buf *b)
{
	struct wire_cur cur = wire_cur_init(p + 1, len - 1);
	const char *plugin;
	const uint8_t *salt;
	size_t plen;
	size_t off;
	uint8_t answer[20];

	if (!wire_get_cstr(&cur, &plugin, &plen) || strcmp(plugin, AUTH_NATIVE) != 0 ||
	    !wire_get_bytes(&cur, 20, &salt)) {
		char why[160];

		snprintf(why, sizeof(why),
		         "backend asks for auth plugin '%.60s'; sluice speaks "
		         "mysql_native_password only",
		         plen ? plugin : "?");
		server_close(s, why);
		return false;
	}
	memcpy(s->salt, salt, sizeof(s->salt));
	off = wire_packet_begin(b, (uint8_t)(seq + 1));
	if (cred->has_password) {
		auth_native_scramble(cred->stage1, s->salt, answer);
		wire_put_bytes(b, answer, sizeof(answer));
	}
	wire_packet_end(b, off);
	return true;
}

/* ---- reading ---- */

/* "what: <the backend's message>" of an ERR payload, or "what" alone, into buf. */
static void server_err_reason(const uint8_t *p, size_t len, const char *what, char *buf, size_t n)
{
	struct wire_err e;

	if (wire_parse_err(p, len, &e))
		snprintf(buf, n, "%s: %.*s", what, (int)(e.msg_len > 200 ? 200 : e.msg_len),
		         (const char *)e.msg);
	else
		snprintf(buf, n, "%s", what);
}

/* Pass an ERR from the backend to the client as the answer to its command. */
static void server_relay_err(struct gw_server *s, struct gw_client *c, const uint8_t *p,
                             uint32_t len)
{
	struct wire_err e;
	char msg[400];

	if (!wire_parse_err(p, len, &e)) {
		e.code = 2013;
		memcpy(e.sqlstate, "HY000", 6);
		e.msg = (const uint8_t *)"malformed error from backend";
		e.msg_len = strlen((const char *)e.msg);
	}
	snprintf(msg, sizeof(msg), "%.*s", (int)e.msg_len, (const char *)e.msg);
	(void)s;
	gw_client_command_error(c, 1, e.code, e.sqlstate, msg);
}

/* One step of the PREPARE write was answered: on to the next answer, or, once all
 * are in, to what is left (the steps held back behind a COM_CHANGE_USER) or the
 * command. */
void server_prep_answered(struct gw_server *s, struct gw_client *c)
{
	if (++s->prep_i < s->prep_n)
		return;
	server_prepare(s, c);
}

/* One whole packet during LOGIN or PREPARE. */
static void server_control_packet(struct gw_server *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	struct gw_client *c = s->client;
	enum gw_prep_step step;

	if (!c) {
		server_close(s, "client gone");
		return;
	}
	if (server_state(s) == GW_SV_LOGIN && seq == 0) {
		server_login(s, p, len);
		return;
	}
	if (len == 0) {
		server_close(s, "empty packet from backend");
		return;
	}
	step = server_state(s) == GW_SV_PREPARE ? s->prep_q[s->prep_i] : GW_PREP_NONE;
	if ((step == GW_PREP_STMT || step == GW_PREP_STMT_DB) && p[0] != 0xff) {
		stmt_answer(s, c, step, p, len);
		return;
	}
	if (step == GW_PREP_SET_OPTION && (p[0] == 0x00 || (p[0] == 0xfe && len < 9))) {
		s->caps ^= CLIENT_MULTI_STATEMENTS; /* answered with EOF (or OK): done */
		server_prep_answered(s, c);
		return;
	}
	if (p[0] == 0xfe && len > 1) {
		struct wire_buf b;

		wire_buf_init(&b);
		if (!server_auth_switch(s, p, len, seq, &c->cred, &b)) {
			wire_buf_free(&b);
			return;
		}
		/* Nothing rides behind the answer: a refused change leaves the connection
		 * logged in as its previous account, which must run nothing of c's (issue
		 * 11). The rest follows the change's OK (server_prep_answered). */
		if (step == GW_PREP_CHANGE_USER)
			s->prep_q[s->prep_i] = GW_PREP_CHANGE_USER_AUTH;
		server_send_wbuf(s, &b);
		return;
	}
	if (p[0] == 0xff) {
		/* Login, change user, init db or the SET refused: the client's command
		 * fails with the backend's own error; the server is left in a clean state
		 * only when COM_INIT_DB failed and nothing was sent behind it. */
		bool keep = step == GW_PREP_INIT_DB && s->prep_i + 1 == s->prep_n;
		const uint8_t *cp;
		uint32_t clen;

		if (c->login_check) {
			/* The login named a schema the backend refused (issue 12): its error
			 * is the login's answer. */
			gw_client_login_checked(c, s, p, len, keep);
			return;
		}

		if ((step == GW_PREP_STMT || step == GW_PREP_STMT_DB) &&
		    (c->pinned || c->in_trans || c->cmd == COM_STMT_SEND_LONG_DATA)) {
			/* The statement could not be prepared again where the session's state
			 * (or the long data sent so far) lives: the session cannot go on. */
			char why[300];

			server_err_reason(p, len, "preparing the statement again failed", why,
			                  sizeof(why));
			server_close(s, why);
			return;
		}
		server_relay_err(s, c, p, len);
		if (c->state == GW_CL_CLOSED)
			return;
		pthread_mutex_lock(&gw.sched_lock);
		(void)gw_client_req_done_locked(c, gw_now_ns() - s->started_ns, gw_now_ns());
		gw_client_unqueued_done_locked(c);
		gw_client_hold_drop_locked(c); /* it never ran */
		pthread_mutex_unlock(&gw.sched_lock);
		/* Drop the command that never ran. */
		if (gw_buf_len(&c->in) >= WIRE_HDR_LEN) {
			cp = c->in.data + c->in.start;
			clen = wire_u24(cp);
			if (gw_buf_len(&c->in) >= WIRE_HDR_LEN + clen)
				c->in.start += WIRE_HDR_LEN + clen;
		}
		c->server = NULL;
		s->client = NULL;
		c->state = GW_CL_IDLE;
		if (keep)
			gw_server_release(s, /* reusable= */ true);
		else
			server_close(s, "login refused by backend");
		return;
	}
	if (p[0] != 0x00) {
		server_close(s, "unexpected packet during login");
		return;
	}
	/* OK: logged in, user changed, schema changed or variables set. */
	if (step == GW_PREP_INIT_DB || step == GW_PREP_CHANGE_USER ||
	    step == GW_PREP_CHANGE_USER_AUTH || server_state(s) == GW_SV_LOGIN)
		c->login_db_verified = true; /* each of these took c->db (a login's check) */
	switch (step) {
	case GW_PREP_SET:
		s->tracking = true;
		if (!gw_vars_copy(&s->vars, &c->vars) ||
		    (!gw.cfg.no_replay && !gw_vars_copy(&s->uvars, &c->uvars))) {
			server_close(s, "out of memory");
			return;
		}

		if ((c->sql_flags & SQL_LAST_INSERT_ID) && !gw.cfg.no_replay)
			s->lid_client = c->id;
		break;
	case GW_PREP_INIT_DB:
		gw_strlcpy(s->db, c->db, sizeof(s->db));
		break;
	case GW_PREP_CHANGE_USER:
	case GW_PREP_CHANGE_USER_AUTH:
		/* A fresh session */
		s->account = c->account;
		s->cred_gen = c->cred.gen;
		s->charset = c->charset;
		gw_strlcpy(s->db, c->db, sizeof(s->db));
		gw_server_session_reset(s);
		break;
	case GW_PREP_CLEAR:
	case GW_PREP_SET_OPTION: /* handled above */
	case GW_PREP_STMT_DB:
	case GW_PREP_STMT:
	case GW_PREP_NONE: /* the login */
		break;
	}
	if (server_state(s) == GW_SV_LOGIN) {
		pthread_mutex_lock(&gw.sched_lock);
		gw.backend_error[0] = '\0';
		pthread_mutex_unlock(&gw.sched_lock);
		server_prepare(s, c);
		return;
	}
	server_prep_answered(s, c);
}

static size_t lenenc_size(uint64_t v)
{
	return v < 0xfb ? 1 : v <= 0xffff ? 3 : v <= 0xffffff ? 4 : 9;
}

/*
 * An OK packet [pkt, end) went by in the response: learn the session state it reports
 * (variables, schema, "something else changed"), and rewrite it for a client that did
 * not ask for session tracking (the backend connection always does).
 */
/* server_fix_coldef() moves at most this many bytes to take a block out: bytes before the
 * packet beyond that are sent first */
#define GW_COLDEF_MOVE_MAX 4096

/*
 * A column definition (the whole packet at offset pkt of s->in, ending at end) for a
 * client whose idea of MariaDB's extended metadata differs from s's (issue 12): backend
 * connections take the metadata whenever MariaDB has it, since each serves clients of
 * both kinds. A client that did not ask gets the definition without the block, in place:
 * the bytes before the block, from the start of what is not forwarded yet, move up over
 * it (no extra send, nothing after it moves). A client that asked, on a connection
 * without it (a backend changed since start), gets an empty block in a rebuilt packet.
 */
static void server_fix_coldef(struct gw_server *s, size_t pkt, size_t end)
{
	struct gw_client *c = s->client;
	uint8_t *d = s->in.data;
	size_t n = end - pkt - WIRE_HDR_LEN;
	bool has_ext = (s->ext_caps & MARIADB_CLIENT_EXTENDED_METADATA) != 0;
	size_t cut, cut_len, head;
	struct wire_buf b;
	size_t off;

	if (!c || server_state(s) != GW_SV_ACTIVE ||
	    !wire_coldef_ext_block(d + pkt + WIRE_HDR_LEN, n, has_ext, &cut, &cut_len))
		return;
	if (has_ext) {
		if (pkt - s->in.start > GW_COLDEF_MOVE_MAX) {
			gw_client_forward(c, d + s->in.start, pkt - s->in.start);
			s->in.start = pkt;
		}
		head = pkt + WIRE_HDR_LEN + cut - s->in.start;
		memmove(d + s->in.start + cut_len, d + s->in.start, head);
		s->in.start += cut_len;
		pkt += cut_len;
		n -= cut_len;
		d[pkt] = (uint8_t)n;
		d[pkt + 1] = (uint8_t)(n >> 8);
		d[pkt + 2] = (uint8_t)(n >> 16);
		return;
	}
	wire_buf_init(&b);
	off = wire_packet_begin(&b, d[pkt + 3]);
	wire_put_bytes(&b, d + pkt + WIRE_HDR_LEN, cut);
	wire_put_lenenc(&b, 0);
	wire_put_bytes(&b, d + pkt + WIRE_HDR_LEN + cut, n - cut);
	wire_packet_end(&b, off);
	if (!b.failed) {
		gw_client_forward2(c, d + s->in.start, pkt - s->in.start, b.data, b.len);
		s->in.start = end;
	}
	wire_buf_free(&b);
}

/*
 * A row of a status query of a compressed client (c->status_compress): the backend
 * speaks of its own connection, which is not compressed; the client's is. A row
 * (Compression, OFF) is forwarded as (Compression, ON), as MariaDB answers a compressed
 * client (issue 12): a text row, or a binary one (a prepared execute: 0x00, the NULL
 * bitmap, whose first two bits are reserved, then the two strings). pkt..end is the whole
 * packet in s->in; the bytes before it are forwarded first, as server_on_ok() does.
 */
static void server_on_status_row(struct gw_server *s, const uint8_t *pkt, size_t end)
{
	const uint8_t *p = pkt + WIRE_HDR_LEN;
	size_t n = end - (size_t)(pkt - s->in.data) - WIRE_HDR_LEN;
	struct wire_cur cur = wire_cur_init(p, n);
	struct gw_client *c = s->client;
	const uint8_t *name, *value;
	size_t name_len, value_len;
	struct wire_buf b;
	size_t off;

	bool binary = s->resp.kind == WIRE_RESP_EXECUTE;

	if (binary) {
		/* two columns: one bitmap byte, bits 2 and 3 theirs, neither NULL */
		if (n < 2 || p[0] != 0x00 || (p[1] & 0x0c) != 0)
			return;
		cur = wire_cur_init(p + 2, n - 2);
	}
	if (!c || server_state(s) != GW_SV_ACTIVE || (s->resp.kind != WIRE_RESP_QUERY && !binary) ||
	    n == 0 || (!binary && p[0] >= 0xfb) || !wire_get_lenenc_str(&cur, &name, &name_len) ||
	    !wire_get_lenenc_str(&cur, &value, &value_len) || wire_cur_left(&cur) != 0 ||
	    name_len != 11 || strncasecmp((const char *)name, "compression", 11) != 0 ||
	    value_len != 3 || memcmp(value, "OFF", 3) != 0)
		return;
	wire_buf_init(&b);
	off = wire_packet_begin(&b, pkt[3]);
	if (binary)
		wire_put_bytes(&b, p, 2);
	wire_put_lenenc_str(&b, name, name_len);
	wire_put_lenenc_str(&b, "ON", 2);
	wire_packet_end(&b, off);
	if (!b.failed) {
		gw_client_forward2(c, s->in.data + s->in.start,
		                   (size_t)(pkt - s->in.data) - s->in.start, b.data, b.len);
		s->in.start = (size_t)(pkt - s->in.data) + WIRE_HDR_LEN + n;
	}
	wire_buf_free(&b);
}

static void server_on_ok(struct gw_server *s, const uint8_t *pkt, size_t end)
{
	const uint8_t *p = pkt + WIRE_HDR_LEN;
	size_t n = end - (size_t)(pkt - s->in.data) - WIRE_HDR_LEN;
	struct gw_client *c = s->client;
	struct gw_session_change chg;
	struct wire_ok ok;
	struct wire_buf b;

	if (!wire_parse_ok(p, n, s->caps, &ok))
		return;
	if (c && ok.last_insert_id) {
		/* What LAST_INSERT_ID() returns now, unless the id was given, not generated:
		 * exact once captured (uvars.h). The backend holds c's value. */
		c->last_insert_id = ok.last_insert_id;
		c->lid_dirty = true;
		s->lid_client = c->id;
	}
	if (ok.state_len > 0) {
		if (!gw_session_parse(ok.state, ok.state_len, &s->vars, &chg)) {
			if (c)
				c->pin_pending = true; /* can't tell: keep it safe */
		} else {
			if (chg.schema)
				gw_strlcpy(s->db, chg.db, sizeof(s->db));
			if (c) {
				struct gw_session_change cchg;

				gw_session_parse(ok.state, ok.state_len, &c->vars, &cchg);
				if (chg.schema)
					gw_strlcpy(c->db, chg.db, sizeof(c->db));
				if (chg.lid_set) { /* SET last_insert_id = N */
					c->last_insert_id = chg.lid;
					c->lid_dirty = false;
					s->lid_client = c->id;
				}
				/* The variables and schema reported explain a state change
				 * only for COM_INIT_DB and for SET / USE statements, and so do
				 * the user variables a statement assigns (captured when it
				 * ends); anything else (a procedure, say) may also have set
				 * what nothing reports: a user variable, a temporary table. */
				bool uv = c->cmd == COM_QUERY && (c->sql_flags & SQL_UVAR_WRITE);
				bool told =
				    c->cmd == COM_INIT_DB ||
				    (c->cmd == COM_QUERY && !(c->sql_flags & SQL_NOT_SET_USE)) ||
				    uv;

				if ((chg.state_changed &&
				     (!told ||
				      (chg.nvars == 0 && !chg.schema && !chg.lid_set && !uv))) ||
				    chg.overflow || cchg.overflow)
					c->pin_pending = true;
			}
		}
	}
	if (!c || (c->caps & CLIENT_SESSION_TRACK) || server_state(s) != GW_SV_ACTIVE ||
	    s->infile_refused)
		return; /* (a refused LOCAL INFILE's OK is replaced whole, below) */
	/* The client expects the pre-tracking OK: info as plain text, no state block. */
	if (n <= 5 + lenenc_size(ok.affected_rows) + lenenc_size(ok.last_insert_id))
		return; /* nothing after the warnings: the same in both formats */
	wire_buf_init(&b);
	gw_ok_strip_tracking(&b, pkt[3], p, n, s->caps);
	if (!b.failed) {
		gw_client_forward2(c, s->in.data + s->in.start,
		                   (size_t)(pkt - s->in.data) - s->in.start, b.data, b.len);
		s->in.start = (size_t)(pkt - s->in.data) + WIRE_HDR_LEN + n;
	}
	wire_buf_free(&b);
}

/*
 * LOAD DATA LOCAL from a client that did not allow CLIENT_LOCAL_FILES (backend
 * connections always do): the server's file request [pkt, end) is not passed on; the
 * server gets an empty file at once, and its answer is replaced by the ERR 1148 MySQL
 * gives such a client.
 */
static void server_refuse_infile(struct gw_server *s, size_t pkt, size_t end,
                                 enum wire_resp_step step)
{
	struct gw_client *c = s->client;
	uint8_t *d = s->in.data;
	struct wire_buf b;

	wire_buf_init(&b);
	if (step == WIRE_STEP_INFILE) {
		s->infile_refused = true;
		s->infile_seq = d[pkt + 3];
		wire_packet_begin(&b, (uint8_t)(d[pkt + 3] + 1));
		wire_packet_end(&b, 0);
		gw_client_forward(c, d + s->in.start, pkt - s->in.start);
		s->in.start = end;
		s->scan = 0;
		wire_resp_infile_sent(&s->resp);
		if (!b.failed && gw_server_send(s, b.data, b.len) &&
		    server_state(s) != GW_SV_CLOSED)
			server_stream(s); /* bytes after it, if any */
		wire_buf_free(&b);
		return;
	}
	s->infile_refused = false;
	wire_build_err(&b, s->infile_seq, 1148, "42000",
	               "The used command is not allowed with this MariaDB version (the client "
	               "did not enable LOCAL INFILE)");
	if (!b.failed)
		gw_client_forward2(c, d + s->in.start, pkt > s->in.start ? pkt - s->in.start : 0,
		                   b.data, b.len);
	wire_buf_free(&b);
	s->in.start = end;
	s->scan = 0;
	if (s->in.start == s->in.end)
		s->in.start = s->in.end = 0;
	if (s->client)
		gw_client_response_done(s->client, s);
}

/* The first packet of the answer to a client's COM_STMT_PREPARE. A client that left
 * (DRAIN) leaves a statement nobody will use: closed with the next write. */
static void stmt_prepared(struct gw_server *s, uint8_t *p, uint32_t len)
{
	struct wire_prepare_ok ok;

	if (s->client && server_state(s) == GW_SV_ACTIVE)
		gw_client_stmt_prepared(s->client, s, p, len);
	else if (wire_parse_prepare_ok(p, len, &ok))
		gw_sstmts_close_later(&s->stmts, ok.stmt_id);
}

/* The packet at pos of s->in (len bytes of payload) goes to the client as it comes,
 * without being parsed: its sequence id lowered for the client (once), the bytes skipped
 * from here on. */
static void server_pass_packet(struct gw_server *s, size_t pos, uint32_t len)
{
	s->in.data[pos + 3] = (uint8_t)(s->in.data[pos + 3] - s->seq_delta);
	s->last_seq = s->in.data[pos + 3];
	s->continued = len == WIRE_MAX_PAYLOAD;
	s->skip = WIRE_HDR_LEN + (size_t)len;
}

/*
 * Parse response packets in s->in, feeding the tracker, and forward everything parsed
 * to the client. Rows may be passed on before they have arrived whole (skip), so a huge
 * row or result never sits in memory.
 */
static void server_stream(struct gw_server *s)
{
	const uint8_t *d;
	size_t pos, end;
	enum wire_resp_step step = WIRE_STEP_MORE;
	struct gw_client *c;
	size_t need = 0, last_pkt = 0;

	if (server_state(s) == GW_SV_ACTIVE && s->resp.state == WRS_DONE && s->client &&
	    s->client->state == GW_CL_IDLE) {
		/* A pinned connection between statements: nothing was asked, and nothing
		 * may reach the client unasked (a server's goodbye ERR before it closes). */
		const uint8_t *h = s->in.data + s->in.start;
		size_t avail = gw_buf_len(&s->in);
		static const char what[] = "the backend ended the session";
		char why[300];

		if (avail > WIRE_HDR_LEN && wire_u24(h) <= avail - WIRE_HDR_LEN)
			server_err_reason(h + WIRE_HDR_LEN, wire_u24(h), what, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", what);
		server_close(s, why);
		return;
	}

	for (;;) {
		d = s->in.data;
		pos = s->in.start + s->scan;
		end = s->in.end;
		while (pos < end && step == WIRE_STEP_MORE) {
			uint32_t len;
			size_t avail;

			if (s->skip) {
				size_t k = end - pos < s->skip ? end - pos : s->skip;

				pos += k;
				s->skip -= k;
				continue;
			}
			avail = end - pos;
			if (avail < WIRE_HDR_LEN)
				break;
			len = wire_u24(d + pos);
			if (s->continued) {
				/* The tail of a packet of 16 MiB or more: pass it on. */
				server_pass_packet(s, pos, len);
				continue;
			}
			if (avail >= WIRE_HDR_LEN + (size_t)len) {
				size_t pkt = pos;

				s->in.data[pos + 3] =
				    (uint8_t)(d[pos + 3] - s->seq_delta); /* once */
				s->last_seq = d[pos + 3];
				s->continued = len == WIRE_MAX_PAYLOAD;
				if (s->prep_resp_first) {
					/* The client's statement id goes in before it is
					 * forwarded, below. */
					s->prep_resp_first = false;
					stmt_prepared(s, s->in.data + pos + WIRE_HDR_LEN, len);
				}
				bool row = s->resp.state == WRS_ROWS;
				bool coldef = s->resp.state == WRS_COLDEFS ||
				              s->resp.state == WRS_PREP_PARAMS ||
				              s->resp.state == WRS_PREP_COLS;

				if (s->client && s->client->nsubs &&
				    ((s->resp.state == WRS_COLDEFS &&
				      s->client->cmd == COM_QUERY) ||
				     (s->resp.state == WRS_PREP_COLS &&
				      s->client->cmd == COM_STMT_PREPARE)))
					/* (a prepared statement's column keeps the literal's
					 * type: its binary rows are encoded by it) */
					gw_subst_coldef(s->client, s->in.data + pos + WIRE_HDR_LEN,
					                len, s->client->cmd == COM_QUERY);

				step = wire_resp_feed(&s->resp, d + pos + WIRE_HDR_LEN, len);
				pos += WIRE_HDR_LEN + (size_t)len;
				last_pkt = pkt;
				if (s->resp.ok_seen) {
					s->resp.ok_seen = false;
					server_on_ok(s, d + pkt, pos);
				} else if (row && step == WIRE_STEP_MORE && s->client &&
				           s->client->status_compress) {
					server_on_status_row(s, d + pkt, pos);
				} else if (coldef && s->client &&
				           ((s->ext_caps ^ s->client->ext_caps) &
				            MARIADB_CLIENT_EXTENDED_METADATA) &&
				           len >= 4 &&
				           memcmp(d + pkt + WIRE_HDR_LEN, "\003def", 4) == 0) {
					server_fix_coldef(s, pkt, pos);
				}
				continue;
			}
			if (avail > WIRE_HDR_LEN && len >= 1024 &&
			    wire_resp_can_stream(&s->resp, d[pos + WIRE_HDR_LEN], len)) {
				server_pass_packet(s, pos, len);
				continue;
			}
			/* A small packet not whole yet: make room for all of it, below. */
			need = WIRE_HDR_LEN + (size_t)len - avail;
			break;
		}
		if ((step == WIRE_STEP_INFILE || (step == WIRE_STEP_DONE && s->infile_refused)) &&
		    s->client && server_state(s) == GW_SV_ACTIVE &&
		    (step == WIRE_STEP_DONE || !(s->client->caps & CLIENT_LOCAL_FILES))) {
			server_refuse_infile(s, last_pkt, pos, step);
			return;
		}
		s->scan = pos - s->in.start;
		if (step == WIRE_STEP_BAD) {
			gw_log_warn("S-%u: response out of protocol sync; closing", s->id);
			server_close(s, "protocol error from backend");
			return;
		}
		/* Forward what was parsed. */
		c = s->client;
		if (s->scan > 0) {
			if (c && server_state(s) == GW_SV_ACTIVE)
				gw_client_forward(c, s->in.data + s->in.start, s->scan);
			s->in.start += s->scan;
			s->scan = 0;
			if (s->in.start == s->in.end)
				s->in.start = s->in.end = 0;
		}
		if (server_state(s) == GW_SV_CLOSED)
			return;
		if (need && !gw_buf_reserve(&s->in, need)) {
			server_close(s, "out of memory");
			return;
		}
		c = s->client;
		if (step == WIRE_STEP_INFILE) {
			if (c)
				gw_client_infile_begin(c);
			return;
		}
		if (step == WIRE_STEP_DONE) {
			__atomic_store_n(&s->busy, false, __ATOMIC_RELEASE);
			if (server_state(s) == GW_SV_DRAIN) {
				/* What the statement left behind (a transaction, say) goes with
				 * the connection: MariaDB rolls it back. */
				server_set_state(s, GW_SV_ACTIVE);
				gw_server_release(s, /* reusable= */ false);
			} else if (c) {
				gw_client_response_done(c, s);
			}
			return;
		}
		return;
	}
}

static void server_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct gw_server *s = arg;
	enum gw_server_state st = server_state(s);
	ssize_t n;

	(void)what;
	if (st == GW_SV_IDLE || st == GW_SV_HELD || st == GW_SV_ASSIGNED) {
		/* Idle connections only speak to say goodbye (wait_timeout, KILL,
		 * shutdown). If a client just took it, leave it to the new owner. */
		bool mine;

		pthread_mutex_lock(&gw.sched_lock);
		mine = server_state(s) == GW_SV_IDLE || server_state(s) == GW_SV_HELD;
		if (server_state(s) == GW_SV_IDLE)
			idle_remove_locked(s);
		else if (server_state(s) == GW_SV_HELD)
			unhold_locked(s);
		if (mine)
			server_store_state(
			    s, GW_SV_ASSIGNED); /* so server_close won't unlink it again */
		pthread_mutex_unlock(&gw.sched_lock);
		if (mine)
			server_close(s, "backend closed an idle connection");
		return;
	}
	if (st == GW_SV_CLOSED || st == GW_SV_CONNECTING)
		return;
	if (!gw_buf_reserve(&s->in, GW_IO_CHUNK)) {
		server_close(s, "out of memory");
		return;
	}
	n = recv(fd, s->in.data + s->in.end, s->in.cap - s->in.end, 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		server_close(s, n == 0 ? "backend closed the connection" : strerror(errno));
		return;
	}
	s->in.end += (size_t)n;
	if (st == GW_SV_KILLER) {
		server_killer_read(s);
		return;
	}
	if (st == GW_SV_CAPTURE) {
		server_capture_read(s);
		return;
	}
	if (st == GW_SV_LOGIN || st == GW_SV_PREPARE) {
		/* Whole packets, one at a time. */
		while (server_state(s) == GW_SV_LOGIN || server_state(s) == GW_SV_PREPARE) {
			const uint8_t *h = s->in.data + s->in.start;
			size_t avail = gw_buf_len(&s->in);
			uint32_t len;

			if (avail < WIRE_HDR_LEN)
				break;
			len = wire_u24(h);
			if (avail < WIRE_HDR_LEN + (size_t)len)
				break;
			s->in.start += WIRE_HDR_LEN + len;
			if (s->in.start == s->in.end)
				s->in.start = s->in.end = 0;
			server_control_packet(s, h + WIRE_HDR_LEN, len, h[3]);
		}
		return;
	}
	server_stream(s);
}

void gw_server_resume(struct gw_server *s)
{
	gw_server_pause(s, false);
	if (gw_buf_len(&s->in) > 0 &&
	    (server_state(s) == GW_SV_ACTIVE || server_state(s) == GW_SV_DRAIN))
		server_stream(s);
}

static void server_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct gw_server *s = arg;
	ssize_t k;

	(void)what;
	if (server_state(s) == GW_SV_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		event_del(s->wev);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			server_connect_failed(s, strerror(err));
			return;
		}
		server_set_state(s, GW_SV_LOGIN);
		event_add(s->ev, NULL);
		return;
	}
	k = gw_send(fd, s->out.data + s->out.start, gw_buf_len(&s->out));
	if (k < 0) {
		server_close(s, "send to backend failed");
		return;
	}
	s->out.start += (size_t)k;
	if (gw_buf_len(&s->out) == 0) {
		s->out.start = s->out.end = 0;
		event_del(s->wev);
	}
}
