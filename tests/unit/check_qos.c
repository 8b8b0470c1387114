/*
 * check_qos.c - unit tests of the per-account scheduler (qos/).
 *
 * Owns: a deterministic simulator (fake clock in ns, N backend slots, requests whose costs
 * come from a seeded xorshift generator) and the tests that check the scheduler's numbers
 * against it: shares against weights, late arrivals, reservations, token buckets, starvation,
 * 10,000 accounts, work conservation, queue caps, timeouts, cancel, live changes, refcounts.
 * Must not touch: the real clock, sleeps, anything outside libqos.
 */
#include "qos/qos.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS  1000000ull /* ns per ms */
#define US  1000ull    /* ns per us */
#define SEC 1000000000ull

/* ------------------------------------------------------------------ PRNG, costs */

/* xorshift64*: small, fast and reproducible across platforms. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in (0, 1]: never 0, so logs and powers stay finite. */
static double rng_unit(uint64_t *s)
{
	return ((double)(rng_next(s) >> 11) + 1.0) / 9007199254740992.0;
}

enum cost_kind {
	COST_FIXED = 0, /* always lo */
	COST_UNIFORM,   /* uniform in [lo, hi] */
	COST_LOGUNI,    /* log-uniform in [lo, hi]: every decade equally likely */
	COST_PARETO,    /* Pareto with scale lo and shape alpha, capped at hi */
};

/* How one account's request costs are drawn. */
struct cost_model {
	enum cost_kind kind; /* distribution */
	uint64_t lo;         /* smallest cost, ns (Pareto scale) */
	uint64_t hi;         /* largest cost, ns */
	double alpha;        /* Pareto shape */
};

/* Draw one cost; every distribution is clamped to [lo, hi]. */
static uint64_t cost_draw(const struct cost_model *m, uint64_t *rng)
{
	double x = 0;

	switch (m->kind) {
	case COST_FIXED:
		return m->lo;
	case COST_UNIFORM:
		return m->lo + rng_next(rng) % (m->hi - m->lo + 1);
	case COST_LOGUNI:
		x = exp(log((double)m->lo) +
		        rng_unit(rng) * (log((double)m->hi) - log((double)m->lo)));
		break;
	case COST_PARETO:
		x = (double)m->lo / pow(rng_unit(rng), 1.0 / m->alpha);
		break;
	}
	if (x < (double)m->lo)
		return m->lo;
	if (x > (double)m->hi)
		return m->hi;
	return (uint64_t)x;
}

/* ------------------------------------------------------------------ simulator */

/* One simulated request: the scheduler's handle plus what the test knows about it. */
struct sim_req {
	struct qos_req qr;         /* embedded scheduler handle; qr.account set at creation */
	uint64_t cost_ns;          /* the backend time it will take once picked */
	uint32_t acct;             /* index in sim->acct */
	struct sim_req *next_free; /* link in sim->free_list while unused */
};

/* One simulated account and what was measured about it. */
struct sim_acct {
	struct qos_account *a;  /* owned reference (released by sim_free) */
	struct cost_model cost; /* cost distribution of its requests */
	uint32_t depth;         /* after each pick, top the queue up to this; 0 = no top-up */
	uint64_t busy_ns;       /* backend time of its completed requests */
	uint64_t win_ns;        /* backend time spent inside [win_lo, win_hi) */
	uint64_t picks;         /* requests picked */
	uint64_t completes;     /* requests completed */
	uint64_t expired;       /* requests returned by qos_expired() */
	uint64_t max_wait_ns;   /* longest queue wait seen at pick */
};

/* The world: a fake clock, N backend slots and a pool of request objects. */
struct sim {
	struct qos *q;             /* owned scheduler */
	uint64_t now;              /* fake clock, ns */
	uint64_t rng;              /* PRNG state */
	uint32_t nslots;           /* backend connections */
	struct sim_req **slot;     /* running request per slot; NULL = free */
	uint64_t *slot_end;        /* completion time per busy slot */
	uint32_t nacct;            /* accounts */
	struct sim_acct *acct;     /* owned array of nacct */
	struct sim_req *reqs;      /* owned pool of request objects */
	struct sim_req *free_list; /* unused request objects */
	uint64_t win_lo;           /* measuring window for sim_acct.win_ns */
	uint64_t win_hi;
	uint64_t completed;                /* completions so far */
	void (*after_fill)(struct sim *s); /* optional check run after every fill */
	uint32_t watch;                    /* account index the after_fill check looks at */
	uint32_t watch_min;                /* running it must have while it has that many queued */
	bool watch_armed;                  /* the check is active (set once it first held) */
	uint64_t watch_checks;             /* times the check ran while armed */
};

/* A world with `nslots` slots, `nacct` accounts (added by sim_account) and room for
 * `nreqs` requests alive at once. */
static struct sim *sim_new(uint32_t nslots, uint32_t nacct, uint32_t nreqs, uint64_t seed)
{
	struct sim *s = calloc(1, sizeof(*s));
	uint32_t i;

	ck_assert_ptr_nonnull(s);
	s->q = qos_new(nslots);
	ck_assert_ptr_nonnull(s->q);
	s->rng = seed ? seed : 88172645463325252ull;
	if (getenv("QOS_SEED")) /* explore other workloads; the default runs are fixed */
		s->rng = s->rng * 31 + strtoull(getenv("QOS_SEED"), NULL, 10);
	if (!s->rng)
		s->rng = 1;
	s->nslots = nslots;
	s->slot = calloc(nslots ? nslots : 1, sizeof(*s->slot));
	s->slot_end = calloc(nslots ? nslots : 1, sizeof(*s->slot_end));
	s->nacct = nacct;
	s->acct = calloc(nacct, sizeof(*s->acct));
	s->reqs = calloc(nreqs, sizeof(*s->reqs));
	ck_assert(s->slot && s->slot_end && s->acct && s->reqs);
	for (i = nreqs; i-- > 0;) {
		s->reqs[i].next_free = s->free_list;
		s->free_list = &s->reqs[i];
	}
	return s;
}

/* Drop the simulator's references and the scheduler (which frees what remains). */
static void sim_free(struct sim *s)
{
	uint32_t i;

	for (i = 0; i < s->nacct; i++)
		if (s->acct[i].a)
			qos_account_release(s->q, s->acct[i].a);
	qos_free(s->q);
	free(s->slot);
	free(s->slot_end);
	free(s->acct);
	free(s->reqs);
	free(s);
}

/* Limits with only a weight. */
static struct qos_limits lim_weight(uint32_t weight)
{
	struct qos_limits l;

	memset(&l, 0, sizeof(l));
	l.weight = weight;
	return l;
}

/* Create account i in the scheduler. */
static void sim_account(struct sim *s, uint32_t i, const struct qos_limits *lim,
                        struct cost_model cost, uint32_t depth)
{
	s->acct[i].a = qos_account_new(s->q, i, lim);
	ck_assert_ptr_nonnull(s->acct[i].a);
	s->acct[i].cost = cost;
	s->acct[i].depth = depth;
}

