/*
 * adm_int.h - what the files of admin/ share with each other and with nobody else.
 *
 * Owns: the request and reply types the route handlers see, the growable text buffer,
 * and the jansson getters that name the failing field. Everything here runs on
 * libmicrohttpd's one internal polling thread, which is also the only user of the store
 * while the admin API runs; nothing here is locked.
 */
#ifndef SLUICE_ADM_INT_H
#define SLUICE_ADM_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/admin.h"

#define ADM_BODY_MAX (64 * 1024) /* largest request body accepted; more gets 413 */
#define ADM_ERR_MAX  512         /* longest error message in a reply */

/* HTTP statuses we answer with (numbers rather than MHD's names, which moved between
 * libmicrohttpd versions). */
enum adm_http_status {
	ADM_HTTP_OK = 200,
	ADM_HTTP_CREATED = 201,
	ADM_HTTP_NO_CONTENT = 204,
	ADM_HTTP_BAD_REQUEST = 400,
	ADM_HTTP_UNAUTHORIZED = 401,
	ADM_HTTP_FORBIDDEN = 403,
	ADM_HTTP_NOT_FOUND = 404,
	ADM_HTTP_METHOD_NOT_ALLOWED = 405,
	ADM_HTTP_CONFLICT = 409,
	ADM_HTTP_TOO_LARGE = 413,
	ADM_HTTP_UNSUPPORTED_MEDIA = 415,
	ADM_HTTP_INTERNAL = 500,
	ADM_HTTP_UNAVAILABLE = 503,
};

/* The running admin API: one per process (adm_start() .. adm_stop()). */
struct adm_ctx {
	struct store *store;            /* borrowed from adm_start()'s caller; used only on the
	                                 * daemon's thread until adm_stop() returns */
	struct adm_hooks hooks;         /* copy of the caller's hooks (ud stays borrowed) */
	char *token;                    /* owned; NULL when none is configured (loopback only) */
	size_t token_len;               /* strlen(token), 0 when none */
	uint64_t publishes;             /* successful hooks.publish() calls */
	uint64_t publish_failures;      /* failed hooks.publish() calls */
	char last_publish[ADM_ERR_MAX]; /* "ok", or the last failed publish's error */
};

/* One request as a handler sees it; valid for the handler call only. */
struct adm_req {
	const char *method; /* borrowed from libmicrohttpd: "GET", "POST", ... */
	const char *url;    /* borrowed from libmicrohttpd: decoded path */
	const char *arg;    /* borrowed: the {name} of /v1/x/{name}, else NULL */
	const char *body;   /* borrowed: the request body, NUL-terminated; "" when
	                     * there was none */
	size_t body_len;    /* bytes in body, without the NUL */
};

/* What a handler answers; http.c turns it into a libmicrohttpd response. */
struct adm_reply {
	unsigned status;          /* an enum adm_http_status value */
	char *body;               /* owned (malloc) unless body_static; NULL = empty */
	size_t body_len;          /* bytes in body */
	bool body_static;         /* body points to static memory: do not free it */
	const char *content_type; /* borrowed (static string); NULL = application/json */
	char location[128];       /* Location header for 201, "" when none */
	bool dashboard;           /* add the dashboard's Content-Security-Policy */
};

/* What every route handler is; the handlers below are declared with it. */
typedef void adm_handler(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp);
typedef adm_handler *adm_handler_fn;

/* ---- replies (http.c) ---- */

/* Reply with the compact serialization of obj; steals obj (the reference passes to the
 * reply). Falls back to a 500 if serialization fails. */
