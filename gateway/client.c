/*
 * client.c - the client side: greeting, authentication, command intake, queueing in
 * qos, and the client half of forwarding. Every client belongs to one worker for life;
 * only that worker's thread touches it (messages from other threads arrive through the
 * worker's inbox).
 *
 * States (gw.h): HANDSHAKE -> [AUTH_SWITCH] -> IDLE <-> QUEUED -> RUNNING -> IDLE ...
 * Closing parks the client on the worker's closed list; it is freed after the loop
 * turn, or, when a message for it is still in flight, when that message arrives.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gateway/engine.h"
#include "gateway/hosts.h"
#include "gateway/pins.h"
#include "proto/auth.h"
#include "proto/compress.h"
#include "proto/log.h"
#include "proto/sqlscan.h"
#include "proto/util.h"

#define CLIENT_OUT_HIGH    (1u << 20) /* pause the server above this much unsent output */
#define CLIENT_IN_HIGH     (GW_MAX_PACKET + GW_IO_CHUNK) /* stop reading above this */
#define GW_AUTH_PACKET_MAX 65536 /* longest handshake or auth packet we accept */
#define GW_BACKLOG_DEEP    16    /* queued requests that make an account's client reads wait */

/* What sluice offers clients: what MariaDB offers, minus TLS and compression. */
#define GW_SERVER_CAPS                                                                             \
	(CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |    \
	 CLIENT_NO_SCHEMA | CLIENT_ODBC | CLIENT_LOCAL_FILES | CLIENT_IGNORE_SPACE |               \
	 CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE | CLIENT_IGNORE_SIGPIPE | CLIENT_TRANSACTIONS |   \
	 CLIENT_RESERVED | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |                    \
	 CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH |                     \
	 CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SESSION_TRACK |     \
	 CLIENT_DEPRECATE_EOF | CLIENT_COMPRESS)

/* MariaDB's capabilities 32-63 sluice offers clients, when the backend has them: bulk
 * executes (COM_STMT_BULK_EXECUTE) and the extended column metadata (JSON's format,
 * INET6's and UUID's type names; server.c converts column definitions for clients
 * without it). */
#define GW_SERVER_EXT_CAPS (MARIADB_CLIENT_STMT_BULK_OPERATIONS | MARIADB_CLIENT_EXTENDED_METADATA)

static const char *const client_state_names[] = { GW_CLIENT_STATES(GW_X_NAME) };

static bool client_kill_id(struct gw_client *c, uint32_t id, bool query_only, uint32_t len);

static void client_on_read(evutil_socket_t fd, short what, void *arg);
static void client_on_write(evutil_socket_t fd, short what, void *arg);
static void client_on_more(evutil_socket_t fd, short what, void *arg);
static void client_process(struct gw_client *c);
static void client_close(struct gw_client *c, const char *reason);
static void client_consume(struct gw_client *c, size_t n);
static void client_drop_server(struct gw_client *c);
static void client_diag_release(struct gw_client *c);
static bool client_hold_unwait_locked(struct gw_client *c);
static bool client_peek_packet(struct gw_client *c, const uint8_t **payload, uint32_t *len,
                               uint8_t *seq);
static void client_auth_finish(struct gw_client *c);

const char *gw_client_state_name(enum gw_client_state st)
{
	return st < GW_CL__COUNT ? client_state_names[st] : "?";
}

static void client_set_state(struct gw_client *c, enum gw_client_state st)
{
	gw_log_noise("C-%llu %s -> %s", (unsigned long long)c->id, gw_client_state_name(c->state),
	             gw_client_state_name(st));
	c->state = st;
}

/* The client logged in or leaves: it no longer counts against its address's cap. */
static void client_prelogin_done(struct gw_client *c)
{
	if (c->prelogin) {
		c->prelogin = false;
		gw_hosts_leave(gw.hosts, &c->host);
	}
}

static const char *client_user(const struct gw_client *c)
{
	return c->account ? c->account->name : "-";
}

/* ---- output ---- */

/* c->out holds bytes the socket did not take: wait for it to drain, and stop reading the
 * backend while too much is waiting (backpressure). */
static void client_out_pending(struct gw_client *c)
{
	event_add(c->wev, NULL);
	if (c->server && gw_buf_len(&c->out) > CLIENT_OUT_HIGH)
		gw_server_pause(c->server, true);
}

/* Queue or send bytes to the client. false when the client failed (it is closed). */
bool gw_client_forward(struct gw_client *c, const uint8_t *p, size_t n)
{
	ssize_t k = 0;

	if (c->state == GW_CL_CLOSED)
		return false;
	c->bytes_out += n;
	if (c->compress) {
		bool was_empty = gw_buf_len(&c->out) == 0;

		if (!gw_z_wrap(p, n, &c->out, &c->zseq)) {
			client_close(c, "out of memory");
			return false;
		}
		if (was_empty) {
			k = gw_send(c->fd, c->out.data + c->out.start, gw_buf_len(&c->out));
			if (k < 0) {
				client_close(c, "send failed");
				return false;
			}
			c->out.start += (size_t)k;
			if (gw_buf_len(&c->out) == 0) {
				c->out.start = c->out.end = 0;
				return true;
			}
		}
		/* Frames wait like plain bytes do: the backend pauses at the same cap. */
		client_out_pending(c);
		return true;
	}
	if (gw_buf_len(&c->out) == 0) {
		k = gw_send(c->fd, p, n);
		if (k < 0) {
			client_close(c, "send failed");
			return false;
		}
		if ((size_t)k == n)
			return true;
	}
	if (!gw_buf_append(&c->out, p + k, n - (size_t)k)) {
		client_close(c, "out of memory");
		return false;
	}
	client_out_pending(c);
	return true;
}

