/*
 * http.c - the admin API's libmicrohttpd daemon: routes, bearer tokens, bodies, replies.
 *
 * Owns: the one daemon (MHD_USE_INTERNAL_POLLING_THREAD: a single thread runs every
 * request, so the handlers and the store need no lock), the route table, the token, the
 * request-body accumulation (capped at ADM_BODY_MAX) and the health counters.
 * Must not touch: gateway objects; it reaches them only through struct adm_hooks.
 *
 * Checks happen in this order, all before the body is read: a Host or Origin that a web
 * page in a browser would send 403 (adm_request_allowed(): issue 11, DNS rebinding and
 * cross-site requests), unknown path 404, method not served on that path 405, missing or wrong
 * token 401, POST/PATCH without a JSON Content-Type 415, declared Content-Length over the cap 413.
 * A chunked body that grows past the cap is discarded as it arrives and answered 413 at its end.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "admin/adm_int.h"
#include "admin/admin.h"

#define ADM_ARG_MAX 256 /* longest {name} path segment kept; longer ones are 404 */

/* One entry per (method, path) served. */
struct adm_route {
	const char *method; /* "GET", "POST", "PATCH" or "DELETE" */
	const char *path;   /* exact path, or the prefix before {name} */
	bool has_arg;       /* path is followed by one {name} segment */
	bool auth;          /* needs the bearer token */
	adm_handler_fn fn;  /* the handler */
};

/* Per-request state, from the first call of the access handler to the completion
 * callback (libmicrohttpd's con_cls). */
struct adm_conn {
	const struct adm_route *route; /* borrowed (static table) */
	char arg[ADM_ARG_MAX + 1];     /* the {name} segment, "" when the route has none */
	char *body;                    /* owned (malloc); NUL-terminated; NULL until data */
	size_t body_len;               /* bytes in body */
	bool too_large;                /* the body passed ADM_BODY_MAX; the rest is dropped */
};

static void adm_health_get(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp);

static const struct adm_route adm_routes[] = {
	{ "GET", "/v1/health", false, false, adm_health_get },
	/* The page is static and holds no data; everything it shows comes from /v1/stats,
	 * which needs the token (a browser cannot send one to load the page itself). */
	{ "GET", "/", false, false, adm_dashboard_get },
	{ "GET", "/v1/accounts", false, true, adm_accounts_list },
	{ "POST", "/v1/accounts", false, true, adm_accounts_create },
	{ "GET", "/v1/accounts/", true, true, adm_accounts_get },
	{ "PATCH", "/v1/accounts/", true, true, adm_accounts_patch },
	{ "DELETE", "/v1/accounts/", true, true, adm_accounts_delete },
	{ "GET", "/v1/backends", false, true, adm_backends_list },
	{ "POST", "/v1/backends", false, true, adm_backends_create },
	{ "GET", "/v1/backends/", true, true, adm_backends_get },
	{ "PATCH", "/v1/backends/", true, true, adm_backends_patch },
	{ "DELETE", "/v1/backends/", true, true, adm_backends_delete },
	{ "GET", "/v1/stats", false, true, adm_stats_get },
	{ "GET", "/metrics", false, true, adm_metrics_get },
};

static struct adm_ctx adm_g;          /* the running API's state; valid while adm_daemon */
static struct MHD_Daemon *adm_daemon; /* owned; NULL when not running */

/* ---- growable text ---- */

