/*
 * check_pool.c - the pool and the scheduler glue (issue 13), without MariaDB: the real
 * gateway engine (libgateway.a: workers, pool, qos) runs in the test's process, a
 * scripted mock MySQL server (threads of the test, on 127.0.0.1, an ephemeral port) is
 * its backend, and clients speaking the MySQL protocol (proto/wire.h, proto/auth.h) are
 * driven from the test.
 *
 * The mock is a protocol peer: a MariaDB-like greeting (protocol 10, no CLIENT_MYSQL,
 * mysql_native_password scramble), the gateway's login checked against the accounts'
 * passwords, COM_CHANGE_USER answered with an AuthSwitchRequest as MariaDB does, and
 * everything it does not script (the gateway's SET, COM_PING, COM_INIT_DB,
 * COM_RESET_CONNECTION, COM_SET_OPTION, ...) answered OK. Its script is the statement
 * text:
 *
 *   SELECT <v>     a result set of one column and one row, <v>
 *   STALL <v>      waits until the test opens the gate and at least 30 ms, then as
 *                  SELECT <v>
 *   DIE COLCOUNT   the column count, then the connection closes
 *   DIE ROW        column count, definition, EOF, one row, then the connection closes
 *   GARBAGE        a first packet that is no valid answer (a column count with bytes
 *                  after it); the connection stays open
 *   FAIL           ERR 1146
 *
 * and a login mode (accept, refuse with ERR 1045, or close) the test switches.
 *
 * The engine keeps its state in globals (struct gw gw), so every case runs in its own
 * forked process (check's CK_FORK, the default) and starts the engine once. Waiting is
 * polling with a deadline; clients' sockets time out after 10 s, so a hang fails a case
 * instead of stalling the run.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/thread.h>

#include "admin/store.h"
#include "gateway/accounts.h"
#include "gateway/thread.h"
#include "proto/auth.h"
#include "proto/log.h"
#include "proto/util.h"
#include "proto/wire.h"

#define MS 1000000ull

/* Poll cond every millisecond until it holds or ms pass; ok says which. */
#define WAIT_UNTIL(ok, cond, ms)                                                                   \
	do {                                                                                       \
		uint64_t dl_ = gw_now_ns() + (uint64_t)(ms)*MS;                                    \
		while (!((ok) = (cond)) && gw_now_ns() < dl_)                                      \
			usleep(1000);                                                              \
	} while (0)

/* ---- sockets ---- */

