/*
 * login.c - a client's way in: the greeting's answer (handshake response), the
 * AuthSwitchRequest round, password checks against the rules (with the failed-login delay
 * of hosts.h), the schema a login names (checked on a backend connection before the OK:
 * issue 12), and COM_CHANGE_USER, which is a login inside a session.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/accounts.h"
#include "gateway/client.h"
#include "gateway/done.h"
#include "gateway/hold.h"
#include "gateway/hosts.h"
#include "gateway/intake.h"
#include "gateway/killmap.h"
#include "gateway/login.h"
#include "gateway/pins.h"
#include "gateway/pool.h"
#include "gateway/sync.h"
#include "gateway/thread.h"
#include "proto/auth.h"
#include "proto/log.h"
#include "proto/util.h"

/* ---- authentication ---- */

static void client_deny_msg(const struct gw_client *c, const char *user, bool used_password,
                            char *msg, size_t msglen)
{
	char host[64];
	char *colon;

	gw_strlcpy(host, c->addr, sizeof(host));
	colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	snprintf(msg, msglen, "Access denied for user '%s'@'%s' (using password: %s)", user, host,
	         used_password ? "YES" : "NO");
}

static void client_deny_now(struct gw_client *c, uint8_t seq, const char *msg)
{
	gw_log_info("C-%llu %s: %s", (unsigned long long)c->id, c->addr, msg);
	client_send_err(c, seq, 1045, "28000", msg);
	client_close(c, "access denied");
}

/* Look up an account and check its password answer against our salt. Returns the
 * account (not yet counted as connected) with the credentials checked in *cred (what
 * the client's backend connections will authenticate with), or NULL. */
static struct gw_account *client_check_password(const char *user, const uint8_t *salt,
                                                const uint8_t *answer, size_t answer_len,
                                                struct gw_cred *cred)
{
	struct gw_account *a;
	bool ok;

	pthread_mutex_lock(&gw.sched_lock);
	a = gw_account_find_locked(user);
	if (a) {
		memcpy(cred->stage1, a->stage1, sizeof(cred->stage1));
		cred->has_password = a->has_password;
		cred->gen = a->cred_gen;
	}
	pthread_mutex_unlock(&gw.sched_lock);
	if (!a)
		return NULL;
	ok = auth_native_verify(cred->stage1, cred->has_password, salt, answer, answer_len);
	if (!ok)
		explicit_bzero(cred, sizeof(*cred));
	return ok ? a : NULL;
}

/* Count the client in against its account's max_connections; once in, its backend
 * connections authenticate with cred (what it proved). cred is wiped either way. */
static bool client_admit(struct gw_client *c, struct gw_account *a, struct gw_cred *cred,
                         uint8_t seq)
{
	char msg[400];
	bool ok;
	uint32_t limit;

	pthread_mutex_lock(&gw.sched_lock);
	limit = a->max_connections;
	ok = !a->dead && (limit == 0 || a->connections < limit);
	if (ok)
		a->connections++;
	else
		gw_account_reject_locked(a, GW_REJECT_MAX_CONNECTIONS);
	pthread_mutex_unlock(&gw.sched_lock);
	if (ok) {
		c->account = a;
		c->cred = *cred;
		explicit_bzero(cred, sizeof(*cred));
		gw_killmap_set_account(c);
		return true;
	}
	explicit_bzero(cred, sizeof(*cred));
	snprintf(msg, sizeof(msg),
	         "User %s already has more than 'max_user_connections' active connections "
	         "(sluice account '%s', max_connections %u)",
	         a->name, a->name, limit);
	gw_log_info("C-%llu %s: %s", (unsigned long long)c->id, c->addr, msg);
	client_send_err(c, seq, 1203, "42000", msg);
	client_close(c, "max_connections");
	return false;
}

