/*
 * pool.c - the pool of backend connections and the scheduler's side of it: the slots,
 * the idle list, which connection a client's statement gets (bind: the same account's
 * first, the least recently used otherwise), the dispatch that pairs qos's picks with
 * free connections and delivers them to the clients' workers, anticipation (a light
 * account's connection HELD a moment), the spare and reserve connections (issue 11),
 * giving connections back, and shrinking the pool. Everything that touches the idle and
 * held lists runs under gw.sched_lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/done.h"
#include "gateway/hold.h"
#include "gateway/pool.h"
#include "gateway/server.h"
#include "gateway/thread.h"
#include "proto/log.h"
#include "proto/util.h"

#define GW_POOL_CAP           10000u               /* the store's largest pool size */
#define GW_CONNECT_TIMEOUT_NS (5000ull * 1000000u) /* connect + login must finish by then */

static void gw_pool_shrink(struct gw_worker *w);

void gw_pool_init(void)
{
	/* Room for the largest pool the rules store accepts, so that the admin API can grow
	 * the pool live; a slot costs memory only (events are made on first use). */
	gw.pool_cap = gw.cfg.pool_size > GW_POOL_CAP ? gw.cfg.pool_size : GW_POOL_CAP;
	gw.servers = calloc(gw.pool_cap, sizeof(*gw.servers));
	GW_BUG_ON(!gw.servers);
	for (uint32_t i = 0; i < gw.pool_cap; i++) {
		struct gw_server *s = &gw.servers[i];

		s->id = i;
		s->fd = -1;
		server_store_state(s, GW_SV_CLOSED);
		s->worker = &gw.workers[0];
	}
}

/* ---- the idle list (under sched_lock) ---- */

static void idle_push_locked(struct gw_server *s)
{
	s->prev = NULL;
	s->next = gw.idle;
	if (gw.idle)
		gw.idle->prev = s;
	gw.idle = s;
	gw.nidle++;
	__atomic_store_n(&gw.freed_ns, gw_now_ns(), __ATOMIC_RELAXED);
}

void idle_remove_locked(struct gw_server *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		gw.idle = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	gw.nidle--;
}

/* A CLOSED slot for a new connection (the caller brings it to life), or NULL. */
static struct gw_server *closed_slot_locked(void)
{
	for (uint32_t i = 0; i < gw.pool_cap; i++) {
		if (gw_server_state(&gw.servers[i]) == GW_SV_CLOSED) {
			if (i >= gw.pool_hwm)
				__atomic_store_n(&gw.pool_hwm, i + 1, __ATOMIC_RELEASE);
			return &gw.servers[i];
		}
	}
	return NULL;
}

/*
 * The best server for client c, by what it saves: an idle one already on c's identity,
 * schema and capability class, preferably one whose events live on c's worker (no
 * move between threads); else a new connection if the pool has room; else any idle one
 * of c's class (changes user), else any idle one (reconnects for c's capabilities).
 */
static struct gw_server *choose_server_locked(const struct gw_client *c)
{
	uint32_t cls = c->caps & GW_CAPS_CLASS_MASK;
	struct gw_server *s, *match = NULL, *same_class = NULL;

	for (s = gw.idle; s; s = s->next) {
		if (s->caps_class != cls)
			continue;
		if (s->account == c->account && s->cred_gen == c->cred.gen &&
		    s->charset == c->charset && s->tracking &&
		    !((s->caps ^ c->caps) & CLIENT_MULTI_STATEMENTS) &&
		    s->vars.hash == c->vars.hash && strcmp(s->db, c->db) == 0) {
			if (s->worker == c->worker)
				return s;
			if (!match)
				match = s;
		} else if (!same_class ||
		           (same_class->worker != c->worker && s->worker == c->worker)) {
			same_class = s;
		}
	}
	if (match)
		return match;
	if (gw.nlive < gw.cfg.pool_size && (s = closed_slot_locked()))
		return s;
	return same_class ? same_class : gw.idle;
}

