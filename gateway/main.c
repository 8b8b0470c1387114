/*
 * main.c - the command line: options, the offline `account` subcommands, startup of the
 * rules store, the workers and the admin API, and signals (SIGTERM/SIGINT drain and
 * stop, SIGHUP reopens logs - stderr needs no reopening, so it only says so).
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/thread.h>

#include "admin/admin.h"
#include "config.h"
#include "gateway/accounts.h"
#include "gateway/pool.h"
#include "gateway/thread.h"
#include "proto/auth.h"
#include "proto/log.h"
#include "proto/util.h"

struct options {
	const char *listen;
	const char *backend;
	const char *db;
	const char *admin;
	const char *token;
	uint32_t pool_size;
	uint32_t threads;
	uint32_t max_clients;
	uint32_t max_active;
	bool backend_given;    /* --backend was on the command line */
	bool pool_given;       /* --pool-size was */
	bool max_active_given; /* --max-active was */
};

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: sluice [options]                 run the gateway\n"
	       "       sluice [--db FILE] account add NAME [rules]   (password on stdin)\n"
	       "       sluice [--db FILE] account set NAME [rules] [--password]\n"
	       "       sluice [--db FILE] account list\n"
	       "       sluice [--db FILE] account delete NAME\n"
	       "\n"
	       "options:\n"
	       "  --listen HOST:PORT    client port (default 127.0.0.1:3307)\n"
	       "  --backend HOST:PORT   MySQL/MariaDB server (default 127.0.0.1:3306)\n"
	       "  --pool-size N         backend connections, shared by all accounts (default 128)\n"
	       "  --db FILE             rules store, SQLite (default sluice.db)\n"
	       "  --admin HOST:PORT     admin API (default 127.0.0.1:8307; 'off' to disable)\n"
	       "  --admin-token TOKEN   bearer token for the admin API (or SLUICE_ADMIN_TOKEN)\n"
	       "  --threads N           event-loop threads (default: number of CPUs)\n"
	       "  --log-level L         error, warn, info, debug or noise (default info)\n"
	       "  --log-file FILE       log there instead of stderr (SIGHUP reopens it)\n"
	       "  --max-clients N       client connections at once, then ERR 1040\n"
	       "                        (default: what the open-files limit leaves)\n"
	       "  --max-active N        queued statements running on the backend at once; the\n"
	       "                        connections above N serve accounts with nothing queued\n"
	       "                        at once (default 0 = the pool size; docs/qos.md)\n"
	       "  --reserve-pool N      connections beyond the pool for accounts that use none\n"
	       "                        while long statements fill it (default: an eighth of\n"
	       "                        the pool, at least 1; 0 = off; docs/pooling.md)\n"
	       "  --max-prelogin-per-host N  connections of one client address that have not\n"
	       "                        logged in yet; the next gets ERR 1040 (default: a\n"
	       "                        quarter of --max-clients, at least 256; 0 = no cap;\n"
	       "                        docs/limits.md)\n"
	       "  --auth-fail-threshold N  failed logins of one address (each within 10 s of\n"
	       "                        the last) answered at once; after that every login\n"
	       "                        answer to it waits 100 ms more per failure (default 10)\n"
	       "  --auth-delay-max-ms MS  the longest that wait (default 2000; 0 = never wait)\n"
	       "  --anticipate-ms MS    hold a light account's backend connection that long\n"
	       "                        for its next statement, saving an account switch\n"
	       "                        (default 5; 0 = off; docs/pooling.md)\n"
	       "  --diag-keep-ms MS     keep the backend connection of a statement that left\n"
	       "                        warnings or an error that long for the session's\n"
	       "                        SHOW WARNINGS (default 500; 0 = off; docs/pooling.md)\n"
	       "  --exact-last-insert-id  read LAST_INSERT_ID() back after every insert that\n"
	       "                        reports an id, so that a session's first use of it in\n"
	       "                        SQL is exact after an insert with an explicit id too\n"
	       "                        (one round trip more per insert; docs/pooling.md)\n"
	       "  --help, --version\n"
	       "  --unsafe-no-replay    testing only: no session replay and no pinning\n"
	       "\n"
	       "rules: --weight W --reservation R --max-qps Q --max-connections C\n"
	       "       --max-queue Q --queue-timeout-ms T --max-pinned P\n"
	       "       --pinned-idle-timeout-ms T\n");
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* optarg as a whole number in [lo, hi], or the end of the program with what it must be. */
static uint32_t opt_u32(const char *name, uint32_t lo, uint32_t hi, const char *range)
{
	uint32_t v;

	if (!gw_parse_u32(optarg, lo, hi, &v))
		die("%s: a whole number %s, got '%s'", name, range, optarg);
	return v;
}

