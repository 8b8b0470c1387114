/*
 * accounts.c - the live account table and per-account statistics.
 *
 * Accounts are loaded from the rules store at start and after every admin change
 * (gw_publish). An account object lives until exit: a client holds a plain pointer to
 * it; a deleted account is marked dead (no new logins) and its clients finish their
 * sessions. Rules are applied to qos in place, so queued and running requests keep
 * their place. Everything here runs under gw.sched_lock, except the store reads.
 */
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/accounts.h"
#include "gateway/pool.h"
#include "gateway/sync.h"
#include "gateway/thread.h"
#include "proto/log.h"
#include "proto/util.h"

static void limits_from_store(const struct store_account *sa, struct qos_limits *l)
{
	l->weight = sa->weight ? sa->weight : 1;
	l->reservation = sa->reservation;
	l->max_qps = sa->max_qps;
	l->max_queue = sa->max_queue;
	l->queue_timeout_ms = sa->queue_timeout_ms;
}

struct gw_account *gw_account_find_locked(const char *name)
{
	for (struct gw_account *a = gw.accounts; a; a = a->next) {
		if (!a->dead && strcmp(a->name, name) == 0)
			return a;
	}
	return NULL;
}

static struct gw_account *find_by_id_locked(int64_t id)
{
	for (struct gw_account *a = gw.accounts; a; a = a->next) {
		if (a->id == id)
			return a;
	}
	return NULL;
}

/* The first n of fresh[] (NULL entries skipped) and fresh itself. */
static void accounts_free(struct gw_account **fresh, size_t n)
{
	for (size_t i = 0; fresh && i < n; i++) {
		if (fresh[i]) {
			qos_account_discard(fresh[i]->qa);
			free(fresh[i]->ts);
			free(fresh[i]);
		}
	}
	free(fresh);
}

/* An account object for each of the n rows, made without the lock (qos's too). */
static struct gw_account **accounts_alloc(const struct store_account *list, size_t n)
{
	struct gw_account **fresh = calloc(n ? n : 1, sizeof(*fresh));

	for (size_t i = 0; fresh && i < n; i++) {
		struct qos_limits l;

		limits_from_store(&list[i], &l);
		fresh[i] = calloc(1, sizeof(**fresh));
		if (fresh[i]) {
			fresh[i]->ts =
			    calloc(gw.cfg.threads ? gw.cfg.threads : 1, sizeof(*fresh[i]->ts));
			fresh[i]->qa = qos_account_alloc((uint64_t)list[i].id, &l);
		}
		if (!fresh[i] || !fresh[i]->ts || !fresh[i]->qa) {
			accounts_free(fresh, i + 1);
			return NULL;
		}
	}
	return fresh;
}

