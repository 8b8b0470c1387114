/*
 * client.c - a client's life and bytes: accept and greeting, its state, output with
 * backpressure, input framing (compressed frames unwrapped as needed), close and free.
 * What its packets mean is login.c's (before IDLE) and intake.c's (commands). Every
 * client belongs to one worker for life; only that worker's thread touches it (messages
 * from other threads arrive through the worker's inbox).
 *
 * States (gw.h): HANDSHAKE -> [AUTH_SWITCH] -> IDLE <-> QUEUED -> RUNNING -> IDLE ...
 * Closing parks the client on the worker's closed list; it is freed at the end of the
 * loop pass (worker_after_pass), or, when a message for it is still in flight, when that
 * message arrives.
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

#include "gateway/client.h"
#include "gateway/done.h"
#include "gateway/hold.h"
#include "gateway/hosts.h"
#include "gateway/intake.h"
#include "gateway/killmap.h"
#include "gateway/login.h"
#include "gateway/pins.h"
#include "gateway/pool.h"
#include "gateway/route.h"
#include "gateway/server.h"
#include "gateway/thread.h"
#include "proto/auth.h"
#include "proto/compress.h"
#include "proto/log.h"
#include "proto/sqlscan.h"
#include "proto/util.h"

static const char *const client_state_names[] = { GW_CLIENT_STATES(GW_X_NAME) };

static void client_on_read(evutil_socket_t fd, short what, void *arg);
static void client_on_write(evutil_socket_t fd, short what, void *arg);
static void client_on_more(evutil_socket_t fd, short what, void *arg);

const char *gw_client_state_name(enum gw_client_state st)
{
	return st < GW_CL__COUNT ? client_state_names[st] : "?";
}

void client_set_state(struct gw_client *c, enum gw_client_state st)
{
	gw_log_noise("C-%llu %s -> %s", (unsigned long long)c->id, gw_client_state_name(c->state),
	             gw_client_state_name(st));
	c->state = st;
}

/* The client logged in or leaves: it no longer counts against its address's cap. */
void client_prelogin_done(struct gw_client *c)
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

bool client_send_wbuf(struct gw_client *c, struct wire_buf *b)
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

void client_send_err(struct gw_client *c, uint8_t seq, uint16_t code, const char *state,
                     const char *msg)
{
	struct wire_buf b;

	c->row_count = -1; /* as after MariaDB's own errors */
	wire_buf_init(&b);
	wire_build_err(&b, seq, code, state, "%s", msg);
	client_send_wbuf(c, &b);
}

void client_send_ok(struct gw_client *c, uint8_t seq)
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
	__atomic_fetch_add(&gw.clients_now, 1, __ATOMIC_RELAXED);
	if (!c->ev || !c->wev || !c->more_ev || event_add(c->ev, NULL) < 0) {
		client_close(c, "out of memory");
		return;
	}
	if (__atomic_load_n(&gw.clients_now, __ATOMIC_RELAXED) > gw.cfg.max_clients) {
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
void client_close(struct gw_client *c, const char *reason)
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

		if (gw_client_req_done_locked(c, cost, now)) {
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
	/* (each may be missing: an accept that ran out of memory closes at once) */
	if (c->ev)
		event_del(c->ev);
	if (c->wev)
		event_del(c->wev);
	if (c->more_ev)
		event_del(c->more_ev);
	close(c->fd);
	c->fd = -1;
	client_set_state(c, GW_CL_CLOSED);
	client_list_remove(&c->worker->clients, c);
	client_list_push(&c->worker->closed, c);
	c->parked = true;
	gw_worker_after(c->worker); /* which frees it */
	c->worker->nclients--;
	__atomic_fetch_sub(&gw.clients_now, 1, __ATOMIC_RELAXED);
}

void client_free(struct gw_client *c)
{
	free(c->auth_deny_msg);
	gw_killmap_remove(c);
	wire_buf_free(&c->subst_pkt);
	wire_buf_free(&c->cont_carry);
	gw_stmts_free(&c->stmts);
	free(c->prep_sql);
	if (c->ev)
		event_free(c->ev);
	if (c->wev)
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
		c->parked = false;
		if (c->zombie)
			continue; /* freed when its message arrives */
		client_free(c);
	}
}