bool gw_client_forward2(struct gw_client *c, const uint8_t *p1, size_t n1, const uint8_t *p2,
                        size_t n2)
{
	struct iovec iov[2] = { { (void *)p1, n1 }, { (void *)p2, n2 } };
	struct msghdr mh;
	ssize_t k;

	if (c->state == GW_CL_CLOSED)
		return false;
	if (c->compress || gw_buf_len(&c->out) > 0 || n1 == 0)
		return gw_client_forward(c, p1, n1) && gw_client_forward(c, p2, n2);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	c->bytes_out += n1 + n2;
	do {
		k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	} while (k < 0 && errno == EINTR);
	if (k < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			client_close(c, "send failed");
			return false;
		}
		k = 0;
	}
	if ((size_t)k == n1 + n2)
		return true;
	/* Keep what the socket did not take, in order. */
	if ((size_t)k < n1
	        ? !gw_buf_append(&c->out, p1 + k, n1 - (size_t)k) || !gw_buf_append(&c->out, p2, n2)
	        : !gw_buf_append(&c->out, p2 + ((size_t)k - n1), n2 - ((size_t)k - n1))) {
		client_close(c, "out of memory");
		return false;
	}
	client_out_pending(c);
	return true;
}

static bool client_send_wbuf(struct gw_client *c, struct wire_buf *b)
{
	bool ok;

	if (b->failed) {
		wire_buf_free(b);
		client_close(c, "out of memory");
		return false;
	}
	ok = gw_client_forward(c, b->data, b->len);
	wire_buf_free(b);
	return ok;
}

static void client_send_err(struct gw_client *c, uint8_t seq, uint16_t code, const char *state,
                            const char *msg)
{
	struct wire_buf b;

	c->row_count = -1; /* as after MariaDB's own errors */
	wire_buf_init(&b);
	wire_build_err(&b, seq, code, state, "%s", msg);
	client_send_wbuf(c, &b);
}

static void client_send_ok(struct gw_client *c, uint8_t seq)
{
	struct wire_buf b;
	uint16_t status = c->status ? c->status : SERVER_STATUS_AUTOCOMMIT;

	c->row_count = 0; /* no rows: COM_PING and the like reset ROW_COUNT() too */
	wire_buf_init(&b);
	wire_build_ok(&b, seq, c->caps, 0, 0, status & ~SERVER_SESSION_STATE_CHANGED, 0);
	client_send_wbuf(c, &b);
}

void gw_client_command_error(struct gw_client *c, uint8_t seq, uint16_t code, const char *state,
                             const char *msg)
{
	client_send_err(c, seq, code, state, msg);
}

static void client_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct gw_client *c = arg;
	ssize_t k;

	(void)fd;
	(void)what;
	k = gw_send(c->fd, c->out.data + c->out.start, gw_buf_len(&c->out));
	if (k < 0) {
		client_close(c, "send failed");
		gw_worker_reclaim(c->worker);
		return;
	}
	c->out.start += (size_t)k;
	if (gw_buf_len(&c->out) > 0)
		return;
	c->out.start = c->out.end = 0;
	event_del(c->wev);
	if (c->server && c->server->paused)
		gw_server_resume(c->server);
	if (c->state == GW_CL_CLOSED)
		return;
}

/* ---- life ---- */

static void client_list_remove(struct gw_client **head, struct gw_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void client_list_push(struct gw_client **head, struct gw_client *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

void gw_client_accept(struct gw_worker *w, int fd, const struct sockaddr *sa)
{
	struct gw_client *c = calloc(1, sizeof(*c));
	struct wire_handshake h;
	struct wire_buf b;
	int one = 1;
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (!c) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(c->addr, sizeof(c->addr), "%s:%u", host, port);
	gw_host_key_from_sa(sa, &c->host);
	c->fd = fd;
	c->worker = w;
	c->id =
	    GW_SESSION_ID_BASE + (++w->next_client_id * 64 + (uint64_t)w->id) % GW_SESSION_ID_SPAN;
	c->connected_ns = gw_now_ns();
	c->state = GW_CL_HANDSHAKE;
	c->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, client_on_read, c);
	c->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, client_on_write, c);
	c->more_ev = event_new(w->base, -1, 0, client_on_more, c);
	if (c->ev)
		event_priority_set(c->ev, GW_PRIO_HIGH);
	if (c->wev)
		event_priority_set(c->wev, GW_PRIO_HIGH);
	if (c->more_ev) /* after everyone else's reads: the budget is for fairness */
		event_priority_set(c->more_ev, GW_PRIO_LOW);
	client_list_push(&w->clients, c);
	gw_killmap_add(c);
	w->nclients++;
	atomic_fetch_add(&gw.clients_now, 1);
	if (!c->ev || !c->wev || !c->more_ev || event_add(c->ev, NULL) < 0) {
		client_close(c, "out of memory");
		return;
	}
	if (atomic_load(&gw.clients_now) > gw.cfg.max_clients) {
		/* Like MySQL at max_connections: an ERR instead of the greeting. */
		client_send_err(c, 0, 1040, "08004", "Too many connections (sluice --max-clients)");
		client_close(c, "max_clients");
		return;
	}
	switch (gw_hosts_enter(gw.hosts, &c->host, c->connected_ns)) {
	case GW_HOST_COUNTED:
		c->prelogin = true;
		break;
	case GW_HOST_UNTRACKED:
		break;
	case GW_HOST_REFUSED: {
		/* One address cannot hold every slot with handshakes it never finishes (issue
		 * 11); other addresses are not affected. */
		char msg[200];

		snprintf(msg, sizeof(msg),
		         "Too many connections from %s that have not logged in (sluice "
		         "--max-prelogin-per-host %u)",
		         host, gw.cfg.max_prelogin_per_host);
		gw_log_info("C-%llu %s: %s", (unsigned long long)c->id, c->addr, msg);
		client_send_err(c, 0, 1040, "08004", msg);
		client_close(c, "max_prelogin_per_host");
		return;
	}
	}
	auth_random_salt(c->salt);
	memset(&h, 0, sizeof(h));
	h.protocol = 10;
	gw_strlcpy(h.server_version, gw.cfg.server_version, sizeof(h.server_version));
	h.conn_id = (uint32_t)c->id;
	memcpy(h.scramble, c->salt, sizeof(h.scramble));
	h.caps = GW_SERVER_CAPS;
	if (gw.cfg.backend_mariadb) {
		/* Greet as MariaDB does (issue 12): no CLIENT_MYSQL, and the extended
		 * capabilities the backend has that sluice passes on. */
		h.caps &= ~CLIENT_MYSQL;
		h.ext_caps = gw.cfg.backend_ext_caps & GW_SERVER_EXT_CAPS;
	}
	h.charset = 45; /* utf8mb4_general_ci */
	h.status = SERVER_STATUS_AUTOCOMMIT;
	gw_strlcpy(h.auth_plugin, AUTH_NATIVE, sizeof(h.auth_plugin));
	wire_buf_init(&b);
	wire_build_handshake(&b, 0, &h);
	client_send_wbuf(c, &b);
}

