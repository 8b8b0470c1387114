/*
 * fuzz_admin.c - libFuzzer target for the admin API's request handling: JSON bodies and
 * the {name} part of paths, through the real handlers and an in-memory rules store.
 *
 * Input: byte 0 picks the handler, bytes 1..k (up to the first NUL, at most 80) are the
 * path argument, the rest is the body. Invariants: every reply has a status between 200
 * and 599 and a body; a reply of 4xx leaves the store's generation unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/adm_int.h"
#include "admin/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fake_publish(void *ud, struct store *st, char *err, size_t errlen)
{
	(void)ud;
	(void)st;
	(void)err;
	(void)errlen;
	return true;
}

static bool fake_stats(void *ud, struct adm_stats *out)
{
	(void)ud;
	memset(out, 0, sizeof(*out));
	return true;
}

static const adm_handler_fn handlers[] = {
	adm_accounts_create, adm_accounts_patch, adm_accounts_get, adm_accounts_delete,
	adm_backends_create, adm_backends_patch, adm_backends_get, adm_backends_delete,
	adm_accounts_list,   adm_backends_list,  adm_stats_get,    adm_metrics_get,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store *st;
	static unsigned runs;
	static struct adm_ctx ctx;
	struct adm_req rq;
	struct adm_reply rp;
	char arg[81], *body;
	size_t k = 0, off;
	int64_t gen;
	char err[256];

	if (size == 0)
		return 0;
	if (!st || ++runs % 2000 == 0) {
		/* a fresh store now and then, so that it does not only grow */
		if (st)
			store_close(st);
		if (!store_open(":memory:", &st, err, sizeof(err)))
			abort();
		memset(&ctx, 0, sizeof(ctx));
		ctx.store = st;
		ctx.hooks.publish = fake_publish;
		ctx.hooks.stats = fake_stats;
		ctx.hooks.pool_size = 16;
	}
	off = 1;
	while (off < size && data[off] != 0 && k < sizeof(arg) - 1)
		arg[k++] = (char)data[off++];
	arg[k] = '\0';
	if (off < size)
		off++;
	body = malloc(size - off + 1);
	if (!body)
		return 0;
	memcpy(body, data + off, size - off);
	body[size - off] = '\0';
	memset(&rq, 0, sizeof(rq));
	memset(&rp, 0, sizeof(rp));
	rq.method = "POST";
	rq.url = "/fuzz";
	rq.arg = arg;
	rq.body = body;
	rq.body_len = size - off;
	gen = store_generation(st);
	handlers[data[0] % (sizeof(handlers) / sizeof(handlers[0]))](&ctx, &rq, &rp);
	if (rp.status < 200 || rp.status > 599)
		abort();
	if (rp.status >= 400 && rp.status < 500 && store_generation(st) != gen)
		abort(); /* a refused request changed something */
	if (!rp.body_static)
		free(rp.body);
	free(body);
	return 0;
}