static void client_send_auth_switch(struct gw_client *c, uint8_t seq)
{
	struct wire_buf b;
	size_t off;

	wire_buf_init(&b);
	off = wire_packet_begin(&b, seq);
	wire_put_u8(&b, 0xfe);
	wire_put_cstr(&b, AUTH_NATIVE);
	wire_put_bytes(&b, c->salt, sizeof(c->salt));
	wire_put_u8(&b, 0);
	wire_packet_end(&b, off);
	client_send_wbuf(c, &b);
}

/* The login's OK: the session begins. */
static void client_login_ok(struct gw_client *c, uint8_t seq)
{
	c->cu_old_account = NULL; /* a COM_CHANGE_USER is done */
	explicit_bzero(&c->cu_old_cred, sizeof(c->cu_old_cred));
	client_prelogin_done(c);
	gw_log_debug("C-%llu %s@%s logged in (db '%s', charset %u, capabilities 0x%08x)",
	             (unsigned long long)c->id, c->account->name, c->addr, c->db, c->charset,
	             c->caps);
	client_send_ok(c, seq);
	/* Everything after the OK travels in compressed frames when the client asked. */
	if (c->caps & CLIENT_COMPRESS)
		c->compress = true;
}

/* Under sched_lock: the slot of a's remembered schemas that names db, or NULL. */
static struct gw_db_seen *db_seen_find_locked(struct gw_account *a, const char *db)
{
	for (int i = 0; i < GW_DBS_SEEN; i++) {
		if (a->dbs_seen[i].until_ns && strcmp(a->dbs_seen[i].name, db) == 0)
			return &a->dbs_seen[i];
	}
	return NULL;
}

/* Did a login of c's account find c->db usable less than GW_DB_SEEN_TTL_NS ago? */
static bool client_db_seen(const struct gw_client *c, uint64_t now)
{
	struct gw_db_seen *e;
	bool seen;

	pthread_mutex_lock(&gw.sched_lock);
	e = db_seen_find_locked(c->account, c->db);
	seen = e && e->until_ns > now;
	pthread_mutex_unlock(&gw.sched_lock);
	return seen;
}

/* Remember (good) or forget c->db for c's account's next logins. */
static void client_db_remember(const struct gw_client *c, bool good, uint64_t now)
{
	struct gw_account *a = c->account;
	struct gw_db_seen *e;

	pthread_mutex_lock(&gw.sched_lock);
	e = db_seen_find_locked(a, c->db);
	if (good && !e) {
		/* An empty slot, else the one that expires first. */
		e = &a->dbs_seen[0];
		for (int i = 1; i < GW_DBS_SEEN && e->until_ns; i++) {
			if (a->dbs_seen[i].until_ns < e->until_ns)
				e = &a->dbs_seen[i];
		}
		gw_strlcpy(e->name, c->db, sizeof(e->name));
	}
	if (e)
		e->until_ns = good ? now + GW_DB_SEEN_TTL_NS : 0;
	pthread_mutex_unlock(&gw.sched_lock);
}

/* A login that was checked ends with the ERR (code, state, msg) at the login's sequence
 * id, and the connection closes, as MariaDB closes it. */
void client_login_refuse(struct gw_client *c, uint16_t code, const char *state, const char *msg)
{
	struct gw_account *old = c->cu_old_account;

	c->login_check = false;
	gw_log_info("C-%llu %s@%s: %s refused: %u %s", (unsigned long long)c->id, c->account->name,
	            c->addr, old ? "COM_CHANGE_USER" : "login", code, msg);
	if (!old) {
		client_send_err(c, c->auth_seq, code, state, msg);
		client_close(c, "login refused by the backend");
		return;
	}
	/* A refused COM_CHANGE_USER: the session goes on as the account before, in its
	 * schema (its variables and statements are gone: MariaDB resets them too). */
	pthread_mutex_lock(&gw.sched_lock);
	c->account->connections--;
	old->connections++;
	pthread_mutex_unlock(&gw.sched_lock);
	c->account = old;
	c->cred = c->cu_old_cred;
	explicit_bzero(&c->cu_old_cred, sizeof(c->cu_old_cred));
	c->cu_old_account = NULL;
	gw_strlcpy(c->db, c->cu_old_db, sizeof(c->db));
	gw_killmap_set_account(c);
	client_set_state(c, GW_CL_IDLE);
	client_send_err(c, c->auth_seq, code, state, msg);
	if (c->state != GW_CL_CLOSED && client_in_held(c) > 0)
		client_process(c);
}