/*
 * Close the client: give back what it holds (its queued request, its server), log one
 * line, park it. Safe to call twice.
 */
static void client_close(struct gw_client *c, const char *reason)
{
	struct gw_server *s;
	uint64_t now = gw_now_ns();
	bool completed = false, kick = false;

	if (c->state == GW_CL_CLOSED)
		return;
	client_prelogin_done(c);
	gw_log_debug("C-%llu %s@%s closing (%s) in %s after %.3f s, %llu bytes in, %llu out",
	             (unsigned long long)c->id, client_user(c), c->addr, reason,
	             gw_client_state_name(c->state), (double)(now - c->connected_ns) / 1e9,
	             (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out);
	pthread_mutex_lock(&gw.sched_lock);
	/* c->server may have been set by another thread's dispatch: read it under the lock. */
	s = c->server;
	if (c->req_queued) {
		if (qos_cancel(gw.qos, &c->req))
			c->req_queued = false;
	} else if (c->state == GW_CL_QUEUED) {
		/* Picked (or expired) already: a message is on its way, and whatever server
		 * it carries belongs to that message until it arrives (gw_client_on_msg). */
		c->zombie = true;
		s = NULL;
	} else if (c->state == GW_CL_HOLD_WAIT && !client_hold_unwait_locked(c)) {
		c->zombie = true; /* granted: its GW_MSG_HOLD is on its way */
	}
	if (!c->zombie && (c->req_running || c->unqueued)) {
		/* Billed as far as it ran; the backend may still be finishing it. */
		uint64_t cost = s && gw_server_state(s) == GW_SV_ACTIVE ? now - s->started_ns : 0;

		if (c->req_running) {
			qos_complete(gw.qos, &c->req, cost, now);
			c->req_running = false;
			completed = true;
		} else if (cost) {
			qos_charge(gw.qos, c->account->qa, cost, now);
		}
	}
	gw_client_unqueued_done_locked(c);
	if (c->account) {
		c->account->connections--;
		if (c->pinned)
			c->account->pinned--;
		if (c->holds && !s)
			kick = true; /* its place under max_pinned frees */
		gw_client_hold_drop_locked(c);
	}
	pthread_mutex_unlock(&gw.sched_lock);
	if (s) {
		c->server = NULL;
		s->client = NULL;
		if (c->state == GW_CL_RUNNING)
			gw_server_orphan(s, /* awaits_client= */ c->infile || c->cmd_continued,
			                 &c->cred);
		else /* (kept for its diagnostics only: nothing of the session is on it) */
			gw_server_release(s, /* reusable= */ c->diag_kept);
	}
	if (completed || kick)
		gw_sched_kick();
	event_del(c->ev);
	event_del(c->wev);
	if (c->more_ev)
		event_del(c->more_ev);
	close(c->fd);
	c->fd = -1;
	client_set_state(c, GW_CL_CLOSED);
	client_list_remove(&c->worker->clients, c);
	client_list_push(&c->worker->closed, c);
	c->worker->nclients--;
	atomic_fetch_sub(&gw.clients_now, 1);
}

static void client_free(struct gw_client *c)
{
	free(c->auth_deny_msg);
	gw_killmap_remove(c);
	wire_buf_free(&c->subst_pkt);
	wire_buf_free(&c->cont_carry);
	gw_stmts_free(&c->stmts);
	free(c->prep_sql);
	event_free(c->ev);
	event_free(c->wev);
	if (c->more_ev)
		event_free(c->more_ev);
	gw_buf_free(&c->in);
	gw_buf_free(&c->out);
	gw_buf_free(&c->zraw);
	gw_z_in_free(&c->zin);
	gw_vars_free(&c->vars);
	gw_vars_free(&c->uvars);
	free(c->uv_dirty);
	explicit_bzero(&c->cred, sizeof(c->cred));
	explicit_bzero(&c->auth_cred, sizeof(c->auth_cred));
	explicit_bzero(&c->cu_old_cred, sizeof(c->cu_old_cred));
	free(c);
}

void gw_worker_reclaim(struct gw_worker *w)
{
	struct gw_client *c = w->closed, *next;

	w->closed = NULL;
	for (; c; c = next) {
		next = c->next;
		c->next = c->prev = NULL;
		if (c->zombie)
			continue; /* freed when its message arrives */
		client_free(c);
	}
}

/* ---- holding a server between statements (issue 11, pins.h) ---- */

/* Under sched_lock: count c in its account's holding; false when the account or the
 * pool is at its cap. */
static bool client_hold_take_locked(struct gw_client *c)
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
static void client_hold_wait_locked(struct gw_client *c)
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
static bool client_hold_unwait_locked(struct gw_client *c)
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
		if (pthread_equal(pthread_self(), c->worker->thread)) {
			m->next = *local;
			*local = m;
		} else {
			m->next = *remote;
			*remote = m;
		}
	}
}

/*
 * Would c's command, should it succeed, leave c holding its server? What the statement's
 * text and the session's status tell before it runs: a pinning statement, BEGIN / START
 * TRANSACTION, or (autocommit off) any statement but SET and USE, since the first one
 * that touches a table opens a transaction.
 */
static bool client_expects_hold(const struct gw_client *c, uint8_t cmd)
{
	bool autocommit = (c->status & SERVER_STATUS_AUTOCOMMIT) != 0;

	switch (cmd) {
	case COM_QUERY:
		return (c->sql_flags & (SQL_PINS | SQL_TRANS)) ||
		       (!autocommit && (c->sql_flags & SQL_NOT_SET_USE));
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		return c->pin_pending || (c->sql_flags & (SQL_PINS | SQL_TRANS)) || !autocommit;
	case COM_STMT_SEND_LONG_DATA:
	case COM_SET_OPTION:
		return true;
	default:
		return false;
	}
}

/* A new session (COM_CHANGE_USER, COM_RESET_CONNECTION): no user variables, and
 * LAST_INSERT_ID() is 0 again. */