/* Queue one new request for account i at the current time. */
static enum qos_verdict sim_enqueue(struct sim *s, uint32_t i)
{
	struct sim_req *r = s->free_list;
	enum qos_verdict v;

	ck_assert_msg(r != NULL, "request pool exhausted");
	s->free_list = r->next_free;
	memset(&r->qr, 0, sizeof(r->qr));
	r->qr.account = s->acct[i].a;
	r->acct = i;
	r->cost_ns = cost_draw(&s->acct[i].cost, &s->rng);
	v = qos_enqueue(s->q, &r->qr, s->now);
	if (v != QOS_OK) {
		r->next_free = s->free_list;
		s->free_list = r;
	}
	return v;
}

/* Queue `n` requests for account i. */
static void sim_enqueue_n(struct sim *s, uint32_t i, uint32_t n)
{
	while (n--)
		ck_assert_int_eq(sim_enqueue(s, i), QOS_OK);
}

/* Requests of account i waiting now. */
static uint32_t sim_queued(const struct sim *s, uint32_t i)
{
	struct qos_account_stats st;

	qos_account_get_stats(s->acct[i].a, &st);
	return st.queued;
}

/* Requests of account i running now. */
static uint32_t sim_running(const struct sim *s, uint32_t i)
{
	struct qos_account_stats st;

	qos_account_get_stats(s->acct[i].a, &st);
	return st.running;
}

/* Give every free slot a request, as the gateway does when connections are released. */
static void sim_fill(struct sim *s)
{
	uint32_t k;

	for (k = 0; k < s->nslots; k++) {
		struct qos_req *qr;
		struct sim_req *r;
		struct sim_acct *sa;

		if (s->slot[k])
			continue;
		qr = qos_pick(s->q, s->now);
		if (!qr)
			break;
		r = (struct sim_req *)((char *)qr - offsetof(struct sim_req, qr));
		ck_assert_uint_eq(qr->started_ns, s->now);
		sa = &s->acct[r->acct];
		sa->picks++;
		if (s->now - qr->enqueued_ns > sa->max_wait_ns)
			sa->max_wait_ns = s->now - qr->enqueued_ns;
		s->slot[k] = r;
		s->slot_end[k] = s->now + r->cost_ns;
		if (sa->depth && sim_queued(s, r->acct) < sa->depth)
			ck_assert_int_eq(sim_enqueue(s, r->acct), QOS_OK);
	}
	if (s->after_fill)
		s->after_fill(s);
}

/* Backend time of [start, end) that falls inside the measuring window. */
static uint64_t sim_overlap(const struct sim *s, uint64_t start, uint64_t end)
{
	uint64_t lo = start > s->win_lo ? start : s->win_lo;
	uint64_t hi = end < s->win_hi ? end : s->win_hi;

	return hi > lo ? hi - lo : 0;
}

/* Fill, then jump the clock to the next completion or scheduler event (never past t_end),
 * complete what ended and expire what timed out. False when nothing is left to happen. */
static bool sim_step(struct sim *s, uint64_t t_end)
{
	uint64_t t = UINT64_MAX, ev;
	struct qos_req *qr;
	uint32_t k;

	sim_fill(s);
	for (k = 0; k < s->nslots; k++)
		if (s->slot[k] && s->slot_end[k] < t)
			t = s->slot_end[k];
	/* an event already due (a token while every slot is busy) waits for a free slot */
	ev = qos_next_event_ns(s->q, s->now);
	if (ev > s->now && ev < t)
		t = ev;
	if (t == UINT64_MAX)
		return false;
	if (t > t_end) {
		s->now = t_end;
		return false;
	}
	s->now = t;
	for (k = 0; k < s->nslots; k++) {
		struct sim_req *r = s->slot[k];
		struct sim_acct *sa;

		if (!r || s->slot_end[k] > s->now)
			continue;
		sa = &s->acct[r->acct];
		sa->busy_ns += r->cost_ns;
		sa->win_ns += sim_overlap(s, r->qr.started_ns, s->now);
		sa->completes++;
		s->completed++;
		qos_complete(s->q, &r->qr, r->cost_ns, s->now);
		s->slot[k] = NULL;
		r->next_free = s->free_list;
		s->free_list = r;
	}
	while ((qr = qos_expired(s->q, s->now))) {
		struct sim_req *r = (struct sim_req *)((char *)qr - offsetof(struct sim_req, qr));

		s->acct[r->acct].expired++;
		r->next_free = s->free_list;
		s->free_list = r;
	}
	return true;
}

/* Run until `t_end` or until `n` requests completed in total, whichever comes first. */
static void sim_run(struct sim *s, uint64_t t_end, uint64_t n)
{
	while (s->now < t_end && s->completed < n)
		if (!sim_step(s, t_end))
			break;
}

/* Backend time account i received so far (whole run or window), counting the elapsed part
 * of its requests still running so that long requests in flight are not left out. */
static uint64_t sim_service(const struct sim *s, uint32_t i, bool window)
{
	uint64_t t = window ? s->acct[i].win_ns : s->acct[i].busy_ns;
	uint32_t k;

	for (k = 0; k < s->nslots; k++) {
		const struct sim_req *r = s->slot[k];

		if (!r || r->acct != i)
			continue;
		t += window ? sim_overlap(s, r->qr.started_ns, s->now) : s->now - r->qr.started_ns;
	}
	return t;
}

/* Account i's fraction of the backend time measured (whole run or window). */
static double sim_share(const struct sim *s, uint32_t i, bool window)
{
	uint64_t total = 0;
	uint32_t k;

	for (k = 0; k < s->nacct; k++)
		total += sim_service(s, k, window);
	ck_assert(total > 0);
	return (double)sim_service(s, i, window) / (double)total;
}

/* Fail unless every account's share is within rel (relative) of its weight's share. */
static void check_shares(const struct sim *s, const uint32_t *weights, double rel, bool window)
{
	uint64_t wsum = 0;
	uint32_t k;

	for (k = 0; k < s->nacct; k++)
		wsum += weights[k];
	for (k = 0; k < s->nacct; k++) {
		double want = (double)weights[k] / (double)wsum;
		double got = sim_share(s, k, window);

		if (getenv("QOS_VERBOSE"))
			fprintf(stderr, "  acct %u weight %u share %.5f want %.5f (err %+.3f%%)\n",
			        k, weights[k], got, want, 100.0 * (got - want) / want);
		ck_assert_msg(fabs(got - want) <= rel * want,
		              "account %u (weight %u): share %.5f, want %.5f +- %.1f%%", k,
		              weights[k], got, want, rel * 100.0);
	}
}

/* A cost model in one call. */
static struct cost_model cm(enum cost_kind kind, uint64_t lo, uint64_t hi, double alpha)
{
	struct cost_model m;

