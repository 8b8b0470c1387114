/*
 * accounts.c - /v1/accounts: list, create, read, change and delete accounts.
 *
 * Owns: the JSON shape of an account and the mapping of request fields onto
 * struct store_account. Must not touch: gateway objects; after every committed change it
 * calls hooks.publish through adm_publish(), and if that fails the change stays committed
 * (the store is the truth) and the client gets a 500 that says so.
 *
 * The password is write-only: a request may carry "password" (plain text), which is
 * turned into SHA1(password) with auth_stage1() at once; replies show only
 * "has_password".
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/adm_int.h"
#include "proto/auth.h"

#define ADM_PASSWORD_MAX 1024 /* longest password accepted, in bytes */

static const char *const adm_account_fields[] = {
	"name",       "password",
	"weight",     "reservation",
	"max_qps",    "max_connections",
	"max_queue",  "queue_timeout_ms",
	"max_pinned", "pinned_idle_timeout_ms",
	NULL,
};

/* The public view of an account (a struct store_account); never the password hash.
 * New reference (NULL on OOM). */
static json_t *adm_account_json(const void *row)
{
	const struct store_account *a = row;

	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", a->name,
	                 "has_password", a->has_password ? 1 : 0, "weight", (json_int_t)a->weight,
	                 "reservation", (json_int_t)a->reservation, "max_qps",
	                 (json_int_t)a->max_qps, "max_connections", (json_int_t)a->max_connections,
	                 "max_queue", (json_int_t)a->max_queue, "queue_timeout_ms",
	                 (json_int_t)a->queue_timeout_ms, "max_pinned", (json_int_t)a->max_pinned,
	                 "pinned_idle_timeout_ms", (json_int_t)a->pinned_idle_timeout_ms);
}

/* Copy the rules and the password present in obj onto a; absent fields keep their value.
 * false + err naming the field on a wrong type or range. */
static bool adm_account_apply(json_t *obj, void *row, char *err, size_t errlen)
{
	struct store_account *a = row;
	const struct {
		const char *key; /* field name */
		uint32_t min;    /* smallest value accepted */
		uint32_t max;    /* largest value accepted */
		uint32_t *dst;   /* borrowed: the rule in a */
	} rules[] = {
		{ "weight", 1, 10000, &a->weight },
		{ "reservation", 0, UINT32_MAX, &a->reservation },
		{ "max_qps", 0, UINT32_MAX, &a->max_qps },
		{ "max_connections", 0, UINT32_MAX, &a->max_connections },
		{ "max_queue", 1, UINT32_MAX, &a->max_queue },
		{ "queue_timeout_ms", 0, UINT32_MAX, &a->queue_timeout_ms },
		{ "max_pinned", 0, 10000, &a->max_pinned },
		{ "pinned_idle_timeout_ms", 0, UINT32_MAX, &a->pinned_idle_timeout_ms },
	};
	json_t *pw = json_object_get(obj, "password"); /* borrowed */
	bool present;

	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		if (!adm_json_get_u32(obj, rules[i].key, rules[i].min, rules[i].max, rules[i].dst,
		                      &present, err, errlen))
			return false;
	}
	if (pw && !json_is_null(pw)) {
		const char *text;

		if (!adm_json_get_string(obj, "password", ADM_PASSWORD_MAX, &text, &present, err,
		                         errlen))
			return false;
		if (json_string_length(pw) > 0) {
			auth_stage1(text, json_string_length(pw), a->pw_sha1);
			a->has_password = true;
			return true;
		}
	}
	if (pw) { /* null or "": no password */
		memset(a->pw_sha1, 0, sizeof a->pw_sha1);
		a->has_password = false;
	}
	return true;
}

static void adm_account_init(void *row, const char *name)
{
	struct store_account *a = row;

	store_account_defaults(a);
	snprintf(a->name, sizeof a->name, "%s", name);
}

static bool adm_account_get(struct store *st, const char *name, void *row, bool *found, char *err,
                            size_t errlen)
{
	return store_account_get(st, name, row, found, err, errlen);
}

static const struct adm_rule_kind adm_account_kind = {
	.what = "account",
	.fields = adm_account_fields,
	.required = NULL,
	.init = adm_account_init,
	.get = adm_account_get,
	.apply = adm_account_apply,
};

void adm_accounts_list(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	struct store_account *v;
	size_t n;

	if (!store_account_list(ctx->store, &v, &n, err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	adm_reply_list(rp, "accounts", v, n, sizeof *v, adm_account_json);
	free(v);
}

void adm_accounts_create(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	struct store_account a;

	if (!adm_rule_read(ctx, &adm_account_kind, rq, NULL, &a, rp))
		return;
	if (!store_account_add(ctx->store, &a, adm_live_pool_size(ctx), err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	if (adm_publish(ctx, rp))
		adm_reply_created(rp, adm_account_json(&a), "/v1/accounts", a.name);
}

void adm_accounts_get(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	struct store_account a;
	bool found;

	if (!store_account_get(ctx->store, rq->arg, &a, &found, err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	adm_reply_json(rp, ADM_HTTP_OK, adm_account_json(&a));
}

void adm_accounts_patch(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	struct store_account a;

	if (!adm_rule_read(ctx, &adm_account_kind, rq, rq->arg, &a, rp))
		return;
	if (!store_account_update(ctx->store, &a, adm_live_pool_size(ctx), err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	if (adm_publish(ctx, rp))
		adm_reply_json(rp, ADM_HTTP_OK, adm_account_json(&a));
}

void adm_accounts_delete(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	bool found;

	if (!store_account_delete(ctx->store, rq->arg, &found, err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	if (!adm_publish(ctx, rp))
		return;
	rp->status = ADM_HTTP_NO_CONTENT;
}