static void client_forget_carried(struct gw_client *c)
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
static unsigned client_note_carried(struct gw_client *c, unsigned flags,
                                    const struct sql_uvars *names)
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
static unsigned client_scan_query(struct gw_client *c, const uint8_t *q, size_t n)
{
	struct sql_uvars names;

	return client_note_carried(
	    c, sql_scan_vars(q, n, (c->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0, &names),
	    &names);
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
		} else if (c->state == GW_CL_IDLE && c->server && client_hold_expired(c, now)) {
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

/* ---- input ---- */

/* Is a whole packet at the head of the input? */
static bool client_peek_packet(struct gw_client *c, const uint8_t **payload, uint32_t *len,
                               uint8_t *seq)
{
	const uint8_t *h = c->in.data + c->in.start;
	size_t avail = gw_buf_len(&c->in);

	if (avail < WIRE_HDR_LEN)
		return false;
	*len = wire_u24(h);
	*seq = h[3];
	if (*len > GW_AUTH_PACKET_MAX &&
	    (c->state == GW_CL_HANDSHAKE || c->state == GW_CL_AUTH_SWITCH ||
	     c->state == GW_CL_CHANGE_USER)) {
		/* Before login nothing legitimate is this large: don't buffer it. */
		client_close(c, "oversized packet before login");
		return false;
	}
	if (avail < WIRE_HDR_LEN + (size_t)*len) {
		/* Make room for the whole packet now, so reading can go on. */
		if (!gw_buf_reserve(&c->in, WIRE_HDR_LEN + *len - avail))
			client_close(c, "out of memory");
		return false;
	}
	*payload = h + WIRE_HDR_LEN;
	return true;
}

/* Input held for the client, received or unwrapped, not yet used: what the read cap
 * (CLIENT_IN_HIGH) counts. */
static size_t client_in_held(const struct gw_client *c)
{
	return gw_buf_len(&c->in) + gw_buf_len(&c->zraw);
}

/*
 * How much c->in should hold for client_process: the packet at its head whole, and up
 * to a read's worth in all. A compressed client's frames are inflated only this far;
 * the rest waits in c->zraw, as sent, and counts against the read cap as sent. So a
 * small frame claiming 16 MiB costs memory only once its bytes are used.
 */
static size_t client_in_want(const struct gw_client *c)
{
	size_t want = GW_IO_CHUNK;

	if (gw_buf_len(&c->in) >= WIRE_HDR_LEN) {
		size_t pkt = WIRE_HDR_LEN + (size_t)wire_u24(c->in.data + c->in.start);

		if (pkt > want)
			want = pkt;
	}
	return want;
}

/* Unwrap the client's frames into c->in up to client_in_want(). false when the client
 * failed (it is closed); *starved when c->zraw had no more to give. */
static bool client_unwrap(struct gw_client *c, bool *starved)
{
	size_t want = client_in_want(c);
	enum gw_z_result zr = gw_z_unwrap(&c->zin, &c->zraw, &c->in, want, &c->zseq);

	if (zr != GW_Z_OK) {
		client_close(c, zr == GW_Z_BAD ? "malformed compressed frame" : "out of memory");
		return false;
	}
	*starved = gw_buf_len(&c->in) < want;
	return true;
}

static void client_consume(struct gw_client *c, size_t n)
{
	c->in.start += n;
	if (c->in.start == c->in.end)
		c->in.start = c->in.end = 0;
}

static void client_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct gw_client *c = arg;
	struct gw_worker *w = c->worker;
	struct gw_buf *buf;
	ssize_t n;

	(void)what;
	/* With compression the socket's bytes are frames, unwrapped into c->in. */
	buf = c->compress ? &c->zraw : &c->in;
	if (!gw_buf_reserve(buf, GW_IO_CHUNK)) {
		client_close(c, "out of memory");
		gw_worker_reclaim(w);
		return;
	}
	n = recv(fd, buf->data + buf->end, buf->cap - buf->end, 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(c, n == 0 ? "client closed" : "recv failed");
		gw_worker_reclaim(w);
		return;
	}
	buf->end += (size_t)n;
	c->bytes_in += (uint64_t)n;
	client_process(c);
	if (c->state != GW_CL_CLOSED && client_in_held(c) > CLIENT_IN_HIGH && !c->read_paused) {
		/* A client that pipelines far ahead waits until we catch up. */
		event_del(c->ev);
		c->read_paused = true;
	}
	gw_worker_reclaim(w);
}

static void client_resume_reading(struct gw_client *c)
{
	if (c->read_paused && c->state != GW_CL_CLOSED) {
		c->read_paused = false;
		event_add(c->ev, NULL);
	}
}

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
static void client_login_refuse(struct gw_client *c, uint16_t code, const char *state,
                                const char *msg)
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
	if (c->req_running) {
		qos_complete(gw.qos, &c->req, now - s->started_ns, now);
		c->req_running = false;
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
static void client_auth_finish(struct gw_client *c)
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

static void client_handshake(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq)
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
static void client_auth_switch_answer(struct gw_client *c, const uint8_t *p, uint32_t len,
                                      uint8_t seq)
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

/* Leave a pinned/in-transaction server behind (its state belongs to the old session). */
static void client_drop_server(struct gw_client *c)
{
	struct gw_server *s = c->server;

	if (c->diag_kept) {
		client_diag_release(c);
		return;
	}
	if (!s)
		return;
	c->server = NULL;
	s->client = NULL;
	pthread_mutex_lock(&gw.sched_lock);
	if (c->pinned && c->account)
		c->account->pinned--;
	if (c->account)
		gw_client_hold_drop_locked(c);
	pthread_mutex_unlock(&gw.sched_lock);
	c->pinned = false;
	c->in_trans = false;
	gw_server_release(s, /* reusable= */ false);
}

/*
 * Give back the server c kept for its diagnostics area (diag_kept): nothing of the
 * session is on it, so it goes back to the pool as after any statement.
 */
static void client_diag_release(struct gw_client *c)
{
	struct gw_server *s = c->server;

	c->diag_kept = false;
	if (!s)
		return;
	c->server = NULL;
	s->client = NULL;
	pthread_mutex_lock(&gw.sched_lock);
	gw_client_hold_drop_locked(c);
	pthread_mutex_unlock(&gw.sched_lock);
	s->may_hold = true;
	gw_server_release(s, /* reusable= */ true);
}

static void client_change_user(struct gw_client *c, const uint8_t *p, uint32_t len)
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

/* ---- commands ---- */

/* Does this statement start with USE <db>? On success the name goes to out. */
static bool sql_parse_use(const uint8_t *q, size_t n, char *out, size_t outlen)
{
	size_t i = 0, k = 0;
	char quote = 0;

	while (i < n && isspace(q[i]))
		i++;
	if (n - i < 4 || strncasecmp((const char *)q + i, "use", 3) != 0 || !isspace(q[i + 3]))
		return false;
	i += 3;
	while (i < n && isspace(q[i]))
		i++;
	if (i < n && (q[i] == '`' || q[i] == '"')) {
		quote = (char)q[i];
		i++;
	}
	while (i < n && k + 1 < outlen) {
		if (quote ? q[i] == (uint8_t)quote : (isspace(q[i]) || q[i] == ';'))
			break;
		out[k++] = (char)q[i++];
	}
	out[k] = '\0';
	if (quote) {
		if (i >= n)
			return false;
		i++;
	}
	while (i < n && (isspace(q[i]) || q[i] == ';'))
		i++;
	return k > 0 && i == n;
}

static bool sql_ident_char(uint8_t ch)
{
	return isalnum(ch) || ch == '_' || ch == '$' || ch >= 0x80;
}

/* Does q (n bytes) contain word, in any case, as a word of its own (not inside
 * my_session_status or session_status_log)? */
static bool sql_contains(const uint8_t *q, size_t n, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = 0; i + wl <= n; i++) {
		if (strncasecmp((const char *)q + i, word, wl) == 0 &&
		    (i == 0 || !sql_ident_char(q[i - 1])) &&
		    (i + wl == n || !sql_ident_char(q[i + wl])))
			return true;
	}
	return false;
}

/*
 * May the statement read the Compression status variable? SHOW [GLOBAL | SESSION | LOCAL]
 * STATUS in any form, or a query of information_schema's status tables. Its answer is
 * about the backend's connection, which is never compressed; a compressed client must
 * hear about its own (issue 12): server.c turns a row (Compression, OFF) into ON.
 */
static bool sql_reads_status(const uint8_t *q, size_t n)
{
	size_t i = 0;

	if (n > 4096)
		return false;
	while (i < n && isspace(q[i]))
		i++;
	if (n - i >= 4 && strncasecmp((const char *)q + i, "show", 4) == 0)
		return sql_contains(q + i, n - i, "status");
	return sql_contains(q, n, "session_status") || sql_contains(q, n, "global_status");
}

/* ---- prepared statements (stmt.h; docs/pooling.md) ---- */

/* COM_STMT_PREPARE: keep its SQL for the statement's record. false: answered here. */
static bool client_stmt_prepare_begin(struct gw_client *c, const uint8_t *p, uint32_t len)
{
	free(c->prep_sql);
	c->prep_sql = NULL;
	c->prep_sql_len = 0;
	if (len == WIRE_MAX_PAYLOAD) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1105, "HY000",
		                "sluice cannot prepare a statement of 16 MiB or more");
		/* The rest of the packet follows as commands of their own: end here. */
		client_close(c, "COM_STMT_PREPARE of 16 MiB or more");
		return false;
	}
	if (c->stmts.n >= GW_STMTS_MAX) {
		char msg[120];

		client_consume(c, WIRE_HDR_LEN + len);
		snprintf(msg, sizeof(msg),
		         "Can't create more than max_prepared_stmt_count statements "
		         "(current value: %u)",
		         GW_STMTS_MAX);
		client_send_err(c, 1, 1461, "42000", msg);
		return false;
	}
	c->prep_sql = malloc(len); /* len - 1 bytes of SQL; at least one byte */
	if (!c->prep_sql) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1037, "HY001", "Out of memory");
		return false;
	}
	memcpy(c->prep_sql, p + 1, len - 1);
	c->prep_sql_len = len - 1;
	return true;
}