bool gw_accounts_load(struct store *st, char *err, size_t errlen)
{
	struct store_account *list = NULL;
	struct gw_account **fresh;
	struct qos_room room = { 0 };
	uint32_t need;
	size_t n = 0;

	if (!store_account_list(st, &list, &n, err, errlen))
		return false;
	/* Everything is allocated before the lock is taken: an object for each account we
	 * may not have, and room in qos's heaps for all of them. Only this (admin) thread
	 * adds accounts, so the room asked for is still enough under the lock. */
	fresh = accounts_alloc(list, n);
	pthread_mutex_lock(&gw.sched_lock);
	need = qos_room_need(gw.qos, (uint32_t)n);
	pthread_mutex_unlock(&gw.sched_lock);
	if (!fresh || (need && !qos_room_alloc(&room, need))) {
		accounts_free(fresh, n);
		free(list);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	pthread_mutex_lock(&gw.sched_lock);
	qos_room_swap(gw.qos, &room);
	gw.accounts_gen++;
	for (size_t i = 0; i < n; i++) {
		const struct store_account *sa = &list[i];
		struct gw_account *a = find_by_id_locked(sa->id);

		if (!a) {
			if (!qos_account_add(gw.qos, fresh[i]->qa))
				continue; /* cannot happen: the room was made above */
			a = fresh[i];
			fresh[i] = NULL;
			a->id = sa->id;
			a->next = gw.accounts;
			gw.accounts = a;
		}
		a->seen_gen = gw.accounts_gen;
		/* read without the lock by the workers' intake */
		__atomic_store_n(&a->dead, false, __ATOMIC_RELAXED);
		gw_strlcpy(a->name, sa->name, sizeof(a->name));
		/* New credentials (issue 11): a new generation, so that no backend connection
		 * authenticated with the old ones serves a client that proved the new ones
		 * (server_prepare() switches user when the generations differ). A new
		 * account starts at 1 (its zeroed stage1 differs from any real one, and an
		 * account without a password has has_password false against none). */
		if (a->cred_gen == 0 || a->has_password != sa->has_password ||
		    memcmp(a->stage1, sa->pw_sha1, sizeof(a->stage1)) != 0)
			a->cred_gen++;
		memcpy(a->stage1, sa->pw_sha1, sizeof(a->stage1));
		a->has_password = sa->has_password;
		a->max_connections = sa->max_connections;
		a->max_pinned = sa->max_pinned;
		gw.hold_room = true; /* a raised cap or reservation lets waiters in */
		/* read without the lock by the workers' sweeps */
		__atomic_store_n(&a->pinned_idle_timeout_ms, sa->pinned_idle_timeout_ms,
		                 __ATOMIC_RELAXED);
		limits_from_store(sa, &a->limits);
		qos_account_set_limits(gw.qos, a->qa, &a->limits);
	}
	/* Only the accounts the store no longer has die: the others never look dead, not
	 * even while the rules reload (a statement arriving then was refused). */
	for (struct gw_account *a = gw.accounts; a; a = a->next) {
		if (a->seen_gen != gw.accounts_gen)
			__atomic_store_n(&a->dead, true, __ATOMIC_RELAXED);
	}
	gw.reserved = 0;
	for (struct gw_account *a = gw.accounts; a; a = a->next) {
		if (!a->dead)
			gw.reserved += a->limits.reservation;
	}
	pthread_mutex_unlock(&gw.sched_lock);
	gw_sched_kick(); /* a raised max_pinned, reservation or max_qps lets waiting work in */
	/* What was made for accounts that were there already, and qos's old heap arrays. */
	accounts_free(fresh, n);
	qos_room_free(&room);
	free(list);
	return true;
}

bool gw_resolve(const char *host, uint16_t port, struct sockaddr_storage *sa, socklen_t *salen,
                char *err, size_t errlen)
{
	struct addrinfo hints, *res;
	char portstr[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "backend %s:%u: %s", host, port, gai_strerror(rc));
		return false;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*salen = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/*
 * The backend the gateway uses is the store's first enabled backend row. A new address
 * is used for new connections; a new pool size grows the pool at once, or shrinks it as
 * connections come back (running statements are never cut); a new max_active holds back
 * or lets out queued statements from the next pick on.
 */
bool gw_backend_apply(struct store *st, char *err, size_t errlen)
{
	struct store_backend *list = NULL, *b = NULL;
	struct sockaddr_storage sa;
	socklen_t salen;
	size_t n = 0;
	uint32_t pool, old_pool, old_max_active = 0;
	bool moved, more = false, pool_changed = false, max_active_changed = false;

	if (!store_backend_list(st, &list, &n, err, errlen))
		return false;
	/* One backend runs until accounts can be placed on several: the row named
	 * "default" when enabled, else the first enabled one by name. Other rows wait. */
	for (size_t i = 0; i < n; i++) {
		if (list[i].enabled && (!b || strcmp(list[i].name, "default") == 0))
			b = &list[i];
		if (b && strcmp(b->name, "default") == 0)
			break;
	}
	if (!b) {
		free(list);
		return true; /* none enabled: keep what runs */
	}
	if (!gw_resolve(b->host, b->port, &sa, &salen, err, errlen)) {
		free(list);
		return false;
	}
	pool = b->pool_size ? b->pool_size : gw.cfg.pool_size;
	if (gw.pool_cap && pool > gw.pool_cap)
		pool = gw.pool_cap;
	pthread_mutex_lock(&gw.sched_lock);
	moved = strcmp(gw.cfg.backend_host, b->host) != 0 || gw.cfg.backend_port != b->port;
	/* Only what changed is written: the rest is read without the lock (logs). */
	if (strcmp(gw.cfg.backend_name, b->name) != 0)
		gw_strlcpy(gw.cfg.backend_name, b->name, sizeof(gw.cfg.backend_name));
	if (moved)
		gw_strlcpy(gw.cfg.backend_host, b->host, sizeof(gw.cfg.backend_host));
	gw.cfg.backend_port = b->port;
	gw.backend_sa = sa;
	gw.backend_salen = salen;
	old_pool = gw.cfg.pool_size;
	if (pool != gw.cfg.pool_size) {
		gw.cfg.pool_size = pool;
		if (gw.qos)
			qos_set_slots(gw.qos, pool);
		more = pool_changed = true;
	}
	if (b->max_active != gw.cfg.max_active) {
		old_max_active = gw.cfg.max_active;
		gw.cfg.max_active = b->max_active;
		more = max_active_changed = true;
	}
	pthread_mutex_unlock(&gw.sched_lock);
	/* (logged outside the lock) */
	if (pool_changed)
		gw_log_info("backend %s: pool size %u -> %u", b->name, old_pool, pool);
	if (max_active_changed)
		gw_log_info("backend %s: max_active %u -> %u%s", b->name, old_max_active,
		            b->max_active, b->max_active ? "" : " (off: the pool size)");
	if (more && gw.qos)
		gw_sched_kick(); /* queued work may fit now */
	if (moved)
		gw_log_info("backend %s is now %s:%u (for new connections)", b->name, b->host,
		            b->port);
	free(list);
	return true;
}

bool gw_publish(void *ud, struct store *st, char *err, size_t errlen)
{
	bool backend_ok;
	char berr[256];

	(void)ud;
	/* Accounts and backend apply independently: a bad backend row must not hold back
	 * an account change, nor the other way round. */
	backend_ok = gw_backend_apply(st, berr, sizeof(berr));
	if (!backend_ok)
		gw_log_error("applying the backend failed: %s (its old settings stay in force)",
		             berr);
	if (!gw_accounts_load(st, err, errlen)) {
		gw_log_error("publishing new rules failed: %s (old rules stay in force)", err);
		return false;
	}
	if (!backend_ok) {
		snprintf(err, errlen, "accounts applied, but the backend was not: %s", berr);
		return false;
	}
	gw_log_info("rules published (generation %lld)", (long long)store_generation(st));
	return true;
}

#define LD(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v)  __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define ADD(x, v) ST(x, LD(x) + (v)) /* one writer: no read-modify-write needed */

/* The window slot for second `sec` of this worker's block, cleared when reused. */
static struct gw_account_window *window_slot(struct gw_account_tstats *t, uint64_t sec)
{
	struct gw_account_window *w = &t->win[sec % GW_STATS_WINDOW];

	if (LD(w->second) != sec) {
		ST(w->queries, 0);
		ST(w->backend_ns, 0);
		for (unsigned b = 0; b < GW_HIST_BUCKETS; b++)
			ST(w->hist[b], 0);
		ST(w->second, sec);
	}
	return w;
}

void gw_account_record(struct gw_account *a, uint32_t worker, uint64_t now, uint64_t latency_ns,
                       uint64_t backend_ns)
{
	struct gw_account_tstats *t = &a->ts[worker];
	struct gw_account_window *w = window_slot(t, now / 1000000000u);
	uint64_t us = latency_ns / 1000u;
	unsigned b = 0;

	while (us && b < GW_HIST_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	ADD(w->queries, 1);
	ADD(w->backend_ns, backend_ns);
	ADD(w->hist[b], 1);
	ADD(t->hist_total[b], 1);
	ADD(t->latency_ns_total, latency_ns);
	ADD(t->queries_total, 1);
	ADD(t->backend_ns_total, backend_ns);
}

void gw_account_reject_locked(struct gw_account *a, enum gw_reject_reason why)
{
	a->rejected_total++;
	a->rejected[why]++;
}

/* The latency (ms) below which a fraction q of the histogram lies; bucket midpoints. */
static double hist_quantile(const uint64_t *h, uint64_t total, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;

	if (total == 0)
		return 0;
	for (unsigned b = 0; b < GW_HIST_BUCKETS; b++) {
		seen += h[b];
		if (seen >= want) {
			double lo = b ? ldexp(1.0, (int)b - 1) : 0.0;
			double hi = ldexp(1.0, (int)b);

			return (lo + hi) / 2.0 / 1000.0;
		}
	}
	return ldexp(1.0, GW_HIST_BUCKETS) / 1000.0;
}

bool gw_stats_collect(void *ud, struct adm_stats *out)
{
	uint64_t now = gw_now_ns(), sec = now / 1000000000u;
	uint64_t all_backend = 0;
	size_t n = 0, i = 0;
	const struct gw_account **accts;
	char host[sizeof(gw.cfg.backend_host)];
	uint16_t port;

	(void)ud;
	memset(out, 0, sizeof(*out));
	/* Under the scheduler lock only copies: allocated before it, summed after it (the
	 * per-thread blocks are atomics, and accounts live for ever). */
	pthread_mutex_lock(&gw.sched_lock);
	for (struct gw_account *a = gw.accounts; a; a = a->next)
		n += !a->dead;
	pthread_mutex_unlock(&gw.sched_lock);
	out->accounts = calloc(n ? n : 1, sizeof(*out->accounts));
	out->backends = calloc(1, sizeof(*out->backends));
	accts = calloc(n ? n : 1, sizeof(*accts));
	if (!out->accounts || !out->backends || !accts) {
		free(accts);
		adm_stats_free(out);
		return false;
	}
	pthread_mutex_lock(&gw.sched_lock);
	for (struct gw_account *a = gw.accounts; a && i < n; a = a->next) {
		struct adm_account_stats *o;
		struct qos_account_stats qs;

		if (a->dead)
			continue;
		accts[i] = a;
		o = &out->accounts[i++];
		gw_strlcpy(o->name, a->name, sizeof(o->name));
		qos_account_get_stats(a->qa, &qs);
		o->rejected_total = a->rejected_total;
		o->rejected_queue_full = a->rejected[GW_REJECT_QUEUE_FULL];
		o->rejected_queue_timeout = a->rejected[GW_REJECT_QUEUE_TIMEOUT];
		o->rejected_max_connections = a->rejected[GW_REJECT_MAX_CONNECTIONS];
		o->rejected_max_pinned = a->rejected[GW_REJECT_MAX_PINNED];
		o->connections = a->connections;
		o->active = qs.running + a->unqueued_active;
		o->queued = qs.queued;
		o->pinned = a->pinned;
	}
	n = i; /* (accounts that appeared meanwhile show next time) */
	gw_strlcpy(out->backends[0].name, gw.cfg.backend_name, sizeof(out->backends[0].name));
	gw_strlcpy(host, gw.cfg.backend_host, sizeof(host));
	port = gw.cfg.backend_port;
	out->backends[0].pool_size = gw.cfg.pool_size;
	out->backends[0].max_active = gw_active_cap_locked();
	out->backends[0].connected = gw.nlive;
	out->backends[0].busy = gw.nlive - gw.nidle - gw.nheld;
	out->backends[0].connect_failures_total = gw.connect_failures;
	out->backends[0].held_hits_total = gw.held_hits;
	out->backends[0].spare_runs_total = gw.spare_runs;
	gw_strlcpy(out->backends[0].last_error, gw.backend_error,
	           sizeof(out->backends[0].last_error));
	pthread_mutex_unlock(&gw.sched_lock);
	snprintf(out->backends[0].addr, sizeof(out->backends[0].addr), "%s:%u", host, port);
	out->backends[0].account_switches_total =
	    __atomic_load_n(&gw.account_switches, __ATOMIC_RELAXED);
	out->n_backends = 1;
	for (i = 0; i < n; i++) {
		struct adm_account_stats *o = &out->accounts[i];
		const struct gw_account *a = accts[i];
		uint64_t hist[GW_HIST_BUCKETS] = { 0 }, hist_all[GW_HIST_BUCKETS] = { 0 };
		uint64_t q = 0, bns = 0, lat_ns = 0;

		for (uint32_t t = 0; t < gw.cfg.threads; t++) {
			const struct gw_account_tstats *ts = &a->ts[t];

			o->queries_total += LD(ts->queries_total);
			o->backend_ns_total += LD(ts->backend_ns_total);
			lat_ns += LD(ts->latency_ns_total);
			for (unsigned b = 0; b < GW_HIST_BUCKETS; b++)
				hist_all[b] += LD(ts->hist_total[b]);
			/* The last complete seconds of the window (not the current one). */
			for (unsigned k = 1; k < GW_STATS_WINDOW; k++) {
				const struct gw_account_window *w =
				    &ts->win[(sec - k) % GW_STATS_WINDOW];

				if (LD(w->second) != sec - k)
					continue;
				q += LD(w->queries);
				bns += LD(w->backend_ns);
				for (unsigned b = 0; b < GW_HIST_BUCKETS; b++)
					hist[b] += LD(w->hist[b]);
			}
		}
		/* Bucket b holds [2^(b-1), 2^b) us; bound k is 2^(2k+6) us. */
		for (unsigned k = 0, b = 0; k < ADM_LATENCY_BUCKETS; k++) {
			uint64_t cum = k ? o->latency_le[k - 1] : 0;

			for (; b <= 2 * k + 6 && b < GW_HIST_BUCKETS; b++)
				cum += hist_all[b];
			o->latency_le[k] = cum;
		}
		o->latency_count = o->queries_total;
		o->latency_sum_s = (double)lat_ns / 1e9;
		o->qps = (double)q / (GW_STATS_WINDOW - 1);
		o->p50_ms = hist_quantile(hist, q, 0.50);
		o->p95_ms = hist_quantile(hist, q, 0.95);
		o->p99_ms = hist_quantile(hist, q, 0.99);
		o->backend_time_share = (double)bns; /* normalized below */
		all_backend += bns;
	}
	out->n_accounts = n;
	for (size_t k = 0; k < n; k++)
		out->accounts[k].backend_time_share =
		    all_backend ? out->accounts[k].backend_time_share / (double)all_backend : 0;
	free(accts);
	out->clients = __atomic_load_n(&gw.clients_now, __ATOMIC_RELAXED);
	out->uptime_s = (now - gw.started_ns) / 1000000000u;
	return true;
}