void adm_buf_append(struct adm_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 1024;
		char *np;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void adm_buf_printf(struct adm_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		adm_buf_append(b, small, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);

		if (!big) {
			b->failed = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		adm_buf_append(b, big, (size_t)n);
		free(big);
	}
}

void adm_buf_free(struct adm_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- replies ---- */

static void adm_reply_reset(struct adm_reply *rp)
{
	if (!rp->body_static)
		free(rp->body);
	memset(rp, 0, sizeof *rp);
}

/* The fallback when even an error body cannot be built. */
static void adm_reply_static(struct adm_reply *rp, unsigned status, const char *body)
{
	adm_reply_reset(rp);
	rp->status = status;
	rp->body = (char *)(uintptr_t)body; /* static; body_static keeps it from free() */
	rp->body_len = strlen(body);
	rp->body_static = true;
}

void adm_reply_json(struct adm_reply *rp, unsigned status, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL; /* owned (jansson malloc) */

	json_decref(obj);
	if (!text) {
		adm_reply_static(rp, ADM_HTTP_INTERNAL, "{\"error\":\"out of memory\"}");
		return;
	}
	adm_reply_reset(rp);
	rp->status = status;
	rp->body = text;
	rp->body_len = strlen(text);
}

void adm_reply_error(struct adm_reply *rp, unsigned status, const char *fmt, ...)
{
	char msg[ADM_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	adm_reply_json(rp, status, json_pack("{s:s}", "error", msg));
}

void adm_reply_store_error(struct adm_reply *rp, struct store *st, const char *err)
{
	unsigned status = ADM_HTTP_INTERNAL;

	switch (store_last_status(st)) {
	case STORE_OK:
	case STORE_DB:
		status = ADM_HTTP_INTERNAL;
		break;
	case STORE_INVALID:
		status = ADM_HTTP_BAD_REQUEST;
		break;
	case STORE_EXISTS:
	case STORE_CONFLICT:
		status = ADM_HTTP_CONFLICT;
		break;
	case STORE_NOT_FOUND:
		status = ADM_HTTP_NOT_FOUND;
		break;
	}
	adm_reply_error(rp, status, "%s", err);
}

void adm_reply_list(struct adm_reply *rp, const char *key, const void *rows, size_t n, size_t size,
                    adm_to_json_fn to_json)
{
	json_t *arr = json_array(); /* new reference */

	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, to_json((const char *)rows + i * size)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	adm_reply_json(rp, ADM_HTTP_OK, arr ? json_pack("{s:o}", key, arr) : NULL); /* steals arr */
}

void adm_reply_created(struct adm_reply *rp, json_t *obj, const char *collection, const char *name)
{
	adm_reply_json(rp, ADM_HTTP_CREATED, obj);
	if (rp->status == ADM_HTTP_CREATED) /* the Location survives only a real reply */
		snprintf(rp->location, sizeof rp->location, "%s/%s", collection, name);
}

bool adm_rule_read(struct adm_ctx *ctx, const struct adm_rule_kind *kind, const struct adm_req *rq,
                   const char *url_name, void *row, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	const char *name;
	json_t *obj; /* new reference */
	bool found, ok;

	if (!adm_json_parse_named(rq->body, rq->body_len, kind->fields, url_name, kind->what, &obj,
	                          &name, err, sizeof err)) {
		adm_reply_error(rp, ADM_HTTP_BAD_REQUEST, "%s", err);
		return false;
	}
	if (!url_name) {
		kind->init(row, name);
	} else if (!kind->get(ctx->store, name, row, &found, err, sizeof err)) {
		json_decref(obj);
		adm_reply_store_error(rp, ctx->store, err);
		return false;
	}
	if (!url_name && kind->required && !json_object_get(obj, kind->required)) {
		snprintf(err, sizeof err, "%s is required", kind->required);
		ok = false;
	} else {
		ok = kind->apply(obj, row, err, sizeof err);
	}
	json_decref(obj);
	if (!ok)
		adm_reply_error(rp, ADM_HTTP_BAD_REQUEST, "%s", err);
	return ok;
}

bool adm_publish(struct adm_ctx *ctx, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX] = "";
	int64_t gen;

	if (!ctx->hooks.publish || ctx->hooks.publish(ctx->hooks.ud, ctx->store, err, sizeof err)) {
		ctx->publishes++;
		snprintf(ctx->last_publish, sizeof ctx->last_publish, "ok");
		return true;
	}
	ctx->publish_failures++;
	snprintf(ctx->last_publish, sizeof ctx->last_publish, "%s",
	         err[0] ? err : "publish failed");
	gen = store_generation(ctx->store);
	/* The write is committed and stays so: the store is the truth, and the next
	 * successful publish (after any later change) carries it to the gateway. */
	adm_reply_json(rp, ADM_HTTP_INTERNAL,
	               json_pack("{s:s+, s:b, s:I}", "error",
	                         "the change was saved but the gateway could not apply it; the "
	                         "previous rules stay in force: ",
	                         ctx->last_publish, "committed", 1, "generation", (json_int_t)gen));
	return false;
}

/* GET /v1/health: no token needed; enough for a load balancer or a human to see that
 * the API runs and whether the last change reached the gateway. */
static void adm_health_get(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	adm_reply_json(rp, ADM_HTTP_OK,
	               json_pack("{s:s, s:I, s:I, s:s, s:o, s:o}", "status", "ok", "generation",
	                         (json_int_t)store_generation(ctx->store), "schema_version",
	                         (json_int_t)store_schema_version(ctx->store), "last_publish",
	                         ctx->last_publish, "publishes", adm_json_u64(ctx->publishes),
	                         "publish_failures", adm_json_u64(ctx->publish_failures)));
}

/* Turn a reply into a libmicrohttpd response, queue it and drop our reference. */
static enum MHD_Result adm_queue(struct MHD_Connection *c, struct adm_reply *rp, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rp->status == ADM_HTTP_NO_CONTENT || !rp->body) {
		unsigned status = rp->status ? rp->status : ADM_HTTP_NO_CONTENT;

		adm_reply_reset(rp);
		rp->status = status;
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t) "",
		                                       MHD_RESPMEM_PERSISTENT);
	} else if (rp->body_static) {
		resp =
		    MHD_create_response_from_buffer(rp->body_len, rp->body, MHD_RESPMEM_PERSISTENT);
	} else {
		/* libmicrohttpd takes the malloc'ed body over and free()s it. */
		resp =
		    MHD_create_response_from_buffer(rp->body_len, rp->body, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(rp->body);
		rp->body = NULL;
	}
	if (!resp)
		return MHD_NO;
	if (rp->body_len > 0)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        rp->content_type ? rp->content_type : "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (rp->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, rp->location);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (rp->status == ADM_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Bearer realm=\"sluice admin\"");
	if (rp->dashboard) {
		MHD_add_response_header(resp, "Content-Security-Policy",
		                        "default-src 'none'; script-src 'unsafe-inline'; "
		                        "style-src 'unsafe-inline'; connect-src 'self'; "
		                        "img-src data:; base-uri 'none'; form-action 'none'; "
		                        "frame-ancestors 'none'");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	}
	ret = MHD_queue_response(c, rp->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- routing and checks ---- */

/* Does url name this route's path? For {name} routes, *arg gets the segment (borrowed
 * from url). */
static bool adm_route_match(const struct adm_route *r, const char *url, const char **arg)
{
	size_t plen = strlen(r->path);

	*arg = NULL;
	if (!r->has_arg)
		return strcmp(url, r->path) == 0;
	if (strncmp(url, r->path, plen) != 0 || url[plen] == '\0' || strchr(url + plen, '/'))
		return false;
	*arg = url + plen;
	return true;
}

/* Find the route for (method, url). NULL with *path_known true when the path exists under
 * other methods, listed in allow (for 405's Allow header). HEAD is served as GET. */
static const struct adm_route *adm_route_find(const char *method, const char *url, const char **arg,
                                              bool *path_known, char *allow, size_t allowlen)
{
	const char *m = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 ? MHD_HTTP_METHOD_GET : method;

	*path_known = false;
	allow[0] = '\0';
	for (size_t i = 0; i < sizeof adm_routes / sizeof adm_routes[0]; i++) {
		const struct adm_route *r = &adm_routes[i];
		const char *a;

		if (!adm_route_match(r, url, &a))
			continue;
		if (strcmp(r->method, m) == 0) {
			*arg = a;
			return r;
		}
		*path_known = true;
		if (strlen(allow) + strlen(r->method) + 3 < allowlen) {
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, r->method);
		}
	}
	return NULL;
}