	m.kind = kind;
	m.lo = lo;
	m.hi = hi;
	m.alpha = alpha;
	return m;
}

/* ------------------------------------------------------------------ shares */

/* Weights 1:3, one account running 0.1-100 ms queries (1000x within), the other 0.1-1 ms
 * point selects: backend time must split 25/75 within 2% over 200,000 requests (the light
 * account's 0.1 ms against the heavy one's 100 ms is 1000x between accounts). */
START_TEST(test_share_two_accounts)
{
	static const uint32_t w[2] = { 1, 3 };
	struct sim *s = sim_new(8, 2, 256, 1);
	struct qos_limits l;

	l = lim_weight(w[0]);
	sim_account(s, 0, &l, cm(COST_LOGUNI, 100 * US, 100 * MS, 0), 16);
	l = lim_weight(w[1]);
	sim_account(s, 1, &l, cm(COST_LOGUNI, 100 * US, 1 * MS, 0), 16);
	sim_enqueue_n(s, 0, 16);
	sim_enqueue_n(s, 1, 16);
	sim_run(s, UINT64_MAX, 200000);
	ck_assert_uint_ge(s->completed, 200000);
	check_shares(s, w, 0.02, false);
	sim_free(s);
}
END_TEST

/* Eight saturating accounts, weights 1..8, each with its own cost range (from 0.1-1 ms up
 * to 10-100 ms): shares within 2% of w/36. */
START_TEST(test_share_eight_accounts)
{
	static const uint32_t w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct sim *s = sim_new(16, 8, 512, 2);
	uint32_t k;

	for (k = 0; k < 8; k++) {
		struct qos_limits l = lim_weight(w[k]);
		uint64_t lo = 100 * US;
		uint32_t j;

		for (j = 0; j < k % 3; j++)
			lo *= 10;
		sim_account(s, k, &l, cm(COST_LOGUNI, lo, lo * 10, 0), 32);
		sim_enqueue_n(s, k, 32);
	}
	sim_run(s, UINT64_MAX, 100000);
	check_shares(s, w, 0.02, false);
	sim_free(s);
}
END_TEST

/* Heavy tails: Pareto costs from 0.1 ms capped at 500 ms in some accounts, 0.1 ms or
 * 50-500 ms constant-ish in others. Shares within 2% over 300,000 requests. */