static bool read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(fd, (uint8_t *)p + got, n - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

static bool write_full(int fd, const void *p, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t k = send(fd, (const uint8_t *)p + put, n - put, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		put += (size_t)k;
	}
	return true;
}

static bool send_wbuf(int fd, struct wire_buf *b)
{
	bool ok = !b->failed && write_full(fd, b->data, b->len);

	wire_buf_free(b);
	return ok;
}

/* ---- the mock backend ---- */

enum mock_login {
	MOCK_LOGIN_OK = 0, /* check the password, answer OK */
	MOCK_LOGIN_ERR,    /* answer the handshake response with ERR 1045 */
	MOCK_LOGIN_CLOSE,  /* close instead of answering it */
};

#define MOCK_MAX_CONNS    128
#define MOCK_STALL_MIN_NS (30 * MS)
#define MOCK_LOG_MAX      1024
#define MOCK_CAPS                                                                                  \
	(CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_NO_SCHEMA |        \
	 CLIENT_LOCAL_FILES | CLIENT_IGNORE_SPACE | CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE |      \
	 CLIENT_IGNORE_SIGPIPE | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |                  \
	 CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |                \
	 CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |       \
	 CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF)

struct mock_user {
	const char *name;
	const char *password;
};

/* A statement the mock was sent (COM_QUERY), in arrival order. */
struct mock_entry {
	unsigned conn; /* the mock's connection number (its thread id, from 1) */
	char user[32]; /* the account the connection was logged in as then */
	char sql[64];
};

struct mock_conn {
	pthread_t th;
	int fd;
	unsigned id;
};

static struct mock {
	int lfd;
	uint16_t port;
	pthread_t acceptor;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	bool stopping;
	enum mock_login login;
	unsigned delay_us; /* before each answer to SELECT */
	bool gate_open;
	unsigned stalled; /* STALL statements waiting at the gate now */
	unsigned accepted, live, max_live, logins_ok, logins_refused, bad_auth, change_users;
	unsigned protocol_errors; /* what a MariaDB would have rejected */
	unsigned others;          /* statements answered OK without a script (SET, DO) */
	unsigned nlog;
	struct mock_entry log[MOCK_LOG_MAX];
	unsigned nconns;
	struct mock_conn conns[MOCK_MAX_CONNS];
	const struct mock_user *users;
} mk;

static void mock_lock(void)
{
	pthread_mutex_lock(&mk.mu);
}

static void mock_unlock(void)
{
	pthread_mutex_unlock(&mk.mu);
}

#define MOCK_GET(field, out)                                                                       \
	do {                                                                                       \
		mock_lock();                                                                       \
		(out) = mk.field;                                                                  \
		mock_unlock();                                                                     \
	} while (0)

static unsigned mock_get(const unsigned *field)
{
	unsigned v;

	mock_lock();
	v = *field;
	mock_unlock();
	return v;
}

static void mock_set_login(enum mock_login m)
{
	mock_lock();
	mk.login = m;
	mock_unlock();
}

static void mock_open_gate(void)
{
	mock_lock();
	mk.gate_open = true;
	pthread_cond_broadcast(&mk.cv);
	mock_unlock();
}

/* A packet from the gateway into buf (cap bytes); false at EOF or on a bad length. */
static bool mock_read_pkt(int fd, uint8_t *buf, size_t cap, uint32_t *len, uint8_t *seq)
{
	uint8_t h[WIRE_HDR_LEN];

	if (!read_full(fd, h, sizeof(h)))
		return false;
	*len = wire_u24(h);
	*seq = h[3];
	if (*len > cap)
		return false;
	return read_full(fd, buf, *len);
}

static bool mock_send_ok(int fd, uint8_t seq, uint32_t caps)
{
	struct wire_buf b;

	wire_buf_init(&b);
	wire_build_ok(&b, seq, caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0);
	return send_wbuf(fd, &b);
}

static bool mock_send_err(int fd, uint8_t seq, uint16_t code, const char *state, const char *msg)
{
	struct wire_buf b;

	wire_buf_init(&b);
	wire_build_err(&b, seq, code, state, "%s", msg);
	return send_wbuf(fd, &b);
}

/* How far a result set goes before the connection dies (DIE ...). */
enum mock_cut { CUT_NONE = 0, CUT_AFTER_COLCOUNT, CUT_AFTER_ROW };

/* A one-column, one-row result set of v, as MariaDB sends it with caps in force. */
static bool mock_send_result(int fd, uint32_t caps, const char *v, enum mock_cut cut)
{
	bool deprecate_eof = caps & CLIENT_DEPRECATE_EOF;
	struct wire_buf b;
	size_t off;
	uint8_t seq = 1;

	wire_buf_init(&b);
	off = wire_packet_begin(&b, seq++);
	wire_put_lenenc(&b, 1);
	wire_packet_end(&b, off);
	if (cut == CUT_AFTER_COLCOUNT)
		return send_wbuf(fd, &b);
	off = wire_packet_begin(&b, seq++);
	wire_put_lenenc_str(&b, "def", 3);
	wire_put_lenenc_str(&b, "", 0);  /* schema */
	wire_put_lenenc_str(&b, "", 0);  /* table */
	wire_put_lenenc_str(&b, "", 0);  /* org_table */
	wire_put_lenenc_str(&b, "v", 1); /* name */
	wire_put_lenenc_str(&b, "", 0);  /* org_name */
	wire_put_lenenc(&b, 0x0c);
	wire_put_u16(&b, 45);   /* utf8mb4_general_ci */
	wire_put_u32(&b, 256);  /* column length */
	wire_put_u8(&b, 0xfd);  /* MYSQL_TYPE_VAR_STRING */
	wire_put_u16(&b, 0x01); /* NOT_NULL */
	wire_put_u8(&b, 0x27);  /* decimals */
	wire_put_u16(&b, 0);    /* filler */
	wire_packet_end(&b, off);
	if (!deprecate_eof)
		wire_build_eof(&b, seq++, 0, SERVER_STATUS_AUTOCOMMIT);
	off = wire_packet_begin(&b, seq++);
	wire_put_lenenc_str(&b, v, strlen(v));
	wire_packet_end(&b, off);
	if (cut == CUT_AFTER_ROW)
		return send_wbuf(fd, &b);
	if (deprecate_eof) {
		off = wire_packet_begin(&b, seq++);
		wire_put_u8(&b, 0xfe);
		wire_put_lenenc(&b, 0);
		wire_put_lenenc(&b, 0);
		wire_put_u16(&b, SERVER_STATUS_AUTOCOMMIT);
		wire_put_u16(&b, 0);
		wire_packet_end(&b, off);
	} else {
		wire_build_eof(&b, seq++, 0, SERVER_STATUS_AUTOCOMMIT);
	}
	return send_wbuf(fd, &b);
}

static const struct mock_user *mock_find_user(const char *name)
{
	for (const struct mock_user *u = mk.users; u && u->name; u++) {
		if (strcmp(u->name, name) == 0)
			return u;
	}
	return NULL;
}

/* Does answer (alen bytes) prove user's password for salt? */
static bool mock_check_auth(const char *user, const uint8_t *salt, const uint8_t *answer,
                            size_t alen)
{
	const struct mock_user *u = mock_find_user(user);
	uint8_t stage1[AUTH_SHA1_LEN];

	if (!u)
		return false;
	auth_stage1(u->password, strlen(u->password), stage1);
	return auth_native_verify(stage1, u->password[0] != '\0', salt, answer, alen);
}

static void mock_count(unsigned *field)
{
	mock_lock();
	(*field)++;
	mock_unlock();
}

/* COM_QUERY p[1..n): answer by the script. false: the connection ends. */
static bool mock_query(struct mock_conn *mc, uint32_t caps, const char *user, const uint8_t *p,
                       uint32_t n)
{
	char sql[64];
	size_t len = n - 1 < sizeof(sql) - 1 ? n - 1 : sizeof(sql) - 1;
	bool scripted;
	unsigned delay;

	memcpy(sql, p + 1, len);
	sql[len] = '\0';
	scripted = strncmp(sql, "SELECT ", 7) == 0 || strncmp(sql, "STALL ", 6) == 0 ||
	           strncmp(sql, "DIE ", 4) == 0 || strncmp(sql, "GARBAGE", 7) == 0 ||
	           strcmp(sql, "FAIL") == 0;
	mock_lock();
	if (scripted && mk.nlog < MOCK_LOG_MAX) {
		struct mock_entry *e = &mk.log[mk.nlog++];

		e->conn = mc->id;
		gw_strlcpy(e->user, user, sizeof(e->user));
		gw_strlcpy(e->sql, sql, sizeof(e->sql));
	}
	if (!scripted)
		mk.others++;
	delay = mk.delay_us;
	mock_unlock();
	if (!scripted)
		return mock_send_ok(mc->fd, 1, caps);
	if (strncmp(sql, "SELECT ", 7) == 0) {
		if (delay)
			usleep(delay);
		return mock_send_result(mc->fd, caps, sql + 7, CUT_NONE);
	}
	if (strncmp(sql, "STALL ", 6) == 0) {
		uint64_t t0 = gw_now_ns();

		mock_lock();
		mk.stalled++;
		pthread_cond_broadcast(&mk.cv);
		while (!mk.gate_open && !mk.stopping)
			pthread_cond_wait(&mk.cv, &mk.mu);
		mk.stalled--;
		mock_unlock();
		/* A long statement, however soon the gate opened: it costs its account more
		 * than the scheduler's first estimate (1 ms) by far. */
		while (gw_now_ns() - t0 < MOCK_STALL_MIN_NS)
			usleep(1000);
		return mock_send_result(mc->fd, caps, sql + 6, CUT_NONE);
	}
	if (strcmp(sql, "DIE COLCOUNT") == 0 || strcmp(sql, "DIE ROW") == 0) {
		mock_send_result(mc->fd, caps, "dying",
		                 sql[4] == 'C' ? CUT_AFTER_COLCOUNT : CUT_AFTER_ROW);
		return false;
	}
	if (strcmp(sql, "GARBAGE2") == 0) {
		/* a column count, its definition, then an EOF too long to be one */
		struct wire_buf b;
		size_t off;

		wire_buf_init(&b);
		off = wire_packet_begin(&b, 1);
		wire_put_lenenc(&b, 1);
		wire_packet_end(&b, off);
		off = wire_packet_begin(&b, 2);
		wire_put_lenenc_str(&b, "def", 3);
		wire_put_lenenc_str(&b, "", 0);
		wire_put_lenenc_str(&b, "", 0);
		wire_put_lenenc_str(&b, "", 0);
		wire_put_lenenc_str(&b, "v", 1);
		wire_put_lenenc_str(&b, "", 0);
		wire_put_lenenc(&b, 0x0c);
		wire_put_u16(&b, 45);
		wire_put_u32(&b, 256);
		wire_put_u8(&b, 0xfd);
		wire_put_u16(&b, 1);
		wire_put_u8(&b, 0x27);
		wire_put_u16(&b, 0);
		wire_packet_end(&b, off);
		off = wire_packet_begin(&b, 3);
		wire_put_u8(&b, 0xfe);
		wire_put_bytes(&b, "xxxxxxxxxxx", 11);
		wire_packet_end(&b, off);
		return send_wbuf(mc->fd, &b);
	}
	if (strcmp(sql, "GARBAGE") == 0) {
		static const uint8_t garbage[] = { 5, 0, 0, 1, 0x01, 0xde, 0xad, 0xbe, 0xef };

		return write_full(mc->fd, garbage, sizeof(garbage));
	}
	return mock_send_err(mc->fd, 1, 1146, "42S02", "Table 'test.nope' doesn't exist");
}

/* COM_CHANGE_USER as MariaDB answers it: an AuthSwitchRequest with a fresh scramble,
 * the answer checked, then OK (or ERR 1045). */
static bool mock_change_user(struct mock_conn *mc, uint32_t caps, const uint8_t *p, uint32_t n,
                             char *user, size_t userlen)
{
	struct wire_change_user cu;
	struct wire_buf b;
	uint8_t salt[AUTH_SALT_LEN], ans[256], seq;
	uint32_t alen;
	size_t off;

	if (!wire_parse_change_user(p, n, caps, &cu)) {
		mock_count(&mk.protocol_errors);
		return false;
	}
	mock_count(&mk.change_users);
	auth_random_salt(salt);
	wire_buf_init(&b);
	off = wire_packet_begin(&b, 1);
	wire_put_u8(&b, 0xfe);
	wire_put_cstr(&b, AUTH_NATIVE);
	wire_put_bytes(&b, salt, sizeof(salt));
	wire_put_u8(&b, 0);
	wire_packet_end(&b, off);
	if (!send_wbuf(mc->fd, &b) || !mock_read_pkt(mc->fd, ans, sizeof(ans), &alen, &seq))
		return false;
	if (seq != 2)
		mock_count(&mk.protocol_errors);
	if (!mock_check_auth(cu.user, salt, ans, alen)) {
		mock_count(&mk.bad_auth);
		mock_send_err(mc->fd, 3, 1045, "28000", "Access denied (change user)");
		return false;
	}
	gw_strlcpy(user, cu.user, userlen);
	return mock_send_ok(mc->fd, 3, caps);
}

static void *mock_conn_main(void *arg)
{
	struct mock_conn *mc = arg;
	uint8_t *buf = malloc(1u << 20);
	struct wire_handshake h;
	struct wire_handshake_resp r;
	struct wire_buf b;
	uint32_t len, caps;
	uint8_t seq;
	char user[82] = "";
	enum mock_login mode;

	if (!buf)
		goto out;
	memset(&h, 0, sizeof(h));
	h.protocol = 10;
	gw_strlcpy(h.server_version, "5.5.5-10.11.6-MariaDB-mock", sizeof(h.server_version));
	h.conn_id = 4000 + mc->id;
	auth_random_salt(h.scramble);
	h.caps = MOCK_CAPS; /* no CLIENT_MYSQL: MariaDB */
	h.ext_caps = MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS;
	h.charset = 45;
	h.status = SERVER_STATUS_AUTOCOMMIT;
	gw_strlcpy(h.auth_plugin, AUTH_NATIVE, sizeof(h.auth_plugin));
	wire_buf_init(&b);
	wire_build_handshake(&b, 0, &h);
	if (!send_wbuf(mc->fd, &b))
		goto out;
	/* The startup probe reads the greeting and goes. */
	if (!mock_read_pkt(mc->fd, buf, 1u << 20, &len, &seq))
		goto out;
	if (seq != 1 || !wire_parse_handshake_resp(buf, len, &r) || r.is_ssl_request ||
	    (r.caps & ~MOCK_CAPS & ~CLIENT_LONG_PASSWORD) != 0) {
		mock_count(&mk.protocol_errors);
		goto out;
	}
	caps = r.caps & MOCK_CAPS;
	MOCK_GET(login, mode);
	if (mode == MOCK_LOGIN_CLOSE) {
		mock_count(&mk.logins_refused);
		goto out;
	}
	if (mode == MOCK_LOGIN_ERR) {
		mock_count(&mk.logins_refused);
		mock_send_err(mc->fd, 2, 1045, "28000", "Access denied for user (mock refuses)");
		goto out;
	}
	if ((r.auth_plugin[0] && strcmp(r.auth_plugin, AUTH_NATIVE) != 0) ||
	    !mock_check_auth(r.user, h.scramble, r.auth, r.auth_len)) {
		mock_count(&mk.bad_auth);
		mock_send_err(mc->fd, 2, 1045, "28000", "Access denied (bad password)");
		goto out;
	}
	gw_strlcpy(user, r.user, sizeof(user));
	if (!mock_send_ok(mc->fd, 2, caps))
		goto out;
	mock_count(&mk.logins_ok);
	while (mock_read_pkt(mc->fd, buf, 1u << 20, &len, &seq)) {
		bool go_on = true;

		if (seq != 0 || len == 0) {
			mock_count(&mk.protocol_errors);
			break;
		}
		switch (buf[0]) {
		case COM_QUIT:
			go_on = false;
			break;
		case COM_STMT_CLOSE:
			break; /* no answer */
		case COM_QUERY:
			go_on = mock_query(mc, caps, user, buf, len);
			break;
		case COM_CHANGE_USER:
			go_on = mock_change_user(mc, caps, buf, len, user, sizeof(user));
			break;
		case COM_SET_OPTION:
			if (len != 3) {
				mock_count(&mk.protocol_errors);
				go_on = false;
				break;
			}
			if (wire_u16(buf + 1) == 0)
				caps |= CLIENT_MULTI_STATEMENTS;
			else
				caps &= ~CLIENT_MULTI_STATEMENTS;
			go_on = mock_send_ok(mc->fd, 1, caps);
			break;
		default: /* COM_PING, COM_INIT_DB, COM_RESET_CONNECTION, ... */
			go_on = mock_send_ok(mc->fd, 1, caps);
			break;
		}
		if (!go_on)
			break;
	}
out:
	free(buf);
	/* Counted out before the peer can see the close (and open another connection in its
	 * place); the descriptor is closed by mock_stop(), after the join, so that no other
	 * thread's descriptor can take its number meanwhile. */
	mock_lock();
	mk.live--;
	pthread_cond_broadcast(&mk.cv);
	mock_unlock();
	shutdown(mc->fd, SHUT_RDWR);
	return NULL;
}

static void *mock_accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(mk.lfd, NULL, NULL, SOCK_CLOEXEC);
		int one = 1;
		struct mock_conn *mc;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* mock_stop() shut the socket down */
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		mock_lock();
		if (mk.stopping || mk.nconns == MOCK_MAX_CONNS) {
			mock_unlock();
			close(fd);
			continue;
		}
		mc = &mk.conns[mk.nconns];
		mc->fd = fd;
		mc->id = mk.nconns + 1;
		mk.accepted++;
		mk.live++;
		if (mk.live > mk.max_live)
			mk.max_live = mk.live;
		if (pthread_create(&mc->th, NULL, mock_conn_main, mc) != 0) {
			mk.accepted--;
			mk.live--;
			mock_unlock();
			close(fd);
			continue;
		}
		mk.nconns++;
		mock_unlock();
	}
}