void gw_client_login_checked(struct gw_client *c, struct gw_server *s, const uint8_t *err,
                             uint32_t errlen, bool reusable)
{
	uint64_t now = gw_now_ns();
	bool completed = false;
	struct wire_err e;
	char msg[400];

	pthread_mutex_lock(&gw.sched_lock);
	if (gw_client_req_done_locked(c, now - s->started_ns, now)) {
		completed = true;
	} else {
		qos_charge(gw.qos, c->account->qa, now - s->started_ns, now);
	}
	gw_client_unqueued_done_locked(c);
	gw_client_hold_drop_locked(c);
	pthread_mutex_unlock(&gw.sched_lock);
	c->server = NULL;
	s->client = NULL;
	if (!err)
		s->may_hold = true; /* its account may well use it next (anticipation) */
	gw_server_release(s, reusable);
	if (completed)
		gw_sched_kick();
	if (c->state == GW_CL_CLOSED)
		return;
	client_set_state(c, GW_CL_IDLE);
	if (err) {
		uint16_t code = 2013;
		const char *state = "HY000";

		gw_strlcpy(msg, "malformed error from backend", sizeof(msg));
		if (wire_parse_err(err, errlen, &e)) {
			code = e.code;
			state = e.sqlstate;
			snprintf(msg, sizeof(msg), "%.*s", (int)e.msg_len, (const char *)e.msg);
		}
		client_db_remember(c, /* good= */ false, now);
		client_login_refuse(c, code, state, msg);
		return;
	}
	c->login_check = false;
	client_db_remember(c, /* good= */ true, now);
	client_login_ok(c, c->auth_seq);
	if (c->state != GW_CL_CLOSED && client_in_held(c) > 0)
		client_process(c); /* what it sent without waiting for the OK */
}

/*
 * The login (or COM_CHANGE_USER) proved its password and is admitted; c->db is the schema
 * it named. MariaDB refuses a login whose schema does not exist (ERR 1049) or that the
 * account may not use (ERR 1044), so when c->db is not known good for the account, the
 * answer waits for a backend connection to accept it (issue 12): the server's PREPARE
 * sends the COM_INIT_DB (server.c), and gw_client_login_checked() answers. The check
 * takes a connection only when one is free at once; a login never waits behind the
 * pool's statements: with every connection busy it is answered OK unchecked, and a bad
 * schema shows at its first statement.
 */
static void client_logged_in(struct gw_client *c, uint8_t seq)
{
	uint64_t now = gw_now_ns();
	struct gw_server *s = NULL;

	client_set_state(c, GW_CL_IDLE);
	c->status = SERVER_STATUS_AUTOCOMMIT;
	/* CLIENT_INTERACTIVE: MySQL starts such a session with wait_timeout set to
	 * interactive_timeout. Pooled connections are not interactive, so it is replayed
	 * like a variable the client set. */
	if ((c->caps & CLIENT_INTERACTIVE) &&
	    !gw_vars_set_expr(&c->vars, "wait_timeout", "@@global.interactive_timeout"))
		gw_log_warn("C-%llu: out of memory for its session variables",
		            (unsigned long long)c->id);
	if (c->db[0] && !client_db_seen(c, now)) {
		pthread_mutex_lock(&gw.sched_lock);
		s = gw_server_take_free_locked(c);
		pthread_mutex_unlock(&gw.sched_lock);
		if (!s)
			gw_log_debug("C-%llu %s: schema '%s' not checked at login: every backend "
			             "connection is busy",
			             (unsigned long long)c->id, c->account->name, c->db);
	}
	if (!s) {
		client_login_ok(c, seq);
		return;
	}
	c->auth_seq = seq;
	c->login_check = true;
	c->login_db_verified = false;
	c->cmd = COM_INIT_DB;
	c->sql_flags = 0;
	c->enqueued_ns = now;
	c->req_running = false;
	client_set_state(c, GW_CL_RUNNING);
	gw_server_run(s, c);
}