START_TEST(test_share_heavy_tail)
{
	static const uint32_t w[4] = { 1, 1, 2, 4 };
	struct sim *s = sim_new(16, 4, 512, 3);
	struct qos_limits l;

	l = lim_weight(w[0]);
	sim_account(s, 0, &l, cm(COST_PARETO, 100 * US, 500 * MS, 1.1), 32);
	l = lim_weight(w[1]);
	sim_account(s, 1, &l, cm(COST_FIXED, 100 * US, 100 * US, 0), 32);
	l = lim_weight(w[2]);
	sim_account(s, 2, &l, cm(COST_PARETO, 100 * US, 500 * MS, 1.3), 32);
	l = lim_weight(w[3]);
	sim_account(s, 3, &l, cm(COST_LOGUNI, 50 * MS, 500 * MS, 0), 32);
	sim_enqueue_n(s, 0, 32);
	sim_enqueue_n(s, 1, 32);
	sim_enqueue_n(s, 2, 32);
	sim_enqueue_n(s, 3, 32);
	sim_run(s, UINT64_MAX, 300000);
	check_shares(s, w, 0.02, false);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ late arrival */

/* A runs alone for 20 s, then B (same weight) arrives. B must get half the backend time
 * at once (from the first completions on) and no more: had it banked credit for the 20 s,
 * it would take the whole pool for a long while. */
START_TEST(test_late_arrival_no_banked_credit)
{
	static const uint32_t w[2] = { 1, 1 };
	struct sim *s = sim_new(8, 2, 256, 4);
	struct qos_limits l = lim_weight(1);
	uint64_t t_arrive = 20 * SEC;

	sim_account(s, 0, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 16);
	sim_account(s, 1, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 16);
	sim_enqueue_n(s, 0, 16);
	sim_run(s, t_arrive, UINT64_MAX);
	ck_assert_uint_eq(s->acct[1].picks, 0);
	ck_assert_uint_ge(s->acct[0].busy_ns, 8 * 20 * SEC * 99 / 100);
	sim_enqueue_n(s, 1, 16);
	/* window starts once the slots A held at arrival have turned over (<= 10 ms) */
	s->win_lo = t_arrive + 10 * MS;
	s->win_hi = t_arrive + 510 * MS;
	sim_run(s, s->win_hi, UINT64_MAX);
	check_shares(s, w, 0.05, true);
	/* and again over the following 5 s, tighter */
	s->acct[0].win_ns = 0;
	s->acct[1].win_ns = 0;
	s->win_lo = s->win_hi;
	s->win_hi = s->win_lo + 5 * SEC;
	sim_run(s, s->win_hi + 100 * MS, UINT64_MAX);
	check_shares(s, w, 0.02, true);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ reservation */

/* After every fill: the watched account has at least watch_min running whenever it has
 * work queued. Armed once it first holds (the slots B held at A's arrival must free up). */
static void check_reservation_after_fill(struct sim *s)
{
	uint32_t running = sim_running(s, s->watch), queued = sim_queued(s, s->watch);

	if (!s->watch_armed) {
		s->watch_armed = running >= s->watch_min;
		return;
	}
	s->watch_checks++;
	if (queued >= s->watch_min)
		ck_assert_msg(running >= s->watch_min,
		              "t=%llu: reserved account has %u running with %u queued",
		              (unsigned long long)s->now, running, queued);
}

/* A weight-1 account with reservation 3 against a saturating weight-100 account on 8
 * slots: it keeps 3 running whenever it has 3 queued, so it gets ~3/8 of the backend time
 * instead of the 1/101 its weight alone would give. */
START_TEST(test_reservation_vs_heavy_weight)
{
	struct sim *s = sim_new(8, 2, 256, 5);
	struct qos_limits l = lim_weight(100);
	double share;

	sim_account(s, 0, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 32);
	l = lim_weight(1);
	l.reservation = 3;
	sim_account(s, 1, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 16);
	sim_enqueue_n(s, 0, 32);
	sim_run(s, 50 * MS, UINT64_MAX);
	sim_enqueue_n(s, 1, 16);
	s->watch = 1;
	s->watch_min = 3;
	s->after_fill = check_reservation_after_fill;
	sim_run(s, UINT64_MAX, 100000);
	ck_assert(s->watch_armed);
	ck_assert_uint_gt(s->watch_checks, 10000);
	/* 3 slots of 8 minus the sliver around completions; far above 1/101 */
	share = sim_share(s, 1, false);
	ck_assert_msg(share > 0.35 && share < 0.40, "reserved share %.4f", share);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ max_qps */

/* max_qps 200 over 50 simulated seconds, with 8 slots and a cheap cost: 200 * 50 picks
 * plus the initial burst (20), within 2%, while an unlimited account soaks up the rest
 * (the scheduler skips the limited one without a token). */
START_TEST(test_max_qps)
{
	struct sim *s = sim_new(8, 2, 256, 6);
	struct qos_limits l = lim_weight(1);
	double want = 200.0 * 50 + 20;

	l.max_qps = 200;
	sim_account(s, 0, &l, cm(COST_UNIFORM, 100 * US, 300 * US, 0), 16);
	l = lim_weight(1);
	sim_account(s, 1, &l, cm(COST_UNIFORM, 3 * MS, 6 * MS, 0), 16);
	sim_enqueue_n(s, 0, 16);
	sim_enqueue_n(s, 1, 16);
	sim_run(s, 50 * SEC, UINT64_MAX);
	ck_assert_msg(fabs((double)s->acct[0].picks - want) <= 0.02 * want, "picks %llu want %.0f",
	              (unsigned long long)s->acct[0].picks, want);
	/* the rest of the pool went to the other account: nearly 8 slots busy */
	ck_assert_uint_ge(s->acct[0].busy_ns + s->acct[1].busy_ns, 8 * 50 * SEC * 98 / 100);
	sim_free(s);
}
END_TEST

/* Alone and throttled: pick returns NULL with work queued, and qos_next_event_ns() names
 * the instant the next token arrives (1/max_qps later), when pick succeeds again. */
START_TEST(test_max_qps_next_event)
{
	struct qos *q = qos_new(4);
	struct qos_limits l = lim_weight(1);
	struct qos_account *a;
	struct qos_req r[4];
	uint64_t t;
	int i;

	l.max_qps = 4; /* burst 1, one token every 250 ms */
	a = qos_account_new(q, 1, &l);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 4; i++) {
		r[i].account = a;
		ck_assert_int_eq(qos_enqueue(q, &r[i], 0), QOS_OK);
	}
	ck_assert_ptr_eq(qos_pick(q, 0), &r[0]);
	ck_assert_ptr_null(qos_pick(q, 0));
	t = qos_next_event_ns(q, 0);
	ck_assert_uint_eq(t, 250 * MS);
	ck_assert_ptr_null(qos_pick(q, t - 1));
	ck_assert_ptr_eq(qos_pick(q, t), &r[1]);
	ck_assert_uint_eq(qos_next_event_ns(q, t), 500 * MS);
	/* lifting the limit live releases the queue at once */
	l.max_qps = 0;
	qos_account_set_limits(q, a, &l);
	ck_assert_uint_eq(qos_next_event_ns(q, t), UINT64_MAX);
	ck_assert_ptr_eq(qos_pick(q, t), &r[2]);
	ck_assert_ptr_eq(qos_pick(q, t), &r[3]);
	qos_account_release(q, a);
	qos_free(q);
}
END_TEST

/* ------------------------------------------------------------------ starvation */

/* Weight 1 against weight 1000, both always backlogged: the light account gets ~1/1001 of
 * the backend time, and its waits stay bounded by about the time the heavy one needs to
 * use 1000x its cost, not by the length of the run. */
START_TEST(test_no_starvation_1_vs_1000)
{
	struct sim *s = sim_new(8, 2, 256, 7);
	struct qos_limits l = lim_weight(1);
	double share;

	sim_account(s, 0, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 1);
	l = lim_weight(1000);
	sim_account(s, 1, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 32);
	sim_enqueue_n(s, 0, 1);
	sim_enqueue_n(s, 1, 32);
	sim_run(s, UINT64_MAX, 200000);
	share = sim_share(s, 0, false);
	if (getenv("QOS_VERBOSE"))
		fprintf(stderr, "  share %.6f max wait %.1f ms picks %llu\n", share,
		        (double)s->acct[0].max_wait_ns / MS, (unsigned long long)s->acct[0].picks);
	ck_assert_msg(fabs(share - 1.0 / 1001) <= 0.15 / 1001, "light share %.6f", share);
	ck_assert_uint_gt(s->acct[0].picks, 50);
	/* 1000 x 10 ms of heavy work over 8 slots is 1.25 s; allow twice that */
	ck_assert_msg(s->acct[0].max_wait_ns <= 2500 * MS, "max wait %llu ns",
	              (unsigned long long)s->acct[0].max_wait_ns);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ 10,000 accounts */

/* 10,000 accounts (weights 1..10) with 3 requests each on 32 slots: every request is
 * served, nothing is left queued, and the accounts are freed by their last completion
 * after the test dropped its references early (ASan checks the frees). */
START_TEST(test_ten_thousand_accounts)
{
	const uint32_t n = 10000;
	struct sim *s = sim_new(32, n, 3 * n + 64, 8);
	uint64_t first_round_end = 0;
	uint32_t k;

	for (k = 0; k < n; k++) {
		struct qos_limits l = lim_weight(k % 10 + 1);

		sim_account(s, k, &l, cm(COST_LOGUNI, 100 * US, 1 * MS, 0), 0);
		sim_enqueue_n(s, k, 3);
	}
	ck_assert_uint_eq(qos_queued_total(s->q), 3 * n);
	sim_run(s, UINT64_MAX, UINT64_MAX);
	ck_assert_uint_eq(qos_queued_total(s->q), 0);
	ck_assert_uint_eq(s->completed, 3 * n);
	for (k = 0; k < n; k++) {
		ck_assert_uint_eq(s->acct[k].picks, 3);
		ck_assert_uint_eq(s->acct[k].completes, 3);
		if (s->acct[k].max_wait_ns > first_round_end)
			first_round_end = s->acct[k].max_wait_ns;
	}
	ck_assert_uint_le(first_round_end, s->now);
	/* second pass: release references while work is queued; completions free them */
	for (k = 0; k < n; k++)
		sim_enqueue_n(s, k, 1);
	for (k = 0; k < n; k++) {
		qos_account_release(s->q, s->acct[k].a);
		s->acct[k].a = NULL;
	}
	sim_run(s, UINT64_MAX, UINT64_MAX);
	ck_assert_uint_eq(s->completed, 4 * n);
	ck_assert_uint_eq(qos_queued_total(s->q), 0);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ work conservation */

/* One busy account of weight 1 next to idle accounts of weight 100: it gets every slot
 * all the time. */
START_TEST(test_work_conserving)
{
	struct sim *s = sim_new(16, 3, 256, 9);
	struct qos_limits l = lim_weight(100);
	uint64_t busy;

	sim_account(s, 0, &l, cm(COST_FIXED, 1 * MS, 1 * MS, 0), 0);
	sim_account(s, 1, &l, cm(COST_FIXED, 1 * MS, 1 * MS, 0), 0);
	l = lim_weight(1);
	sim_account(s, 2, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 32);
	sim_enqueue_n(s, 2, 32);
	sim_fill(s);
	ck_assert_uint_eq(sim_running(s, 2), 16);
	sim_run(s, 10 * SEC, UINT64_MAX);
	busy = s->acct[2].busy_ns;
	for (uint32_t k = 0; k < 16; k++)
		if (s->slot[k])
			busy += s->now - s->slot[k]->qr.started_ns;
	ck_assert_uint_eq(busy, 16 * 10 * SEC);
	ck_assert_uint_eq(s->acct[0].picks + s->acct[1].picks, 0);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ queue caps */

/* max_queue 5: the sixth is refused and counted; a pick makes room again. max_queue 0
 * means QOS_DEFAULT_MAX_QUEUE. */
START_TEST(test_queue_full)
{
	struct sim *s = sim_new(1, 2, QOS_DEFAULT_MAX_QUEUE + 16, 10);
	struct qos_limits l = lim_weight(1);
	struct qos_account_stats st;
	uint32_t k;

	l.max_queue = 5;
	sim_account(s, 0, &l, cm(COST_FIXED, 1 * MS, 1 * MS, 0), 0);
	l.max_queue = 0;
	sim_account(s, 1, &l, cm(COST_FIXED, 1 * MS, 1 * MS, 0), 0);
	sim_enqueue_n(s, 0, 5);
	ck_assert_int_eq(sim_enqueue(s, 0), QOS_QUEUE_FULL);
	qos_account_get_stats(s->acct[0].a, &st);
	ck_assert_uint_eq(st.queued, 5);
	ck_assert_uint_eq(st.refused_total, 1);
	sim_fill(s);
	ck_assert_uint_eq(sim_queued(s, 0), 4);
	ck_assert_int_eq(sim_enqueue(s, 0), QOS_OK);
	ck_assert_int_eq(sim_enqueue(s, 0), QOS_QUEUE_FULL);
	for (k = 0; k < QOS_DEFAULT_MAX_QUEUE; k++)
		ck_assert_int_eq(sim_enqueue(s, 1), QOS_OK);
	ck_assert_int_eq(sim_enqueue(s, 1), QOS_QUEUE_FULL);
	ck_assert_uint_eq(qos_queued_total(s->q), 5 + QOS_DEFAULT_MAX_QUEUE);
	/* lowering the cap live keeps what is queued but refuses more */
	l.max_queue = 2;
	qos_account_set_limits(s->q, s->acct[1].a, &l);
	ck_assert_uint_eq(sim_queued(s, 1), QOS_DEFAULT_MAX_QUEUE);
	ck_assert_int_eq(sim_enqueue(s, 1), QOS_QUEUE_FULL);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ timeouts */

/* Deadlines across two accounts come out in order, exactly when due, and an account
 * without a timeout never expires; next_event names the earliest deadline. */
START_TEST(test_queue_timeout)
{
	struct qos *q = qos_new(0);
	struct qos_limits la = lim_weight(1), lb = lim_weight(1), lc = lim_weight(1);
	struct qos_account *a, *b, *c;
	struct qos_account_stats st;
	struct qos_req r[6];

	la.queue_timeout_ms = 100;
	lb.queue_timeout_ms = 50;
	a = qos_account_new(q, 1, &la);
	b = qos_account_new(q, 2, &lb);
	c = qos_account_new(q, 3, &lc);
	memset(r, 0, sizeof(r));
	r[0].account = a;
	r[1].account = a;
	r[2].account = b;
	r[3].account = c;
	r[4].account = a;
	r[5].account = b;
	ck_assert_int_eq(qos_enqueue(q, &r[0], 0), QOS_OK);       /* due 100 ms */
	ck_assert_int_eq(qos_enqueue(q, &r[1], 10 * MS), QOS_OK); /* due 110 ms */
	ck_assert_int_eq(qos_enqueue(q, &r[2], 30 * MS), QOS_OK); /* due 80 ms */
	ck_assert_int_eq(qos_enqueue(q, &r[3], 30 * MS), QOS_OK); /* never */
	ck_assert_int_eq(qos_enqueue(q, &r[4], 40 * MS), QOS_OK); /* due 140 ms */
	ck_assert_int_eq(qos_enqueue(q, &r[5], 60 * MS), QOS_OK); /* due 110 ms */
	ck_assert_uint_eq(qos_next_event_ns(q, 60 * MS), 80 * MS);
	ck_assert_ptr_null(qos_expired(q, 80 * MS - 1));
	ck_assert_ptr_eq(qos_expired(q, 80 * MS), &r[2]);
	ck_assert_ptr_null(qos_expired(q, 80 * MS));
	ck_assert_uint_eq(qos_next_event_ns(q, 80 * MS), 100 * MS);
	ck_assert_ptr_eq(qos_expired(q, 105 * MS), &r[0]);
	ck_assert_ptr_null(qos_expired(q, 105 * MS));
	ck_assert_ptr_eq(qos_expired(q, 1 * SEC), &r[1]); /* 110, a before b: created first */
	ck_assert_ptr_eq(qos_expired(q, 1 * SEC), &r[5]);
	ck_assert_ptr_eq(qos_expired(q, 1 * SEC), &r[4]);
	ck_assert_ptr_null(qos_expired(q, 100 * SEC));
	ck_assert_uint_eq(qos_next_event_ns(q, 1 * SEC), UINT64_MAX);
	ck_assert_uint_eq(qos_queued_total(q), 1);
	qos_account_get_stats(a, &st);
	ck_assert_uint_eq(st.expired_total, 3);
	ck_assert_uint_eq(st.queued, 0);
	/* a timeout set live applies to what is already queued */
	lc.queue_timeout_ms = 20;
	qos_account_set_limits(q, c, &lc);
	ck_assert_uint_eq(qos_next_event_ns(q, 1 * SEC), 1 * SEC); /* overdue: now */
	ck_assert_ptr_eq(qos_expired(q, 1 * SEC), &r[3]);
	ck_assert_uint_eq(qos_queued_total(q), 0);
	qos_account_release(q, a);
	qos_account_release(q, b);
	qos_account_release(q, c);
	qos_free(q);
}
END_TEST

/* The simulator with timeouts: a 2-slot pool overloaded 4x by an account with a 50 ms
 * timeout; what is not served within 50 ms expires, nothing waits longer. */
START_TEST(test_queue_timeout_sim)
{
	struct sim *s = sim_new(2, 1, 256, 11);
	struct qos_limits l = lim_weight(1);
	uint64_t t;

	l.queue_timeout_ms = 50;
	sim_account(s, 0, &l, cm(COST_FIXED, 10 * MS, 10 * MS, 0), 0);
	for (t = 0; t < 2 * SEC; t += 10 * MS) {
		sim_run(s, t, UINT64_MAX);
		sim_enqueue_n(s, 0, 8);
	}
	sim_run(s, 3 * SEC, UINT64_MAX);
	ck_assert_uint_gt(s->acct[0].expired, 1000);
	ck_assert_uint_le(s->acct[0].max_wait_ns, 50 * MS);
	ck_assert_uint_eq(s->acct[0].picks + s->acct[0].expired, 8 * 200);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ cancel */

/* Cancel from the middle and the head keeps FIFO order for the rest; a running or already
 * cancelled request is not cancelled; the deadline follows the new head. */
/* Accounts made in two steps (the gateway's way, the allocations outside its lock): the
 * heaps grow by a swap while accounts sit in them with queued work, which stays queued and
 * is picked in the same fair order; no room made, no account added. */
START_TEST(test_two_step_accounts)
{
	struct qos *q = qos_new(1);
	struct qos_limits l = lim_weight(1);
	struct qos_account *a[40];
	struct qos_req r[40];
	struct qos_room room;
	uint32_t need;
	int i, picked[40] = { 0 };

	memset(r, 0, sizeof(r));
	for (i = 0; i < 40; i++) {
		a[i] = qos_account_alloc((uint64_t)i, &l);
		ck_assert_ptr_nonnull(a[i]);
		need = qos_room_need(q, 1);
		if (i == 0 || i == 16 || i == 32) /* the first 16 slots, then doubling */
			ck_assert_uint_eq(need, i == 0 ? 16 : (uint32_t)i * 2);
		else
			ck_assert_uint_eq(need, 0);
		if (need) {
			ck_assert(!qos_account_add(q, a[i])); /* no slot yet */
			ck_assert(qos_room_alloc(&room, need));
			qos_room_swap(q, &room);
			qos_room_free(&room);
		}
		ck_assert(qos_account_add(q, a[i]));
		r[i].account = a[i];
		ck_assert_int_eq(qos_enqueue(q, &r[i], (uint64_t)i), QOS_OK);
	}
	/* a room smaller than the heaps is not taken, and frees as it came */
	ck_assert(qos_room_alloc(&room, 8));
	qos_room_swap(q, &room);
	ck_assert_uint_eq(room.cap, 8);
	qos_room_free(&room);
	ck_assert_uint_eq(qos_queued_total(q), 40);
	for (i = 0; i < 40; i++) {
		struct qos_req *p = qos_pick(q, 100);

		ck_assert_ptr_nonnull(p);
		picked[p - r]++;
		qos_complete(q, p, 1 * MS, 100 + (uint64_t)i);
	}
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(picked[i], 1);
	ck_assert_ptr_null(qos_pick(q, 200));
	/* an account never added is discarded (ASan watches) */
	qos_account_discard(qos_account_alloc(99, &l));
	qos_free(q);
}
END_TEST

START_TEST(test_cancel)
{
	struct qos *q = qos_new(4);
	struct qos_limits l = lim_weight(1);
	struct qos_account *a;
	struct qos_req r[4];
	int i;

	l.queue_timeout_ms = 100;
	a = qos_account_new(q, 1, &l);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 4; i++) {
		r[i].account = a;
		ck_assert_int_eq(qos_enqueue(q, &r[i], (uint64_t)i * 10 * MS), QOS_OK);
	}
	ck_assert(qos_cancel(q, &r[1]));
	ck_assert(!qos_cancel(q, &r[1]));
	ck_assert_uint_eq(qos_queued_total(q), 3);
	ck_assert(qos_cancel(q, &r[0]));
	ck_assert_uint_eq(qos_next_event_ns(q, 40 * MS), 120 * MS);
	ck_assert_ptr_eq(qos_pick(q, 50 * MS), &r[2]);
	ck_assert(!qos_cancel(q, &r[2])); /* running */
	ck_assert_uint_eq(qos_next_event_ns(q, 50 * MS), 130 * MS);
	ck_assert_ptr_eq(qos_pick(q, 50 * MS), &r[3]);
	ck_assert_ptr_null(qos_pick(q, 50 * MS));
	ck_assert_uint_eq(qos_queued_total(q), 0);
	ck_assert_uint_eq(qos_next_event_ns(q, 50 * MS), UINT64_MAX);
	qos_complete(q, &r[2], 1 * MS, 51 * MS);
	qos_complete(q, &r[3], 1 * MS, 51 * MS);
	/* the last cancel of a released account frees it (ASan watches) */
	ck_assert_int_eq(qos_enqueue(q, &r[0], 60 * MS), QOS_OK);
	qos_account_release(q, a);
	ck_assert(qos_cancel(q, &r[0]));
	ck_assert_uint_eq(qos_queued_total(q), 0);
	qos_free(q);
}
END_TEST

/* qos_pick_affine: the account is chosen by fairness as always; within it the oldest of
 * the first QOS_AFFINITY_SCAN requests with the wanted affinity goes first, else the head. */
START_TEST(test_pick_affine)
{
	struct qos *q = qos_new(4);
	struct qos_limits l = lim_weight(1);
	struct qos_account *a, *b;
	struct qos_req r[12], rb;
	int i;

	a = qos_account_new(q, 1, &l);
	b = qos_account_new(q, 2, &l);
	memset(r, 0, sizeof(r));
	memset(&rb, 0, sizeof(rb));
	for (i = 0; i < 12; i++) {
		r[i].account = a;
		r[i].affinity = i == 3 || i == 10 ? 1 : 0;
		ck_assert_int_eq(qos_enqueue(q, &r[i], (uint64_t)i * MS), QOS_OK);
	}
	/* within the window: r[3], the oldest with affinity 1 */
	ck_assert_ptr_eq(qos_pick_affine(q, 20 * MS, 1), &r[3]);
	qos_complete(q, &r[3], 1 * MS, 21 * MS);
	/* r[10] is beyond the first 8: the head goes instead */
	ck_assert_ptr_eq(qos_pick_affine(q, 22 * MS, 1), &r[0]);
	qos_complete(q, &r[0], 1 * MS, 23 * MS);
	/* fairness between accounts is untouched: b's request, of another affinity, is
	 * among the next two picks (equal weights alternate), affinity or not */
	rb.account = b;
	rb.affinity = 0;
	ck_assert_int_eq(qos_enqueue(q, &rb, 24 * MS), QOS_OK);
	{
		struct qos_req *p1 = qos_pick_affine(q, 25 * MS, 1);
		struct qos_req *p2 = qos_pick_affine(q, 25 * MS, 1);

		ck_assert(p1 == &rb || p2 == &rb);
		qos_complete(q, p1, 1 * MS, 26 * MS);
		qos_complete(q, p2, 1 * MS, 26 * MS);
	}
	for (i = 0; i < 9; i++) { /* the 9 left of a's 12 */
		struct qos_req *p = qos_pick_affine(q, 30 * MS, 7);

		ck_assert_ptr_nonnull(p);
		qos_complete(q, p, 1 * MS, 31 * MS);
	}
	ck_assert_ptr_null(qos_pick(q, 40 * MS));
	qos_account_release(q, a);
	qos_account_release(q, b);
	qos_free(q);
}
END_TEST

/* ------------------------------------------------------------------ live weight change */

/* Two equal accounts, then one's weight goes 1 -> 3 mid-run: 50/50 before, 75/25 after,
 * each measured in its own window within 2%. */
START_TEST(test_weight_change_live)
{
	static const uint32_t before[2] = { 1, 1 }, after[2] = { 3, 1 };
	struct sim *s = sim_new(8, 2, 256, 12);
	struct qos_limits l = lim_weight(1);

	sim_account(s, 0, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 16);
	sim_account(s, 1, &l, cm(COST_LOGUNI, 100 * US, 10 * MS, 0), 16);
	sim_enqueue_n(s, 0, 16);
	sim_enqueue_n(s, 1, 16);
	s->win_lo = 1 * SEC;
	s->win_hi = 30 * SEC;
	sim_run(s, 30 * SEC, UINT64_MAX);
	check_shares(s, before, 0.02, true);
	l.weight = 3;
	qos_account_set_limits(s->q, s->acct[0].a, &l);
	s->acct[0].win_ns = 0;
	s->acct[1].win_ns = 0;
	s->win_lo = 30 * SEC + 50 * MS;
	s->win_hi = 60 * SEC;
	sim_run(s, 60 * SEC + 20 * MS, UINT64_MAX);
	check_shares(s, after, 0.02, true);
	sim_free(s);
}
END_TEST

/* ------------------------------------------------------------------ charge */

/* Pinned work is billed: two equal saturating accounts, A also bills 1 ms of pinned time
 * per query it completes (as much again as its pooled queries), so its pool share falls
 * to 1/3 and A's pooled plus pinned time equals B's. */
START_TEST(test_charge_pinned)
{
	struct sim *s = sim_new(4, 2, 256, 13);
	struct qos_limits l = lim_weight(1);
	struct qos_account_stats st;
	uint64_t done = 0;
	double share;

	sim_account(s, 0, &l, cm(COST_FIXED, 1 * MS, 1 * MS, 0), 8);
	sim_account(s, 1, &l, cm(COST_FIXED, 1 * MS, 1 * MS, 0), 8);
	sim_enqueue_n(s, 0, 8);
	sim_enqueue_n(s, 1, 8);
	while (s->completed < 60000 && sim_step(s, UINT64_MAX)) {
		for (; done < s->acct[0].completes; done++)
			qos_charge(s->q, s->acct[0].a, 1 * MS, s->now);
	}
	share = sim_share(s, 0, false);
	ck_assert_msg(fabs(share - 1.0 / 3) <= 0.02 / 3, "pool share %.4f", share);
	qos_account_get_stats(s->acct[0].a, &st);
	ck_assert_uint_eq(st.service_ns, 2 * s->acct[0].busy_ns);
	sim_free(s);
}
END_TEST

/* Work that skips the queue while qos_account_within_share() says yes (a connection held
 * for a light account) gets no more than the account's weighted share: account 1 (weight
 * 1) runs 1 ms statements "ahead of the queue" whenever allowed, next to account 0
 * (weight 10) that keeps 4 slots busy: 1/11 of the backend time, not more. A new
 * account starts within its share. */
START_TEST(test_within_share_gates_queue_skipping)
{
	struct sim *s = sim_new(4, 2, 256, 17);
	struct qos_limits l10 = lim_weight(10), l1 = lim_weight(1);
	uint64_t skipped = 0, busy0;
	double share;

	sim_account(s, 0, &l10, cm(COST_FIXED, 1 * MS, 1 * MS, 0), 16);
	sim_account(s, 1, &l1, cm(COST_FIXED, 1 * MS, 1 * MS, 0), 0);
	sim_enqueue_n(s, 0, 16);
	ck_assert(qos_account_within_share(s->q, s->acct[1].a, s->now));
	while (s->completed < 40000 && sim_step(s, UINT64_MAX)) {
		while (qos_account_within_share(s->q, s->acct[1].a, s->now)) {
			qos_charge(s->q, s->acct[1].a, 1 * MS, s->now);
			skipped += 1 * MS;
		}
	}
	busy0 = s->acct[0].busy_ns;
	share = (double)skipped / (double)(skipped + busy0);
	ck_assert_msg(fabs(share - 1.0 / 11) <= 0.01, "share of the queue-skipping account %.4f",
	              share);
	sim_free(s);
}
END_TEST

/* Billed work teaches the account's cost estimate like completed work does: 32 bills of
 * 10 ms take a new account's estimate (1 ms) to within 2% of 10 ms (1/8 per sample). */
START_TEST(test_charge_teaches_estimate)
{
	struct qos *q = qos_new(4);
	struct qos_limits l = lim_weight(1);
	struct qos_account *a = qos_account_new(q, 1, &l);
	struct qos_account_stats st;

	qos_account_get_stats(a, &st);
	ck_assert_uint_eq(st.est_ns, 1 * MS);
	for (int i = 0; i < 32; i++)
		qos_charge(q, a, 10 * MS, (uint64_t)(i + 1) * MS);
	qos_account_get_stats(a, &st);
	ck_assert_msg(st.est_ns >= 98 * MS / 10 && st.est_ns <= 10 * MS, "estimate %.3f ms",
	              (double)st.est_ns / MS);
	qos_account_release(q, a);
	qos_free(q);
}
END_TEST

/* An account may run ahead of the virtual time by QOS_SHARE_LEAD of its average requests
 * and no more: with the virtual time held still (account b waits, nothing is picked), a
 * stays within its share for 4 bills of its average cost (1 ms) and not for a fifth. */
START_TEST(test_within_share_lead)
{
	struct qos *q = qos_new(4);
	struct qos_limits l = lim_weight(1);
	struct qos_account *a = qos_account_new(q, 1, &l), *b = qos_account_new(q, 2, &l);
	struct qos_req r;

	memset(&r, 0, sizeof(r));
	r.account = b;
	ck_assert_int_eq(qos_enqueue(q, &r, 1), QOS_OK);
	for (int k = 1; k <= QOS_SHARE_LEAD; k++) {
		qos_charge(q, a, 1 * MS, 2);
		ck_assert_msg(qos_account_within_share(q, a, 2), "%d ms ahead", k);
	}
	qos_charge(q, a, 1 * MS, 2);
	ck_assert(!qos_account_within_share(q, a, 2));
	ck_assert(qos_cancel(q, &r));
	qos_account_release(q, a);
	qos_account_release(q, b);
	qos_free(q);
}
END_TEST

/* The lead is at least one average request of the account whose turn is next: next to
 * an account of 100 ms requests, one of 1 ms requests may run ~100 of them ahead of the
 * virtual time, not 4. */
START_TEST(test_within_share_lead_long_requests)
{
	struct qos *q = qos_new(4);
	struct qos_limits l = lim_weight(1);
	struct qos_account *a = qos_account_new(q, 1, &l), *b = qos_account_new(q, 2, &l);
	struct qos_account_stats st;
	struct qos_req r;
	int ahead = 0;

	for (int i = 0; i < 40; i++)
		qos_charge(q, b, 100 * MS, 1); /* teaches b's estimate: ~100 ms */
	qos_account_get_stats(b, &st);
	memset(&r, 0, sizeof(r));
	r.account = b;
	ck_assert_int_eq(qos_enqueue(q, &r, 2), QOS_OK); /* b's turn is next */
	for (int k = 0; k < 1000; k++) {
		qos_charge(q, a, 1 * MS, 3);
		if (!qos_account_within_share(q, a, 3))
			break;
		ahead++;
	}
	ck_assert_msg(ahead >= (int)(st.est_ns / MS) - 2 && ahead <= (int)(st.est_ns / MS),
	              "%d requests of 1 ms ahead next to a %.1f ms estimate", ahead,
	              (double)st.est_ns / MS);
	ck_assert(qos_cancel(q, &r));
	qos_account_release(q, a);
	qos_account_release(q, b);
	qos_free(q);
}
END_TEST

/* qos_running_total() counts picked requests; qos_reserve_waiting() says whether an
 * account below its reservation has queued work (the gateway lets that one past
 * --max-active). */
START_TEST(test_running_total_and_reserve_waiting)
{
	struct qos *q = qos_new(4);
	struct qos_limits plain = lim_weight(1), res = lim_weight(1);
	struct qos_account *a, *b;
	struct qos_req r[3];

	res.reservation = 1;
	a = qos_account_new(q, 1, &plain);
	b = qos_account_new(q, 2, &res);
	memset(r, 0, sizeof(r));
	r[0].account = a;
	r[1].account = b;
	r[2].account = b;
	ck_assert_int_eq(qos_enqueue(q, &r[0], 1), QOS_OK);
	ck_assert(!qos_reserve_waiting(q));
	ck_assert_int_eq(qos_enqueue(q, &r[1], 2), QOS_OK);
	ck_assert_int_eq(qos_enqueue(q, &r[2], 3), QOS_OK);
	ck_assert(qos_reserve_waiting(q));
	ck_assert_uint_eq(qos_running_total(q), 0);
	ck_assert_ptr_eq(qos_pick(q, 4), &r[1]); /* the reservation first */
	ck_assert(!qos_reserve_waiting(q));      /* b runs its one reserved request */
	ck_assert_uint_eq(qos_running_total(q), 1);
	ck_assert_ptr_nonnull(qos_pick(q, 5));
	ck_assert_uint_eq(qos_running_total(q), 2);
	qos_complete(q, &r[1], 1 * MS, 6);
	ck_assert_uint_eq(qos_running_total(q), 1);
	ck_assert_ptr_nonnull(qos_pick(q, 7));
	qos_complete(q, &r[0], 1 * MS, 8);
	qos_complete(q, &r[2], 1 * MS, 9);
	ck_assert_uint_eq(qos_running_total(q), 0);
	qos_account_release(q, a);
	qos_account_release(q, b);
	qos_free(q);
}
END_TEST

/* ------------------------------------------------------------------ refcounts, stats */

/* Stats follow a request through its life; an account released while its request runs is
 * kept until qos_complete(), and qos_free() frees accounts still referenced. */
START_TEST(test_refcount_and_stats)
{
	struct qos *q = qos_new(2);
	struct qos_limits l = lim_weight(0); /* weight 0 is treated as 1 */
	struct qos_account *a, *b;
	struct qos_account_stats st;
	struct qos_req r[2];

	a = qos_account_new(q, 42, &l);
	b = qos_account_new(q, 43, &l);
	ck_assert_uint_eq(qos_account_id(a), 42);
	memset(r, 0, sizeof(r));
	r[0].account = a;
	r[1].account = a;
	ck_assert_int_eq(qos_enqueue(q, &r[0], 5), QOS_OK);
	ck_assert_int_eq(qos_enqueue(q, &r[1], 6), QOS_OK);
	ck_assert_uint_eq(r[0].enqueued_ns, 5);
	ck_assert_ptr_eq(qos_pick(q, 7), &r[0]);
	qos_account_get_stats(a, &st);
	ck_assert_uint_eq(st.queued, 1);
	ck_assert_uint_eq(st.running, 1);
	ck_assert_uint_eq(st.picked_total, 1);
	qos_account_retain(a);
	qos_account_release(q, a);
	qos_account_release(q, a); /* no reference left: kept alive by its requests */
	ck_assert_ptr_eq(qos_pick(q, 8), &r[1]);
	qos_complete(q, &r[0], 3 * MS, 10);
	qos_complete(q, &r[0], 3 * MS, 10); /* not running any more: ignored */
	qos_account_get_stats(a, &st);
	ck_assert_uint_eq(st.running, 1);
	ck_assert_uint_eq(st.service_ns, 3 * MS);
	qos_complete(q, &r[1], 1 * MS, 11); /* frees a */
	ck_assert_ptr_null(qos_pick(q, 12));
	qos_charge(q, b, 1 * MS, 13);
	qos_account_get_stats(b, &st);
	ck_assert_uint_eq(st.service_ns, 1 * MS);
	qos_free(q); /* b still referenced: freed with the scheduler */
}
END_TEST

/* ------------------------------------------------------------------ suite */

/* One suite, one TCase per behaviour; the long simulations get a generous timeout so
 * that sanitizer builds pass too. */
static Suite *qos_suite(void)
{
	Suite *s = suite_create("qos");
	struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{ "share_two_accounts", test_share_two_accounts },
		{ "share_eight_accounts", test_share_eight_accounts },
		{ "share_heavy_tail", test_share_heavy_tail },
		{ "late_arrival", test_late_arrival_no_banked_credit },
		{ "reservation", test_reservation_vs_heavy_weight },
		{ "max_qps", test_max_qps },
		{ "max_qps_next_event", test_max_qps_next_event },
		{ "no_starvation", test_no_starvation_1_vs_1000 },
		{ "ten_thousand_accounts", test_ten_thousand_accounts },
		{ "work_conserving", test_work_conserving },
		{ "queue_full", test_queue_full },
		{ "queue_timeout", test_queue_timeout },
		{ "queue_timeout_sim", test_queue_timeout_sim },
		{ "cancel", test_cancel },
		{ "two_step_accounts", test_two_step_accounts },
		{ "pick_affine", test_pick_affine },
		{ "weight_change_live", test_weight_change_live },
		{ "charge_pinned", test_charge_pinned },
		{ "within_share_gates_queue_skipping", test_within_share_gates_queue_skipping },
		{ "charge_teaches_estimate", test_charge_teaches_estimate },
		{ "within_share_lead", test_within_share_lead },
		{ "within_share_lead_long_requests", test_within_share_lead_long_requests },
		{ "running_total_and_reserve_waiting", test_running_total_and_reserve_waiting },
		{ "refcount_and_stats", test_refcount_and_stats },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_set_timeout(tc, 120);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(qos_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
