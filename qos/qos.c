/*
 * qos.c - the per-account scheduler: start-time fair queueing on backend time.
 *
 * Owns: the accounts (refcounted) and their FIFO queues of requests; the virtual-time tags
 * of start-time fair queueing with depth D (SFQ(D), D = the pool size) charged with the real
 * backend time of each request; reservations; token buckets; queue caps; queue timeouts;
 * and four intrusive binary heaps of accounts that keep every call O(log A) for A accounts
 * with work. docs/qos.md explains the discipline and its bounds.
 * Must not touch: sockets, libevent, SQLite, the clock, locks, logging. No allocation
 * happens outside qos_new() and qos_account_new().
 */
#include "qos/qos.h"

#include <stdlib.h>
#include <string.h>

/* Virtual time units per nanosecond of backend time at weight 1. Tags are compared with
 * wrap-around arithmetic, so they may overflow; 1024 keeps 1/1024 ns of precision per unit
 * of weight, which keeps rounding far below a nanosecond for any sane weight. */
#define QOS_VSCALE 1024u
/* One token of a token bucket, in nano-tokens: buckets fill at max_qps nano-tokens per ns. */
#define QOS_TOKEN 1000000000ull
/* Cost estimate used before anything has completed. */
#define QOS_INITIAL_EST_NS 1000000ull
/* The moving average of costs moves by 1/2^QOS_EST_SHIFT of the error per completion. */
#define QOS_EST_SHIFT 3
/* Larger costs are charged as this (13 days), so that cost * QOS_VSCALE cannot overflow. */
#define QOS_MAX_COST_NS (1ull << 50)

/* Request states, in qos_req->state. Non-trivial values so that a request the caller
 * forgot to zero is unlikely to look queued or running. */
enum qos_req_state {
	QOS_RS_IDLE = 0,
	QOS_RS_QUEUED = 0x51c0e001,
	QOS_RS_RUNNING = 0x51c0e002,
};

/* The heaps an account can sit in; the key of each lives in qos_account->key[]. */
enum qos_heap_id {
	QOS_H_FAIR = 0, /* has work and a token; key: vfin (its start tag), wrap-around */
	QOS_H_RESERVE,  /* in QOS_H_FAIR and running < reservation; key: vfin */
	QOS_H_THROTTLE, /* has work but no token; key: ns when its next token arrives */
	QOS_H_DEADLINE, /* has work and a queue timeout; key: ns when its head expires */
	QOS_H_COUNT,
};
_Static_assert(QOS_H_COUNT == QOS_HEAPS, "qos.h's QOS_HEAPS counts enum qos_heap_id");

/* A binary min-heap of accounts; each account remembers its position (intrusive). */
struct qos_heap {
	struct qos_account **v; /* owned array of heap_cap slots; borrowed accounts */
	uint32_t n;             /* accounts in the heap */
};

struct qos_account {
	struct qos *owner;          /* borrowed; the scheduler this account belongs to */
	struct qos_account *a_next; /* link in qos->accounts, the list of live accounts */
	struct qos_account *a_prev;
	uint64_t id;                /* caller's stable identifier */
	uint64_t serial;            /* creation order; breaks ties in heaps (deterministic) */
	uint32_t refs;              /* references held by callers */
	struct qos_limits lim;      /* normalized: weight >= 1, max_queue >= 1 */
	struct qos_req *head;       /* oldest queued request; NULL when queued == 0 */
	struct qos_req *tail;       /* newest queued request */
	uint32_t queued;            /* requests in the queue */
	uint32_t running;           /* requests picked and not completed */
	uint64_t vfin;              /* virtual finish tag of all work charged so far, in-flight
	                             * work at its estimate; the start tag of its next request */
	uint64_t vinflight;         /* virtual estimates charged for running requests */
	uint64_t est_ns;            /* moving average of its request costs */
	uint64_t tb_level;          /* token bucket level in nano-tokens (max_qps != 0) */
	uint64_t tb_last_ns;        /* time the bucket was last refilled */
	uint64_t key[QOS_H_COUNT];  /* heap keys, valid while in the heap */
	uint32_t hidx[QOS_H_COUNT]; /* position + 1 in each heap; 0 = not in it */
	uint64_t service_ns;        /* stats: backend time charged (completions + charges) */
	uint64_t picked_total;      /* stats: requests picked */
	uint64_t expired_total;     /* stats: requests expired in the queue */
	uint64_t refused_total;     /* stats: requests refused, queue full */
};