/*
 * The last step of a login (or COM_CHANGE_USER): a proved the password (NULL: it did
 * not). Answers now, or parks the client in AUTH_DELAY when its address has failed too
 * often lately (hosts.h; issue 11): the answer - right or wrong password alike, so that
 * no early answer tells a guess right - goes out when the janitor sweep finds the delay
 * over. On a failure, switch asks for mysql_native_password again (COM_CHANGE_USER's
 * second chance) instead of refusing; user and used_password word the refusal. cred:
 * what a was proved with (client_check_password), kept for client_admit(); NULL or
 * wiped when a is NULL.
 */
static void client_auth_decided(struct gw_client *c, uint8_t seq, struct gw_account *a,
                                struct gw_cred *cred, const char *user, bool used_password,
                                bool on_fail_switch)
{
	uint64_t now = gw_now_ns();
	uint32_t delay = gw_hosts_auth_delay_ms(gw.hosts, &c->host, a == NULL, now);
	char msg[256];

	c->auth_seq = seq;
	c->auth_account = a;
	if (a) {
		c->auth_cred = *cred;
		explicit_bzero(cred, sizeof(*cred));
	}
	c->auth_switch = !a && on_fail_switch;
	if (!a && !on_fail_switch) {
		client_deny_msg(c, user, used_password, msg, sizeof(msg));
		free(c->auth_deny_msg);
		c->auth_deny_msg = strdup(msg);
		if (!c->auth_deny_msg) {
			client_deny_now(c, seq, msg);
			return;
		}
	}
	if (delay == 0) {
		client_auth_finish(c);
		return;
	}
	gw_log_debug("C-%llu %s: login answer delayed %u ms (failed logins from this address)",
	             (unsigned long long)c->id, c->addr, delay);
	c->auth_answer_ns = now + (uint64_t)delay * 1000000u;
	client_set_state(c, GW_CL_AUTH_DELAY);
}

/* Send the answer client_auth_decided() settled on. */
void client_auth_finish(struct gw_client *c)
{
	struct gw_account *a = c->auth_account;
	uint8_t seq = c->auth_seq;

	c->auth_account = NULL;
	if (a) {
		if (c->account) {
			/* COM_CHANGE_USER: the old account's connection ends here. */
			pthread_mutex_lock(&gw.sched_lock);
			c->account->connections--;
			pthread_mutex_unlock(&gw.sched_lock);
			c->account = NULL;
		}
		if (client_admit(c, a, &c->auth_cred, seq))
			client_logged_in(c, seq);
	} else if (c->auth_switch) {
		c->auth_switch = false;
		client_set_state(c, GW_CL_CHANGE_USER);
		client_send_auth_switch(c, seq);
	} else {
		char msg[256];

		gw_strlcpy(msg, c->auth_deny_msg ? c->auth_deny_msg : "Access denied", sizeof(msg));
		free(c->auth_deny_msg);
		c->auth_deny_msg = NULL;
		client_deny_now(c, seq, msg);
	}
}