/* ---- input ---- */

/* Is a whole packet at the head of the input? */
bool client_peek_packet(struct gw_client *c, const uint8_t **payload, uint32_t *len, uint8_t *seq)
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
size_t client_in_held(const struct gw_client *c)
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

void client_consume(struct gw_client *c, size_t n)
{
	c->in.start += n;
	if (c->in.start == c->in.end)
		c->in.start = c->in.end = 0;
}

static void client_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct gw_client *c = arg;
	struct gw_buf *buf;
	ssize_t n;

	(void)what;
	/* With compression the socket's bytes are frames, unwrapped into c->in. */
	buf = c->compress ? &c->zraw : &c->in;
	if (!gw_buf_reserve(buf, GW_IO_CHUNK)) {
		client_close(c, "out of memory");
		return;
	}
	n = recv(fd, buf->data + buf->end, buf->cap - buf->end, 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(c, n == 0 ? "client closed" : "recv failed");
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
}

void client_resume_reading(struct gw_client *c)
{
	if (c->read_paused && c->state != GW_CL_CLOSED) {
		c->read_paused = false;
		event_add(c->ev, NULL);
	}
}

/* Leave a pinned/in-transaction server behind (its state belongs to the old session). */
void client_drop_server(struct gw_client *c)
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
void client_diag_release(struct gw_client *c)
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

/* Does c's state take its next packet now? In RUNNING only a command's continuation or
 * LOCAL INFILE data; before the answer to a delayed login nothing is due, so what came is
 * dropped. */
static bool client_takes_packets(struct gw_client *c)
{
	switch (c->state) {
	case GW_CL_HANDSHAKE:
	case GW_CL_AUTH_SWITCH:
	case GW_CL_CHANGE_USER:
	case GW_CL_IDLE:
		return true;
	case GW_CL_RUNNING:
		return c->infile || c->cmd_continued;
	case GW_CL_AUTH_DELAY:
		c->in.start = c->in.end = 0;
		return false;
	default:
		return false;
	}
}

/* A packet of the running command's tail (a continuation past 16 MiB) or of its LOCAL
 * INFILE data, on to the server. false when c or its server failed. */
static bool client_pass_data(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq)
{
	if (!c->server) {
		client_close(c, "data without a backend");
		return false;
	}
	if (c->cont_shift) {
		if (!client_forward_shifted(c, c->server, p, len, seq))
			return false;
	} else if (!gw_server_send(c->server, c->in.data + c->in.start, WIRE_HDR_LEN + len)) {
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
	return true;
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
		if (!client_takes_packets(c))
			return false;
		if (!client_peek_packet(c, &p, &len, &seq))
			return c->state != GW_CL_CLOSED;
		switch (c->state) {
		case GW_CL_HANDSHAKE:
			client_handshake(c, p, len, seq);
			client_consume(c, WIRE_HDR_LEN + len);
			break;
		case GW_CL_AUTH_SWITCH:
		case GW_CL_CHANGE_USER:
			client_auth_switch_answer(c, p, len, seq);
			client_consume(c, WIRE_HDR_LEN + len);
			break;
		case GW_CL_IDLE:
			client_command(c, p, len, seq);
			break;
		case GW_CL_RUNNING:
			if (!client_pass_data(c, p, len, seq))
				return false;
			break;
		default:
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

	(void)fd;
	(void)what;
	client_process(c);
}

/*
 * Handle whatever the input holds, as far as the state allows. A compressed client's
 * frames are unwrapped as its packets are needed (client_in_want), and reading, if the
 * read cap stopped it, goes on once the input held is back under the cap.
 */
void client_process(struct gw_client *c)
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