struct qos {
	uint32_t slots;                    /* pool size, informational (the caller decides
	                                    * when a slot is free) */
	uint64_t vtime;                    /* global virtual time V: never decreases; the
	                                    * smallest start tag among eligible accounts */
	uint64_t now_ns;                   /* latest time passed in by any call */
	uint64_t est_ns;                   /* moving average of all costs; a new account's
	                                    * first estimate */
	size_t queued_total;               /* requests queued across accounts */
	uint32_t running_total;            /* requests running across accounts */
	uint32_t naccounts;                /* live accounts */
	uint32_t heap_cap;                 /* slots in each heap array (>= naccounts) */
	uint64_t next_serial;              /* serial for the next account */
	struct qos_account *accounts;      /* owned list of live accounts */
	struct qos_heap heap[QOS_H_COUNT]; /* see enum qos_heap_id */
};

/* Tags live on a circle of 2^64: a is before b when the signed distance is negative. This
 * keeps ordering right across overflow as long as live tags are within 2^63 of each other. */
static bool qos_vbefore(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) < 0;
}

/* Virtual time charged for cost_ns of backend time at weight w (w >= 1). Split so that the
 * multiplication cannot overflow for any capped cost. */
static uint64_t qos_vcost(uint64_t cost_ns, uint32_t w)
{
	if (cost_ns > QOS_MAX_COST_NS)
		cost_ns = QOS_MAX_COST_NS;
	return cost_ns / w * QOS_VSCALE + cost_ns % w * QOS_VSCALE / w;
}

/* Order of two accounts in heap h: by key, then creation order so that runs repeat
 * exactly. Fair and reserve keys are virtual tags (wrap-around), the others are times. */
static bool qos_heap_less(const struct qos_account *a, const struct qos_account *b, int h)
{
	if (a->key[h] != b->key[h]) {
		if (h == QOS_H_FAIR || h == QOS_H_RESERVE)
			return qos_vbefore(a->key[h], b->key[h]);
		return a->key[h] < b->key[h];
	}
	return a->serial < b->serial;
}

/* Put account a at position i of heap h and record the position in a. */
static void qos_heap_put(struct qos_heap *hp, int h, uint32_t i, struct qos_account *a)
{
	hp->v[i] = a;
	a->hidx[h] = i + 1;
}

/* Move the account at position i towards the root while it is smaller than its parent. */
static void qos_heap_up(struct qos_heap *hp, int h, uint32_t i)
{
	struct qos_account *a = hp->v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (!qos_heap_less(a, hp->v[parent], h))
			break;
		qos_heap_put(hp, h, i, hp->v[parent]);
		i = parent;
	}
	qos_heap_put(hp, h, i, a);
}

/* Move the account at position i towards the leaves while a child is smaller. */
static void qos_heap_down(struct qos_heap *hp, int h, uint32_t i)
{
	struct qos_account *a = hp->v[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= hp->n)
			break;
		if (c + 1 < hp->n && qos_heap_less(hp->v[c + 1], hp->v[c], h))
			c++;
		if (!qos_heap_less(hp->v[c], a, h))
			break;
		qos_heap_put(hp, h, i, hp->v[c]);
		i = c;
	}
	qos_heap_put(hp, h, i, a);
}

/* Bring heap membership of a in line with `want`, and restore the heap order after its key
 * changed. Capacity was reserved at account creation, so this never allocates. */