static void mock_start(const struct mock_user *users)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int one = 1;

	memset(&mk, 0, sizeof(mk));
	pthread_mutex_init(&mk.mu, NULL);
	pthread_cond_init(&mk.cv, NULL);
	mk.users = users;
	mk.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(mk.lfd, 0);
	setsockopt(mk.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(mk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(mk.lfd, 128), 0);
	ck_assert_int_eq(getsockname(mk.lfd, (struct sockaddr *)&sa, &salen), 0);
	mk.port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&mk.acceptor, NULL, mock_accept_main, NULL), 0);
}

static void mock_stop(void)
{
	unsigned n;

	mock_lock();
	mk.stopping = true;
	pthread_cond_broadcast(&mk.cv);
	mock_unlock();
	shutdown(mk.lfd, SHUT_RDWR); /* accept() returns */
	pthread_join(mk.acceptor, NULL);
	close(mk.lfd);
	mock_lock();
	n = mk.nconns;
	mock_unlock();
	for (unsigned i = 0; i < n; i++)
		shutdown(mk.conns[i].fd, SHUT_RDWR);
	for (unsigned i = 0; i < n; i++) {
		pthread_join(mk.conns[i].th, NULL);
		close(mk.conns[i].fd);
	}
}

/* Forget what the mock counted so far (the startup probe's connection). */
static void mock_reset_counts(void)
{
	mock_lock();
	mk.accepted = mk.max_live = mk.live;
	mk.logins_ok = mk.logins_refused = mk.change_users = mk.others = 0;
	mk.nlog = 0;
	mock_unlock();
}

