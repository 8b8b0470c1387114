/*
 * server.c - a backend connection's life: its events, connect and log in, the answers to
 * the sync steps, sending, KILL for a client that left, close. Bringing it in line with
 * a client and the capture are sync.c's, the answer's way to the client stream.c's, the
 * pool and the scheduler's dispatch pool.c's (server.h).
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

#include "gateway/client.h"
#include "gateway/done.h"
#include "gateway/hold.h"
#include "gateway/login.h"
#include "gateway/pool.h"
#include "gateway/server.h"
#include "gateway/stream.h"
#include "gateway/sync.h"
#include "gateway/thread.h"
#include "proto/auth.h"
#include "proto/log.h"
#include "proto/sqlscan.h"
#include "proto/util.h"

#define BACKOFF_NS (500u * 1000000u) /* after a failed connect, fail fast this long */

static const char *const server_state_names[] = { GW_SERVER_STATES(GW_X_NAME) };

static void server_on_read(evutil_socket_t fd, short what, void *arg);
static void server_on_write(evutil_socket_t fd, short what, void *arg);
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
	s->uvars_unlisted = 0;
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
	pthread_mutex_unlock(&gw.sched_lock);
	if (c) {
		uint8_t seq = st == GW_SV_ACTIVE ? (uint8_t)(s->last_seq + 1) : 1;

		if (st == GW_SV_ACTIVE && s->last_seq == 0)
			seq = 1;
		gw_client_server_lost(c, seq, why);
	}
	gw_sched_kick(); /* the slot may be connected again for queued work */
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
void server_err_reason(const uint8_t *p, size_t len, const char *what, char *buf, size_t n)
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