static void qos_heap_set(struct qos *q, int h, struct qos_account *a, bool want)
{
	struct qos_heap *hp = &q->heap[h];
	uint32_t i;

	if (!a->hidx[h]) {
		if (!want)
			return;
		i = hp->n++;
		qos_heap_put(hp, h, i, a);
		qos_heap_up(hp, h, i);
		return;
	}
	i = a->hidx[h] - 1;
	if (!want) {
		struct qos_account *last = hp->v[--hp->n];

		a->hidx[h] = 0;
		if (last == a)
			return;
		qos_heap_put(hp, h, i, last);
		qos_heap_up(hp, h, i);
		qos_heap_down(hp, h, last->hidx[h] - 1);
		return;
	}
	qos_heap_up(hp, h, i);
	qos_heap_down(hp, h, a->hidx[h] - 1);
}

/* The root of heap h, or NULL. */
static struct qos_account *qos_heap_top(const struct qos *q, int h)
{
	return q->heap[h].n ? q->heap[h].v[0] : NULL;
}

/* Remember the latest time seen, for calls that take no time (set_limits, account_new). */
static void qos_touch(struct qos *q, uint64_t now_ns)
{
	if (now_ns > q->now_ns)
		q->now_ns = now_ns;
}

/* Advance and return the global virtual time: the smallest start tag among accounts that
 * may run now, never going backwards. An account that becomes eligible starts no earlier
 * than this, so idle or throttled time banks no credit. */
static uint64_t qos_vnow(struct qos *q)
{
	struct qos_account *top = qos_heap_top(q, QOS_H_FAIR);

	if (top && qos_vbefore(q->vtime, top->key[QOS_H_FAIR]))
		q->vtime = top->key[QOS_H_FAIR];
	return q->vtime;
}

/* Bucket size in nano-tokens: burst = max(1, max_qps / 10), i.e. 100 ms worth of tokens. */
static uint64_t qos_tb_cap(const struct qos_account *a)
{
	uint64_t burst = a->lim.max_qps / 10;

	return (burst ? burst : 1) * QOS_TOKEN;
}

/* Add the tokens earned since the last refill. Exact integer arithmetic: no drift. */
static void qos_tb_refill(struct qos_account *a, uint64_t now_ns)
{
	uint64_t elapsed, cap, room, qps = a->lim.max_qps;

	if (now_ns <= a->tb_last_ns)
		return;
	elapsed = now_ns - a->tb_last_ns;
	a->tb_last_ns = now_ns;
	if (!qps)
		return;
	cap = qos_tb_cap(a);
	if (a->tb_level >= cap)
		return;
	room = cap - a->tb_level;
	/* elapsed <= room / qps guarantees elapsed * qps <= room: no overflow */
	if (elapsed > room / qps)
		a->tb_level = cap;
	else
		a->tb_level += elapsed * qps;
}

/* May the account start a request now (after a refill)? */
static bool qos_tb_has_token(const struct qos_account *a)
{
	return !a->lim.max_qps || a->tb_level >= QOS_TOKEN;
}

/* When the next whole token will be in the bucket; the bucket was refilled at tb_last_ns. */
static uint64_t qos_tb_next_ns(const struct qos_account *a)
{
	uint64_t need = QOS_TOKEN - a->tb_level, qps = a->lim.max_qps;

	return a->tb_last_ns + (need + qps - 1) / qps;
}

/* The one place that decides where an account sits after any change to it: eligible (fair
 * heap, plus the reserve heap while under its reservation), throttled, and/or waiting for a
 * deadline. An account entering the fair heap starts no earlier than the virtual time. */
static void qos_place(struct qos *q, struct qos_account *a, uint64_t now_ns)
{
	bool want_fair = false, want_res = false, want_thr = false, want_dl = false;

	if (a->queued > 0) {
		qos_tb_refill(a, now_ns);
		if (qos_tb_has_token(a)) {
			want_fair = true;
			want_res = a->running < a->lim.reservation;
		} else {
			want_thr = true;
			a->key[QOS_H_THROTTLE] = qos_tb_next_ns(a);
		}
		if (a->lim.queue_timeout_ms) {
			want_dl = true;
			a->key[QOS_H_DEADLINE] =
			    a->head->enqueued_ns + (uint64_t)a->lim.queue_timeout_ms * 1000000u;
		}
	}
	if (want_fair && !a->hidx[QOS_H_FAIR]) {
		uint64_t v = qos_vnow(q);

		if (qos_vbefore(a->vfin, v))
			a->vfin = v;
	}
	a->key[QOS_H_FAIR] = a->vfin;
	a->key[QOS_H_RESERVE] = a->vfin;
	qos_heap_set(q, QOS_H_FAIR, a, want_fair);
	qos_heap_set(q, QOS_H_RESERVE, a, want_res);
	qos_heap_set(q, QOS_H_THROTTLE, a, want_thr);
	qos_heap_set(q, QOS_H_DEADLINE, a, want_dl);
}