/* ---- where a request comes from (issue 11) ----
 *
 * Without a token the API trusts whoever can reach its loopback socket. A web page in
 * an operator's browser can reach it too: by DNS rebinding (its own name, then resolved
 * to 127.0.0.1, so the browser treats the API as the page's own origin and sends
 * anything), or by a plain cross-site request. The first carries the page's name in
 * Host, the second the page's origin in Origin; a browser sets both itself and no page
 * can forge them. So without a token only a loopback Host and no foreign Origin are
 * served. A missing Host (HTTP/1.0) is served: no browser sends a request without one.
 */

/* A decimal port after a host: 1 to 5 digits, at most 65535; s is past the ':'. */
static bool adm_is_port(const char *s, size_t n)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v <= 65535;
}

/* 127.x.y.z as a browser writes it: four decimal octets, no leading zeros. */
static bool adm_is_v4_loopback(const char *s, size_t n)
{
	size_t i = 0;

	for (int octet = 0; octet < 4; octet++) {
		size_t start = i;
		unsigned v = 0;

		if (octet > 0) {
			if (i >= n || s[i] != '.')
				return false;
			start = ++i;
		}
		while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return false;
		if (octet == 0 && v != 127)
			return false;
	}
	return i == n;
}

/* The first n bytes of s: a loopback host, optionally followed by ":PORT". */
static bool adm_hostport_is_local(const char *s, size_t n)
{
	static const char lh[] = "localhost", v6[] = "[::1]";
	const char *colon;
	size_t hl;

	if (n >= sizeof v6 - 1 && memcmp(s, v6, sizeof v6 - 1) == 0) {
		hl = sizeof v6 - 1;
	} else {
		colon = memchr(s, ':', n);
		hl = colon ? (size_t)(colon - s) : n;
		if (!(hl == sizeof lh - 1 && strncasecmp(s, lh, hl) == 0) &&
		    !adm_is_v4_loopback(s, hl))
			return false;
	}
	if (hl == n)
		return true;
	return s[hl] == ':' && adm_is_port(s + hl + 1, n - hl - 1);
}

