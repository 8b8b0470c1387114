/*
 * qos.h - the per-account scheduler.
 *
 * Owns: per-account queues of requests, the virtual-time bookkeeping of weighted fair
 * queueing on backend time, reservations, token buckets, queue caps and queue timeouts.
 * Must not touch: sockets, libevent, SQLite, the clock, locks, logging. Every function
 * takes the current time as a parameter; the gateway serializes every call with one
 * mutex, held only around these calls; none of those allocates (accounts are made in two
 * steps, see qos_account_alloc()).
 *
 * Life of a request:
 *   qos_enqueue()  -> queued on its account (or refused: QOS_QUEUE_FULL)
 *   qos_pick()     -> a pool slot is free: the scheduler chooses the next request to run
 *                     across all accounts; it leaves the queue and counts as running
 *   qos_complete() -> the backend finished it; cost_ns (its real backend time) is charged
 *                     to its account
 * A queued request may leave early with qos_cancel() (its client vanished) or
 * qos_expired() (it waited longer than its account's queue_timeout_ms).
 * A pinned or in-transaction client runs on its own backend connection and does not
 * queue: it reports its cost with qos_charge() so that its account is still billed.
 */
#ifndef SLUICE_QOS_H
#define SLUICE_QOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QOS_DEFAULT_MAX_QUEUE        10000
#define QOS_DEFAULT_QUEUE_TIMEOUT_MS 120000

/* The rules of one account that the scheduler enforces (max_connections is the
 * gateway's business). Zero means "none" for max_qps and queue_timeout_ms; a zero
 * max_queue means QOS_DEFAULT_MAX_QUEUE; weight 0 is treated as 1. */
struct qos_limits {
	uint32_t weight;           /* share of backend time among busy accounts */
	uint32_t reservation;      /* backend connections guaranteed while it has work */
	uint32_t max_qps;          /* token bucket rate, queries per second; 0 = none */
	uint32_t max_queue;        /* queued requests at once; 0 = default */
	uint32_t queue_timeout_ms; /* longest wait in the queue; 0 = none */
};

struct qos;
struct qos_account;

/* One request, embedded by the caller in its own object (container_of to get back).
 * The caller sets ->account before qos_enqueue(); every other field is private. */
struct qos_req {
	struct qos_account *account; /* borrowed; the caller holds a reference */
	uint32_t affinity;           /* set by the caller: see qos_pick_affine() */
	uint64_t enqueued_ns;        /* set by qos_enqueue() */
	uint64_t started_ns;         /* set by qos_pick() */
	/* private to qos: */
	struct qos_req *q_next; /* FIFO link inside the account queue */
	struct qos_req *q_prev;
	uint64_t vstart; /* virtual start tag */
	uint32_t state;  /* queued / running / idle */
};

enum qos_verdict {
	QOS_OK = 0,     /* queued */
	QOS_QUEUE_FULL, /* the account already has max_queue requests queued */
};

/* Per-account numbers for the stats; a snapshot. */
struct qos_account_stats {
	uint32_t queued;        /* requests waiting now */
	uint32_t running;       /* requests on a backend now (picked, not completed) */
	uint64_t service_ns;    /* total backend time charged so far */
	uint64_t picked_total;  /* requests that left the queue to run */
	uint64_t expired_total; /* requests that timed out in the queue */
	uint64_t refused_total; /* requests refused because the queue was full */
	uint64_t est_ns;        /* moving average of its request costs (what a pick charges) */
};

/* A scheduler for a pool of `slots` backend connections. NULL on allocation failure. */
struct qos *qos_new(uint32_t slots);
void qos_free(struct qos *q);
/* The pool size changed (e.g. live); running requests are unaffected. */
void qos_set_slots(struct qos *q, uint32_t slots);

/*
 * A new account is made in two steps, so that the caller's lock around q never covers an
 * allocation: qos_account_alloc() without the lock (it touches nothing of q's), then
 * qos_account_add() under it. Adding needs a slot in each of q's heaps: qos_room_need()
 * (under the lock) says how large they must grow for `more` accounts, 0 when they have
 * the room; qos_room_alloc() makes arrays that large (without the lock); qos_room_swap()
 * (under the lock) puts them in place when still larger, handing the old ones back in r
 * for qos_room_free() (without the lock). An account never added is freed with
 * qos_account_discard(). `id` is the caller's stable identifier (the rules store's row
 * id); a new account holds one reference.
 */