/* ---- account subcommands ---- */

static bool read_password(char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int)len, stdin))
		return false;
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return true;
}

/* Parse --rule VALUE pairs from argv[i..] into a; --password flags a new password. */
static void parse_rules(int argc, char **argv, int i, struct store_account *a, bool *set_pw)
{
	for (; i < argc; i++) {
		const char *k = argv[i];
		uint32_t *dst = NULL, lo = 0, hi = UINT32_MAX;

		if (strcmp(k, "--password") == 0) {
			*set_pw = true;
			continue;
		}
		if (strcmp(k, "--weight") == 0) {
			dst = &a->weight;
			lo = 1;
			hi = 10000;
		} else if (strcmp(k, "--reservation") == 0) {
			dst = &a->reservation;
		} else if (strcmp(k, "--max-qps") == 0) {
			dst = &a->max_qps;
		} else if (strcmp(k, "--max-connections") == 0) {
			dst = &a->max_connections;
		} else if (strcmp(k, "--max-queue") == 0) {
			dst = &a->max_queue;
			lo = 1;
		} else if (strcmp(k, "--queue-timeout-ms") == 0) {
			dst = &a->queue_timeout_ms;
		} else if (strcmp(k, "--max-pinned") == 0) {
			dst = &a->max_pinned;
			hi = 10000;
		} else if (strcmp(k, "--pinned-idle-timeout-ms") == 0) {
			dst = &a->pinned_idle_timeout_ms;
		} else {
			die("account: unknown rule '%s'", k);
		}
		if (i + 1 >= argc || !gw_parse_u32(argv[i + 1], lo, hi, dst))
			die("account: %s needs a whole number in [%u, %u]", k, lo, hi);
		i++;
	}
}