/* The index in the mock's log of the statement sql, or -1. */
static int mock_log_find(const char *sql)
{
	int at = -1;

	mock_lock();
	for (unsigned i = 0; i < mk.nlog && at < 0; i++) {
		if (strcmp(mk.log[i].sql, sql) == 0)
			at = (int)i;
	}
	mock_unlock();
	return at;
}

static struct mock_entry mock_log_at(unsigned i)
{
	struct mock_entry e;

	mock_lock();
	ck_assert_uint_lt(i, mk.nlog);
	e = mk.log[i];
	mock_unlock();
	return e;
}

/* ---- the gateway, in this process ---- */

static const struct mock_user users[] = {
	{ "alice", "alice-secret" },
	{ "bob", "bob-secret" },
	{ NULL, NULL },
};

struct gw_opts {
	uint32_t pool_size;
	uint32_t queue_timeout_ms; /* every account's; 0: the default */
	bool cold;                 /* return before the workers' loops surely run */
};

static struct store *st;
static uint16_t gw_ports[2]; /* each worker's listening port */

/* What main.c's probe_backend_version() does: the backend's greeting says what it is. */
static void probe_backend(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint8_t hdr[WIRE_HDR_LEN], buf[512];
	struct wire_handshake h;
	uint32_t len;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&gw.backend_sa, gw.backend_salen), 0);
	ck_assert(read_full(fd, hdr, sizeof(hdr)));
	len = wire_u24(hdr);
	ck_assert_uint_le(len, sizeof(buf));
	ck_assert(read_full(fd, buf, len));
	close(fd);
	ck_assert(wire_parse_handshake(buf, len, &h));
	snprintf(gw.cfg.server_version, sizeof(gw.cfg.server_version), "%.40s-sluice",
	         h.server_version);
	gw.cfg.backend_mariadb = !(h.caps & CLIENT_MYSQL);
	gw.cfg.backend_ext_caps = h.ext_caps;
	ck_assert(gw.cfg.backend_mariadb);
}

/* The mock, then the engine as main.c's run_gateway() sets it up: the rules store (in
 * memory) with its backend row and the accounts, qos, two workers each listening on an
 * ephemeral port of 127.0.0.1, no admin API. */
static void gw_up(const struct gw_opts *o)
{
	struct store_backend be;
	char err[512];
	bool quiet;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("CHECK_POOL_LOG"))
		ck_assert(gw_log_parse_level(getenv("CHECK_POOL_LOG"), &gw_log_level));
	else
		gw_log_level = GW_LOG_ERROR;
	mock_start(users);
	evthread_use_pthreads();
	gw.started_ns = gw_now_ns();
	gw_strlcpy(gw.cfg.listen_host, "127.0.0.1", sizeof(gw.cfg.listen_host));
	gw.cfg.listen_port = 0; /* each worker gets its own port */
	gw_strlcpy(gw.cfg.backend_host, "127.0.0.1", sizeof(gw.cfg.backend_host));
	gw.cfg.backend_port = mk.port;
	gw.cfg.pool_size = o->pool_size;
	gw.cfg.threads = 2;
	gw.cfg.handshake_timeout_ms = 10000;
	gw.cfg.anticipate_us = GW_ANTICIPATE_US;
	gw.cfg.diag_keep_ms = GW_DIAG_KEEP_MS;
	gw.cfg.reserve_pool = 0; /* no connection beyond the pool: the pool's size is tested */
	gw.cfg.max_prelogin_per_host = 0;
	gw.cfg.auth_fail_threshold = GW_AUTH_FAIL_THRESHOLD;
	gw.cfg.auth_delay_max_ms = GW_AUTH_DELAY_MAX_MS;
	gw.cfg.max_clients = 1000;
	gw_strlcpy(gw.cfg.server_version, "5.5.5-10.11.0-sluice", sizeof(gw.cfg.server_version));

	ck_assert_msg(store_open(":memory:", &st, err, sizeof(err)), "store_open: %s", err);
	memset(&be, 0, sizeof(be));
	gw_strlcpy(be.name, "default", sizeof(be.name));
	gw_strlcpy(be.host, "127.0.0.1", sizeof(be.host));
	be.port = mk.port;
	be.pool_size = o->pool_size;
	be.enabled = true;
	ck_assert_msg(store_backend_add(st, &be, err, sizeof(err)), "backend: %s", err);
	ck_assert_msg(gw_backend_apply(st, err, sizeof(err)), "gw_backend_apply: %s", err);
	for (const struct mock_user *u = users; u->name; u++) {
		struct store_account a;

		store_account_defaults(&a);
		gw_strlcpy(a.name, u->name, sizeof(a.name));
		a.has_password = true;
		auth_stage1(u->password, strlen(u->password), a.pw_sha1);
		if (o->queue_timeout_ms)
			a.queue_timeout_ms = o->queue_timeout_ms;
		ck_assert_msg(store_account_add(st, &a, o->pool_size, err, sizeof(err)),
		              "account %s: %s", u->name, err);
	}
	pthread_mutex_init(&gw.sched_lock, NULL);
	gw.qos = qos_new(gw.cfg.pool_size);
	ck_assert_ptr_nonnull(gw.qos);
	ck_assert_msg(gw_accounts_load(st, err, sizeof(err)), "gw_accounts_load: %s", err);
	probe_backend();
	ck_assert_msg(gw_start(err, sizeof(err)), "gw_start: %s", err);
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in sa;
		socklen_t salen = sizeof(sa);

		ck_assert_int_eq(
		    getsockname(gw.workers[i].listen_fd, (struct sockaddr *)&sa, &salen), 0);
		gw_ports[i] = ntohs(sa.sin_port);
	}
	if (o->cold)
		return;
	/* Both workers' loops run before anything else happens: a greeting from each. */
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in sa;
		struct timeval tv = { 10, 0 };
		uint8_t hdr[WIRE_HDR_LEN];
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		ck_assert_int_ge(fd, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons(gw_ports[i]);
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_msg(read_full(fd, hdr, sizeof(hdr)), "no greeting from worker %d", i);
		close(fd);
	}
	/* The probe's connection is gone before the counts start. */
	WAIT_UNTIL(quiet, mock_get(&mk.live) == 0, 5000);
	ck_assert_msg(quiet, "the probe's connection to the mock stays open");
	mock_reset_counts();
}

/* Stop the engine and the mock; what no case may leave behind is checked here. */
static void gw_down(void)
{
	unsigned bad_auth, protocol_errors;

	gw_stop();
	mock_stop();
	store_close(st);
	MOCK_GET(bad_auth, bad_auth);
	MOCK_GET(protocol_errors, protocol_errors);
	ck_assert_msg(bad_auth == 0, "the gateway logged in to the mock with a wrong password");
	ck_assert_msg(protocol_errors == 0, "the mock saw %u protocol errors", protocol_errors);
}

static size_t queued_now(void)
{
	size_t n;

	pthread_mutex_lock(&gw.sched_lock);
	n = qos_queued_total(gw.qos);
	pthread_mutex_unlock(&gw.sched_lock);
	return n;
}