/* The server choose_server_locked() gives c, taken from the idle list (or a CLOSED slot
 * brought to life) and bound to c. */
static struct gw_server *bind_server_locked(struct gw_client *c)
{
	struct gw_server *s = choose_server_locked(c);

	GW_BUG_ON(!s);
	if (server_state(s) == GW_SV_IDLE)
		idle_remove_locked(s);
	else
		gw.nlive++; /* a CLOSED slot comes to life */
	server_store_state(s, GW_SV_ASSIGNED);
	s->client = c;
	c->server = s;
	return s;
}

uint32_t gw_active_cap_locked(void)
{
	uint32_t cap = gw.cfg.max_active;

	return cap && cap < gw.cfg.pool_size ? cap : gw.cfg.pool_size;
}

void gw_msg_chain(struct gw_msg *m, struct gw_msg **local, struct gw_msg **remote)
{
	struct gw_msg **list =
	    pthread_equal(pthread_self(), m->client->worker->thread) ? local : remote;

	m->next = *list;
	*list = m;
}

static void sched_dispatch_locked(uint64_t now, struct gw_msg **local, struct gw_msg **remote)
{
	if (gw.hold_waiters)
		gw_client_hold_grant_locked(local, remote);
	while (qos_queued_total(gw.qos) > 0) {
		struct qos_req *r;
		struct gw_client *c;
		struct gw_server *s;
		struct gw_msg *m;
		bool fail = false;

		if (gw.nlive - gw.nidle >= gw.cfg.pool_size)
			return; /* as many busy as the pool allows (it may just have shrunk) */
		if (gw.nidle == 0) {
			if (gw.nlive >= gw.cfg.pool_size)
				return;
			fail = now < gw.down_until_ns;
		}
		if (!fail && qos_running_total(gw.qos) >= gw_active_cap_locked() &&
		    !qos_reserve_waiting(gw.qos))
			return; /* the backend runs enough: the rest waits here, in fair order */
		/* Fairness picks the account; within it, a client of this thread if one
		 * is near the head, so the free connection need not change threads. */
		r = qos_pick_affine(gw.qos, now, gw_self_worker);
		if (!r)
			return;
		c = (struct gw_client *)((char *)r - offsetof(struct gw_client, req));
		c->req_queued = false;
		c->req_running = true;
		m = &c->msg;
		m->client = c;
		m->server = NULL;
		m->kind = GW_MSG_FAIL;
		if (!fail) {
			s = bind_server_locked(c);
			m->kind = GW_MSG_RUN;
			m->server = s;
		}
		gw_msg_chain(m, local, remote);
	}
}

static void post_all(struct gw_msg *list)
{
	while (list) {
		struct gw_msg *next = list->next;

		list->next = NULL;
		gw_worker_post(list);
		list = next;
	}
}

/* The end of a worker's loop pass (worker_after_pass), when asked: free connections go
 * to picked requests, and places under max_pinned to the sessions waiting for one. Runs of
 * this thread's clients start here, in pick order; the others' are posted. */
void gw_sched_dispatch(void)
{
	struct gw_msg *local = NULL, *remote = NULL;

	pthread_mutex_lock(&gw.sched_lock);
	if (qos_queued_total(gw.qos) > 0 || gw.hold_waiters)
		sched_dispatch_locked(gw_now_ns(), &local, &remote);
	pthread_mutex_unlock(&gw.sched_lock);
	gw_sched_deliver(local, remote);
}

void gw_sched_deliver(struct gw_msg *local, struct gw_msg *remote)
{
	post_all(remote);
	gw_msgs_run(local); /* in pick order */
}

void gw_msgs_run(struct gw_msg *list)
{
	struct gw_msg *rev = NULL;

	while (list) { /* pushed LIFO; run FIFO */
		struct gw_msg *next = list->next;

		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct gw_msg *next = rev->next;

		rev->next = NULL;
		gw_client_on_msg(rev);
		rev = next;
	}
}

