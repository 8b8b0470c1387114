/*
 * stats_api.c - GET /v1/stats: the gateway's numbers as JSON.
 *
 * Owns: the JSON shape of the statistics (the dashboard reads it) and adm_stats_free().
 * Must not touch: gateway objects; the numbers come only from hooks.stats, which hands
 * over a snapshot that this file frees.
 */
#include "config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "admin/adm_int.h"

void adm_stats_free(struct adm_stats *s)
{
	if (!s)
		return;
	free(s->accounts);
	s->accounts = NULL;
	s->n_accounts = 0;
	free(s->backends);
	s->backends = NULL;
	s->n_backends = 0;
}

bool adm_stats_collect(struct adm_ctx *ctx, struct adm_stats *out, struct adm_reply *rp)
{
	memset(out, 0, sizeof *out);
	if (!ctx->hooks.stats || !ctx->hooks.stats(ctx->hooks.ud, out)) {
		adm_stats_free(out);
		adm_reply_error(rp, ADM_HTTP_UNAVAILABLE, "statistics are not available");
		return false;
	}
	return true;
}

/* New reference (NULL on OOM). */
static json_t *adm_account_stats_json(const struct adm_account_stats *a)
{
	return json_pack(
	    "{s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:{s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:o}, "
	    "s:o, "
	    "s:o}",
	    "name", a->name, "queries_total", adm_json_u64(a->queries_total), "qps",
	    adm_json_real(a->qps), "active", (json_int_t)a->active, "queued", (json_int_t)a->queued,
	    "pinned", (json_int_t)a->pinned, "connections", (json_int_t)a->connections,
	    "rejected_total", adm_json_u64(a->rejected_total), "rejected", "queue_full",
	    adm_json_u64(a->rejected_queue_full), "queue_timeout",
	    adm_json_u64(a->rejected_queue_timeout), "max_connections",
	    adm_json_u64(a->rejected_max_connections), "max_pinned",
	    adm_json_u64(a->rejected_max_pinned), "latency_ms", "p50", adm_json_real(a->p50_ms),
	    "p95", adm_json_real(a->p95_ms), "p99", adm_json_real(a->p99_ms), "backend_time_share",
	    adm_json_real(a->backend_time_share), "backend_time_ms_total",
	    adm_json_real((double)a->backend_ns_total / 1e6));
}

/* New reference (NULL on OOM). */
static json_t *adm_backend_stats_json(const struct adm_backend_stats *b)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:s}", "name", b->name,
	                 "addr", b->addr, "pool_size", (json_int_t)b->pool_size, "max_active",
	                 (json_int_t)b->max_active, "connected", (json_int_t)b->connected, "busy",
	                 (json_int_t)b->busy, "connect_failures_total",
	                 adm_json_u64(b->connect_failures_total), "account_switches_total",
	                 adm_json_u64(b->account_switches_total), "held_hits_total",
	                 adm_json_u64(b->held_hits_total), "spare_runs_total",
	                 adm_json_u64(b->spare_runs_total), "last_error", b->last_error);
}

void adm_stats_get(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	struct adm_stats s;
	json_t *accounts, *backends; /* new references, stolen by json_pack's "o" */

	if (!adm_stats_collect(ctx, &s, rp))
		return;
	accounts = json_array();
	backends = json_array();
	for (size_t i = 0; accounts && i < s.n_accounts; i++)
		json_array_append_new(accounts, adm_account_stats_json(&s.accounts[i]));
	for (size_t i = 0; backends && i < s.n_backends; i++)
		json_array_append_new(backends, adm_backend_stats_json(&s.backends[i]));
	/* json_pack steals both arrays even when it fails, so nothing leaks on OOM. */
	adm_reply_json(rp, ADM_HTTP_OK,
	               json_pack("{s:o, s:o, s:o, s:o, s:I}", "accounts", accounts, "backends",
	                         backends, "clients", adm_json_u64(s.clients), "uptime_s",
	                         adm_json_u64(s.uptime_s), "generation",
	                         (json_int_t)store_generation(ctx->store)));
	adm_stats_free(&s);
}
