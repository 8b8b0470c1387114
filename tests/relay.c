/*
 * relay: a bare TCP relay, the floor that scripts/bench.sh measures sluice against.
 *
 *     relay LISTEN_PORT TARGET_HOST:TARGET_PORT [LISTEN_HOST]
 *
 * Each accepted connection gets its own connection to the target; bytes are copied both
 * ways by one thread on one epoll set. Per direction there is one 64 KiB buffer and, per
 * message, one recv() and one send(): what a proxy costs when it understands nothing of
 * the protocol. While a direction's buffer holds unsent bytes, that direction stops
 * reading, so a slow reader slows its writer (no buffering beyond the one buffer).
 *
 * Owns its sockets and nothing else; exits on SIGTERM or SIGINT (the default action).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_BUF     (64 * 1024)
#define RELAY_EVENTS  256
#define RELAY_BACKLOG 4096

enum relay_side { RELAY_CLIENT = 0, RELAY_SERVER = 1 };

struct relay_pair;

/* One socket of a pair; its address is the epoll cookie. */
struct relay_end {
	struct relay_pair *pair; /* borrowed: the pair this end is embedded in */
	int fd;                  /* owned; -1 once closed */
	enum relay_side side;    /* which end this is */
	uint32_t mask;           /* epoll interest currently registered */
};

/* Bytes read from one end, waiting to be written to the other. */
struct relay_half {
	char buf[RELAY_BUF]; /* data in [off, len) is unsent */
	size_t len;          /* bytes in buf */
	size_t off;          /* bytes of buf already sent */
	bool eof;            /* the reading end said EOF; shut the writing end when drained */
	bool shut;           /* the writing end was shut down for writing */
};

struct relay_pair {
	struct relay_end end[2];      /* RELAY_CLIENT and RELAY_SERVER */
	struct relay_half half[2];    /* half[s] carries bytes read from end[s] */
	bool connecting;              /* the server end's connect() is in progress */
	bool dead;                    /* closed in this batch; freed after it */
	struct relay_pair *next_dead; /* link in the dead list while dead */
};

static int epfd = -1;
static struct addrinfo *target; /* owned: resolved target address */
static struct relay_pair *dead_list;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Closes both sockets now; the pair itself is freed after the current event batch,
 * because later events of the same batch may still point at it. */
static void pair_close(struct relay_pair *p)
{
	if (p->dead)
		return;
	for (int s = 0; s < 2; s++) {
		if (p->end[s].fd >= 0)
			close(p->end[s].fd);
		p->end[s].fd = -1;
	}
	p->dead = true;
	p->next_dead = dead_list;
	dead_list = p;
}

static bool half_pending(const struct relay_half *h)
{
	return h->off < h->len;
}

/* Registers the interest each end needs now: read while its outgoing half is empty and
 * open, write while its incoming half has bytes (or while connecting). */
static bool pair_update(struct relay_pair *p)
{
	for (int s = 0; s < 2; s++) {
		struct relay_end *e = &p->end[s];
		const struct relay_half *out = &p->half[s];    /* read from e */
		const struct relay_half *in = &p->half[1 - s]; /* written to e */
		uint32_t mask = 0;

		if (s == RELAY_SERVER && p->connecting) {
			mask = EPOLLOUT;
		} else {
			if (!out->eof && !half_pending(out))
				mask |= EPOLLIN;
			if (half_pending(in))
				mask |= EPOLLOUT;
		}
		if (mask == e->mask)
			continue;
		struct epoll_event ev = { .events = mask, .data.ptr = e };
		if (epoll_ctl(epfd, EPOLL_CTL_MOD, e->fd, &ev) < 0)
			return false;
		e->mask = mask;
	}
	return true;
}