bool adm_host_is_local(const char *host)
{
	return host && adm_hostport_is_local(host, strlen(host));
}

bool adm_origin_is_local(const char *origin)
{
	static const char http[] = "http://";

	if (!origin || strncasecmp(origin, http, sizeof http - 1) != 0)
		return false;
	origin += sizeof http - 1;
	return adm_hostport_is_local(origin, strlen(origin));
}

/* Origin names the API itself: http:// or https:// followed by exactly the Host. */
static bool adm_origin_is_own(const char *origin, const char *host)
{
	const char *rest;

	if (!origin || !host || !host[0])
		return false;
	if (strncasecmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		return false;
	return strcasecmp(rest, host) == 0;
}

bool adm_request_allowed(bool has_token, const char *method, const char *host, const char *origin,
                         char *why, size_t whylen)
{
	bool write =
	    strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0;

	if (has_token) {
		if (!write || !origin || adm_origin_is_local(origin) ||
		    adm_origin_is_own(origin, host))
			return true;
		snprintf(why, whylen,
		         "refused: a page of another origin (Origin: %.100s) may not change the "
		         "admin API's rules, even with the token",
		         origin);
		return false;
	}
	if (host && !adm_host_is_local(host)) {
		snprintf(
		    why, whylen,
		    "refused: the admin API has no token, so it serves only requests addressed "
		    "to localhost, 127.x.y.z or [::1], not to \"%.100s\" (a web page may "
		    "be trying DNS rebinding); set --admin-token to serve other names",
		    host);
		return false;
	}
	if (origin && !adm_origin_is_local(origin)) {
		snprintf(why, whylen,
		         "refused: the admin API has no token, so it serves no request from a page "
		         "of another origin (Origin: %.100s); only http://localhost, "
		         "http://127.x.y.z and http://[::1] pages may use it",
		         origin);
		return false;
	}
	return true;
}

/* Equal in time that depends only on the configured token's length, never on where the
 * first difference is or on the length of what the client sent. */
static bool adm_token_equal(const struct adm_ctx *ctx, const char *given, size_t glen)
{
	volatile unsigned char diff = (unsigned char)(glen != ctx->token_len);

	for (size_t i = 0; i < ctx->token_len; i++) {
		unsigned char g = i < glen ? (unsigned char)given[i] : 0;

		diff |= (unsigned char)(g ^ (unsigned char)ctx->token[i]);
	}
	return diff == 0;
}

/* "Authorization: Bearer <token>" (scheme case-insensitive, RFC 6750). With no token
 * configured (allowed on loopback only) every request that adm_request_allowed() let in
 * passes: see docs/admin.md. */
static bool adm_authorized(const struct adm_ctx *ctx, struct MHD_Connection *c)
{
	const char *h;

	if (!ctx->token)
		return true;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return false;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	return adm_token_equal(ctx, h, strlen(h));
}

/* application/json, any case, parameters such as "; charset=utf-8" allowed. */
static bool adm_is_json_type(const char *ct)
{
	static const char json[] = "application/json";
	size_t n = sizeof json - 1;

	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return strncasecmp(ct, json, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* The checks made before any body is read; false with rp filled when the request is
 * refused. */
static bool adm_precheck(struct adm_ctx *ctx, struct MHD_Connection *c, const struct adm_route *r,
                         struct adm_reply *rp)
{
	const char *cl;

	if (r->auth && !adm_authorized(ctx, c)) {
		adm_reply_error(
		    rp, ADM_HTTP_UNAUTHORIZED,
		    "missing or invalid bearer token (send Authorization: Bearer <token>)");
		return false;
	}
	if (strcmp(r->method, MHD_HTTP_METHOD_POST) == 0 ||
	    strcmp(r->method, MHD_HTTP_METHOD_PATCH) == 0) {
		if (!adm_is_json_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		                                                  MHD_HTTP_HEADER_CONTENT_TYPE))) {
			adm_reply_error(rp, ADM_HTTP_UNSUPPORTED_MEDIA,
			                "Content-Type must be application/json");
			return false;
		}
	}
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno == ERANGE || n > ADM_BODY_MAX) {
			adm_reply_error(rp, ADM_HTTP_TOO_LARGE,
			                "request body is larger than %d bytes", ADM_BODY_MAX);
			return false;
		}
	}
	return true;
}