void adm_reply_json(struct adm_reply *rp, unsigned status, json_t *obj);
/* Reply {"error": "<formatted message>"} with the given status. */
void adm_reply_error(struct adm_reply *rp, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Makes the JSON of one row; new reference, NULL on OOM. */
typedef json_t *(*adm_to_json_fn)(const void *row);
/* Reply 200 {"<key>": [to_json(row), ...]} for n rows of size bytes from rows (borrowed). */
void adm_reply_list(struct adm_reply *rp, const char *key, const void *rows, size_t n, size_t size,
                    adm_to_json_fn to_json);
/* Reply 201 with obj (stolen) and Location: <collection>/<name>. */
void adm_reply_created(struct adm_reply *rp, json_t *obj, const char *collection, const char *name);
/* Reply with the store's last failure (status from store_last_status()). */
void adm_reply_store_error(struct adm_reply *rp, struct store *st, const char *err);
/* After a committed write: call hooks.publish and record the outcome for /v1/health.
 * On failure, fills rp with a 500 that says the change was saved and returns false;
 * on success leaves rp untouched. */
bool adm_publish(struct adm_ctx *ctx, struct adm_reply *rp);

/* ---- where a request comes from (http.c; pure, for the unit tests) ---- */

/* Is host (a Host header: name or address, optional ":PORT") the loopback by its very
 * text: "localhost", 127.x.y.z in plain dotted decimal, or "[::1]", any case? A name
 * that merely resolves to loopback is not (a DNS-rebinding page's name does). */
bool adm_host_is_local(const char *host);
/* Is origin (an Origin header) "http://" followed by such a host and nothing else? */
bool adm_origin_is_local(const char *origin);
/*
 * May a request with these headers be served (issue 11: a web page in an operator's
 * browser must not drive the API)? host and origin are NULL when the header is absent;
 * method is the request's. Without a token (has_token false): the Host, when there is
 * one, must be local and an Origin, when there is one, must be local too. With a
 * token: a write (any method but GET and HEAD) with an Origin must come from a local
 * origin or from the API's own (Origin = http(s):// + Host). false + why (the JSON
 * error's text) when it may not.
 */
bool adm_request_allowed(bool has_token, const char *method, const char *host, const char *origin,
                         char *why, size_t whylen);

/* ---- growable text (http.c) ---- */

struct adm_buf {
	char *p;     /* owned (malloc); NUL-terminated while !failed */
	size_t len;  /* bytes used, without the NUL */
	size_t cap;  /* bytes allocated */
	bool failed; /* sticky: an allocation failed, contents are partial */
};

void adm_buf_printf(struct adm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void adm_buf_append(struct adm_buf *b, const char *s, size_t n);
void adm_buf_free(struct adm_buf *b);

/* ---- JSON input (json.c) ---- */

/* Parse body as one JSON object. *out is a new reference. false + err ("request body ...")
 * when it is not valid JSON or not an object. */
bool adm_json_parse_object(const char *body, size_t len, json_t **out, char *err, size_t errlen);
/* false + err naming the first key of obj that is not in allowed (NULL-terminated). */
bool adm_json_check_fields(json_t *obj, const char *const *allowed, char *err, size_t errlen);
/* The body of a POST (url_name NULL) or a PATCH (url_name: the name in its path) of a
 * named rule, `what` being "account" or "backend": one JSON object with only allowed
 * keys, whose "name" POST requires and PATCH may only repeat. *obj is a new reference;
 * *name is borrowed from it, or is url_name. false + err (a 400) leaves *obj NULL. */
bool adm_json_parse_named(const char *body, size_t len, const char *const *allowed,
                          const char *url_name, const char *what, json_t **obj, const char **name,
                          char *err, size_t errlen);
/* Getters: *present says whether the key is there; absent is not an error. A present
 * value of the wrong type or out of range is, and err names the field and what it must
 * be. */
bool adm_json_get_u32(json_t *obj, const char *key, uint32_t min, uint32_t max, uint32_t *out,
                      bool *present, char *err, size_t errlen);
/* *out is borrowed from obj: valid while obj is. maxlen counts bytes. */
bool adm_json_get_string(json_t *obj, const char *key, size_t maxlen, const char **out,
                         bool *present, char *err, size_t errlen);
bool adm_json_get_bool(json_t *obj, const char *key, bool *out, bool *present, char *err,
                       size_t errlen);
/* json_integer() of a uint64_t, clamped to json_int_t. New reference. */
json_t *adm_json_u64(uint64_t v);
/* json_real() of a finite double (non-finite values become 0). New reference. */
json_t *adm_json_real(double v);

/* ---- POST and PATCH of a named rule (http.c) ---- */

/* An account or a backend as the POST and PATCH handlers read it from a request; row is
 * the kind's store struct (struct store_account, store_backend). */
struct adm_rule_kind {
	const char *what;          /* "account" or "backend", for messages */
	const char *const *fields; /* the keys a body may hold; NULL-terminated */
	const char *required;      /* a key a POST must have besides "name", or NULL */
	/* A new rule named name, before the body's fields apply (POST). */
	void (*init)(void *row, const char *name);
	/* The stored rule named name (PATCH); store_account_get()'s contract. */
	bool (*get)(struct store *st, const char *name, void *row, bool *found, char *err,
	            size_t errlen);
	/* Copy the fields present in obj onto row. false + err naming the field: a 400. */
	bool (*apply)(json_t *obj, void *row, char *err, size_t errlen);
};

/* The rule a POST (url_name NULL) or a PATCH (of the rule named url_name) asks for: new or
 * stored, with the body's fields applied, in row. false when rp holds the error reply: a
 * 400 for the body, checked first, else the store's error for the lookup. */
bool adm_rule_read(struct adm_ctx *ctx, const struct adm_rule_kind *kind, const struct adm_req *rq,
                   const char *url_name, void *row, struct adm_reply *rp);

/* The pool size in force: the first enabled backend row's, else the one sluice started
 * with (backends.c). Reservations must fit in it. */
uint32_t adm_live_pool_size(struct adm_ctx *ctx);

/* ---- route handlers ---- */

adm_handler adm_accounts_list, adm_accounts_create, adm_accounts_get, adm_accounts_patch,
    adm_accounts_delete;
adm_handler adm_backends_list, adm_backends_create, adm_backends_get, adm_backends_patch,
    adm_backends_delete;
adm_handler adm_stats_get, adm_metrics_get, adm_dashboard_get;

/* Fill out through hooks.stats; false (and a 503 in rp) when stats are unavailable.
 * On success the caller frees out with adm_stats_free(). (stats_api.c) */
bool adm_stats_collect(struct adm_ctx *ctx, struct adm_stats *out, struct adm_reply *rp);

#endif