/* ---- anticipation: a light account's server held for its next statement ---- */

/*
 * Handing a server to another account costs two round trips (COM_CHANGE_USER and its
 * auth) and handing it back two more. So when a statement ends for an account with
 * nothing else queued while other accounts wait, its server is HELD for that account for
 * --anticipate-ms instead of going to the next account in line (and being switched over):
 * a light tenant's next statement, typically a moment later, takes it at once, with no
 * switch. Anticipatory scheduling (Iyer and Druschel, 2001): stay idle a moment on
 * purpose to save a costly switch. Bounded: at most a quarter of the pool is held, only
 * after a client's own statement, only while the account is within its fair share (work
 * that skips the queue must not take what the others are owed: a client that sends
 * statements back to back also has an empty queue when each ends), and never for an
 * account with a max_qps (skipping the queue would skip its token bucket).
 */
static bool hold_wanted_locked(const struct gw_server *s)
{
	struct gw_account *a = s->account;
	struct qos_account_stats qs;

	if (gw.cfg.anticipate_us == 0 || !a || a->dead || a->limits.max_qps ||
	    gw.nheld + 1 > gw.cfg.pool_size / 4 || qos_queued_total(gw.qos) == 0)
		return false;
	qos_account_get_stats(a->qa, &qs);
	return qs.queued == 0 && qos_account_within_share(gw.qos, a->qa, gw_now_ns());
}

void unhold_locked(struct gw_server *s)
{
	struct gw_server **pp = &s->account->held;

	while (*pp != s)
		pp = &(*pp)->hold_next;
	*pp = s->hold_next;
	s->hold_next = NULL;
	gw.nheld--;
}

/* The hold is over: s joins the idle list (the caller dispatches). */
static void hold_end_locked(struct gw_server *s)
{
	unhold_locked(s);
	server_set_state(s, GW_SV_IDLE);
	idle_push_locked(s);
}

/* (Re)arm s's hold timer for ns from now; if that fails, the hold ends now. */
static void server_arm_hold(struct gw_server *s, uint64_t ns)
{
	struct timeval tv = { .tv_sec = (time_t)(ns / 1000000000u),
		              .tv_usec = (suseconds_t)((ns % 1000000000u) / 1000u + 1) };

	if (!s->hold_ev || event_add(s->hold_ev, &tv) != 0) {
		pthread_mutex_lock(&gw.sched_lock);
		s->held_until_ns = 0;
		pthread_mutex_unlock(&gw.sched_lock);
		server_on_hold_end(-1, 0, s);
	}
}

/* The hold ran out (or was re-armed by a later hold of the same server). */
void server_on_hold_end(evutil_socket_t fd, short what, void *arg)
{
	struct gw_server *s = arg;
	uint64_t now = gw_now_ns(), left = 0;
	bool ended = false;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&gw.sched_lock);
	if (server_state(s) == GW_SV_HELD) {
		if (now >= s->held_until_ns) {
			hold_end_locked(s);
			ended = true;
		} else {
			left = s->held_until_ns - now;
		}
	}
	pthread_mutex_unlock(&gw.sched_lock);
	if (left)
		server_arm_hold(s, left);
	if (ended)
		gw_sched_kick(); /* the connection is free for queued work */
}

struct gw_server *gw_server_take_held_locked(struct gw_client *c)
{
	struct gw_server *s = c->account->held;

	while (s && s->caps_class != (c->caps & GW_CAPS_CLASS_MASK))
		s = s->hold_next;
	if (!s)
		return NULL;
	if (!qos_account_within_share(gw.qos, c->account->qa, gw_now_ns())) {
		/* Ahead of its share now: the server goes to whoever is next in line, c's
		 * statement queues like any other. */
		hold_end_locked(s);
		return NULL;
	}
	unhold_locked(s);
	server_set_state(s, GW_SV_ASSIGNED);
	s->client = c;
	c->server = s;
	c->unqueued = true;
	c->account->unqueued_active++;
	gw.held_hits++;
	return s;
}

