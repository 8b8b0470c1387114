/*
 * metrics.c - GET /metrics: the statistics in Prometheus text format 0.0.4.
 *
 * Owns: metric names, their HELP and TYPE lines and label escaping. Must not touch:
 * gateway objects (numbers come from hooks.stats, like /v1/stats).
 *
 * Naming follows Prometheus conventions: base units (seconds), counters end in _total,
 * one family per quantity with an account="..." or backend="..." label.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "admin/adm_int.h"

/* Label value escaping of the text format: backslash, double quote and line feed. */
static void adm_metric_label(struct adm_buf *b, const char *v)
{
	for (; *v; v++) {
		switch (*v) {
		case '\\':
			adm_buf_append(b, "\\\\", 2);
			break;
		case '"':
			adm_buf_append(b, "\\\"", 2);
			break;
		case '\n':
			adm_buf_append(b, "\\n", 2);
			break;
		default:
			adm_buf_append(b, v, 1);
			break;
		}
	}
}

const double adm_latency_bounds_s[ADM_LATENCY_BUCKETS] = {
	0.000064, 0.000256, 0.001024, 0.004096, 0.016384,
	0.065536, 0.262144, 1.048576, 4.194304, 16.777216,
};

static void adm_metric_head(struct adm_buf *b, const char *name, const char *type, const char *help)
{
	adm_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void adm_metric_double(struct adm_buf *b, double v)
{
	if (isnan(v))
		adm_buf_printf(b, " NaN\n");
	else if (isinf(v))
		adm_buf_printf(b, " %cInf\n", v > 0 ? '+' : '-');
	else
		adm_buf_printf(b, " %.17g\n", v);
}

/* One sample: name{label="value"[,quantile="q"]} v */
static void adm_metric_start(struct adm_buf *b, const char *name, const char *label,
                             const char *value, const char *quantile)
{
	adm_buf_printf(b, "%s{%s=\"", name, label);
	adm_metric_label(b, value);
	if (quantile)
		adm_buf_printf(b, "\",quantile=\"%s\"}", quantile);
	else
		adm_buf_append(b, "\"}", 2);
}

/* How a family's number is kept in its stats struct. */
enum adm_metric_kind {
	ADM_METRIC_U64 = 0, /* uint64_t */
	ADM_METRIC_U32,     /* uint32_t */
	ADM_METRIC_DOUBLE,  /* double */
	ADM_METRIC_NS,      /* uint64_t nanoseconds, shown in seconds */
};

/* A family with one sample per account or backend: the number at off in each one's
 * stats struct (struct adm_account_stats or adm_backend_stats). */
struct adm_metric_family {
	const char *name;          /* metric name */
	const char *type;          /* "counter" or "gauge" */
	const char *help;          /* HELP text */
	enum adm_metric_kind kind; /* the number's C type */
	size_t off;                /* offsetof the number in the stats struct */
};

#define ADM_ACC(field) offsetof(struct adm_account_stats, field)
#define ADM_BE(field)  offsetof(struct adm_backend_stats, field)

static const struct adm_metric_family adm_acc_families[] = {
	{ "sluice_account_queries_total", "counter", "Requests completed.", ADM_METRIC_U64,
	  ADM_ACC(queries_total) },
	{ "sluice_account_rejected_total", "counter",
	  "Requests refused: queue full, queue timeout or max_connections.", ADM_METRIC_U64,
	  ADM_ACC(rejected_total) },
	{ "sluice_account_backend_seconds_total", "counter", "Backend time charged.", ADM_METRIC_NS,
	  ADM_ACC(backend_ns_total) },
	{ "sluice_account_connections", "gauge", "Client connections now.", ADM_METRIC_U32,
	  ADM_ACC(connections) },
	{ "sluice_account_active", "gauge", "Requests running on a backend now.", ADM_METRIC_U32,
	  ADM_ACC(active) },
	{ "sluice_account_queued", "gauge", "Requests waiting in the queue now.", ADM_METRIC_U32,
	  ADM_ACC(queued) },
	{ "sluice_account_pinned", "gauge", "Clients pinned to a backend connection now.",
	  ADM_METRIC_U32, ADM_ACC(pinned) },
	{ "sluice_account_qps", "gauge", "Recent queries per second.", ADM_METRIC_DOUBLE,
	  ADM_ACC(qps) },
	{ "sluice_account_backend_time_share", "gauge", "Share of recent backend time, 0 to 1.",
	  ADM_METRIC_DOUBLE, ADM_ACC(backend_time_share) },
};

static const struct adm_metric_family adm_be_families[] = {
	{ "sluice_backend_pool_size", "gauge", "Backend connections configured.", ADM_METRIC_U32,
	  ADM_BE(pool_size) },
	{ "sluice_backend_max_active", "gauge",
	  "Queued statements that may run at once (--max-active; the pool size by default).",
	  ADM_METRIC_U32, ADM_BE(max_active) },
	{ "sluice_backend_connections", "gauge", "Backend connections up.", ADM_METRIC_U32,
	  ADM_BE(connected) },
	{ "sluice_backend_busy", "gauge", "Backend connections running a request or pinned.",
	  ADM_METRIC_U32, ADM_BE(busy) },
	{ "sluice_backend_connect_failures_total", "counter",
	  "Failed attempts to connect to the backend.", ADM_METRIC_U64,
	  ADM_BE(connect_failures_total) },
	{ "sluice_backend_account_switches_total", "counter",
	  "Connections handed from one account to another (COM_CHANGE_USER).", ADM_METRIC_U64,
	  ADM_BE(account_switches_total) },
	{ "sluice_backend_held_hits_total", "counter",
	  "Statements that took a connection held for their account (--anticipate-ms).",
	  ADM_METRIC_U64, ADM_BE(held_hits_total) },
	{ "sluice_backend_spare_runs_total", "counter",
	  "Statements of sparse accounts run on a spare connection above --max-active.",
	  ADM_METRIC_U64, ADM_BE(spare_runs_total) },
};

/* adm_metric_families() finds each row's label value at the start of its struct. */
_Static_assert(offsetof(struct adm_account_stats, name) == 0, "name first");
_Static_assert(offsetof(struct adm_backend_stats, name) == 0, "name first");

/* Every family of fams, each with a sample per row: n rows of size bytes from rows,
 * labelled label="<the row's name>". */
static void adm_metric_families(struct adm_buf *b, const struct adm_metric_family *fams,
                                size_t n_fams, const char *label, const void *rows, size_t n,
                                size_t size)
{
	for (size_t f = 0; f < n_fams; f++) {
		const struct adm_metric_family *fam = &fams[f];

		adm_metric_head(b, fam->name, fam->type, fam->help);
		for (size_t i = 0; i < n; i++) {
			const char *row = (const char *)rows + i * size;
			const void *v = row + fam->off;

			adm_metric_start(b, fam->name, label, row, NULL);
			switch (fam->kind) {
			case ADM_METRIC_U64:
				adm_buf_printf(b, " %" PRIu64 "\n", *(const uint64_t *)v);
				break;
			case ADM_METRIC_U32:
				adm_buf_printf(b, " %" PRIu32 "\n", *(const uint32_t *)v);
				break;
			case ADM_METRIC_DOUBLE:
				adm_metric_double(b, *(const double *)v);
				break;
			case ADM_METRIC_NS:
				adm_metric_double(b, (double)*(const uint64_t *)v / 1e9);
				break;
			}
		}
	}
}

static void adm_metrics_accounts(struct adm_buf *b, const struct adm_stats *s)
{
	static const char *const quantile[] = { "0.5", "0.95", "0.99" };

	adm_metric_families(b, adm_acc_families,
	                    sizeof adm_acc_families / sizeof adm_acc_families[0], "account",
	                    s->accounts, s->n_accounts, sizeof s->accounts[0]);
	adm_metric_head(b, "sluice_account_latency_recent_seconds", "gauge",
	                "Request latency quantiles over the last 10 s, queue wait included.");
	for (size_t i = 0; i < s->n_accounts; i++) {
		const struct adm_account_stats *a = &s->accounts[i];
		const double ms[] = { a->p50_ms, a->p95_ms, a->p99_ms };

		for (size_t q = 0; q < sizeof ms / sizeof ms[0]; q++) {
			adm_metric_start(b, "sluice_account_latency_recent_seconds", "account",
			                 a->name, quantile[q]);
			adm_metric_double(b, ms[q] / 1000.0);
		}
	}
	adm_metric_head(b, "sluice_account_latency_seconds", "histogram",
	                "Request latency since start, queue wait included.");
	for (size_t i = 0; i < s->n_accounts; i++) {
		const struct adm_account_stats *a = &s->accounts[i];

		for (size_t k = 0; k < ADM_LATENCY_BUCKETS; k++) {
			adm_buf_printf(b, "sluice_account_latency_seconds_bucket{account=\"");
			adm_metric_label(b, a->name);
			adm_buf_printf(b, "\",le=\"%.9g\"} %" PRIu64 "\n", adm_latency_bounds_s[k],
			               a->latency_le[k]);
		}
		adm_buf_printf(b, "sluice_account_latency_seconds_bucket{account=\"");
		adm_metric_label(b, a->name);
		adm_buf_printf(b, "\",le=\"+Inf\"} %" PRIu64 "\n", a->latency_count);
		adm_metric_start(b, "sluice_account_latency_seconds_sum", "account", a->name, NULL);
		adm_metric_double(b, a->latency_sum_s);
		adm_metric_start(b, "sluice_account_latency_seconds_count", "account", a->name,
		                 NULL);
		adm_buf_printf(b, " %" PRIu64 "\n", a->latency_count);
	}
	adm_metric_head(b, "sluice_account_rejected_by_reason_total", "counter",
	                "Requests refused, by reason.");
	for (size_t i = 0; i < s->n_accounts; i++) {
		const struct adm_account_stats *a = &s->accounts[i];
		const char *const reason[] = { "queue_full", "queue_timeout", "max_connections",
			                       "max_pinned" };
		const uint64_t v[] = { a->rejected_queue_full, a->rejected_queue_timeout,
			               a->rejected_max_connections, a->rejected_max_pinned };

		for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
			adm_buf_printf(b, "sluice_account_rejected_by_reason_total{account=\"");
			adm_metric_label(b, a->name);
			adm_buf_printf(b, "\",reason=\"%s\"} %" PRIu64 "\n", reason[k], v[k]);
		}
	}
}