static const char *stmt_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case COM_STMT_EXECUTE:
		return "mysqld_stmt_execute";
	case COM_STMT_RESET:
		return "mysqld_stmt_reset";
	case COM_STMT_FETCH:
		return "mysqld_stmt_fetch";
	case COM_STMT_BULK_EXECUTE:
		return "mysqld_stmt_bulk_execute";
	default:
		return "mysqld_stmt_send_long_data";
	}
}

/* COM_STMT_BULK_EXECUTE of st: like an execute, its types are kept (they have an
 * execute's layout), and it holds and pins as its statement's text would. */
static bool client_stmt_bulk_intake(struct gw_client *c, struct gw_stmt *st, const uint8_t *p,
                                    uint32_t len)
{
	struct wire_bulk bk;

	if (!wire_parse_bulk(p, len, st->nparams, &bk)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1210, "HY000",
		                "Incorrect arguments to mysqld_stmt_bulk_execute");
		return false;
	}
	if (bk.types_sent && st->nparams > 0 && !gw_stmt_set_types(st, p + bk.types_off)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1037, "HY001", "Out of memory");
		return false;
	}
	c->sql_flags = client_note_carried(c, st->sql_flags, NULL);
	return true;
}

/*
 * COM_STMT_EXECUTE, _SEND_LONG_DATA, _RESET, _FETCH: the statement must be the client's.
 * An execute's parameter types are kept (its next executes may leave them out, and may
 * run elsewhere). A statement given long data or opening a cursor keeps state in its
 * backend statement: from then on it has one of its own, not shared with other clients
 * (and the command pins: gw_client_response_done). A reset with nothing pinned has
 * nothing to reset on any backend: answered here. false: answered (or closed) here.
 */
