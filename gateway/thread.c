/*
 * thread.c - the worker threads: one event_base each, a SO_REUSEPORT listening socket
 * each (the kernel spreads new clients), an eventfd-woken inbox for work handed over
 * by other threads, and a 100 ms janitor tick (queue timeouts, handshake timeouts,
 * backend retry after a failure).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/thread.h>

#include "gateway/accounts.h"
#include "gateway/client.h"
#include "gateway/hold.h"
#include "gateway/pool.h"
#include "gateway/thread.h"
#include "proto/log.h"
#include "proto/util.h"

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;
	static uint64_t last_emfile_log;

	(void)what;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* The connection stays in the backlog and the listener stays
				 * readable: stop listening for 100 ms instead of spinning. */
				struct timeval pause = { 0, 100000 };
				uint64_t now = gw_now_ns();

				event_del(w->accept_ev);
				event_add(w->accept_retry_ev, &pause);
				if (now - last_emfile_log > 1000000000u) {
					last_emfile_log = now;
					gw_log_warn("accept: out of file descriptors (%s); "
					            "raise ulimit -n or lower --max-clients",
					            strerror(errno));
				}
			}
			return;
		}
		gw_client_accept(w, cfd, (struct sockaddr *)&ss);
	}
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;

	(void)fd;
	(void)what;
	if (w->listen_fd >= 0)
		event_add(w->accept_ev, NULL);
}

void gw_worker_post(struct gw_msg *m)
{
	gw_worker_post_to(m->client->worker, m);
}