static int account_cmd(const char *dbpath, uint32_t pool_size, int argc, char **argv)
{
	struct store *st;
	char err[256];
	const char *verb = argc > 0 ? argv[0] : "";

	if (!store_open(dbpath, &st, err, sizeof(err)))
		die("%s: %s", dbpath, err);
	if (strcmp(verb, "list") == 0) {
		struct store_account *list;
		size_t n;

		if (!store_account_list(st, &list, &n, err, sizeof(err)))
			die("%s", err);
		printf("%-24s %6s %11s %8s %15s %9s %16s %10s %22s\n", "name", "weight",
		       "reservation", "max_qps", "max_connections", "max_queue", "queue_timeout_ms",
		       "max_pinned", "pinned_idle_timeout_ms");
		for (size_t i = 0; i < n; i++)
			printf("%-24s %6u %11u %8u %15u %9u %16u %10u %22u\n", list[i].name,
			       list[i].weight, list[i].reservation, list[i].max_qps,
			       list[i].max_connections, list[i].max_queue, list[i].queue_timeout_ms,
			       list[i].max_pinned, list[i].pinned_idle_timeout_ms);
		free(list);
	} else if ((strcmp(verb, "add") == 0 || strcmp(verb, "set") == 0) && argc >= 2) {
		struct store_account a;
		bool add = verb[0] == 'a', set_pw = add, found = true;
		char pw[1024];

		if (add) {
			store_account_defaults(&a);
			if (gw_strlcpy(a.name, argv[1], sizeof(a.name)) >= sizeof(a.name))
				die("account name too long (at most %d bytes)", STORE_NAME_MAX);
		} else if (!store_account_get(st, argv[1], &a, &found, err, sizeof(err))) {
			die("%s", err);
		}
		parse_rules(argc, argv, 2, &a, &set_pw);
		if (set_pw) {
			if (isatty(STDIN_FILENO))
				fprintf(stderr, "password for %s: ", a.name);
			if (!read_password(pw, sizeof(pw)))
				die("account %s: no password on standard input", verb);
			a.has_password = pw[0] != '\0';
			if (a.has_password)
				auth_stage1(pw, strlen(pw), a.pw_sha1);
			memset(pw, 0, sizeof(pw));
		}
		if (add ? !store_account_add(st, &a, pool_size, err, sizeof(err))
		        : !store_account_update(st, &a, pool_size, err, sizeof(err)))
			die("account %s %s: %s", verb, a.name, err);
		printf("account %s %s\n", a.name, add ? "added" : "updated");
	} else if (strcmp(verb, "delete") == 0 && argc == 2) {
		bool found;

		if (!store_account_delete(st, argv[1], &found, err, sizeof(err)))
			die("account delete %s: %s", argv[1], err);
		printf("account %s deleted\n", argv[1]);
	} else {
		usage(stderr);
		store_close(st);
		return 2;
	}
	store_close(st);
	return 0;
}

/* ---- the gateway ---- */

static struct event_base *main_base;
static struct event *drain_ev;
static uint64_t drain_deadline;

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	bool idle;

	(void)fd;
	(void)what;
	(void)arg;
	idle = gw_pool_quiet();
	if (idle || gw_now_ns() > drain_deadline)
		event_base_loopbreak(main_base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct timeval t = { 0, 50000 };

	(void)what;
	(void)arg;
	if (sig == SIGHUP) {
		gw_log_reopen();
		gw_log_info("SIGHUP: log reopened");
		return;
	}
	if (gw.stopping) {
		event_base_loopbreak(main_base);
		return;
	}
	gw.stopping = true;
	gw_stop_accepting();
	gw_log_info("signal %d: no new clients; draining running queries (at most 10 s), "
	            "then stopping",
	            (int)sig);
	drain_deadline = gw_now_ns() + 10000000000ull;
	drain_ev = event_new(main_base, -1, EV_PERSIST, on_drain_tick, NULL);
	event_add(drain_ev, &t);
}

/*
 * The backend row of the rules store and the command line meet here: a --backend,
 * --pool-size or --max-active given on the command line is written to the store's
 * backend row (created as "default" when there is none); otherwise the row, as the
 * admin API left it, is what runs. Either way a restart keeps what was last set.
 */
static void seed_backend(struct store *st, const struct options *o)
{
	struct store_backend *list = NULL, b;
	size_t n = 0;
	char err[256];

	if (!store_backend_list(st, &list, &n, err, sizeof(err)))
		die("%s: %s", o->db, err);
	if (n == 0) {
		memset(&b, 0, sizeof(b));
		gw_strlcpy(b.name, "default", sizeof(b.name));
		gw_strlcpy(b.host, gw.cfg.backend_host, sizeof(b.host));
		b.port = gw.cfg.backend_port;
		b.pool_size = gw.cfg.pool_size;
		b.max_active = o->max_active;
		b.enabled = true;
		if (!store_backend_add(st, &b, err, sizeof(err)))
			die("%s: %s", o->db, err);
	} else if (o->backend_given || o->pool_given || o->max_active_given) {
		/* The row that runs (see gw_backend_apply): "default", else the first. */
		size_t k = 0;
		bool changed = false;

		for (size_t i = 0; i < n; i++) {
			if (strcmp(list[i].name, "default") == 0)
				k = i;
		}
		b = list[k];
		if (o->backend_given &&
		    (strcmp(b.host, gw.cfg.backend_host) != 0 || b.port != gw.cfg.backend_port)) {
			gw_strlcpy(b.host, gw.cfg.backend_host, sizeof(b.host));
			b.port = gw.cfg.backend_port;
			changed = true;
		}
		if (o->pool_given && b.pool_size != gw.cfg.pool_size) {
			b.pool_size = gw.cfg.pool_size;
			changed = true;
		}
		if (o->max_active_given && b.max_active != o->max_active) {
			b.max_active = o->max_active;
			changed = true;
		}
		if (changed && !store_backend_update(st, &b, err, sizeof(err)))
			die("%s: %s", o->db, err);
	}
	free(list);
	if (!gw_backend_apply(st, err, sizeof(err)))
		die("%s", err);
}