static bool client_stmt_intake(struct gw_client *c, const uint8_t *p, uint32_t len, bool resumed)
{
	struct gw_stmt *st;
	struct wire_execute e;
	char msg[160];

	if (len < 5) {
		client_close(c, "malformed COM_STMT_* packet");
		return false;
	}
	st = gw_stmts_find(&c->stmts, wire_u32(p + 1));
	if (!st) {
		client_consume(c, WIRE_HDR_LEN + len);
		if (p[0] == COM_STMT_SEND_LONG_DATA)
			return false; /* no answer; the execute will say */
		snprintf(msg, sizeof(msg), "Unknown prepared statement handler (%u) given to %s",
		         wire_u32(p + 1), stmt_cmd_name(p[0]));
		client_send_err(c, 1, 1243, "HY000", msg);
		return false;
	}
	if (p[0] == COM_STMT_RESET && !c->server) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_ok(c, 1);
		return false;
	}
	if (p[0] == COM_STMT_SEND_LONG_DATA)
		gw_stmt_make_private(st, c->id); /* the data waits in its backend statement */
	if (p[0] == COM_STMT_BULK_EXECUTE)
		return client_stmt_bulk_intake(c, st, p, len);
	if (p[0] != COM_STMT_EXECUTE)
		return true;
	if (!wire_parse_execute(p, len, st->nparams, &e)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1210, "HY000", "Incorrect arguments to mysqld_stmt_execute");
		return false;
	}
	if (e.types_sent && !gw_stmt_set_types(st, p + e.types_off)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1037, "HY001", "Out of memory");
		return false;
	}
	if (e.flags & WIRE_CURSOR_FLAGS)
		gw_stmt_make_private(st, c->id); /* the cursor lives in its backend statement */
	/* What the execute will do, for client_expects_hold() before it queues. */
	c->sql_flags = client_note_carried(c, st->sql_flags, NULL);
	c->status_compress = c->compress && st->reads_status;
	if ((st->sql_flags & SQL_KILL) && p[0] == COM_STMT_EXECUTE && resumed)
		return c->kill_subst; /* taken the first time (it waits only when it goes on) */
	if ((st->sql_flags & SQL_KILL) && p[0] == COM_STMT_EXECUTE) {
		/* A prepared KILL (DBD::mysql, Connector/J and PDO prepare on the server): the
		 * same rules as the SQL one; its execute answers as the query would (OK or
		 * ERR, no columns). */
		bool query_only;
		uint32_t id;

		if (sql_kill_parse((const uint8_t *)st->sql, st->sql_len, &query_only, &id)) {
			c->kill_subst = client_kill_id(c, id, query_only, len);
			return c->kill_subst;
		}
	}
	c->pin_pending = c->pin_pending || (e.flags & WIRE_CURSOR_FLAGS);
	return true;
}

const struct gw_stmt *gw_client_stmt_pending(struct gw_client *c)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;

	if (c->cmd != COM_STMT_EXECUTE && c->cmd != COM_STMT_SEND_LONG_DATA &&
	    c->cmd != COM_STMT_RESET && c->cmd != COM_STMT_FETCH && c->cmd != COM_STMT_BULK_EXECUTE)
		return NULL;
	if (c->kill_subst)
		return NULL; /* a prepared KILL goes as KILL QUERY <backend id> (subst_pkt) */
	if (!client_peek_packet(c, &p, &len, &seq) || len < 5)
		return NULL;
	return gw_stmts_find(&c->stmts, wire_u32(p + 1));
}

void gw_client_stmt_prepared(struct gw_client *c, struct gw_server *s, uint8_t *p, uint32_t n)
{
	struct wire_prepare_ok ok;
	struct gw_stmt_ctx ctx;
	struct gw_stmt *st;

	if (!wire_parse_prepare_ok(p, n, &ok) || !c->prep_sql) {
		c->stmts.last_id = 0; /* an ERR: id -1 now names nothing */
		return;
	}
	ctx.db = c->db;
	ctx.vars_hash = c->vars.hash;
	ctx.charset = c->charset;
	st = gw_stmts_add(&c->stmts, &ctx, c->prep_sql, c->prep_sql_len, ok.nparams, ok.ncols);
	if (!st) {
		gw_sstmts_close_later(&s->stmts, ok.stmt_id);
	} else if (!gw_sstmts_add(&s->stmts, st, ok.stmt_id)) { /* which closes it */
		gw_stmts_remove(&c->stmts, st->id);
		st = NULL;
	} else {
		unsigned f = sql_scan((const uint8_t *)c->prep_sql, c->prep_sql_len);

		/* A prepared statement that assigns user variables keeps its session where
		 * it ran: its names are not captured (one that reads them gets them). */
		if (f & SQL_UVAR_WRITE)
			f |= SQL_UVAR_PIN;
		/* One that reads ROW_COUNT() reads it at each execute, on the backend (the
		 * text is not rewritten: the value changes): the session's statements run
		 * where it does from this prepare on. */
		if (f & SQL_ROW_COUNT)
			c->pin_pending = true;
		st->sql_flags = f & (SQL_PINS | SQL_TRANS | SQL_USER_VAR | SQL_LAST_INSERT_ID |
		                     SQL_LID_SET | SQL_KILL);
		st->reads_status = sql_reads_status((const uint8_t *)c->prep_sql, c->prep_sql_len);
	}
	/* Without a record (out of memory, or GW_STMTS_MAX open) the client gets an id it
	 * can only use to learn that it is unknown: 0. */
	wire_put_u32_at(p + 1, st ? st->id : 0);
	free(c->prep_sql);
	c->prep_sql = NULL;
}

/*
 * The command at the head of c's input, for s, in c->subst_pkt when it names a
 * statement: with the backend's id on s and, for an execute that left them out, the
 * parameter types. false when s failed (the client was told).
 */