static void worker_wake(struct gw_worker *w)
{
	uint64_t one = 1;

	if (write(w->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gw_log_error("worker %d: eventfd write: %s", w->id, strerror(errno));
}

void gw_worker_post_to(struct gw_worker *w, struct gw_msg *m)
{
	bool wake;

	pthread_mutex_lock(&w->inbox_lock);
	wake = w->inbox == NULL;
	m->next = w->inbox;
	w->inbox = m;
	pthread_mutex_unlock(&w->inbox_lock);
	if (wake)
		worker_wake(w);
}

/*
 * The end of a loop pass: after the callbacks of the events that were ready (and of
 * those they made ready), the worker binds free connections to queued work if any of
 * them asked (gw_sched_kick) and frees the clients they closed. This is the one place
 * both happen: a dispatch asked ten times in a pass runs once, and nothing a callback
 * still uses is freed under it.
 *
 * libevent runs one priority's ready events per loop turn, and a high-priority event made
 * ready (event_active) stops a low-priority batch at once. So from a low-priority
 * callback (a backlogged client's read, GW_LOW_BATCH of them a turn) the step is armed as
 * a timer due now: it runs at the start of the next turn, at high priority, without
 * cutting the batch short (which cost a loop turn, an epoll_wait, per read) and without
 * waiting for the low-priority events, which may not run while high-priority ones keep
 * coming.
 */
static void worker_after_pass(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;

	(void)fd;
	(void)what;
	w->after_armed = false;
	if (w->dispatch_due) {
		w->dispatch_due = false;
		gw_sched_dispatch();
	}
	gw_worker_reclaim(w);
}

/* Only from a callback of w's loop: libevent 2.1's event_base_get_running_event()
 * dereferences a NULL current event on the loop's own thread otherwise. */
void gw_worker_after(struct gw_worker *w)
{
	static const struct timeval now = { 0, 0 };
	struct event *running;

	if (w->after_armed)
		return;
	w->after_armed = true;
	running = event_base_get_running_event(w->base);
	if (running && event_get_priority(running) != GW_PRIO_HIGH)
		event_add(w->after_ev, &now);
	else
		event_active(w->after_ev, 0, 0);
}

void gw_sched_kick(void)
{
	struct gw_worker *w;

	if (!gw.workers)
		return; /* not started: nothing runs or waits yet */
	if (gw_self_worker < gw.cfg.threads) {
		w = &gw.workers[gw_self_worker];
		w->dispatch_due = true;
		gw_worker_after(w);
		return;
	}
	/* Outside the workers (the admin thread applying rules): worker 0 does it. */
	w = &gw.workers[0];
	__atomic_store_n(&w->dispatch_asked, true, __ATOMIC_RELEASE);
	worker_wake(w);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;
	struct gw_msg *list;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		gw_log_error("worker %d: eventfd read: %s", w->id, strerror(errno));
	pthread_mutex_lock(&w->inbox_lock);
	list = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	gw_msgs_run(list);
	if (__atomic_exchange_n(&w->dispatch_asked, false, __ATOMIC_ACQ_REL))
		gw_sched_kick();
	if (__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
		event_base_loopbreak(w->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;
	uint64_t now = gw_now_ns();

	(void)fd;
	(void)what;
	if (w->id == 0) {
		struct gw_msg *local = NULL, *remote = NULL;
		struct qos_req *r;
		bool queued;

		pthread_mutex_lock(&gw.sched_lock);
		while ((r = qos_expired(gw.qos, now)) != NULL) {
			struct gw_client *c =
			    (struct gw_client *)((char *)r - offsetof(struct gw_client, req));
			struct gw_msg *m = &c->msg;

			c->req_queued = false;
			gw_account_reject_locked(c->account, GW_REJECT_QUEUE_TIMEOUT);
			m->kind = GW_MSG_EXPIRE;
			m->client = c;
			m->server = NULL;
			gw_msg_chain(m, &local, &remote);
		}
		queued = qos_queued_total(gw.qos) > 0;
		pthread_mutex_unlock(&gw.sched_lock);
		gw_sched_deliver(local, remote);
		/* Token refills, and retries after a backend failure, need a nudge. */
		if (queued)
			gw_sched_kick();
	}
	gw_client_sweep(w, now);
	gw_pool_trim(w);
}

/*
 * A socket on --listen: with SO_REUSEPORT (each worker's own, the kernel spreads new
 * clients over them) or, as a probe, without. SO_REUSEPORT lets any process of the same
 * user join the group, so a second sluice started on the same port would silently take
 * part of the new clients (issue 11). The probe, bound without SO_REUSEPORT before the
 * workers' sockets, fails when anything listens there already; it is closed again
 * because a socket bound without SO_REUSEPORT keeps the workers' binds out too. A
 * process that binds in the moment between the probe and the workers is not detected.
 */
static int listen_socket(bool probe, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", gw.cfg.listen_port);
	rc = getaddrinfo(gw.cfg.listen_host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "--listen %s: %s", gw.cfg.listen_host, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (!probe && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || (!probe && listen(fd, 4096) < 0)) {
		if (errno == EADDRINUSE)
			snprintf(err, errlen,
			         "--listen %s:%u: address already in use (another sluice or server "
			         "listens there)",
			         gw.cfg.listen_host, gw.cfg.listen_port);
		else
			snprintf(err, errlen, "--listen %s:%u: %s", gw.cfg.listen_host,
			         gw.cfg.listen_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* The per-address table of logins (hosts.h), with a secret seed for its hash. */
static bool hosts_start(char *err, size_t errlen)
{
	struct gw_hosts_config cfg = {
		.max_prelogin = gw.cfg.max_prelogin_per_host,
		.fail_threshold = gw.cfg.auth_fail_threshold,
		.delay_max_ms = gw.cfg.auth_delay_max_ms,
		.step_ms = GW_AUTH_DELAY_STEP_MS,
		.window_ms = GW_AUTH_FAIL_WINDOW_MS,
	};
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = gw_now_ns() ^ ((uint64_t)getpid() << 32);
	gw.hosts = malloc(sizeof(*gw.hosts));
	if (!gw.hosts) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	gw_hosts_init(gw.hosts, &cfg, seed);
	return true;
}

_Thread_local uint32_t gw_self_worker = UINT32_MAX;

static void *worker_main(void *arg)
{
	struct gw_worker *w = arg;

	gw_self_worker = (uint32_t)w->id;
	event_base_loop(w->base, 0);
	return NULL;
}

/*
 * A worker's event base. After at most GW_LOW_BATCH low-priority callbacks (client reads
 * of backlogged accounts) libevent looks for new events again, so a backend response or
 * a quiet tenant's statement that arrives meanwhile runs next instead of waiting for the
 * whole batch.
 */
static struct event_base *worker_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (!cfg)
		return NULL;
	event_config_set_max_dispatch_interval(cfg, NULL, GW_LOW_BATCH, GW_PRIO_LOW);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

bool gw_start(char *err, size_t errlen)
{
	struct timeval tick = { 0, 100000 };

	int probe = listen_socket(/* probe= */ true, err, errlen);

	if (probe < 0)
		return false;
	close(probe);
	if (!hosts_start(err, errlen))
		return false;
	gw.workers = calloc(gw.cfg.threads, sizeof(*gw.workers));
	if (!gw.workers) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (uint32_t i = 0; i < gw.cfg.threads; i++) {
		struct gw_worker *w = &gw.workers[i];

		w->id = (int)i;
		pthread_mutex_init(&w->inbox_lock, NULL);
		w->base = worker_base();
		if (w->base && event_base_priority_init(w->base, GW_PRIOS) < 0) {
			snprintf(err, errlen, "libevent: cannot set up event priorities");
			return false;
		}
		w->listen_fd = listen_socket(/* probe= */ false, err, errlen);
		if (!w->base || w->listen_fd < 0)
			return false;
		w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->notify_fd < 0) {
			snprintf(err, errlen, "eventfd: %s", strerror(errno));
			return false;
		}
		w->accept_ev = event_new(w->base, w->listen_fd, EV_READ | EV_PERSIST, on_accept, w);
		w->notify_ev = event_new(w->base, w->notify_fd, EV_READ | EV_PERSIST, on_notify, w);
		w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
		w->after_ev = event_new(w->base, -1, 0, worker_after_pass, w);
		if (w->after_ev)
			event_priority_set(w->after_ev, GW_PRIO_HIGH);
		if (w->notify_ev)
			event_priority_set(w->notify_ev, GW_PRIO_HIGH);
		if (w->tick_ev)
			event_priority_set(w->tick_ev, GW_PRIO_HIGH);
		w->accept_retry_ev = evtimer_new(w->base, on_accept_retry, w);
		if (!w->accept_ev || !w->notify_ev || !w->tick_ev || !w->after_ev ||
		    !w->accept_retry_ev || event_add(w->accept_ev, NULL) < 0 ||
		    event_add(w->notify_ev, NULL) < 0 || event_add(w->tick_ev, &tick) < 0) {
			snprintf(err, errlen, "libevent setup failed");
			return false;
		}
	}
	gw_pool_init();
	for (uint32_t i = 0; i < gw.cfg.threads; i++) {
		if (pthread_create(&gw.workers[i].thread, NULL, worker_main, &gw.workers[i]) != 0) {
			snprintf(err, errlen, "pthread_create failed");
			return false;
		}
	}
	return true;
}

void gw_stop_accepting(void)
{
	for (uint32_t i = 0; i < gw.cfg.threads; i++) {
		struct gw_worker *w = &gw.workers[i];

		if (w->listen_fd < 0)
			continue;
		event_del(w->accept_ev); /* from another thread: libevent locks the base */
		event_del(w->accept_retry_ev);
		close(w->listen_fd);
		w->listen_fd = -1;
	}
}

/* Stop accepting, then stop every loop and wait for the threads. A loop break asked
 * before a worker's loop has started is lost (event_base_loop() clears it), so each
 * worker is also told through its inbox's eventfd, which its loop reads whenever it
 * starts. */
void gw_stop(void)
{
	gw_stop_accepting();
	for (uint32_t i = 0; i < gw.cfg.threads; i++) {
		__atomic_store_n(&gw.workers[i].stop, true, __ATOMIC_RELEASE);
		worker_wake(&gw.workers[i]);
		event_base_loopbreak(gw.workers[i].base);
	}
	for (uint32_t i = 0; i < gw.cfg.threads; i++)
		pthread_join(gw.workers[i].thread, NULL);
}