/* Sends what half h holds to fd, once. Returns false on a fatal error. */
static bool half_flush(struct relay_half *h, int fd)
{
	if (half_pending(h)) {
		ssize_t n = send(fd, h->buf + h->off, h->len - h->off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		h->off += (size_t)n;
		if (h->off == h->len)
			h->off = h->len = 0;
	}
	if (h->eof && !half_pending(h) && !h->shut) {
		(void)shutdown(fd, SHUT_WR);
		h->shut = true;
	}
	return true;
}

/* One recv() from end s into its empty half, then one send() to the other end. */
static bool pair_read(struct relay_pair *p, int s)
{
	struct relay_half *h = &p->half[s];
	int to = p->end[1 - s].fd;

	if (h->eof || half_pending(h))
		return true;
	ssize_t n = recv(p->end[s].fd, h->buf, sizeof(h->buf), 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	if (n == 0)
		h->eof = true;
	h->len = (size_t)n;
	h->off = 0;
	if (s == RELAY_CLIENT && p->connecting)
		return true; /* flushed once the target connection is up */
	return half_flush(h, to);
}

static void on_event(struct relay_end *e, uint32_t events)
{
	struct relay_pair *p = e->pair;
	int s = e->side;

	if (p->dead)
		return;
	if (s == RELAY_SERVER && p->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			pair_close(p);
			return;
		}
		p->connecting = false;
		if (!half_flush(&p->half[RELAY_CLIENT], e->fd)) {
			pair_close(p);
			return;
		}
	} else {
		/* A reset, or a hang-up after this end's EOF: epoll would report it on every
		 * wait whatever the interest mask, and nothing more can be delivered. */
		if ((events & EPOLLERR) || ((events & EPOLLHUP) && p->half[s].eof)) {
			pair_close(p);
			return;
		}
		if ((events & (EPOLLIN | EPOLLHUP)) && !pair_read(p, s)) {
			pair_close(p);
			return;
		}
		if ((events & EPOLLOUT) && !half_flush(&p->half[1 - s], e->fd)) {
			pair_close(p);
			return;
		}
	}
	/* Both directions finished: nothing more can move. */
	if (p->half[0].shut && p->half[1].shut) {
		pair_close(p);
		return;
	}
	if (!pair_update(p))
		pair_close(p);
}

/* A new client: open its target connection (non-blocking) and register both ends. */
static void on_accept(int lfd)
{
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				perror("relay: accept");
			return;
		}
		int sfd =
		    socket(target->ai_family, target->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		           target->ai_protocol);
		struct relay_pair *p = calloc(1, sizeof(*p));
		if (sfd < 0 || p == NULL) {
			perror("relay: socket");
			close(cfd);
			if (sfd >= 0)
				close(sfd);
			free(p);
			continue;
		}
		set_nodelay(cfd);
		set_nodelay(sfd);
		p->end[RELAY_CLIENT] = (struct relay_end){ p, cfd, RELAY_CLIENT, 0 };
		p->end[RELAY_SERVER] = (struct relay_end){ p, sfd, RELAY_SERVER, 0 };
		if (connect(sfd, target->ai_addr, target->ai_addrlen) < 0 && errno != EINPROGRESS) {
			pair_close(p);
			continue;
		}
		p->connecting = true;
		bool added = true;
		for (int s = 0; s < 2; s++) {
			struct epoll_event ev = { .events = 0, .data.ptr = &p->end[s] };
			if (epoll_ctl(epfd, EPOLL_CTL_ADD, p->end[s].fd, &ev) < 0)
				added = false;
		}
		if (!added || !pair_update(p))
			pair_close(p);
	}
}

static int listen_on(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		                  .ai_socktype = SOCK_STREAM,
		                  .ai_flags = AI_PASSIVE };
	struct addrinfo *ai;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "relay: %s:%s: %s\n", host, port, gai_strerror(rc));
		exit(1);
	}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		die("relay: socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("relay: bind");
	if (listen(fd, RELAY_BACKLOG) < 0)
		die("relay: listen");
	freeaddrinfo(ai);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: relay LISTEN_PORT TARGET_HOST:TARGET_PORT [LISTEN_HOST]\n");
		return 2;
	}
	char *thost = strdup(argv[2]);
	char *colon = thost ? strrchr(thost, ':') : NULL;
	if (colon == NULL) {
		fprintf(stderr, "relay: target must be HOST:PORT\n");
		return 2;
	}
	*colon = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	int rc = getaddrinfo(thost, colon + 1, &hints, &target);
	if (rc != 0) {
		fprintf(stderr, "relay: %s: %s\n", argv[2], gai_strerror(rc));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	int lfd = listen_on(argc == 4 ? argv[3] : "127.0.0.1", argv[1]);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("relay: epoll_create1");
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
		die("relay: epoll_ctl");
	fprintf(stderr, "relay: %s:%s -> %s\n", argc == 4 ? argv[3] : "127.0.0.1", argv[1],
	        argv[2]);

	struct epoll_event evs[RELAY_EVENTS];
	for (;;) {
		int n = epoll_wait(epfd, evs, RELAY_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("relay: epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_accept(lfd);
			else
				on_event(evs[i].data.ptr, evs[i].events);
		}
		while (dead_list != NULL) {
			struct relay_pair *p = dead_list;
			dead_list = p->next_dead;
			free(p);
		}
	}
}