#define QOS_HEAPS 4
struct qos_room {
	struct qos_account **v[QOS_HEAPS];
	uint32_t cap;
};
struct qos_account *qos_account_alloc(uint64_t id, const struct qos_limits *lim);
void qos_account_discard(struct qos_account *a);
uint32_t qos_room_need(const struct qos *q, uint32_t more);
bool qos_room_alloc(struct qos_room *r, uint32_t cap);
void qos_room_swap(struct qos *q, struct qos_room *r);
void qos_room_free(struct qos_room *r);
/* false when q has no slot for it (no room made first): a is not q's then. */
bool qos_account_add(struct qos *q, struct qos_account *a);
/* Both steps at once, for a caller without a lock around q. NULL when out of memory. */
struct qos_account *qos_account_new(struct qos *q, uint64_t id, const struct qos_limits *lim);
void qos_account_retain(struct qos_account *a);
/* Drop one reference; the account is freed once no reference and no request remain. */
void qos_account_release(struct qos *q, struct qos_account *a);
/* Change the limits live. Queued and running requests keep their place. */
void qos_account_set_limits(struct qos *q, struct qos_account *a, const struct qos_limits *lim);
uint64_t qos_account_id(const struct qos_account *a);
void qos_account_get_stats(const struct qos_account *a, struct qos_account_stats *out);

enum qos_verdict qos_enqueue(struct qos *q, struct qos_req *r, uint64_t now_ns);
/* A backend connection is free: the next request to start on it, or NULL when nothing may
 * run now (no work, or every account with work is held back by its max_qps). */
struct qos_req *qos_pick(struct qos *q, uint64_t now_ns);
/* Like qos_pick(): the account is chosen exactly as there, but among that account's first
 * QOS_AFFINITY_SCAN queued requests the oldest whose ->affinity equals aff is taken
 * instead of the head (the gateway passes its worker, so a free connection goes to a
 * client on the same thread when the account has one waiting). Accounts stay FIFO up to
 * that window; fairness between accounts is unchanged. */
#define QOS_AFFINITY_SCAN 8
struct qos_req *qos_pick_affine(struct qos *q, uint64_t now_ns, uint32_t aff);
/* A picked request finished after cost_ns of backend time. */
void qos_complete(struct qos *q, struct qos_req *r, uint64_t cost_ns, uint64_t now_ns);
/* Bill cost_ns of backend time to an account for work that did not queue (pinned). */
void qos_charge(struct qos *q, struct qos_account *a, uint64_t cost_ns, uint64_t now_ns);
/* Is a within its share: its start tag ahead of the virtual time by at most
 * QOS_SHARE_LEAD of its average requests, or by one average request of the account
 * whose turn is next, whichever is more? Work of such an account may run ahead of the
 * queue (billed with qos_charge) without taking what others are owed: the lead is
 * bounded, so over time the account gets its weight's share and no more. A few requests,
 * not one: the question comes right after a request was billed, and half of them cost
 * more than the average, or while several of the account's statements end together. And
 * the next account's request: the virtual time moves in its steps, so when its requests
 * are long (1 s scans) a light account stays within its share between two of them. */
#define QOS_SHARE_LEAD 4
bool qos_account_within_share(struct qos *q, const struct qos_account *a, uint64_t now_ns);
/* Remove a queued request; false if it was not queued. */
bool qos_cancel(struct qos *q, struct qos_req *r);
/* Remove and return one queued request that has waited past its account's
 * queue_timeout_ms; NULL when none has. Call repeatedly until NULL. */
struct qos_req *qos_expired(struct qos *q, uint64_t now_ns);
/* The earliest time at which qos_pick() or qos_expired() may return something new
 * without any other call in between (a token refill, a timeout); UINT64_MAX if never. */
uint64_t qos_next_event_ns(const struct qos *q, uint64_t now_ns);
/* Requests queued across all accounts. */
size_t qos_queued_total(const struct qos *q);
/* Requests picked and not yet completed, across all accounts. */
size_t qos_running_total(const struct qos *q);
/* Is an account with queued work below its reservation? Its next request is owed a
 * backend connection whatever else runs. */
bool qos_reserve_waiting(const struct qos *q);

#endif