static bool adm_conn_append(struct adm_conn *ac, const char *data, size_t n)
{
	char *nb;

	if (ac->too_large || ac->body_len + n > ADM_BODY_MAX) {
		ac->too_large = true;
		return true;
	}
	nb = realloc(ac->body, ac->body_len + n + 1);
	if (!nb)
		return false;
	ac->body = nb;
	memcpy(ac->body + ac->body_len, data, n);
	ac->body_len += n;
	ac->body[ac->body_len] = '\0';
	return true;
}

/* libmicrohttpd's access handler: called once when the headers are in, once per piece of
 * body, and once more with *upload_size == 0 when the request is complete. */
static enum MHD_Result adm_access(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct adm_ctx *ctx = cls;
	struct adm_conn *ac = *con_cls;
	struct adm_reply rp;
	struct adm_req rq;

	memset(&rp, 0, sizeof rp);
	if (!ac) {
		const struct adm_route *r;
		const char *arg = NULL;
		char allow[64], why[ADM_ERR_MAX];
		bool path_known;

		/* First of all: nothing, not even which paths exist, for a foreign page. */
		if (!adm_request_allowed(
			ctx->token != NULL, method,
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"), why,
			sizeof why)) {
			adm_reply_error(&rp, ADM_HTTP_FORBIDDEN, "%s", why);
			return adm_queue(c, &rp, NULL);
		}
		r = adm_route_find(method, url, &arg, &path_known, allow, sizeof allow);
		if (!r && path_known) {
			adm_reply_error(&rp, ADM_HTTP_METHOD_NOT_ALLOWED,
			                "method %s is not allowed on %s (allowed: %s)", method, url,
			                allow);
			return adm_queue(c, &rp, allow);
		}
		if (!r || (arg && strlen(arg) > ADM_ARG_MAX)) {
			adm_reply_error(&rp, ADM_HTTP_NOT_FOUND, "no such endpoint: %s", url);
			return adm_queue(c, &rp, NULL);
		}
		if (!adm_precheck(ctx, c, r, &rp))
			return adm_queue(c, &rp, NULL);
		ac = calloc(1, sizeof *ac);
		if (!ac)
			return MHD_NO;
		ac->route = r;
		snprintf(ac->arg, sizeof ac->arg, "%s", arg ? arg : "");
		*con_cls = ac;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!adm_conn_append(ac, upload, *upload_size))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (ac->too_large) {
		adm_reply_error(&rp, ADM_HTTP_TOO_LARGE, "request body is larger than %d bytes",
		                ADM_BODY_MAX);
		return adm_queue(c, &rp, NULL);
	}
	rq.method = method;
	rq.url = url;
	rq.arg = ac->route->has_arg ? ac->arg : NULL;
	rq.body = ac->body ? ac->body : "";
	rq.body_len = ac->body_len;
	ac->route->fn(ctx, &rq, &rp);
	return adm_queue(c, &rp, NULL);
}