/* ---- clients ---- */

struct cl {
	int fd;
	uint8_t seq;  /* the sequence id the next packet from the gateway must have */
	bool lax_seq; /* take the next packet whatever its sequence id */
	uint8_t buf[65536];
};

enum res_kind { RES_IO = 0, RES_PROTO, RES_OK, RES_ERR, RES_ROWS };

struct res {
	enum res_kind kind;
	uint16_t code; /* ERR */
	char state[6];
	char msg[300];
	unsigned packets; /* packets of the answer before the ERR */
	unsigned nrows;
	char val[128]; /* the first row's first value */
	char why[160]; /* RES_IO, RES_PROTO */
};

static const char *res_str(const struct res *r, char *buf, size_t n)
{
	switch (r->kind) {
	case RES_IO:
		snprintf(buf, n, "I/O: %s", r->why);
		break;
	case RES_PROTO:
		snprintf(buf, n, "protocol: %s", r->why);
		break;
	case RES_OK:
		snprintf(buf, n, "OK");
		break;
	case RES_ERR:
		snprintf(buf, n, "ERR %u (%s) %s", r->code, r->state, r->msg);
		break;
	case RES_ROWS:
		snprintf(buf, n, "%u rows, first '%s'", r->nrows, r->val);
		break;
	}
	return buf;
}

/* The next packet from the gateway into c->buf; it must carry the expected sequence id. */
static bool cl_read_pkt(struct cl *c, uint32_t *len, struct res *r)
{
	uint8_t h[WIRE_HDR_LEN];

	if (!read_full(c->fd, h, sizeof(h))) {
		r->kind = RES_IO;
		snprintf(r->why, sizeof(r->why), "read: %s",
		         errno == EAGAIN ? "timed out (10 s)" : "connection closed");
		return false;
	}
	*len = wire_u24(h);
	if (c->lax_seq) {
		c->lax_seq = false;
		c->seq = h[3];
	}
	if (h[3] != c->seq) {
		r->kind = RES_PROTO;
		snprintf(r->why, sizeof(r->why), "sequence id %u, expected %u", h[3], c->seq);
		return false;
	}
	c->seq++;
	if (*len > sizeof(c->buf) || !read_full(c->fd, c->buf, *len)) {
		r->kind = RES_IO;
		snprintf(r->why, sizeof(r->why), "packet of %u bytes cut short", *len);
		return false;
	}
	return true;
}

static void cl_take_err(struct cl *c, uint32_t len, struct res *r)
{
	struct wire_err e;

	if (!wire_parse_err(c->buf, len, &e)) {
		r->kind = RES_PROTO;
		snprintf(r->why, sizeof(r->why), "malformed ERR");
		return;
	}
	r->kind = RES_ERR;
	r->code = e.code;
	memcpy(r->state, e.sqlstate, sizeof(r->state));
	snprintf(r->msg, sizeof(r->msg), "%.*s", (int)e.msg_len, (const char *)e.msg);
}

static bool cl_is_eof(const struct cl *c, uint32_t len)
{
	return len > 0 && len < 9 && c->buf[0] == 0xfe;
}

/* The answer to the command sent last: OK, ERR (also in the middle of a result) or a
 * text result set, whose packets are checked in order. */
static void cl_read_result(struct cl *c, struct res *r)
{
	uint32_t len;
	uint64_t ncols;
	struct wire_cur cur;

	memset(r, 0, sizeof(*r));
	c->seq = 1;
	if (!cl_read_pkt(c, &len, r))
		return;
	if (len > 0 && c->buf[0] == 0x00) {
		r->kind = RES_OK;
		return;
	}
	if (len > 0 && c->buf[0] == 0xff) {
		cl_take_err(c, len, r);
		return;
	}
	cur = wire_cur_init(c->buf, len);
	if (!wire_get_lenenc(&cur, &ncols, NULL) || ncols == 0 || wire_cur_left(&cur) != 0) {
		r->kind = RES_PROTO;
		snprintf(r->why, sizeof(r->why), "not a column count (%u bytes, 0x%02x)", len,
		         len ? c->buf[0] : 0);
		return;
	}
	r->packets = 1;
	for (uint64_t i = 0; i <= ncols; i++) { /* the definitions, then the EOF */
		if (!cl_read_pkt(c, &len, r))
			return;
		if (len > 0 && c->buf[0] == 0xff) {
			cl_take_err(c, len, r);
			return;
		}
		r->packets++;
		if ((i == ncols) != cl_is_eof(c, len)) {
			r->kind = RES_PROTO;
			snprintf(r->why, sizeof(r->why), "column definitions out of order");
			return;
		}
	}
	for (;;) {
		if (!cl_read_pkt(c, &len, r))
			return;
		if (len > 0 && c->buf[0] == 0xff) {
			cl_take_err(c, len, r);
			return;
		}
		r->packets++;
		if (cl_is_eof(c, len)) {
			r->kind = RES_ROWS;
			return;
		}
		if (r->nrows++ == 0) {
			const uint8_t *v;
			size_t vlen;

			cur = wire_cur_init(c->buf, len);
			if (!wire_get_lenenc_str(&cur, &v, &vlen) || vlen >= sizeof(r->val)) {
				r->kind = RES_PROTO;
				snprintf(r->why, sizeof(r->why), "bad row");
				return;
			}
			memcpy(r->val, v, vlen);
			r->val[vlen] = '\0';
		}
	}
}

static bool cl_send_query(struct cl *c, const char *sql)
{
	struct wire_buf b;
	size_t off;

	wire_buf_init(&b);
	off = wire_packet_begin(&b, 0);
	wire_put_u8(&b, COM_QUERY);
	wire_put_bytes(&b, sql, strlen(sql));
	wire_packet_end(&b, off);
	return send_wbuf(c->fd, &b);
}

static void cl_query(struct cl *c, const char *sql, struct res *r)
{
	if (!cl_send_query(c, sql)) {
		memset(r, 0, sizeof(*r));
		r->kind = RES_IO;
		snprintf(r->why, sizeof(r->why), "send failed");
		return;
	}
	cl_read_result(c, r);
}

/* Connect to worker `worker`'s port and log in as user; NULL with why on failure. */
static struct cl *cl_connect(int worker, const char *user, const char *password, char *why,
                             size_t whylen)
{
	struct cl *c = calloc(1, sizeof(*c));
	struct timeval tv = { 10, 0 };
	struct sockaddr_in sa;
	struct wire_handshake h;
	struct wire_handshake_resp hr;
	struct wire_buf b;
	struct res r;
	uint8_t stage1[AUTH_SHA1_LEN];
	uint32_t len;

	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(gw_ports[worker & 1]);
	if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, whylen, "connect: %s", strerror(errno));
		goto fail;
	}
	memset(&r, 0, sizeof(r));
	c->seq = 0;
	if (!cl_read_pkt(c, &len, &r) || !wire_parse_handshake(c->buf, len, &h)) {
		snprintf(why, whylen, "greeting: %s", r.why[0] ? r.why : "malformed");
		goto fail;
	}
	memset(&hr, 0, sizeof(hr));
	hr.caps = CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 |
	          CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS |
	          CLIENT_PLUGIN_AUTH;
	hr.max_packet = 1u << 24;
	hr.charset = 45;
	gw_strlcpy(hr.user, user, sizeof(hr.user));
	auth_stage1(password, strlen(password), stage1);
	auth_native_scramble(stage1, h.scramble, hr.auth);
	hr.auth_len = AUTH_SHA1_LEN;
	gw_strlcpy(hr.auth_plugin, AUTH_NATIVE, sizeof(hr.auth_plugin));
	wire_buf_init(&b);
	wire_build_handshake_resp(&b, 1, &hr);
	if (!send_wbuf(c->fd, &b)) {
		snprintf(why, whylen, "handshake response: send failed");
		goto fail;
	}
	c->seq = 2;
	if (!cl_read_pkt(c, &len, &r) || len == 0 || c->buf[0] != 0x00) {
		snprintf(why, whylen, "login not answered OK: %s",
		         r.why[0] ? r.why : (len && c->buf[0] == 0xff ? "ERR" : "?"));
		goto fail;
	}
	return c;