/* Free the account once nobody refers to it and no request of its remains. Callers must
 * not touch `a` after this. */
static void qos_account_maybe_free(struct qos *q, struct qos_account *a)
{
	int h;

	if (a->refs || a->queued || a->running)
		return;
	for (h = 0; h < QOS_H_COUNT; h++)
		qos_heap_set(q, h, a, false);
	if (a->a_prev)
		a->a_prev->a_next = a->a_next;
	else
		q->accounts = a->a_next;
	if (a->a_next)
		a->a_next->a_prev = a->a_prev;
	q->naccounts--;
	free(a);
}

/* Copy limits, replacing the documented zero defaults. */
static void qos_limits_normalize(struct qos_limits *dst, const struct qos_limits *lim)
{
	*dst = *lim;
	if (!dst->weight)
		dst->weight = 1;
	if (!dst->max_queue)
		dst->max_queue = QOS_DEFAULT_MAX_QUEUE;
}

/* Unlink r from its account's FIFO (any position) and count it out of the queue. */
static void qos_queue_remove(struct qos *q, struct qos_account *a, struct qos_req *r)
{
	if (r->q_prev)
		r->q_prev->q_next = r->q_next;
	else
		a->head = r->q_next;
	if (r->q_next)
		r->q_next->q_prev = r->q_prev;
	else
		a->tail = r->q_prev;
	r->q_next = NULL;
	r->q_prev = NULL;
	r->state = QOS_RS_IDLE;
	a->queued--;
	q->queued_total--;
}

/* Moving average with weight 1/2^QOS_EST_SHIFT, in unsigned arithmetic. */
static uint64_t qos_ewma(uint64_t avg, uint64_t sample)
{
	if (sample > QOS_MAX_COST_NS)
		sample = QOS_MAX_COST_NS;
	return avg - (avg >> QOS_EST_SHIFT) + (sample >> QOS_EST_SHIFT);
}

/* The scheduler owns nothing but its heaps until accounts are created. */
struct qos *qos_new(uint32_t slots)
{
	struct qos *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->slots = slots;
	q->est_ns = QOS_INITIAL_EST_NS;
	return q;
}

/* Frees every account still alive (the caller's references die with the scheduler); any
 * qos_req still embedded in caller objects must not be passed to qos again. */
void qos_free(struct qos *q)
{
	int h;

	if (!q)
		return;
	while (q->accounts) {
		struct qos_account *a = q->accounts;

		q->accounts = a->a_next;
		free(a);
	}
	for (h = 0; h < QOS_H_COUNT; h++)
		free(q->heap[h].v);
	free(q);
}

/* Kept for the record: the caller calls qos_pick() only when a connection is free, so the
 * pool size does not gate picks; running requests are unaffected. */
void qos_set_slots(struct qos *q, uint32_t slots)
{
	q->slots = slots;
}

/* The account alone: nothing of q's is touched, so no lock is needed. */
struct qos_account *qos_account_alloc(uint64_t id, const struct qos_limits *lim)
{
	struct qos_account *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->id = id;
	a->refs = 1;
	qos_limits_normalize(&a->lim, lim);
	return a;
}

void qos_account_discard(struct qos_account *a)
{
	free(a);
}