/* The request is over (answered or aborted): free its state. Bodies may carry passwords,
 * so they are wiped first. */
static void adm_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
	struct adm_conn *ac = *con_cls;

	if (!ac)
		return;
	if (ac->body)
		explicit_bzero(ac->body, ac->body_len);
	free(ac->body);
	free(ac);
	*con_cls = NULL;
}

/* ---- start and stop ---- */

static bool adm_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return false;
}

/* Split "HOST:PORT", "[V6]:PORT" or ":PORT" (every interface). */
static bool adm_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = addr;
	size_t hl;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return false;
		h = addr + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return false; /* no port, or an IPv6 address without brackets */
		hl = (size_t)(colon - addr);
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) > 65535)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%s", colon + 1);
	return true;
}

bool adm_start(const char *addr, const char *token, struct store *st, const struct adm_hooks *hooks,
               char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct addrinfo hints, *ai = NULL;
	char host[256], port[8];
	bool have_token = token && token[0];
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	int rc;

	if (adm_daemon) {
		snprintf(err, errlen, "the admin API is already running");
		return false;
	}
	if (!addr || !adm_split_addr(addr, host, sizeof host, port, sizeof port)) {
		snprintf(err, errlen, "bad admin address \"%s\": expected HOST:PORT or [IPV6]:PORT",
		         addr ? addr : "");
		return false;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0 || !ai || ai->ai_addrlen > sizeof ss) {
		snprintf(err, errlen, "bad admin address \"%s\": %s", addr,
		         rc ? gai_strerror(rc) : "no usable address");
		if (ai)
			freeaddrinfo(ai);
		return false;
	}
	memset(&ss, 0, sizeof ss);
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!have_token && !adm_is_loopback((const struct sockaddr *)&ss)) {
		snprintf(err, errlen,
		         "refusing to serve the admin API on %s without a token: set --admin-token "
		         "(or SLUICE_ADMIN_TOKEN), or listen on a loopback address",
		         addr);
		return false;
	}

	memset(&adm_g, 0, sizeof adm_g);
	adm_g.store = st;
	if (hooks)
		adm_g.hooks = *hooks;
	snprintf(adm_g.last_publish, sizeof adm_g.last_publish, "ok");
	if (have_token) {
		adm_g.token = strdup(token);
		if (!adm_g.token) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
		adm_g.token_len = strlen(token);
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	adm_daemon = MHD_start_daemon(
	    flags, (uint16_t)atoi(port), NULL, NULL, adm_access, &adm_g, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, adm_completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)256, MHD_OPTION_END);
	if (!adm_daemon) {
		snprintf(err, errlen, "cannot serve the admin API on %s: %s", addr,
		         errno ? strerror(errno) : "libmicrohttpd could not start");
		free(adm_g.token);
		adm_g.token = NULL;
		return false;
	}
	return true;
}

void adm_stop(void)
{
	if (!adm_daemon)
		return;
	MHD_stop_daemon(adm_daemon);
	adm_daemon = NULL;
	if (adm_g.token)
		explicit_bzero(adm_g.token, adm_g.token_len);
	free(adm_g.token);
	adm_g.token = NULL;
	adm_g.store = NULL;
}

uint16_t adm_port(void)
{
	const union MHD_DaemonInfo *info;

	if (!adm_daemon)
		return 0;
	info = MHD_get_daemon_info(adm_daemon, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : 0;
}
