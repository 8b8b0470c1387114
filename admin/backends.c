/*
 * backends.c - /v1/backends: list, create, read, change and delete backend servers.
 *
 * Owns: the JSON shape of a backend and the mapping of request fields onto
 * struct store_backend. Must not touch: gateway objects; like accounts.c it publishes
 * after every committed change, and a failed publish leaves the change committed.
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/adm_int.h"

#define ADM_HOST_MAX     255   /* longest host name (the store's limit) */
#define ADM_DEFAULT_PORT 3306  /* port of a new backend that names none */
#define ADM_POOL_MAX     10000 /* largest pool_size and max_active (the store's limit) */

static const char *const adm_backend_fields[] = {
	"name", "host", "port", "pool_size", "max_active", "enabled", NULL,
};

/* The public view of a backend (a struct store_backend). New reference (NULL on OOM). */
static json_t *adm_backend_json(const void *row)
{
	const struct store_backend *b = row;

	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b}", "name", b->name, "host", b->host, "port",
	                 (json_int_t)b->port, "pool_size", (json_int_t)b->pool_size, "max_active",
	                 (json_int_t)b->max_active, "enabled", b->enabled ? 1 : 0);
}

/* Copy the fields present in obj (all but name) onto b. */
static bool adm_backend_apply(json_t *obj, void *row, char *err, size_t errlen)
{
	struct store_backend *b = row;
	const char *host;
	uint32_t port = b->port;
	bool present;

	if (!adm_json_get_string(obj, "host", ADM_HOST_MAX, &host, &present, err, errlen))
		return false;
	if (present)
		snprintf(b->host, sizeof b->host, "%s", host);
	if (!adm_json_get_u32(obj, "port", 1, 65535, &port, &present, err, errlen) ||
	    !adm_json_get_u32(obj, "pool_size", 0, ADM_POOL_MAX, &b->pool_size, &present, err,
	                      errlen) ||
	    !adm_json_get_u32(obj, "max_active", 0, ADM_POOL_MAX, &b->max_active, &present, err,
	                      errlen) ||
	    !adm_json_get_bool(obj, "enabled", &b->enabled, &present, err, errlen))
		return false;
	b->port = (uint16_t)port;
	return true;
}

/* A new backend: port 3306, enabled, no pool of its own. */
static void adm_backend_init(void *row, const char *name)
{
	struct store_backend *b = row;

	memset(b, 0, sizeof *b);
	b->port = ADM_DEFAULT_PORT;
	b->enabled = true;
	snprintf(b->name, sizeof b->name, "%s", name);
}

static bool adm_backend_get(struct store *st, const char *name, void *row, bool *found, char *err,
                            size_t errlen)
{
	return store_backend_get(st, name, row, found, err, errlen);
}

static const struct adm_rule_kind adm_backend_kind = {
	.what = "backend",
	.fields = adm_backend_fields,
	.required = "host",
	.init = adm_backend_init,
	.get = adm_backend_get,
	.apply = adm_backend_apply,
};

void adm_backends_list(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	struct store_backend *v;
	size_t n;

	if (!store_backend_list(ctx->store, &v, &n, err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	adm_reply_list(rp, "backends", v, n, sizeof *v, adm_backend_json);
	free(v);
}

void adm_backends_create(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	struct store_backend b;

	if (!adm_rule_read(ctx, &adm_backend_kind, rq, NULL, &b, rp))
		return;
	if (!store_backend_add(ctx->store, &b, err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	if (adm_publish(ctx, rp))
		adm_reply_created(rp, adm_backend_json(&b), "/v1/backends", b.name);
}

uint32_t adm_live_pool_size(struct adm_ctx *ctx)
{
	struct store_backend *list = NULL;
	size_t n = 0;
	uint32_t pool = ctx->hooks.pool_size;
	char err[ADM_ERR_MAX];

	if (store_backend_list(ctx->store, &list, &n, err, sizeof err)) {
		for (size_t i = 0; i < n; i++) {
			if (list[i].enabled) {
				if (list[i].pool_size)
					pool = list[i].pool_size;
				break;
			}
		}
	}
	free(list);
	return pool;
}

/* The accounts' reservations together; false + err when they cannot be read. */
static bool adm_reservation_sum(struct adm_ctx *ctx, uint64_t *sum, char *err, size_t errlen)
{
	struct store_account *list = NULL;
	size_t n = 0;

	if (!store_account_list(ctx->store, &list, &n, err, errlen))
		return false;
	*sum = 0;
	for (size_t i = 0; i < n; i++)
		*sum += list[i].reservation;
	free(list);
	return true;
}

void adm_backends_get(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	struct store_backend b;
	bool found;

	if (!store_backend_get(ctx->store, rq->arg, &b, &found, err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	adm_reply_json(rp, ADM_HTTP_OK, adm_backend_json(&b));
}

void adm_backends_patch(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	struct store_backend b;

	if (!adm_rule_read(ctx, &adm_backend_kind, rq, rq->arg, &b, rp))
		return;
	if (b.enabled && b.pool_size) {
		uint64_t sum;

		if (!adm_reservation_sum(ctx, &sum, err, sizeof err)) {
			adm_reply_error(rp, ADM_HTTP_INTERNAL, "%s", err);
			return;
		}
		if (sum > b.pool_size) {
			adm_reply_error(rp, ADM_HTTP_CONFLICT,
			                "pool_size %u is smaller than the accounts' reservations "
			                "together (%llu); lower reservations first",
			                b.pool_size, (unsigned long long)sum);
			return;
		}
	}

	if (!store_backend_update(ctx->store, &b, err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	if (adm_publish(ctx, rp))
		adm_reply_json(rp, ADM_HTTP_OK, adm_backend_json(&b));
}

void adm_backends_delete(struct adm_ctx *ctx, const struct adm_req *rq, struct adm_reply *rp)
{
	char err[ADM_ERR_MAX];
	bool found;

	if (!store_backend_delete(ctx->store, rq->arg, &found, err, sizeof err)) {
		adm_reply_store_error(rp, ctx->store, err);
		return;
	}
	if (!adm_publish(ctx, rp))
		return;
	rp->status = ADM_HTTP_NO_CONTENT;
}