/* Read the backend's greeting once, to show clients its version. Best effort. */
static void probe_backend_version(void)
{
	int fd = socket(gw.backend_sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd pfd;
	uint8_t buf[512];
	size_t got = 0;
	struct wire_handshake h;

	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&gw.backend_sa, gw.backend_salen) < 0) {
		gw_log_warn("backend %s:%u not reachable yet: %s", gw.cfg.backend_host,
		            gw.cfg.backend_port, strerror(errno));
		close(fd);
		return;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < sizeof(buf) && poll(&pfd, 1, 2000) > 0) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
		if (got >= 4 && got >= 4 + wire_u24(buf))
			break;
	}
	close(fd);
	if (got >= 4 && got >= 4 + wire_u24(buf) &&
	    wire_parse_handshake(buf + 4, wire_u24(buf), &h)) {
		snprintf(gw.cfg.server_version, sizeof(gw.cfg.server_version), "%.40s-sluice",
		         h.server_version);
		gw.cfg.backend_mariadb = !(h.caps & CLIENT_MYSQL);
		gw.cfg.backend_ext_caps = h.ext_caps;
		gw_log_info("backend %s:%u is %s", gw.cfg.backend_host, gw.cfg.backend_port,
		            h.server_version);
	}
}

/*
 * Take the hard open-files limit, and derive --max-clients from it when not given: one
 * descriptor per client, one per backend connection, a few per thread (epoll, eventfd,
 * listener) and some slack for SQLite, the admin API and accepting.
 */
static void raise_fd_limit(uint32_t max_clients)
{
	struct rlimit rl;
	uint64_t own = 64 + 4ull * gw.cfg.threads + gw.cfg.pool_size, room = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > own)
		room = rl.rlim_cur - own;
	gw.cfg.max_clients = max_clients ? max_clients : (uint32_t)(room > 1 ? room : 1);
	/* One address may not fill --max-clients with connections that never log in, but
	 * an application server opening its pool (1024 at once, say) must get through. */
	if (gw.cfg.max_prelogin_per_host == GW_MAX_PRELOGIN_PER_HOST)
		gw.cfg.max_prelogin_per_host = gw.cfg.max_clients / 4 > GW_MIN_PRELOGIN_PER_HOST
		                                   ? gw.cfg.max_clients / 4
		                                   : GW_MIN_PRELOGIN_PER_HOST;
	if (max_clients > room)
		gw_log_warn("--max-clients %u is more than the open-files limit leaves (%llu)",
		            max_clients, (unsigned long long)room);
	gw_log_info("file descriptors: %llu; %llu for sluice itself and %u backend connections; "
	            "max clients %u",
	            (unsigned long long)rl.rlim_cur, (unsigned long long)(own - gw.cfg.pool_size),
	            gw.cfg.pool_size, gw.cfg.max_clients);
}