fail:
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

static struct cl *cl_login(int worker, const char *user)
{
	const struct mock_user *u = NULL;
	char why[200];
	struct cl *c;

	for (const struct mock_user *k = users; k->name; k++) {
		if (strcmp(k->name, user) == 0)
			u = k;
	}
	ck_assert_ptr_nonnull(u);
	c = cl_connect(worker, u->name, u->password, why, sizeof(why));
	ck_assert_msg(c != NULL, "client %s: %s", user, why);
	return c;
}

static void cl_close(struct cl *c)
{
	static const uint8_t quit[] = { 1, 0, 0, 0, COM_QUIT };

	(void)write_full(c->fd, quit, sizeof(quit));
	close(c->fd);
	free(c);
}

/* Has the gateway sent c anything (without reading it)? */
static bool cl_has_data(const struct cl *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* c's query sql must answer one row of want. */
#define CK_ROW(c, sql, want)                                                                       \
	do {                                                                                       \
		struct res r_;                                                                     \
		char s_[400];                                                                      \
                                                                                                   \
		cl_query((c), (sql), &r_);                                                         \
		ck_assert_msg(r_.kind == RES_ROWS && r_.nrows == 1 && strcmp(r_.val, (want)) == 0, \
		              "%s: got %s, wanted one row '%s'", (sql),                            \
		              res_str(&r_, s_, sizeof(s_)), (want));                               \
	} while (0)

/* ---- 1. concentration ---- */

#define CONC_CLIENTS 6
#define CONC_QUERIES 20

struct conc_arg {
	int idx;
	unsigned good;
	char fail[400];
};

static void *conc_client(void *arg)
{
	struct conc_arg *a = arg;
	char why[200], sql[64], want[32], s[400];
	struct cl *c = cl_connect(a->idx, a->idx % 3 ? "alice" : "bob",
	                          a->idx % 3 ? "alice-secret" : "bob-secret", why, sizeof(why));

	if (!c) {
		snprintf(a->fail, sizeof(a->fail), "client %d: %s", a->idx, why);
		return NULL;
	}
	for (int j = 0; j < CONC_QUERIES; j++) {
		struct res r;

		snprintf(want, sizeof(want), "c%d-q%d", a->idx, j);
		snprintf(sql, sizeof(sql), "SELECT %s", want);
		cl_query(c, sql, &r);
		if (r.kind != RES_ROWS || r.nrows != 1 || strcmp(r.val, want) != 0) {
			snprintf(a->fail, sizeof(a->fail), "client %d, %s: %s", a->idx, sql,
			         res_str(&r, s, sizeof(s)));
			break;
		}
		a->good++;
	}
	cl_close(c);
	return NULL;
}

START_TEST(test_concentration)
{
	struct gw_opts o = { .pool_size = 2 };
	pthread_t th[CONC_CLIENTS];
	struct conc_arg args[CONC_CLIENTS];
	unsigned max_live, accepted, nlog;

	gw_up(&o);
	mock_lock();
	mk.delay_us = 1000; /* statements overlap: the pool is contended */
	mock_unlock();
	for (int i = 0; i < CONC_CLIENTS; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].idx = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, conc_client, &args[i]), 0);
	}
	for (int i = 0; i < CONC_CLIENTS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < CONC_CLIENTS; i++) {
		ck_assert_msg(args[i].fail[0] == '\0', "%s", args[i].fail);
		ck_assert_uint_eq(args[i].good, CONC_QUERIES);
	}
	MOCK_GET(max_live, max_live);
	MOCK_GET(accepted, accepted);
	MOCK_GET(nlog, nlog);
	/* 120 statements of 6 clients (two accounts) on at most 2 backend connections, each
	 * statement run once; no connection was dropped and opened again. */
	ck_assert_msg(max_live >= 1 && max_live <= 2, "the mock saw %u connections at once",
	              max_live);
	ck_assert_msg(accepted <= 2, "the mock accepted %u connections for a pool of 2", accepted);
	ck_assert_uint_eq(nlog, CONC_CLIENTS * CONC_QUERIES);
	gw_down();
}
END_TEST

/* ---- 2. a backend connection dies mid-result ---- */

#define LOST "Lost connection to backend server during query: "

START_TEST(test_die_mid_result)
{
	static const char *const scripts[] = { "DIE COLCOUNT", "DIE ROW" };
	/* packets the client has of the answer when the connection dies */
	static const unsigned before[] = { 1, 4 };
	struct gw_opts o = { .pool_size = 2 };
	struct cl *a, *b;
	struct res r;
	char s[400];
	struct mock_entry died, after;
	int at;

	gw_up(&o);
	a = cl_login(0, "alice");
	b = cl_login(1, "bob");
	CK_ROW(a, "SELECT a1", "a1");
	CK_ROW(b, "SELECT b1", "b1");
	cl_query(a, scripts[_i], &r);
	/* The lost-connection error (gw_client_server_lost), with the sequence id the
	 * client expects after what it has received of the result. */
	ck_assert_msg(r.kind == RES_ERR, "%s: got %s", scripts[_i], res_str(&r, s, sizeof(s)));
	ck_assert_uint_eq(r.code, 2013);
	ck_assert_str_eq(r.state, "HY000");
	ck_assert_msg(strncmp(r.msg, LOST, strlen(LOST)) == 0, "message: %s", r.msg);
	ck_assert_uint_eq(r.packets, before[_i]);
	/* The session goes on: its next statement runs on a new backend connection. */
	CK_ROW(a, "SELECT a2", "a2");
	CK_ROW(b, "SELECT b2", "b2");
	at = mock_log_find(scripts[_i]);
	ck_assert_int_ge(at, 0);
	died = mock_log_at((unsigned)at);
	at = mock_log_find("SELECT a2");
	ck_assert_int_ge(at, 0);
	after = mock_log_at((unsigned)at);
	ck_assert_msg(after.conn != died.conn, "SELECT a2 ran on the dead connection %u",
	              died.conn);
	/* And the gateway keeps serving: both clients, several statements each. */
	for (int k = 0; k < 5; k++) {
		char sql[32], want[16];

		snprintf(want, sizeof(want), "a%d", 10 + k);
		snprintf(sql, sizeof(sql), "SELECT %s", want);
		CK_ROW(a, sql, want);
		snprintf(want, sizeof(want), "b%d", 10 + k);
		snprintf(sql, sizeof(sql), "SELECT %s", want);
		CK_ROW(b, sql, want);
	}
	ck_assert_uint_le(mock_get(&mk.max_live), 2);
	cl_close(a);
	cl_close(b);
	gw_down();
}
END_TEST