void adm_metrics_get(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	struct adm_buf b = { 0 };
	struct adm_stats s;

	if (!adm_stats_collect(ctx, &s, rp))
		return;
	adm_metrics_accounts(&b, &s);
	adm_metric_families(&b, adm_be_families, sizeof adm_be_families / sizeof adm_be_families[0],
	                    "backend", s.backends, s.n_backends, sizeof s.backends[0]);
	adm_metric_head(&b, "sluice_clients", "gauge", "Client connections now.");
	adm_buf_printf(&b, "sluice_clients %" PRIu64 "\n", s.clients);
	adm_metric_head(&b, "sluice_uptime_seconds", "gauge", "Seconds since sluice started.");
	adm_buf_printf(&b, "sluice_uptime_seconds %" PRIu64 "\n", s.uptime_s);
	adm_metric_head(&b, "sluice_rules_generation", "gauge",
	                "Generation of the rules store; bumped by every committed change.");
	adm_buf_printf(&b, "sluice_rules_generation %" PRId64 "\n", store_generation(ctx->store));
	adm_metric_head(&b, "sluice_publish_failures_total", "counter",
	                "Committed changes the gateway could not apply.");
	adm_buf_printf(&b, "sluice_publish_failures_total %" PRIu64 "\n", ctx->publish_failures);
	adm_stats_free(&s);

	if (b.failed || !b.p) {
		adm_buf_free(&b);
		adm_reply_error(rp, ADM_HTTP_INTERNAL, "out of memory");
		return;
	}
	rp->status = ADM_HTTP_OK;
	rp->body = b.p; /* ownership passes to the reply */
	rp->body_len = b.len;
	rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