struct gw_server *gw_server_take_spare_locked(struct gw_client *c)
{
	struct gw_account *a = c->account;
	uint64_t now = gw_now_ns();
	struct qos_account_stats qs;
	struct gw_server *s;

	/* Only when the cap holds queued work back and the pool has a connection above it
	 * (the pool may have shrunk below the busy ones), and for a sparse account: nothing
	 * queued, nothing running, within its share, no token bucket to skip. */
	if (qos_running_total(gw.qos) < gw_active_cap_locked() ||
	    gw.nlive - gw.nidle >= gw.cfg.pool_size || (gw.nidle == 0 && now < gw.down_until_ns) ||
	    a->limits.max_qps || a->unqueued_active)
		return NULL;
	qos_account_get_stats(a->qa, &qs);
	if (qs.queued || qs.running || !qos_account_within_share(gw.qos, a->qa, now))
		return NULL;
	s = bind_server_locked(c);
	c->unqueued = true;
	c->account->unqueued_active++;
	gw.spare_runs++;
	return s;
}

struct gw_server *gw_server_take_free_locked(struct gw_client *c)
{
	struct gw_server *s;

	if (qos_queued_total(gw.qos) > 0)
		return NULL; /* (and nothing HELD gone idle is left undispatched) */
	s = c->account->held ? gw_server_take_held_locked(c) : NULL;
	if (s)
		return s;
	if (gw.nlive - gw.nidle >= gw.cfg.pool_size ||
	    (gw.nidle == 0 && (gw.nlive >= gw.cfg.pool_size || gw_now_ns() < gw.down_until_ns)))
		return NULL;
	s = bind_server_locked(c);
	c->unqueued = true;
	c->account->unqueued_active++;
	return s;
}

/* Connections the pool may open beyond its size, each for a statement of an account that
 * occupies no connection at all while every one is busy (issue 11): --reserve-pool, by
 * default an eighth of the pool, at least 1. They close when their statement ends
 * (gw_server_release). */
static uint32_t reserve_conns_locked(void)
{
	if (gw.cfg.reserve_pool != GW_RESERVE_AUTO)
		return gw.cfg.reserve_pool;
	return gw.cfg.pool_size >= 16 ? gw.cfg.pool_size / 8 : 1;
}

struct gw_server *gw_server_take_reserve_locked(struct gw_client *c)
{
	struct gw_account *a = c->account;
	uint64_t now = gw_now_ns();
	struct qos_account_stats qs;
	struct gw_server *s;

	/* Every connection busy and none freed for a while (long statements, unread results,
	 * held sessions), room in the reserve, the backend not down, and c's account using
	 * nothing and waiting for nothing but c's statement: no one else's load can keep it
	 * from starting. */
	if (gw.nidle > 0 || gw.nlive < gw.cfg.pool_size ||
	    now - gw.freed_ns < GW_RESERVE_AFTER_NS ||
	    gw.nlive >= gw.cfg.pool_size + reserve_conns_locked() || gw.nlive >= gw.pool_cap ||
	    now < gw.down_until_ns || a->unqueued_active || a->holding)
		return NULL;
	qos_account_get_stats(a->qa, &qs);
	if (qs.running || qs.queued > (c->req_queued ? 1u : 0u))
		return NULL;
	if (c->req_queued) {
		if (!qos_cancel(gw.qos, &c->req))
			return NULL;
		c->req_queued = false;
	}
	s = closed_slot_locked();
	GW_BUG_ON(!s); /* nlive < pool_cap */
	gw.nlive++;
	server_store_state(s, GW_SV_ASSIGNED);
	s->client = c;
	c->server = s;
	c->unqueued = true;
	a->unqueued_active++;
	gw.reserve_runs++;
	return s;
}

/* ---- giving servers back ---- */