/* ---- 3. the backend refuses the gateway's login ---- */

START_TEST(test_login_refused)
{
	struct gw_opts o = { .pool_size = 2 };
	struct cl *a;
	struct res r;
	char s[400];
	uint64_t t0;

	gw_up(&o);
	/* Logging in to the gateway needs no backend (no schema named). */
	a = cl_login(0, "alice");
	mock_set_login(MOCK_LOGIN_ERR);
	t0 = gw_now_ns();
	cl_query(a, "SELECT x1", &r);
	ck_assert_msg(r.kind == RES_ERR && r.code == 1045 && strcmp(r.state, "28000") == 0,
	              "refused login: got %s", res_str(&r, s, sizeof(s)));
	ck_assert_msg(strstr(r.msg, "mock refuses") != NULL, "not the backend's error: %s", r.msg);
	/* Again: each statement tries a new connection, and gets the error at once. */
	cl_query(a, "SELECT x2", &r);
	ck_assert_msg(r.kind == RES_ERR && r.code == 1045, "second: got %s",
	              res_str(&r, s, sizeof(s)));
	ck_assert_uint_eq(mock_get(&mk.logins_refused), 2);
	/* A backend that closes instead of answering the login. */
	mock_set_login(MOCK_LOGIN_CLOSE);
	cl_query(a, "SELECT x3", &r);
	ck_assert_msg(r.kind == RES_ERR && r.code == 2013 && strcmp(r.state, "HY000") == 0,
	              "closed login: got %s", res_str(&r, s, sizeof(s)));
	ck_assert_msg(gw_now_ns() - t0 < 5000 * MS, "the errors took %llu ms",
	              (unsigned long long)((gw_now_ns() - t0) / MS));
	ck_assert_uint_eq(mock_get(&mk.logins_refused), 3);
	ck_assert_int_lt(mock_log_find("SELECT x1"), 0); /* nothing ran */
	ck_assert_uint_eq(mock_get(&mk.logins_ok), 0);
	/* The backend takes logins again: the same session's statements run. */
	mock_set_login(MOCK_LOGIN_OK);
	CK_ROW(a, "SELECT x4", "x4");
	CK_ROW(a, "SELECT x5", "x5");
	ck_assert_uint_eq(mock_get(&mk.logins_ok), 1);
	cl_close(a);
	gw_down();
}
END_TEST

/* ---- 4. a statement that never ends holds the pool; the queue behind it ---- */

START_TEST(test_stall_queues)
{
	struct gw_opts o = { .pool_size = 1 };
	struct cl *a, *b;
	struct res r;
	char s[400];
	bool ok;
	int at_stall, at_b;

	gw_up(&o);
	a = cl_login(0, "alice");
	b = cl_login(1, "alice");
	CK_ROW(a, "SELECT warm", "warm");
	ck_assert(cl_send_query(a, "STALL sa"));
	WAIT_UNTIL(ok, mock_get(&mk.stalled) == 1, 5000);
	ck_assert_msg(ok, "the mock never got the STALL");
	ck_assert(cl_send_query(b, "SELECT sb"));
	/* b waits in the queue: the pool's one connection is busy. */
	WAIT_UNTIL(ok, queued_now() == 1, 5000);
	ck_assert_msg(ok, "b's statement is not queued (%zu queued)", queued_now());
	ck_assert(!cl_has_data(a));
	ck_assert(!cl_has_data(b));
	ck_assert_int_lt(mock_log_find("SELECT sb"), 0);
	ck_assert_uint_eq(mock_get(&mk.live), 1);
	mock_open_gate();
	cl_read_result(a, &r);
	ck_assert_msg(r.kind == RES_ROWS && strcmp(r.val, "sa") == 0, "a: %s",
	              res_str(&r, s, sizeof(s)));
	cl_read_result(b, &r);
	ck_assert_msg(r.kind == RES_ROWS && strcmp(r.val, "sb") == 0, "b: %s",
	              res_str(&r, s, sizeof(s)));
	/* In order, on the same (only) connection. */
	at_stall = mock_log_find("STALL sa");
	at_b = mock_log_find("SELECT sb");
	ck_assert_int_ge(at_stall, 0);
	ck_assert_int_gt(at_b, at_stall);
	ck_assert_uint_eq(mock_log_at((unsigned)at_b).conn, mock_log_at((unsigned)at_stall).conn);
	ck_assert_uint_eq(mock_get(&mk.accepted), 1);
	ck_assert_uint_eq(queued_now(), 0);
	CK_ROW(b, "SELECT sb2", "sb2");
	cl_close(a);
	cl_close(b);
	gw_down();
}
END_TEST

#define FAIR_PER 3

/* Two accounts queue behind a long statement of alice's that holds the one connection,
 * alice's three first; when it ends, both are served, bob first. */
START_TEST(test_fair_queue_two_accounts)
{
	struct gw_opts o = { .pool_size = 1 };
	struct cl *stall, *al[FAIR_PER], *bo[FAIR_PER];
	struct res r;
	char s[400], sql[32], want[16];
	bool ok;
	int at_stall;
	unsigned served_alice = 0, served_bob = 0, first_bob = 99, last_alice = 0;
	unsigned seen_alice = 0, seen_bob = 0;
	char order[128] = "";

	gw_up(&o);
	stall = cl_login(0, "alice");
	for (int i = 0; i < FAIR_PER; i++) {
		al[i] = cl_login(i, "alice");
		bo[i] = cl_login(i + 1, "bob");
	}
	ck_assert(cl_send_query(stall, "STALL long"));
	WAIT_UNTIL(ok, mock_get(&mk.stalled) == 1, 5000);
	ck_assert_msg(ok, "the mock never got the STALL");
	/* alice's three first, then bob's: in arrival order alice's would all go first. */
	for (int i = 0; i < 2 * FAIR_PER; i++) {
		struct cl *c = i < FAIR_PER ? al[i] : bo[i - FAIR_PER];

		snprintf(sql, sizeof(sql), "SELECT %s%d", i < FAIR_PER ? "a" : "b", i % FAIR_PER);
		ck_assert(cl_send_query(c, sql));
		WAIT_UNTIL(ok, queued_now() == (size_t)i + 1, 5000);
		ck_assert_msg(ok, "%s not queued (%zu queued)", sql, queued_now());
	}
	mock_open_gate();
	cl_read_result(stall, &r);
	ck_assert_msg(r.kind == RES_ROWS && strcmp(r.val, "long") == 0, "stall: %s",
	              res_str(&r, s, sizeof(s)));
	for (int i = 0; i < FAIR_PER; i++) {
		snprintf(want, sizeof(want), "a%d", i);
		cl_read_result(al[i], &r);
		ck_assert_msg(r.kind == RES_ROWS && strcmp(r.val, want) == 0, "alice %d: %s", i,
		              res_str(&r, s, sizeof(s)));
		snprintf(want, sizeof(want), "b%d", i);
		cl_read_result(bo[i], &r);
		ck_assert_msg(r.kind == RES_ROWS && strcmp(r.val, want) == 0, "bob %d: %s", i,
		              res_str(&r, s, sizeof(s)));
	}
	/* The order the one connection ran them in: every statement once, as its account
	 * (within an account the gateway may take a client of the free connection's worker
	 * first, qos_pick_affine, so only the accounts' order is checked). */
	at_stall = mock_log_find("STALL long");
	ck_assert_int_ge(at_stall, 0);
	ck_assert_uint_eq(mock_get(&mk.nlog), (unsigned)at_stall + 1 + 2 * FAIR_PER);
	for (unsigned k = 1; k <= 2 * FAIR_PER; k++) {
		struct mock_entry e = mock_log_at((unsigned)at_stall + k);
		bool is_bob = e.sql[7] == 'b';
		unsigned bit = 1u << (e.sql[8] - '0');

		snprintf(order + strlen(order), sizeof(order) - strlen(order), " %s", e.sql + 7);
		ck_assert_str_eq(e.user, is_bob ? "bob" : "alice");
		ck_assert_msg(!((is_bob ? seen_bob : seen_alice) & bit), "%s ran twice", e.sql);
		if (is_bob) {
			seen_bob |= bit;
			served_bob++;
			if (first_bob == 99)
				first_bob = k;
		} else {
			seen_alice |= bit;
			served_alice++;
			last_alice = k;
		}
	}
	ck_assert_uint_eq(served_alice, FAIR_PER);
	ck_assert_uint_eq(served_bob, FAIR_PER);
	/* In arrival order bob's first would be #4. Start-time fair queueing serves it first:
	 * its start tag, lifted to the virtual time when it queued, was alice's, and alice
	 * was then billed 30 ms and more for the long statement (where a pick charges 1 ms). */
	ck_assert_msg(first_bob == 1, "bob waited behind alice (order:%s)", order);
	ck_assert_msg(first_bob < last_alice, "bob was served only after all of alice's (order:%s)",
	              order);
	ck_assert_uint_eq(mock_get(&mk.accepted), 1);
	cl_close(stall);
	for (int i = 0; i < FAIR_PER; i++) {
		cl_close(al[i]);
		cl_close(bo[i]);
	}
	gw_down();
}
END_TEST