void client_handshake(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq)
{
	struct wire_handshake_resp r;
	struct gw_account *a;
	struct gw_cred cred;

	if (!wire_parse_handshake_resp(p, len, &r)) {
		client_send_err(c, (uint8_t)(seq + 1), 1043, "08S01", "Bad handshake");
		client_close(c, "malformed handshake response");
		return;
	}
	if (r.is_ssl_request) {
		client_send_err(c, (uint8_t)(seq + 1), 1043, "08S01",
		                "Bad handshake: sluice does not support TLS yet; connect "
		                "without SSL");
		client_close(c, "TLS requested");
		return;
	}
	c->caps = r.caps & GW_SERVER_CAPS;
	if (gw.cfg.backend_mariadb)
		c->ext_caps = r.ext_caps & gw.cfg.backend_ext_caps & GW_SERVER_EXT_CAPS;
	c->charset = r.charset;
	if (r.caps & CLIENT_CONNECT_WITH_DB)
		gw_strlcpy(c->db, r.db, sizeof(c->db));
	if ((r.caps & CLIENT_PLUGIN_AUTH) && r.auth_plugin[0] &&
	    strcmp(r.auth_plugin, AUTH_NATIVE) != 0) {
		/* e.g. caching_sha2_password from a MySQL 8 client: ask for ours. */
		gw_strlcpy(c->pending_db, r.user, sizeof(c->pending_db));
		client_set_state(c, GW_CL_AUTH_SWITCH);
		client_send_auth_switch(c, (uint8_t)(seq + 1));
		return;
	}
	a = client_check_password(r.user, c->salt, r.auth, r.auth_len, &cred);
	client_auth_decided(c, (uint8_t)(seq + 1), a, &cred, r.user, r.auth_len > 0,
	                    /* on_fail_switch= */ false);
}

/* The answer to our AuthSwitchRequest; pending_db holds the user name meanwhile. */
void client_auth_switch_answer(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq)
{
	char user[GW_DB_MAX + 1];
	struct gw_account *a;
	struct gw_cred cred;

	gw_strlcpy(user, c->pending_db, sizeof(user));
	c->pending_db[0] = '\0';
	a = client_check_password(user, c->salt, p, len, &cred);
	client_auth_decided(c, (uint8_t)(seq + 1), a, &cred, user, len > 0,
	                    /* on_fail_switch= */ false);
}

void client_change_user(struct gw_client *c, const uint8_t *p, uint32_t len)
{
	struct wire_change_user cu;
	bool checked = false;

	if (!wire_parse_change_user(p, len, c->caps, &cu)) {
		client_send_err(c, 1, 1043, "08S01", "Bad COM_CHANGE_USER packet");
		client_close(c, "malformed COM_CHANGE_USER");
		return;
	}
	client_drop_server(c);
	gw_vars_clear(&c->vars);
	gw_stmts_clear(&c->stmts);
	client_forget_carried(c);
	/* What a change refused for its schema goes back to (client_login_refuse). */
	c->cu_old_account = c->account;
	c->cu_old_cred = c->cred;
	gw_strlcpy(c->cu_old_db, c->db, sizeof(c->cu_old_db));
	gw_strlcpy(c->db, cu.db, sizeof(c->db));
	if (cu.charset)
		c->charset = (uint8_t)cu.charset;
	c->status = SERVER_STATUS_AUTOCOMMIT;
	/* Clients answer COM_CHANGE_USER with a scramble of the greeting's salt. A wrong
	 * one counts as a failed login (else the AuthSwitchRequest that follows would tell
	 * a guesser "wrong" without any delay). */
	if (!cu.auth_plugin[0] || strcmp(cu.auth_plugin, AUTH_NATIVE) == 0) {
		struct gw_cred cred;
		struct gw_account *a =
		    client_check_password(cu.user, c->salt, cu.auth, cu.auth_len, &cred);

		if (a) {
			client_auth_decided(c, 1, a, &cred, cu.user, true,
			                    /* on_fail_switch= */ false);
			return;
		}
		checked = true;
	}
	/* Otherwise ask for mysql_native_password on a fresh salt. */
	auth_random_salt(c->salt);
	gw_strlcpy(c->pending_db, cu.user, sizeof(c->pending_db));
	if (!(c->caps & CLIENT_PLUGIN_AUTH)) {
		client_auth_decided(c, 1, NULL, NULL, cu.user, cu.auth_len > 0,
		                    /* on_fail_switch= */ false);
		return;
	}
	if (checked) {
		client_auth_decided(c, 1, NULL, NULL, cu.user, cu.auth_len > 0,
		                    /* on_fail_switch= */ true);
		return;
	}
	client_set_state(c, GW_CL_CHANGE_USER);
	client_send_auth_switch(c, 1);
}
