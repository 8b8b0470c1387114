/*
 * hosts.c - the per-address table of connections before login and of failed logins
 * (hosts.h). Pure bookkeeping under one mutex: no I/O, no logging, no allocation.
 */
#include "gateway/hosts.h"

#include <netinet/in.h>
#include <string.h>

void gw_hosts_init(struct gw_hosts *h, const struct gw_hosts_config *cfg, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->cfg = *cfg;
	h->seed = seed;
}

void gw_hosts_destroy(struct gw_hosts *h)
{
	pthread_mutex_destroy(&h->lock);
}

void gw_host_key_from_sa(const struct sockaddr *sa, struct gw_host_key *k)
{
	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		k->b[10] = 0xff;
		k->b[11] = 0xff;
		memcpy(k->b + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(k->b, &in6->sin6_addr, 16);
	}
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static struct gw_host_entry *bucket_of(struct gw_hosts *h, const struct gw_host_key *k)
{
	uint64_t w0, w1;

	memcpy(&w0, k->b, 8);
	memcpy(&w1, k->b + 8, 8);
	return &h->e[(mix64(mix64(h->seed ^ w0) ^ w1) % GW_HOSTS_BUCKETS) * GW_HOSTS_WAYS];
}

static bool failures_current(const struct gw_hosts *h, const struct gw_host_entry *e,
                             uint64_t now_ns)
{
	return e->failures > 0 && now_ns - e->last_fail_ns <= (uint64_t)h->cfg.window_ms * 1000000u;
}

/*
 * k's entry; with claim, a new one when k has none: a free way, else the way of an
 * address with nothing in its handshake and the oldest last failure (expired failures
 * count as oldest). NULL when there is none (or, without claim, k has no entry).
 */
static struct gw_host_entry *entry_of(struct gw_hosts *h, const struct gw_host_key *k, bool claim,
                                      uint64_t now_ns)
{
	struct gw_host_entry *b = bucket_of(h, k), *victim = NULL;

	for (int i = 0; i < GW_HOSTS_WAYS; i++) {
		if (b[i].used && memcmp(&b[i].key, k, sizeof(*k)) == 0)
			return &b[i];
	}
	if (!claim)
		return NULL;
	for (int i = 0; i < GW_HOSTS_WAYS; i++) {
		struct gw_host_entry *e = &b[i];

		if (!e->used) {
			victim = e;
			break;
		}
		if (e->prelogin > 0)
			continue;
		if (!failures_current(h, e, now_ns)) {
			victim = e;
			break;
		}
		if (!victim || e->last_fail_ns < victim->last_fail_ns)
			victim = e;
	}
	if (victim) {
		memset(victim, 0, sizeof(*victim));
		victim->key = *k;
		victim->used = true;
	}
	return victim;
}

enum gw_host_admit gw_hosts_enter(struct gw_hosts *h, const struct gw_host_key *k, uint64_t now_ns)
{
	struct gw_host_entry *e;
	enum gw_host_admit r;

	pthread_mutex_lock(&h->lock);
	e = entry_of(h, k, /* claim= */ true, now_ns);
	if (!e) {
		h->untracked++;
		r = GW_HOST_UNTRACKED;
	} else if (h->cfg.max_prelogin && e->prelogin >= h->cfg.max_prelogin) {
		h->refused++;
		r = GW_HOST_REFUSED;
	} else {
		e->prelogin++;
		r = GW_HOST_COUNTED;
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

void gw_hosts_leave(struct gw_hosts *h, const struct gw_host_key *k)
{
	struct gw_host_entry *e;

	pthread_mutex_lock(&h->lock);
	e = entry_of(h, k, /* claim= */ false, 0);
	if (e && e->prelogin > 0)
		e->prelogin--;
	if (e && e->prelogin == 0 && e->failures == 0)
		e->used = false;
	pthread_mutex_unlock(&h->lock);
}

uint32_t gw_hosts_auth_delay_ms(struct gw_hosts *h, const struct gw_host_key *k, bool failed,
                                uint64_t now_ns)
{
	struct gw_host_entry *e;
	uint32_t before, delay = 0;

	pthread_mutex_lock(&h->lock);
	e = entry_of(h, k, /* claim= */ failed, now_ns);
	if (e) {
		before = failures_current(h, e, now_ns) ? e->failures : 0;
		if (h->cfg.delay_max_ms && before >= h->cfg.fail_threshold) {
			uint64_t d =
			    (uint64_t)(before - h->cfg.fail_threshold + 1) * h->cfg.step_ms;

			delay = d < h->cfg.delay_max_ms ? (uint32_t)d : h->cfg.delay_max_ms;
			h->delayed++;
		}
		if (failed) {
			e->failures = before < UINT32_MAX ? before + 1 : before;
			e->last_fail_ns = now_ns;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return delay;
}

void gw_hosts_peek(struct gw_hosts *h, const struct gw_host_key *k, uint64_t now_ns,
                   uint32_t *prelogin, uint32_t *failures)
{
	struct gw_host_entry *e;

	pthread_mutex_lock(&h->lock);
	e = entry_of(h, k, /* claim= */ false, 0);
	*prelogin = e ? e->prelogin : 0;
	*failures = e && failures_current(h, e, now_ns) ? e->failures : 0;
	pthread_mutex_unlock(&h->lock);
}