void gw_server_release(struct gw_server *s, bool reusable)
{
	bool may_hold = s->may_hold;

	s->may_hold = false;

	if (!reusable || s->fd < 0 || gw_buf_len(&s->in) > 0) {
		server_close(s, reusable ? "unexpected data" : "session state not reusable");
		return;
	}
	s->client = NULL;
	/* Paused for a client slow to read (the chunk that ended its answer filled the
	 * client's buffer): the answer is whole, and the next statement's, whoever sends
	 * it, must be read. */
	gw_server_pause(s, false);
	pthread_mutex_lock(&gw.sched_lock);
	if (gw.nlive > gw.cfg.pool_size || s->kill_hold) {
		/* The pool was made smaller, or a KILL QUERY is aimed at this connection's
		 * last statement: this one goes. */
		bool killed = s->kill_hold;

		pthread_mutex_unlock(&gw.sched_lock);
		server_close(s, killed ? "a KILL was aimed at it" : "pool size reduced");
		return;
	}
	if (may_hold && hold_wanted_locked(s)) {
		uint64_t ns = (uint64_t)gw.cfg.anticipate_us * 1000u;

		server_set_state(s, GW_SV_HELD);
		s->held_until_ns = gw_now_ns() + ns;
		s->hold_next = s->account->held;
		s->account->held = s;
		gw.nheld++;
		pthread_mutex_unlock(&gw.sched_lock);
		server_arm_hold(s, ns);
		/* The statement that ended may leave room under --max-active elsewhere. */
		gw_sched_kick();
		return;
	}
	server_set_state(s, GW_SV_IDLE);
	idle_push_locked(s);
	pthread_mutex_unlock(&gw.sched_lock);
	gw_sched_kick();
}

bool gw_pool_quiet(void)
{
	bool quiet;

	pthread_mutex_lock(&gw.sched_lock);
	quiet = qos_queued_total(gw.qos) == 0;
	for (uint32_t i = 0; quiet && i < gw.pool_hwm; i++) {
		enum gw_server_state st = gw_server_state(&gw.servers[i]);

		/* A pinned client between statements holds its server but runs nothing. */
		quiet =
		    st == GW_SV_CLOSED || st == GW_SV_IDLE || st == GW_SV_HELD ||
		    (st == GW_SV_ACTIVE && !__atomic_load_n(&gw.servers[i].busy, __ATOMIC_ACQUIRE));
	}
	pthread_mutex_unlock(&gw.sched_lock);
	return quiet;
}

/*
 * Janitor, per worker: a connect or login that has not finished in time (a backend that
 * stopped answering) fails like a refused connect, so its client gets an error instead
 * of waiting for ever; then close idle servers while the pool is over its size.
 */
void gw_pool_trim(struct gw_worker *w)
{
	uint64_t now = gw_now_ns();
	uint32_t hwm = __atomic_load_n(&gw.pool_hwm, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < hwm; i++) {
		struct gw_server *s = &gw.servers[i];
		enum gw_server_state st = server_state(s);

		if ((st == GW_SV_CONNECTING || st == GW_SV_LOGIN) && s->worker == w &&
		    now - s->connect_start_ns > GW_CONNECT_TIMEOUT_NS)
			server_connect_failed(s, "connect timeout (no answer within 5 s)");
	}
	gw_pool_shrink(w);
}

/* Close idle servers of this worker while the pool is over its (reduced) size. */
static void gw_pool_shrink(struct gw_worker *w)
{
	for (;;) {
		struct gw_server *s, *victim = NULL;

		pthread_mutex_lock(&gw.sched_lock);
		if (gw.nlive > gw.cfg.pool_size) {
			for (s = gw.idle; s; s = s->next) {
				if (s->worker == w)
					victim = s;
			}
		}
		if (victim) {
			idle_remove_locked(victim);
			server_store_state(victim, GW_SV_ASSIGNED);
		}
		pthread_mutex_unlock(&gw.sched_lock);
		if (!victim)
			return;
		server_close(victim, "pool size reduced");
	}
}