static bool client_stmt_subst(struct gw_client *c, struct gw_server *s, const uint8_t *p,
                              uint32_t len)
{
	const struct gw_stmt *st = gw_client_stmt_pending(c);
	struct wire_execute e;
	struct wire_bulk bk;
	bool execute, bulk;
	uint32_t id;

	if (!st)
		return true; /* (a prepared KILL's subst_pkt is already there) */
	id = gw_sstmts_find(&s->stmts, st);
	if (id == 0) {
		gw_server_fail(s, "prepared statement missing on the backend connection");
		return false;
	}
	wire_buf_reset(&c->subst_pkt);
	execute = p[0] == COM_STMT_EXECUTE && wire_parse_execute(p, len, st->nparams, &e);
	bulk = p[0] == COM_STMT_BULK_EXECUTE && wire_parse_bulk(p, len, st->nparams, &bk);
	if (bulk)
		c->sql_flags = client_note_carried(c, st->sql_flags, NULL);
	if (execute) {
		/* Pinned at the end if it opens a cursor or does what a query pins for. */
		c->pin_pending = c->pin_pending || (e.flags & WIRE_CURSOR_FLAGS);
		c->sql_flags = client_note_carried(c, st->sql_flags, NULL);
	}
	if (len == WIRE_MAX_PAYLOAD && ((execute && !e.types_sent) || (bulk && !bk.types_sent)) &&
	    st->types && st->nparams > 0) {
		/* The first of several packets, without the types the connection may never
		 * have seen: with them it is longer than a packet. Its first 16 MiB go now;
		 * the rest is carried into the next packet, and so on to the last
		 * (client_forward_shifted). */
		if (execute)
			wire_build_execute(&c->subst_pkt, 0, p, len, st->nparams, &e, id,
			                   st->types);
		else
			wire_build_bulk(&c->subst_pkt, 0, p, len, st->nparams, &bk, id, st->types);
		wire_buf_reset(&c->cont_carry);
		if (!c->subst_pkt.failed) {
			size_t first = WIRE_HDR_LEN + (size_t)WIRE_MAX_PAYLOAD;

			wire_put_bytes(&c->cont_carry, c->subst_pkt.data + first + WIRE_HDR_LEN,
			               c->subst_pkt.len - first - WIRE_HDR_LEN);
			c->subst_pkt.len = first;
			c->cont_shift = true;
			c->cont_seq = 1;
			if (c->cont_carry.failed)
				c->subst_pkt.failed = true;
		}
	} else if (len == WIRE_MAX_PAYLOAD) {
		/* The first of several packets: the rest follow as the client sent them, so
		 * this one keeps its length and sequence id; only the id changes. */
		wire_put_bytes(&c->subst_pkt, p - WIRE_HDR_LEN, WIRE_HDR_LEN + (size_t)len);
		if (!c->subst_pkt.failed)
			wire_put_u32_at(c->subst_pkt.data + WIRE_HDR_LEN + 1, id);
	} else if (execute) {
		wire_build_execute(&c->subst_pkt, 0, p, len, st->nparams, &e, id, st->types);
	} else if (bulk) {
		wire_build_bulk(&c->subst_pkt, 0, p, len, st->nparams, &bk, id, st->types);
	} else {
		wire_build_stmt_cmd(&c->subst_pkt, 0, p, len, id);
	}
	if (c->subst_pkt.failed) {
		wire_buf_free(&c->subst_pkt);
		c->cont_shift = false;
		gw_server_fail(s, "out of memory");
		return false;
	}
	return true;
}

/* The packets in b (whole ones, from wire_packet_end). */
static unsigned wire_buf_packets(const struct wire_buf *b)
{
	unsigned n = 0;

	for (size_t pos = 0; pos + WIRE_HDR_LEN <= b->len;
	     pos += WIRE_HDR_LEN + wire_u24(b->data + pos))
		n++;
	return n;
}

static bool client_send_header(struct gw_server *s, uint32_t len, uint8_t seq)
{
	uint8_t h[WIRE_HDR_LEN] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), seq };

	return gw_server_send(s, h, sizeof(h));
}

/*
 * A continuation packet p (len bytes, sequence id seq) of a command that sluice made
 * longer (cont_shift): the carried bytes go first, and what no longer fits is carried
 * into the next packet. The client's last packet (shorter than 16 MiB) ends it with one
 * or two packets; the answer's sequence ids are then lowered by the extra one, if any.
 * false when the server failed.
 */
static bool client_forward_shifted(struct gw_client *c, struct gw_server *s, const uint8_t *p,
                                   uint32_t len, uint8_t seq)
{
	size_t k = c->cont_carry.len, room = WIRE_MAX_PAYLOAD - k; /* k < 16 MiB */
	bool more = len == WIRE_MAX_PAYLOAD;

	if (more || k + len >= WIRE_MAX_PAYLOAD) {
		/* A full packet: the carry, then the first bytes of p. */
		if (!client_send_header(s, WIRE_MAX_PAYLOAD, c->cont_seq++) ||
		    (k && !gw_server_send(s, c->cont_carry.data, k)) || !gw_server_send(s, p, room))
			return false;
		p += room;
		len -= (uint32_t)room;
		if (more) {
			/* The rest of p (k bytes) is the next packet's carry. */
			memcpy(c->cont_carry.data, p, k);
			return true;
		}
		k = 0; /* the last packet: what is left of p (maybe nothing) ends it */
	}
	if (!client_send_header(s, (uint32_t)(k + len), c->cont_seq) ||
	    (k && !gw_server_send(s, c->cont_carry.data, k)) || (len && !gw_server_send(s, p, len)))
		return false;
	s->seq_delta = (uint8_t)(c->cont_seq - seq);
	c->cont_shift = false;
	wire_buf_reset(&c->cont_carry);
	return true;
}

/* Forward the head command packet (and what follows it) to the bound server. */
void gw_client_send_command(struct gw_client *c, struct gw_server *s)
{
	const uint8_t *payload;
	uint32_t len;
	uint8_t seq;

	if (!client_peek_packet(c, &payload, &len, &seq)) {
		gw_bug(__FILE__, __LINE__, "command packet vanished");
	}
	s->last_seq = 0; /* should s fail below, the client's error answers this command */
	s->seq_delta = 0;
	c->cont_shift = false;
	client_set_state(c, GW_CL_RUNNING);
	if (!client_stmt_subst(c, s, payload, len) || !gw_server_flush_closes(s))
		return; /* s failed; the client got an error */
	if (c->subst_pkt.len && len < WIRE_MAX_PAYLOAD)
		/* The types put back may have made it 16 MiB or more: several packets. */
		s->seq_delta = (uint8_t)(wire_buf_packets(&c->subst_pkt) - 1);
	wire_resp_init(&s->resp, wire_cmd_resp_kind(payload[0]), s->caps);
	s->prep_resp_first = payload[0] == COM_STMT_PREPARE;
	s->infile_refused = false;
	s->started_ns = gw_now_ns();
	c->cmd_continued = len == WIRE_MAX_PAYLOAD;
	if (c->subst_pkt.len) {
		/* KILL <client id> as KILL QUERY <backend thread id>, or a COM_STMT_* with
		 * the backend's statement id. */
		bool sent = gw_server_send(s, c->subst_pkt.data, c->subst_pkt.len);

		wire_buf_reset(&c->subst_pkt);
		if (!sent)
			return;
	} else if (!gw_server_send(s, c->in.data + c->in.start, WIRE_HDR_LEN + len)) {
		return; /* the server failed; the client got an error */
	}
	client_consume(c, WIRE_HDR_LEN + len);
	if (s->resp.state == WRS_DONE && !c->cmd_continued)
		gw_client_response_done(c, s);
	else if (c->cmd_continued)
		client_process(c);
}

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
static bool client_kill_id(struct gw_client *c, uint32_t id, bool query_only, uint32_t len)
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
		return true;
	}
	client_consume(c, WIRE_HDR_LEN + len);
	client_send_ok(c, 1);
	return false;
}