/* A statement queued behind a stall longer than its account's queue_timeout_ms gets ERR
 * 1226 and the session goes on; the stalled one is not disturbed. */
START_TEST(test_queue_timeout)
{
	struct gw_opts o = { .pool_size = 1, .queue_timeout_ms = 300 };
	struct cl *a, *b;
	struct res r;
	char s[400];
	bool ok;
	uint64_t t0, waited;

	gw_up(&o);
	a = cl_login(0, "alice");
	b = cl_login(1, "alice");
	ck_assert(cl_send_query(a, "STALL qa"));
	WAIT_UNTIL(ok, mock_get(&mk.stalled) == 1, 5000);
	ck_assert_msg(ok, "the mock never got the STALL");
	t0 = gw_now_ns();
	cl_query(b, "SELECT qb", &r);
	waited = (gw_now_ns() - t0) / MS;
	ck_assert_msg(r.kind == RES_ERR && r.code == 1226 && strcmp(r.state, "42000") == 0,
	              "queued past its timeout: got %s", res_str(&r, s, sizeof(s)));
	ck_assert_msg(strstr(r.msg, "queue_timeout_ms") != NULL, "message: %s", r.msg);
	ck_assert_msg(waited >= 250, "the error came after %llu ms, before the timeout",
	              (unsigned long long)waited);
	ck_assert_int_lt(mock_log_find("SELECT qb"), 0);
	ck_assert_uint_eq(queued_now(), 0);
	ck_assert(!cl_has_data(a));
	mock_open_gate();
	cl_read_result(a, &r);
	ck_assert_msg(r.kind == RES_ROWS && strcmp(r.val, "qa") == 0, "a: %s",
	              res_str(&r, s, sizeof(s)));
	CK_ROW(b, "SELECT qb2", "qb2");
	CK_ROW(a, "SELECT qa2", "qa2");
	cl_close(a);
	cl_close(b);
	gw_down();
}
END_TEST

/* ---- 5. a malformed answer from the backend ---- */

START_TEST(test_malformed_answer)
{
	struct gw_opts o = { .pool_size = 1 };
	struct cl *a, *b;
	struct res r;
	char s[400];
	bool ok;
	int at_bad, at_next;

	gw_up(&o);
	a = cl_login(0, "alice");
	b = cl_login(1, "bob");
	CK_ROW(a, "SELECT m1", "m1");
	/* The answer's first packet is garbage: the client gets ERR 2013 in its place, with
	 * its sequence id (before, one past it: "packets out of order" to a MySQL client). */
	cl_query(a, "GARBAGE", &r);
	ck_assert_msg(r.kind == RES_ERR && r.code == 2013 && strcmp(r.state, "HY000") == 0,
	              "garbage: got %s", res_str(&r, s, sizeof(s)));
	ck_assert_msg(strstr(r.msg, "protocol error") != NULL, "message: %s", r.msg);
	/* Garbage after good packets: those reach the client, then the error in the bad
	 * one's place (before, nothing and then an error with id 4). */
	cl_query(a, "GARBAGE2", &r);
	ck_assert_msg(r.kind == RES_ERR && r.code == 2013 && r.packets == 2,
	              "garbage2: got %s after %u packets", res_str(&r, s, sizeof(s)), r.packets);
	/* The gateway closed that connection (the mock sees it go), and serves on. */
	WAIT_UNTIL(ok, mock_get(&mk.live) == 0, 5000);
	ck_assert_msg(ok, "the connection that sent garbage stays open");
	CK_ROW(a, "SELECT m2", "m2");
	CK_ROW(b, "SELECT m3", "m3");
	at_bad = mock_log_find("GARBAGE");
	at_next = mock_log_find("SELECT m2");
	ck_assert_int_ge(at_bad, 0);
	ck_assert_int_ge(at_next, 0);
	ck_assert_uint_ne(mock_log_at((unsigned)at_next).conn, mock_log_at((unsigned)at_bad).conn);
	/* And an ERR from the backend is the client's answer, the connection kept. */
	cl_query(a, "FAIL", &r);
	ck_assert_msg(r.kind == RES_ERR && r.code == 1146 && strcmp(r.state, "42S02") == 0,
	              "FAIL: got %s", res_str(&r, s, sizeof(s)));
	CK_ROW(a, "SELECT m4", "m4");
	ck_assert_uint_eq(mock_get(&mk.accepted), 3);
	cl_close(a);
	cl_close(b);
	gw_down();
}
END_TEST

/* ---- 6. stopped at once ---- */

/* gw_stop() right after gw_start(), before the workers' loops may have begun: a loop
 * break asked before event_base_loop() starts is lost (it clears the flag), and gw_stop()
 * waited for such a worker forever (3 runs in 52 of an early version of this file hung
 * there); each worker is now also told through its eventfd. */
START_TEST(test_stop_at_once)
{
	struct gw_opts o = { .pool_size = 1, .cold = true };

	gw_up(&o);
	gw_down();
}
END_TEST

static Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("mock backend");

	/* Each case forks (CK_FORK): the engine's globals start clean every time. */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_concentration);
	tcase_add_loop_test(tc, test_die_mid_result, 0, 2);
	tcase_add_test(tc, test_login_refused);
	tcase_add_test(tc, test_stall_queues);
	tcase_add_test(tc, test_fair_queue_two_accounts);
	tcase_add_test(tc, test_queue_timeout);
	tcase_add_test(tc, test_malformed_answer);
	tcase_add_loop_test(tc, test_stop_at_once, 0, 20);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pool_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