uint32_t qos_room_need(const struct qos *q, uint32_t more)
{
	uint64_t want = (uint64_t)q->naccounts + more, cap = q->heap_cap ? q->heap_cap : 16;

	if (want <= q->heap_cap)
		return 0;
	while (cap < want)
		cap *= 2;
	return cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

bool qos_room_alloc(struct qos_room *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	for (int h = 0; h < QOS_HEAPS; h++) {
		r->v[h] = calloc(cap ? cap : 1, sizeof(*r->v[h]));
		if (!r->v[h]) {
			qos_room_free(r);
			return false;
		}
	}
	r->cap = cap;
	return true;
}

/* Only when r is larger: the heaps' accounts move over and r takes the old arrays. */
void qos_room_swap(struct qos *q, struct qos_room *r)
{
	uint32_t old_cap = q->heap_cap;

	if (r->cap <= old_cap)
		return;
	for (int h = 0; h < QOS_HEAPS; h++) {
		struct qos_account **old = q->heap[h].v;

		if (q->heap[h].n)
			memcpy(r->v[h], old, q->heap[h].n * sizeof(*old));
		q->heap[h].v = r->v[h];
		r->v[h] = old;
	}
	q->heap_cap = r->cap;
	r->cap = old_cap;
}

void qos_room_free(struct qos_room *r)
{
	for (int h = 0; h < QOS_HEAPS; h++) {
		free(r->v[h]);
		r->v[h] = NULL;
	}
	r->cap = 0;
}

bool qos_account_add(struct qos *q, struct qos_account *a)
{
	if (q->naccounts >= q->heap_cap)
		return false;
	a->owner = q;
	a->serial = q->next_serial++;
	a->vfin = q->vtime;
	a->est_ns = q->est_ns;
	a->tb_last_ns = q->now_ns;
	a->tb_level = qos_tb_cap(a);
	a->a_next = q->accounts;
	if (q->accounts)
		q->accounts->a_prev = a;
	q->accounts = a;
	q->naccounts++;
	return true;
}

/* Both steps at once, for a caller that needs no lock around q (the unit tests). */
struct qos_account *qos_account_new(struct qos *q, uint64_t id, const struct qos_limits *lim)
{
	struct qos_account *a = qos_account_alloc(id, lim);
	uint32_t cap = qos_room_need(q, 1);
	struct qos_room r;

	if (a && cap && qos_room_alloc(&r, cap)) {
		qos_room_swap(q, &r);
		qos_room_free(&r);
	}
	if (a && !qos_account_add(q, a)) {
		qos_account_discard(a);
		a = NULL;
	}
	return a;
}

void qos_account_retain(struct qos_account *a)
{
	a->refs++;
}

/* The account outlives its last reference while requests of its are queued or running;
 * the last qos_complete(), qos_cancel() or qos_expired() then frees it. */
void qos_account_release(struct qos *q, struct qos_account *a)
{
	if (!a)
		return;
	if (a->refs)
		a->refs--;
	qos_account_maybe_free(q, a);
}

/* Live change. Queued requests keep their order and place. A weight change rescales the
 * account's lead over the virtual time (its excess service so far keeps its ns value); a
 * lower reservation forgives a lead earned while reserved beyond its share, so that the
 * account does not stall afterwards. Token buckets keep their level, capped to the new size. */
void qos_account_set_limits(struct qos *q, struct qos_account *a, const struct qos_limits *lim)
{
	struct qos_limits old = a->lim;
	uint64_t v = qos_vnow(q);

	qos_limits_normalize(&a->lim, lim);
	if (a->lim.weight != old.weight && qos_vbefore(v, a->vfin)) {
		double lead = (double)(a->vfin - v) * old.weight / a->lim.weight;

		if (lead > (double)(1ull << 62))
			lead = (double)(1ull << 62);
		a->vfin = v + (uint64_t)lead;
	}
	if (a->lim.reservation < old.reservation && qos_vbefore(v + a->vinflight, a->vfin))
		a->vfin = v + a->vinflight;
	if (a->lim.max_qps != old.max_qps) {
		uint64_t cap = qos_tb_cap(a);

		if (!old.max_qps || a->tb_level > cap)
			a->tb_level = cap;
	}
	qos_place(q, a, q->now_ns);
}

/* The caller's identifier, for stats and logs. */
uint64_t qos_account_id(const struct qos_account *a)
{
	return a->id;
}

/* A snapshot of the counters; the caller serializes it with every other qos call. */
void qos_account_get_stats(const struct qos_account *a, struct qos_account_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->queued = a->queued;
	out->running = a->running;
	out->service_ns = a->service_ns;
	out->picked_total = a->picked_total;
	out->expired_total = a->expired_total;
	out->refused_total = a->refused_total;
	out->est_ns = a->est_ns;
}

/* Append to the account's FIFO; an idle account joins at the current virtual time (no
 * banked credit). Refused, not queued, when max_queue requests already wait. */
enum qos_verdict qos_enqueue(struct qos *q, struct qos_req *r, uint64_t now_ns)
{
	struct qos_account *a = r->account;

	qos_touch(q, now_ns);
	if (a->queued >= a->lim.max_queue) {
		a->refused_total++;
		return QOS_QUEUE_FULL;
	}
	r->enqueued_ns = now_ns;
	r->started_ns = 0;
	r->vstart = 0;
	r->q_next = NULL;
	r->q_prev = a->tail;
	if (a->tail)
		a->tail->q_next = r;
	else
		a->head = r;
	a->tail = r;
	r->state = QOS_RS_QUEUED;
	a->queued++;
	q->queued_total++;
	qos_place(q, a, now_ns);
	return QOS_OK;
}

/* Reservations first (strict priority, smallest start tag among accounts under their
 * reservation), else the smallest start tag among accounts with a token. The picked account
 * is charged its estimated cost now, so that with D slots it cannot grab many slots before
 * its first completion; qos_complete() replaces the estimate with the real cost. While the
 * request runs, r->vstart holds the virtual estimate charged. */
struct qos_req *qos_pick(struct qos *q, uint64_t now_ns)
{
	return qos_pick_affine(q, now_ns, UINT32_MAX);
}

/* The head, or within the first few the oldest request with this affinity. */
static struct qos_req *qos_affine_head(const struct qos_account *a, uint32_t aff)
{
	struct qos_req *r = a->head;

	if (aff == UINT32_MAX)
		return r;
	for (unsigned i = 0; r && i < QOS_AFFINITY_SCAN; i++, r = r->q_next) {
		if (r->affinity == aff)
			return r;
	}
	return a->head;
}

struct qos_req *qos_pick_affine(struct qos *q, uint64_t now_ns, uint32_t aff)
{
	struct qos_account *a;
	struct qos_req *r;
	uint64_t vc;

	qos_touch(q, now_ns);
	while ((a = qos_heap_top(q, QOS_H_THROTTLE)) && a->key[QOS_H_THROTTLE] <= now_ns) {
		qos_place(q, a, now_ns);
		if (a->hidx[QOS_H_THROTTLE])
			break; /* cannot happen: the key is when the token is whole */
	}
	(void)qos_vnow(q);
	a = qos_heap_top(q, QOS_H_RESERVE);
	if (!a)
		a = qos_heap_top(q, QOS_H_FAIR);
	if (!a)
		return NULL;
	r = qos_affine_head(a, aff);
	if (!r)
		return NULL; /* cannot happen: an account in a heap has queued work */
	qos_queue_remove(q, a, r);
	if (a->lim.max_qps)
		a->tb_level -= QOS_TOKEN;
	vc = qos_vcost(a->est_ns, a->lim.weight);
	r->vstart = vc;
	a->vinflight += vc;
	a->vfin += vc;
	r->state = QOS_RS_RUNNING;
	r->started_ns = now_ns;
	a->running++;
	q->running_total++;
	a->picked_total++;
	qos_place(q, a, now_ns);
	return r;
}

/* Replace the estimate charged at pick by the real cost, and learn from it. May free the
 * account if its last reference is gone and this was its last request. */
void qos_complete(struct qos *q, struct qos_req *r, uint64_t cost_ns, uint64_t now_ns)
{
	struct qos_account *a = r->account;

	qos_touch(q, now_ns);
	if (r->state != QOS_RS_RUNNING)
		return;
	r->state = QOS_RS_IDLE;
	a->running--;
	q->running_total--;
	a->vinflight -= r->vstart;
	a->vfin = a->vfin - r->vstart + qos_vcost(cost_ns, a->lim.weight);
	a->service_ns += cost_ns;
	a->est_ns = qos_ewma(a->est_ns, cost_ns);
	q->est_ns = qos_ewma(q->est_ns, cost_ns);
	qos_place(q, a, now_ns);
	qos_account_maybe_free(q, a);
}

/* Pinned work, and work that skipped the queue, is billed like completed work and teaches
 * the cost estimate the same way. An account without queued work is first brought up to
 * the virtual time, so the bill is not absorbed by its idle time. */
void qos_charge(struct qos *q, struct qos_account *a, uint64_t cost_ns, uint64_t now_ns)
{
	qos_touch(q, now_ns);
	if (!a->queued) {
		uint64_t v = qos_vnow(q);

		if (qos_vbefore(a->vfin, v))
			a->vfin = v;
	}
	a->vfin += qos_vcost(cost_ns, a->lim.weight);
	a->service_ns += cost_ns;
	a->est_ns = qos_ewma(a->est_ns, cost_ns);
	q->est_ns = qos_ewma(q->est_ns, cost_ns);
	qos_place(q, a, q->now_ns);
}

bool qos_account_within_share(struct qos *q, const struct qos_account *a, uint64_t now_ns)
{
	uint64_t lead = QOS_SHARE_LEAD * qos_vcost(a->est_ns, a->lim.weight);
	const struct qos_account *top;
	uint64_t v;

	qos_touch(q, now_ns);
	v = qos_vnow(q);
	top = qos_heap_top(q, QOS_H_FAIR);
	if (top && top != a && qos_vcost(top->est_ns, top->lim.weight) > lead)
		lead = qos_vcost(top->est_ns, top->lim.weight);
	return !qos_vbefore(v + lead, a->vfin);
}

/* O(log A): the queue is doubly linked, so a request leaves from any position. */
bool qos_cancel(struct qos *q, struct qos_req *r)
{
	struct qos_account *a = r->account;

	if (r->state != QOS_RS_QUEUED)
		return false;
	qos_queue_remove(q, a, r);
	qos_place(q, a, q->now_ns);
	qos_account_maybe_free(q, a);
	return true;
}

/* Queues are FIFO, so only heads can be the oldest; the deadline heap holds each account's
 * head deadline, making this O(log A) per expired request. If the caller dropped its last
 * reference, the account may be freed here: r->account must then not be dereferenced. */
struct qos_req *qos_expired(struct qos *q, uint64_t now_ns)
{
	struct qos_account *a = qos_heap_top(q, QOS_H_DEADLINE);
	struct qos_req *r;

	qos_touch(q, now_ns);
	if (!a || a->key[QOS_H_DEADLINE] > now_ns)
		return NULL;
	r = a->head;
	qos_queue_remove(q, a, r);
	a->expired_total++;
	qos_place(q, a, now_ns);
	qos_account_maybe_free(q, a);
	return r;
}

/* The nearer of the next token for a throttled account and the next queue deadline. A
 * time already past is reported as now_ns. */
uint64_t qos_next_event_ns(const struct qos *q, uint64_t now_ns)
{
	const struct qos_account *thr = qos_heap_top(q, QOS_H_THROTTLE);
	const struct qos_account *dl = qos_heap_top(q, QOS_H_DEADLINE);
	uint64_t t = UINT64_MAX;

	if (thr && thr->key[QOS_H_THROTTLE] < t)
		t = thr->key[QOS_H_THROTTLE];
	if (dl && dl->key[QOS_H_DEADLINE] < t)
		t = dl->key[QOS_H_DEADLINE];
	return t < now_ns ? now_ns : t;
}

/* Requests waiting across all accounts. */
size_t qos_running_total(const struct qos *q)
{
	return q->running_total;
}

bool qos_reserve_waiting(const struct qos *q)
{
	return q->heap[QOS_H_RESERVE].n > 0;
}

size_t qos_queued_total(const struct qos *q)
{
	return q->queued_total;
}