static int run_gateway(const struct options *o)
{
	struct store *st;
	struct adm_hooks hooks;
	char err[512];
	struct event *sigs[4];
	int signums[4] = { SIGTERM, SIGINT, SIGHUP, 0 };
	bool admin_on = strcmp(o->admin, "off") != 0;
	char backend_host[sizeof(gw.cfg.backend_host)];
	uint16_t backend_port;
	uint32_t pool_size;

	sigset_t stop_sigs;

	signal(SIGPIPE, SIG_IGN);
	/* Until the handlers are in place (after the threads start), SIGTERM waits instead
	 * of killing; worker threads keep these blocked for good. */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
	evthread_use_pthreads();
	gw.started_ns = gw_now_ns();
	if (!gw_parse_hostport(o->listen, gw.cfg.listen_host, sizeof(gw.cfg.listen_host),
	                       &gw.cfg.listen_port))
		die("--listen: expected HOST:PORT, got '%s'", o->listen);
	if (!gw_parse_hostport(o->backend, gw.cfg.backend_host, sizeof(gw.cfg.backend_host),
	                       &gw.cfg.backend_port))
		die("--backend: expected HOST:PORT, got '%s'", o->backend);
	gw.cfg.pool_size = o->pool_size;
	gw.cfg.threads = o->threads;
	gw.cfg.handshake_timeout_ms = 10000;
	gw_strlcpy(gw.cfg.server_version, "5.5.5-10.11.0-sluice", sizeof(gw.cfg.server_version));
	if (!store_open(o->db, &st, err, sizeof(err)))
		die("%s: %s", o->db, err);
	seed_backend(st, o);
	raise_fd_limit(o->max_clients);
	pthread_mutex_init(&gw.sched_lock, NULL);
	gw.qos = qos_new(gw.cfg.pool_size);
	if (!gw.qos)
		die("out of memory");
	if (!gw_accounts_load(st, err, sizeof(err)))
		die("%s: %s", o->db, err);
	probe_backend_version();
	main_base = event_base_new();
	if (!main_base)
		die("libevent: cannot create the main loop");
	if (!gw_start(err, sizeof(err)))
		die("%s", err);
	/* What the start-up line says, read before the admin API may change it. */
	gw_strlcpy(backend_host, gw.cfg.backend_host, sizeof(backend_host));
	backend_port = gw.cfg.backend_port;
	pool_size = gw.cfg.pool_size;
	if (admin_on) {
		memset(&hooks, 0, sizeof(hooks));
		hooks.publish = gw_publish;
		hooks.stats = gw_stats_collect;
		hooks.pool_size = gw.cfg.pool_size;
		if (!adm_start(o->admin, o->token, st, &hooks, err, sizeof(err)))
			die("--admin %s: %s", o->admin, err);
	}
	for (int i = 0; signums[i]; i++) {
		sigs[i] = evsignal_new(main_base, signums[i], on_signal, NULL);
		event_add(sigs[i], NULL);
	}
	pthread_sigmask(SIG_UNBLOCK, &stop_sigs, NULL);
	gw_log_info("sluice %s listening on %s:%u, backend %s:%u, pool %u, %u threads%s%s",
	            PACKAGE_VERSION, gw.cfg.listen_host, gw.cfg.listen_port, backend_host,
	            backend_port, pool_size, gw.cfg.threads, admin_on ? ", admin on " : "",
	            admin_on ? o->admin : "");
	event_base_dispatch(main_base);
	gw_log_info("stopping");
	if (admin_on)
		adm_stop();
	gw_stop();
	store_close(st);
	for (int i = 0; signums[i]; i++)
		event_free(sigs[i]);
	if (drain_ev)
		event_free(drain_ev);
	event_base_free(main_base);
	gw_log_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {
		.listen = "127.0.0.1:3307",
		.backend = "127.0.0.1:3306",
		.db = "sluice.db",
		.admin = "127.0.0.1:8307",
		.token = getenv("SLUICE_ADMIN_TOKEN"),
		.pool_size = 128,
		.threads = 0,
	};
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "backend", required_argument, NULL, 'b' },
		{ "pool-size", required_argument, NULL, 'p' },
		{ "db", required_argument, NULL, 'd' },
		{ "admin", required_argument, NULL, 'a' },
		{ "admin-token", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "unsafe-no-replay", no_argument, NULL, 'R' },
		{ "max-clients", required_argument, NULL, 'M' },
		{ "log-file", required_argument, NULL, 'F' },
		{ "anticipate-ms", required_argument, NULL, 'A' },
		{ "diag-keep-ms", required_argument, NULL, 'K' },
		{ "exact-last-insert-id", no_argument, NULL, 'I' },
		{ "max-active", required_argument, NULL, 'X' },
		{ "reserve-pool", required_argument, NULL, 'r' },
		{ "max-prelogin-per-host", required_argument, NULL, 'P' },
		{ "auth-fail-threshold", required_argument, NULL, 'f' },
		{ "auth-delay-max-ms", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char errbuf[300];

	o.threads = ncpu > 0 ? (uint32_t)ncpu : 1;
	gw.cfg.anticipate_us = GW_ANTICIPATE_US;
	gw.cfg.diag_keep_ms = GW_DIAG_KEEP_MS;
	gw.cfg.reserve_pool = GW_RESERVE_AUTO;
	gw.cfg.max_prelogin_per_host = GW_MAX_PRELOGIN_PER_HOST;
	gw.cfg.auth_fail_threshold = GW_AUTH_FAIL_THRESHOLD;
	gw.cfg.auth_delay_max_ms = GW_AUTH_DELAY_MAX_MS;
	/* '+': stop at the first non-option, so `account add NAME --weight 3` stays intact. */
	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			o.listen = optarg;
			break;
		case 'b':
			o.backend = optarg;
			o.backend_given = true;
			break;
		case 'p':
			o.pool_size = opt_u32("--pool-size", 1, 10000, "from 1 to 10000");
			o.pool_given = true;
			break;
		case 'd':
			o.db = optarg;
			break;
		case 'a':
			o.admin = optarg;
			break;
		case 't':
			o.token = optarg;
			break;
		case 'T':
			o.threads = opt_u32("--threads", 1, 256, "from 1 to 256");
			break;
		case 'L':
			if (!gw_log_parse_level(optarg, &gw_log_level))
				die("--log-level: error, warn, info, debug or noise, got '%s'",
				    optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sluice %s\n", PACKAGE_VERSION);
			return 0;
		case 'R':
			gw.cfg.no_replay = true;
			break;
		case 'F':
			if (!gw_log_open(optarg, errbuf, sizeof(errbuf)))
				die("--log-file %s", errbuf);
			break;
		case 'M':
			o.max_clients = opt_u32("--max-clients", 1, 10000000, "from 1");
			break;
		case 'I':
			gw.cfg.exact_lid = true;
			break;
		case 'K':
			gw.cfg.diag_keep_ms =
			    opt_u32("--diag-keep-ms", 0, 60000, "from 0 to 60000");
			break;
		case 'A':
			gw.cfg.anticipate_us =
			    opt_u32("--anticipate-ms", 0, 1000, "from 0 to 1000") * 1000;
			break;
		case 'r':
			gw.cfg.reserve_pool =
			    opt_u32("--reserve-pool", 0, 10000, "from 0 (off) to 10000");
			break;
		case 'X':
			o.max_active =
			    opt_u32("--max-active", 0, 10000, "from 0 (the pool size) to 10000");
			o.max_active_given = true;
			break;
		case 'P':
			gw.cfg.max_prelogin_per_host =
			    opt_u32("--max-prelogin-per-host", 0, 10000000, "from 0 (no cap)");
			break;
		case 'f':
			gw.cfg.auth_fail_threshold =
			    opt_u32("--auth-fail-threshold", 0, 1000000, "from 0");
			break;
		case 'D':
			gw.cfg.auth_delay_max_ms = opt_u32("--auth-delay-max-ms", 0, 60000,
			                                   "from 0 (never wait) to 60000");
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind], "account") == 0)
			return account_cmd(o.db, o.pool_size, argc - optind - 1, argv + optind + 1);
		fprintf(stderr, "sluice: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return run_gateway(&o);
}