/* A KILL aimed at one of this worker's clients, from any thread. */
static void client_on_kill(struct gw_msg *m)
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
			if (client_peek_packet(c, &p, &len, &seq))
				client_consume(c, WIRE_HDR_LEN + len);
			client_set_state(c, GW_CL_IDLE);
			client_send_err(c, 1, 1317, "70100", "Query execution was interrupted");
			client_process(c);
		}
	}
	free(m);
	gw_worker_reclaim(w);
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
static void client_command(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq)
{
	struct gw_msg *local = NULL, *remote = NULL;
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
			c->nsubs = 0;
			c->sql_flags = len < WIRE_MAX_PAYLOAD ? sql_scan(p + 1, len - 1) : 0;
			if (c->sql_flags & SQL_CONNECTION_ID)
				client_subst(c, (uint8_t *)p + 1, len - 1, /* prepare= */ true);
			c->sql_flags = 0;
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
		gw_sched_dispatch_locked(now, &local, &remote);
	} else {
		gw_account_reject_locked(c->account, GW_REJECT_QUEUE_FULL);
	}
	pthread_mutex_unlock(&gw.sched_lock);
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
		return;
	}
	gw_sched_deliver(local, remote);
}

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
		if (c->req_running) {
			qos_complete(gw.qos, &c->req, 0, gw_now_ns());
			c->req_running = false;
		}
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
		if (c->req_running) {
			qos_complete(gw.qos, &c->req, 0, gw_now_ns());
			c->req_running = false;
		}
		snprintf(msg, sizeof(msg), "Can't connect to backend server: %s",
		         gw.backend_error[0] ? gw.backend_error : "unavailable");
		gw_client_hold_drop_locked(c); /* its statement never ran */
		pthread_mutex_unlock(&gw.sched_lock);
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
			gw_vars_clear(&s->vars);
			gw_stmts_clear(&c->stmts);
			gw_sstmts_clear(&s->stmts);
			s->tracking = false;
			client_forget_carried(c);
			gw_vars_clear(&s->uvars);
			s->uvars_foreign = false;
			s->lid_client = 0;
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
	if (c->req_running) {
		qos_complete(gw.qos, &c->req, cost, now);
		c->req_running = false;
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
	if (c->req_running) {
		qos_complete(gw.qos, &c->req, 0, now);
		c->req_running = false;
	}
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

/* Handle the packets c->in holds, as far as the state allows. true when it stopped for
 * want of input (the packet at the head of c->in is not whole). */
static bool client_process_packets(struct gw_client *c)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	int budget = 16; /* packets per wakeup, then yield */

	while (budget-- > 0 && c->state != GW_CL_CLOSED) {
		switch (c->state) {
		case GW_CL_HANDSHAKE:
			if (!client_peek_packet(c, &p, &len, &seq))
				return c->state != GW_CL_CLOSED;
			client_handshake(c, p, len, seq);
			client_consume(c, WIRE_HDR_LEN + len);
			break;
		case GW_CL_AUTH_SWITCH:
		case GW_CL_CHANGE_USER:
			if (!client_peek_packet(c, &p, &len, &seq))
				return c->state != GW_CL_CLOSED;
			client_auth_switch_answer(c, p, len, seq);
			client_consume(c, WIRE_HDR_LEN + len);
			break;
		case GW_CL_IDLE:
			if (!client_peek_packet(c, &p, &len, &seq))
				return c->state != GW_CL_CLOSED;
			client_command(c, p, len, seq);
			break;
		case GW_CL_AUTH_DELAY:
			/* Nothing is due from the client before the answer: drop it. */
			c->in.start = c->in.end = 0;
			return false;
		case GW_CL_HOLD_WAIT:
		case GW_CL_QUEUED:
			return false;
		case GW_CL_RUNNING:
			if (!c->infile && !c->cmd_continued)
				return false;
			if (!client_peek_packet(c, &p, &len, &seq))
				return c->state != GW_CL_CLOSED;
			if (!c->server) {
				client_close(c, "data without a backend");
				return false;
			}
			if (c->cont_shift) {
				if (!client_forward_shifted(c, c->server, p, len, seq))
					return false;
			} else if (!gw_server_send(c->server, c->in.data + c->in.start,
			                           WIRE_HDR_LEN + len)) {
				return false;
			}
			client_consume(c, WIRE_HDR_LEN + len);
			if (c->cmd_continued) {
				c->cmd_continued = len == WIRE_MAX_PAYLOAD;
				if (!c->cmd_continued && c->server->resp.state == WRS_DONE)
					gw_client_response_done(c, c->server);
			} else if (len == 0) {
				/* The empty packet ends the file. */
				c->infile = false;
				wire_resp_infile_sent(&c->server->resp);
			}
			break;
		case GW_CL_CLOSED:
		case GW_CL__COUNT:
			return false;
		}
	}
	/* The budget ran out with input left (pipelined commands, issue 12): the rest
	 * waits for one loop turn, after other clients, then goes on without new bytes. */
	if (c->state != GW_CL_CLOSED)
		event_active(c->more_ev, 0, 0);
	return false;
}

static void client_on_more(evutil_socket_t fd, short what, void *arg)
{
	struct gw_client *c = arg;
	struct gw_worker *w = c->worker;

	(void)fd;
	(void)what;
	client_process(c);
	gw_worker_reclaim(w);
}

/*
 * Handle whatever the input holds, as far as the state allows. A compressed client's
 * frames are unwrapped as its packets are needed (client_in_want), and reading, if the
 * read cap stopped it, goes on once the input held is back under the cap.
 */
static void client_process(struct gw_client *c)
{
	bool starved = true;

	for (;;) {
		if (c->compress && !client_unwrap(c, &starved))
			return;
		if (!client_process_packets(c) || !c->compress || starved)
			break; /* busy, or nothing more to unwrap: more bytes will call again */
	}
	if (c->read_paused && c->state != GW_CL_CLOSED && client_in_held(c) <= CLIENT_IN_HIGH)
		client_resume_reading(c);
}
