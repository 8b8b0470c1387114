/*
 * hosts.h - what sluice remembers per client address before login (issue 11): how many
 * of its connections have not logged in yet (capped by --max-prelogin-per-host), and
 * its recent failed logins (after --auth-fail-threshold of them, every login answer to
 * that address waits, up to --auth-delay-max-ms). docs/limits.md describes both.
 *
 * The table has a fixed size (GW_HOSTS_BUCKETS x GW_HOSTS_WAYS entries, allocated once),
 * so many source addresses cannot grow it: an address hashes (with a secret seed) to one
 * bucket, and a new address takes a free way or the way of an address with nothing
 * in its handshake, the one whose last failure is oldest. When all ways of a bucket hold
 * connections in their handshake, a new address is admitted untracked (fail open: the
 * table never locks out an address it cannot remember; --max-clients still bounds all).
 *
 * No I/O, no libevent; the clock is a parameter. Thread-safe: one mutex, held only
 * inside these functions.
 */
#ifndef SLUICE_HOSTS_H
#define SLUICE_HOSTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

#define GW_HOSTS_BUCKETS 512
#define GW_HOSTS_WAYS    8

/* Defaults of the options (docs/limits.md). */
#define GW_MAX_PRELOGIN_PER_HOST                                                                   \
	UINT32_MAX                     /* connections of one address not logged in:                \
	                                * automatic, a quarter of --max-clients,                   \
	                                * at least 256 (main.c) */
#define GW_MIN_PRELOGIN_PER_HOST 256   /* the automatic cap's floor */
#define GW_AUTH_FAIL_THRESHOLD   10    /* failed logins answered without delay */
#define GW_AUTH_DELAY_MAX_MS     2000  /* the longest a login answer waits */
#define GW_AUTH_DELAY_STEP_MS    100   /* the delay grows by this per failure */
#define GW_AUTH_FAIL_WINDOW_MS   10000 /* failures further apart than this start over */

/* An address: IPv6, or IPv4 mapped into it (::ffff:a.b.c.d). */
struct gw_host_key {
	uint8_t b[16];
};

struct gw_host_entry {
	struct gw_host_key key;
	bool used;             /* key is valid */
	uint32_t prelogin;     /* its connections not logged in yet: never evicted while > 0 */
	uint32_t failures;     /* failed logins, each within the window of the one before */
	uint64_t last_fail_ns; /* when the last of them was */
};

struct gw_hosts_config {
	uint32_t max_prelogin;   /* 0 = no cap */
	uint32_t fail_threshold; /* failures answered without delay */
	uint32_t delay_max_ms;   /* 0 = never delay */
	uint32_t step_ms;
	uint32_t window_ms;
};

struct gw_hosts {
	pthread_mutex_t lock;
	struct gw_hosts_config cfg; /* fixed after gw_hosts_init */
	uint64_t seed;              /* secret: addresses cannot be chosen to share a bucket */
	uint64_t untracked;         /* admits without an entry (their bucket was full) */
	uint64_t refused;           /* connections refused at the pre-login cap */
	uint64_t delayed;           /* login answers that waited */
	struct gw_host_entry e[GW_HOSTS_BUCKETS * GW_HOSTS_WAYS]; /* under lock */
};

enum gw_host_admit {
	GW_HOST_COUNTED = 0, /* counted: call gw_hosts_leave() at login or close */
	GW_HOST_UNTRACKED,   /* admitted, not counted (table full there): no leave */
	GW_HOST_REFUSED,     /* the address has max_prelogin connections in their handshake */
};

void gw_hosts_init(struct gw_hosts *h, const struct gw_hosts_config *cfg, uint64_t seed);
void gw_hosts_destroy(struct gw_hosts *h);
/* The key of a peer address (AF_INET or AF_INET6; anything else: all zeros). */
void gw_host_key_from_sa(const struct sockaddr *sa, struct gw_host_key *k);
/* A new connection from k, before its greeting. */
enum gw_host_admit gw_hosts_enter(struct gw_hosts *h, const struct gw_host_key *k, uint64_t now_ns);
/* A connection counted by gw_hosts_enter() logged in or closed. */
void gw_hosts_leave(struct gw_hosts *h, const struct gw_host_key *k);
/*
 * A login from k was decided (failed or not) at now_ns: returns how long its answer
 * must wait, in ms, and records a failure. The delay depends on the failures before this
 * one, never on the outcome, so that an answer that does not come at once tells a
 * guesser nothing.
 */
uint32_t gw_hosts_auth_delay_ms(struct gw_hosts *h, const struct gw_host_key *k, bool failed,
                                uint64_t now_ns);
/* Its connections in their handshake now, and its recent failures (tests, stats). */
void gw_hosts_peek(struct gw_hosts *h, const struct gw_host_key *k, uint64_t now_ns,
                   uint32_t *prelogin, uint32_t *failures);

#endif
