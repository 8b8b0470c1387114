/*
 * admin.h - the embedded HTTP admin API (libmicrohttpd + jansson).
 *
 * Owns: the libmicrohttpd daemon and its thread, the route table, bearer-token checks,
 * JSON in and out, the dashboard page. Must not touch gateway objects: it reaches the
 * gateway only through struct adm_hooks, and the rules only through the store.
 */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/store.h"

/* The latency histogram's bucket bounds: 2^(2k+6) microseconds, 64 us to 16.8 s. */
#define ADM_LATENCY_BUCKETS 10
extern const double adm_latency_bounds_s[ADM_LATENCY_BUCKETS];

/* Per-account numbers, as GET /v1/stats and /metrics show them. */
struct adm_account_stats {
	char name[STORE_NAME_MAX + 1];
	uint64_t queries_total;        /* completed requests */
	uint64_t rejected_total;       /* refused: queue full, queue timeout, max_connections,
	                                * max_pinned */
	uint64_t backend_ns_total;     /* backend time charged */
	uint32_t connections;          /* client connections now */
	uint32_t active;               /* requests on a backend now */
	uint32_t queued;               /* requests waiting now */
	uint32_t pinned;               /* clients pinned to a backend connection now */
	double qps;                    /* recent rate (last few seconds) */
	double p50_ms, p95_ms, p99_ms; /* recent latency, queue wait included */
	double backend_time_share;     /* this account's share of recent backend time, 0..1 */
	uint64_t rejected_queue_full;  /* rejected_total, by reason */
	uint64_t rejected_queue_timeout;
	uint64_t rejected_max_connections;
	uint64_t rejected_max_pinned;
	/* All-time latency histogram (queue wait included): latency_le[i] counts requests
	 * that took at most adm_latency_bounds_s[i] seconds (cumulative). */
	uint64_t latency_le[ADM_LATENCY_BUCKETS];
	uint64_t latency_count;
	double latency_sum_s;
};

struct adm_backend_stats {
	char name[STORE_NAME_MAX + 1];
	char addr[300]; /* host:port */
	uint32_t pool_size;
	uint32_t max_active; /* queued statements running at once (--max-active) */
	uint32_t connected;  /* backend connections up */
	uint32_t busy;       /* running a request or pinned */
	uint64_t connect_failures_total;
	uint64_t account_switches_total; /* COM_CHANGE_USER sent to hand a connection over */
	uint64_t held_hits_total;        /* statements that took a connection held for them */
	uint64_t spare_runs_total;       /* statements that took a spare one (--max-active) */
	char last_error[256];            /* "" when none */
};

struct adm_stats {
	struct adm_account_stats *accounts; /* owned (malloc) */
	size_t n_accounts;
	struct adm_backend_stats *backends; /* owned (malloc) */
	size_t n_backends;
	uint64_t clients; /* client connections now */
	uint64_t uptime_s;
};

void adm_stats_free(struct adm_stats *s);

struct adm_hooks {
	void *ud;
	/* A change was committed to the store: rebuild the gateway's rule snapshot from it
	 * (called on the admin thread, which owns the store). false + err when the new
	 * snapshot could not be built; the old one stays in force. */
	bool (*publish)(void *ud, struct store *st, char *err, size_t errlen);
	/* Fill a stats snapshot; the caller frees it with adm_stats_free(). */
	bool (*stats)(void *ud, struct adm_stats *out);
	uint32_t pool_size; /* for the reservation-sum check */
};

/* Start serving on addr ("HOST:PORT"). The store is owned by the admin thread from
 * now on. false + err if the address is bad or the port is taken. */
bool adm_start(const char *addr, const char *token, struct store *st, const struct adm_hooks *hooks,
               char *err, size_t errlen);
/* Stop serving; returns once the daemon's thread has ended. The store is the caller's
 * again afterwards (adm_stop() does not close it). */
void adm_stop(void);
/* The TCP port actually bound (useful with port 0 in adm_start()); 0 when not running. */
uint16_t adm_port(void);

#endif
