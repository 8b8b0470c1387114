/*
 * check_admin.c - the admin API over real HTTP: routes, tokens, JSON errors, CRUD with
 * publish, stats, metrics, dashboard and body limits.
 *
 * Each case starts the daemon on 127.0.0.1 with port 0 (the kernel picks a free one),
 * over a store in a fresh temporary directory, with fake hooks: publish counts its calls
 * (and fails on demand), stats returns two fixed accounts and one backend. Requests go
 * through a minimal HTTP/1.0 client written here, so what is tested is the bytes on the
 * wire.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "admin/adm_int.h"
#include "admin/admin.h"
#include "tests/unit/testutil.h"

#define TOKEN "s3cret-token"

static struct store *st; /* owned by the fixture; lent to the admin API */
static char tmpdir[256]; /* the fixture's temporary directory */
/* Written on the daemon's thread, read on the test's: atomic. */
static atomic_int publish_calls;  /* publish hook calls since the fixture started */
static atomic_bool publish_fails; /* make the publish hook fail */

static bool fake_publish(void *ud, struct store *s, char *err, size_t errlen)
{
	publish_calls++;
	if (publish_fails) {
		snprintf(err, errlen, "snapshot build failed (test)");
		return false;
	}
	return true;
}

static bool fake_stats(void *ud, struct adm_stats *out)
{
	out->accounts = calloc(2, sizeof *out->accounts);
	out->backends = calloc(1, sizeof *out->backends);
	if (!out->accounts || !out->backends)
		return false;
	out->n_accounts = 2;
	out->n_backends = 1;
	snprintf(out->accounts[0].name, sizeof out->accounts[0].name, "alpha");
	out->accounts[0].queries_total = 42;
	out->accounts[0].rejected_total = 3;
	out->accounts[0].backend_ns_total = 1500000000;
	out->accounts[0].active = 2;
	out->accounts[0].queued = 5;
	out->accounts[0].qps = 12.5;
	out->accounts[0].p50_ms = 1;
	out->accounts[0].p95_ms = 4;
	out->accounts[0].p99_ms = 9;
	out->accounts[0].backend_time_share = 0.75;
	/* A name no real account may have, to check label escaping. */
	snprintf(out->accounts[1].name, sizeof out->accounts[1].name, "we\"ird\\");
	out->accounts[1].queries_total = 7;
	out->accounts[1].backend_time_share = 0.25;
	snprintf(out->backends[0].name, sizeof out->backends[0].name, "db1");
	snprintf(out->backends[0].addr, sizeof out->backends[0].addr, "127.0.0.1:3306");
	out->backends[0].pool_size = 8;
	out->backends[0].connected = 8;
	out->backends[0].account_switches_total = 37;
	out->backends[0].held_hits_total = 212;
	out->backends[0].max_active = 2;
	out->backends[0].spare_runs_total = 4099;
	out->clients = 11;
	out->uptime_s = 99;
	return true;
}

static const struct adm_hooks hooks = {
	.ud = NULL,
	.publish = fake_publish,
	.stats = fake_stats,
	.pool_size = 10,
};

static void open_store(void)
{
	char path[300], err[256];

	ck_assert(test_tmpdir_make(tmpdir, sizeof tmpdir, "check_admin"));
	snprintf(path, sizeof path, "%s/rules.db", tmpdir);
	ck_assert_msg(store_open(path, &st, err, sizeof err), "store_open: %s", err);
	publish_calls = 0;
	publish_fails = false;
}

static void close_store(void)
{
	store_close(st);
	st = NULL;
	test_tmpdir_remove(tmpdir);
}

static void setup(void)
{
	char err[256];

	open_store();
	ck_assert_msg(adm_start("127.0.0.1:0", TOKEN, st, &hooks, err, sizeof err), "adm_start: %s",
	              err);
	ck_assert_uint_ne(adm_port(), 0);
}

static void teardown(void)
{
	adm_stop();
	close_store();
}

/* ---- a minimal HTTP client ---- */

struct resp {
	int status;      /* status code, or -1 when the exchange failed */
	char head[4096]; /* status line and headers */
	char *body;      /* owned (malloc); NUL-terminated */
	size_t body_len; /* bytes in body */
};

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

static int connect_admin(void)
{
	struct sockaddr_in sa;
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(adm_port());
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* Write all of p; a peer that already answered and closed is not an error here. */
static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Read until the server closes, then split status, head and body. */
static struct resp read_resp(int fd)
{
	struct resp r = { .status = -1 };
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	char *sep;

	ck_assert_ptr_nonnull(buf);
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (sep && sscanf(buf, "HTTP/1.%*d %d", &r.status) == 1) {
		size_t hl = (size_t)(sep - buf);

		if (hl >= sizeof r.head)
			hl = sizeof r.head - 1;
		memcpy(r.head, buf, hl);
		r.head[hl] = '\0';
		r.body_len = len - (size_t)(sep + 4 - buf);
		r.body = malloc(r.body_len + 1);
		ck_assert_ptr_nonnull(r.body);
		memcpy(r.body, sep + 4, r.body_len);
		r.body[r.body_len] = '\0';
	}
	free(buf);
	return r;
}

/* One HTTP/1.0 request. token NULL: no Authorization header. body NULL: none. A JSON
 * Content-Type is sent with every body unless ctype says otherwise. */
static struct resp http_ct(const char *method, const char *path, const char *token,
                           const char *ctype, const char *body)
{
	char head[1024];
	int fd = connect_admin();
	int n;

	n = snprintf(head, sizeof head, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n", method, path);
	if (token)
		n += snprintf(head + n, sizeof head - (size_t)n, "Authorization: Bearer %s\r\n",
		              token);
	if (body)
		n += snprintf(head + n, sizeof head - (size_t)n,
		              "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, strlen(body));
	n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
	send_all(fd, head, (size_t)n);
	if (body)
		send_all(fd, body, strlen(body));
	return read_resp(fd);
}

static struct resp http(const char *method, const char *path, const char *token, const char *body)
{
	return http_ct(method, path, token, "application/json", body);
}

/* Assert the status and that the body holds needle (when not NULL); free the reply. */
static void expect_at(struct resp r, int code, const char *needle, int line)
{
	ck_assert_msg(r.status == code, "line %d: status %d, expected %d; body: %s", line, r.status,
	              code, r.body ? r.body : "");
	if (needle)
		ck_assert_msg(r.body && strstr(r.body, needle) != NULL,
		              "line %d: body lacks \"%s\": %s", line, needle, r.body ? r.body : "");
	resp_free(&r);
}

#define expect(r, code, needle) expect_at((r), (code), (needle), __LINE__)

static const char *const no_needle = NULL;

/* ---- cases ---- */

START_TEST(test_health_without_token)
{
	struct resp r = http("GET", "/v1/health", NULL, NULL);
	json_t *j; /* new reference */

	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.head, "application/json") != NULL, "%s", r.head);
	j = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
	ck_assert_str_eq(json_string_value(json_object_get(j, "last_publish")), "ok");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "generation")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "publish_failures")), 0);
	json_decref(j);
	resp_free(&r);
}
END_TEST

START_TEST(test_token_required)
{
	struct resp r = http("GET", "/v1/accounts", NULL, NULL);

	ck_assert_int_eq(r.status, 401);
	ck_assert_msg(strstr(r.body, "\"error\"") != NULL, "%s", r.body);
	ck_assert_msg(strstr(r.head, "WWW-Authenticate: Bearer") != NULL, "%s", r.head);
	resp_free(&r);
	expect(http("GET", "/v1/accounts", "wrong", NULL), 401, "\"error\"");
	expect(http("GET", "/v1/accounts", TOKEN "x", NULL), 401, no_needle);
	expect(http("GET", "/v1/accounts", "s3cret", NULL), 401, no_needle);
	expect(http("GET", "/v1/stats", NULL, NULL), 401, no_needle);
	expect(http("GET", "/metrics", NULL, NULL), 401, no_needle);
	expect(http("POST", "/v1/accounts", NULL, "{\"name\":\"x\"}"), 401, no_needle);
	ck_assert_int_eq(publish_calls, 0);
	expect(http("GET", "/v1/accounts", TOKEN, NULL), 200, "{\"accounts\":[]}");
}
END_TEST

START_TEST(test_bearer_scheme_case_insensitive)
{
	int fd = connect_admin();
	const char req[] = "GET /v1/accounts HTTP/1.0\r\nAuthorization: bearer " TOKEN "\r\n\r\n";

	send_all(fd, req, sizeof req - 1);
	expect(read_resp(fd), 200, "accounts");
}
END_TEST

START_TEST(test_create_and_duplicate)
{
	struct resp r =
	    http("POST", "/v1/accounts", TOKEN,
	         "{\"name\":\"alpha\",\"password\":\"pw\",\"weight\":3,\"max_qps\":50}");

	ck_assert_msg(r.status == 201, "status %d: %s", r.status, r.body);
	ck_assert_msg(strstr(r.head, "Location: /v1/accounts/alpha") != NULL, "%s", r.head);
	ck_assert_msg(strstr(r.body, "\"weight\":3") != NULL, "%s", r.body);
	ck_assert_msg(strstr(r.body, "\"has_password\":true") != NULL, "%s", r.body);
	resp_free(&r);
	ck_assert_int_eq(publish_calls, 1);
	ck_assert_int_eq(store_generation(st), 1);

	expect(http("POST", "/v1/accounts", TOKEN, "{\"name\":\"alpha\"}"), 409, "already exists");
	ck_assert_int_eq(publish_calls, 1);
	ck_assert_int_eq(store_generation(st), 1);
}
END_TEST

/* Refused bodies: the message names the field, and nothing is written. */
static const struct bad_body {
	const char *body;   /* request body */
	int status;         /* expected status */
	const char *needle; /* expected in the error */
} bad_bodies[] = {
	{ "{\"name\":\"b\",\"weight\":0}", 400, "weight must be between 1 and 10000" },
	{ "{\"name\":\"b\",\"weight\":\"5\"}", 400, "weight must be an integer" },
	{ "{\"name\":\"b\",\"weight\":1.5}", 400, "weight must be an integer" },
	{ "{\"name\":\"b\",\"max_queue\":0}", 400, "max_queue must be between 1" },
	{ "{\"name\":\"b\",\"max_qps\":-1}", 400, "max_qps must be between 0 and 4294967295" },
	{ "{\"name\":\"b\",\"max_qps\":4294967296}", 400, "max_qps must be between" },
	{ "{\"name\":\"b\",\"bogus\":1}", 400, "unknown field \\\"bogus\\\"" },
	{ "{\"name\":\"b\",\"password\":5}", 400, "password must be a string" },
	{ "{\"weight\":2}", 400, "name is required" },
	{ "{\"name\":\"a/b\"}", 400, "name may contain only" },
	{ "{\"name\":\"\"}", 400, "name must be 1 to 64" },
	{ "{\"name\":\"b\",\"name\":\"c\"}", 400, "not valid JSON" },
	{ "[1,2]", 400, "must be a JSON object" },
	{ "{\"name\":", 400, "not valid JSON" },
	{ "{\"name\":\"b\",\"reservation\":11}", 409, "pool size 10" },
};

START_TEST(test_bad_field_writes_nothing)
{
	const struct bad_body *t = &bad_bodies[_i];
	struct resp before, after;

	expect(http("POST", "/v1/accounts", TOKEN, "{\"name\":\"keep\",\"weight\":2}"), 201,
	       no_needle);
	before = http("GET", "/v1/accounts", TOKEN, NULL);
	ck_assert_int_eq(before.status, 200);

	expect(http("POST", "/v1/accounts", TOKEN, t->body), t->status, t->needle);
	/* Same fields as a PATCH of the existing account, where the name may not change. */
	if (strstr(t->body, "\"name\":\"b\",") && t->status == 400)
		expect(http("PATCH", "/v1/accounts/keep", TOKEN, t->body), 400, "\"error\"");

	after = http("GET", "/v1/accounts", TOKEN, NULL);
	ck_assert_str_eq(after.body, before.body);
	ck_assert_int_eq(store_generation(st), 1);
	ck_assert_int_eq(publish_calls, 1);
	resp_free(&before);
	resp_free(&after);
}
END_TEST

START_TEST(test_patch_live)
{
	struct resp r;

	expect(http("POST", "/v1/accounts", TOKEN, "{\"name\":\"a1\"}"), 201, "\"weight\":1");
	expect(http("PATCH", "/v1/accounts/a1", TOKEN, "{\"weight\":7,\"queue_timeout_ms\":5}"),
	       200, "\"weight\":7");
	ck_assert_int_eq(publish_calls, 2);
	r = http("GET", "/v1/accounts/a1", TOKEN, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, "\"weight\":7") != NULL, "%s", r.body);
	ck_assert_msg(strstr(r.body, "\"queue_timeout_ms\":5") != NULL, "%s", r.body);
	ck_assert_msg(strstr(r.body, "\"max_queue\":10000") != NULL, "%s", r.body);
	resp_free(&r);
	/* The name in the body must match the path. */
	expect(http("PATCH", "/v1/accounts/a1", TOKEN, "{\"name\":\"a2\"}"), 400,
	       "name cannot be changed");
	expect(http("PATCH", "/v1/accounts/a1", TOKEN, "{\"name\":\"a1\",\"max_qps\":9}"), 200,
	       "\"max_qps\":9");
	expect(http("PATCH", "/v1/accounts/nobody", TOKEN, "{\"weight\":2}"), 404,
	       "no such account");
	ck_assert_int_eq(publish_calls, 3);
}
END_TEST

START_TEST(test_password_never_returned)
{
	struct store_account a;
	struct resp r;
	char err[128];
	bool found;

	expect(http("POST", "/v1/accounts", TOKEN, "{\"name\":\"p1\",\"password\":\"hunter2\"}"),
	       201, "\"has_password\":true");
	ck_assert(store_account_get(st, "p1", &a, &found, err, sizeof err));
	ck_assert(a.has_password);
	r = http("GET", "/v1/accounts/p1", TOKEN, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body, "\"password\""));
	ck_assert_ptr_null(strstr(r.body, "hunter2"));
	ck_assert_ptr_null(strstr(r.body, "sha1"));
	resp_free(&r);
	r = http("GET", "/v1/accounts", TOKEN, NULL);
	ck_assert_ptr_null(strstr(r.body, "\"password\""));
	resp_free(&r);
	/* PATCH with an empty password clears it. */
	expect(http("PATCH", "/v1/accounts/p1", TOKEN, "{\"password\":\"\"}"), 200,
	       "\"has_password\":false");
}
END_TEST

START_TEST(test_delete)
{
	struct resp r;

	expect(http("POST", "/v1/accounts", TOKEN, "{\"name\":\"d1\"}"), 201, no_needle);
	r = http("DELETE", "/v1/accounts/d1", TOKEN, NULL);
	ck_assert_int_eq(r.status, 204);
	ck_assert_uint_eq(r.body_len, 0);
	resp_free(&r);
	ck_assert_int_eq(publish_calls, 2);
	expect(http("GET", "/v1/accounts/d1", TOKEN, NULL), 404, "no such account");
	expect(http("DELETE", "/v1/accounts/d1", TOKEN, NULL), 404, "no such account");
	ck_assert_int_eq(publish_calls, 2);
}
END_TEST

START_TEST(test_publish_failure_keeps_write)
{
	struct resp r;

	publish_fails = true;
	expect(http("POST", "/v1/accounts", TOKEN, "{\"name\":\"pf\"}"), 500, "\"committed\":true");
	expect(http("GET", "/v1/accounts/pf", TOKEN, NULL), 200, "\"name\":\"pf\"");
	r = http("GET", "/v1/health", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, "\"publish_failures\":1") != NULL, "%s", r.body);
	ck_assert_msg(strstr(r.body, "snapshot build failed (test)") != NULL, "%s", r.body);
	resp_free(&r);
	publish_fails = false;
	expect(http("PATCH", "/v1/accounts/pf", TOKEN, "{}"), 200, no_needle);
	expect(http("GET", "/v1/health", NULL, NULL), 200, "\"last_publish\":\"ok\"");
}
END_TEST

START_TEST(test_metrics)
{
	struct resp r = http("GET", "/metrics", TOKEN, NULL);

	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.head, "text/plain; version=0.0.4") != NULL, "%s", r.head);
	ck_assert_msg(strstr(r.body, "# HELP sluice_account_queries_total ") != NULL, "%s", r.body);
	ck_assert_msg(strstr(r.body, "# TYPE sluice_account_queries_total counter\n") != NULL, "%s",
	              r.body);
	ck_assert_msg(strstr(r.body, "\nsluice_account_queries_total{account=\"alpha\"} 42\n"),
	              "%s", r.body);
	ck_assert_msg(strstr(r.body, "sluice_account_queries_total{account=\"we\\\"ird\\\\\"} 7\n"),
	              "%s", r.body);
	ck_assert_msg(strstr(r.body, "sluice_account_queued{account=\"alpha\"} 5\n"), "%s", r.body);
	ck_assert_msg(
	    strstr(r.body, "sluice_account_backend_seconds_total{account=\"alpha\"} 1.5\n"), "%s",
	    r.body);
	ck_assert_msg(strstr(r.body, "sluice_account_latency_recent_seconds{account=\"alpha\","
	                             "quantile=\"0.95\"} 0.004"),
	              "%s", r.body);
	ck_assert_msg(strstr(r.body, "# TYPE sluice_account_latency_seconds histogram\n"), "%s",
	              r.body);
	ck_assert_msg(strstr(r.body, "sluice_account_latency_seconds_bucket{account=\"alpha\","
	                             "le=\"+Inf\"} "),
	              "%s", r.body);
	ck_assert_msg(strstr(r.body, "sluice_account_rejected_by_reason_total{account=\"alpha\","
	                             "reason=\"queue_full\"} "),
	              "%s", r.body);
	ck_assert_msg(strstr(r.body, "sluice_backend_connections{backend=\"db1\"} 8\n"), "%s",
	              r.body);
	ck_assert_msg(strstr(r.body, "# TYPE sluice_backend_account_switches_total counter\n"
	                             "sluice_backend_account_switches_total{backend=\"db1\"} 37\n"),
	              "%s", r.body);
	ck_assert_msg(strstr(r.body, "sluice_backend_held_hits_total{backend=\"db1\"} 212\n"), "%s",
	              r.body);
	ck_assert_msg(strstr(r.body, "# TYPE sluice_backend_max_active gauge\n"
	                             "sluice_backend_max_active{backend=\"db1\"} 2\n"),
	              "%s", r.body);
	ck_assert_msg(strstr(r.body, "# TYPE sluice_backend_spare_runs_total counter\n"
	                             "sluice_backend_spare_runs_total{backend=\"db1\"} 4099\n"),
	              "%s", r.body);
	ck_assert_msg(strstr(r.body, "\nsluice_clients 11\n"), "%s", r.body);
	ck_assert_msg(r.body[r.body_len - 1] == '\n', "no final newline");
	resp_free(&r);
}
END_TEST

START_TEST(test_stats_json)
{
	struct resp r = http("GET", "/v1/stats", TOKEN, NULL);
	json_error_t je;
	json_t *j, *a0; /* j: new reference; a0: borrowed */

	ck_assert_int_eq(r.status, 200);
	j = json_loads(r.body, 0, &je);
	ck_assert_msg(j != NULL, "bad JSON: %s: %s", je.text, r.body);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "accounts")), 2);
	a0 = json_array_get(json_object_get(j, "accounts"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(a0, "name")), "alpha");
	ck_assert_int_eq(json_integer_value(json_object_get(a0, "queries_total")), 42);
	ck_assert_double_eq(json_real_value(json_object_get(a0, "qps")), 12.5);
	ck_assert_double_eq(
	    json_real_value(json_object_get(json_object_get(a0, "latency_ms"), "p95")), 4.0);
	ck_assert_double_eq(json_real_value(json_object_get(a0, "backend_time_share")), 0.75);
	ck_assert_double_eq(json_real_value(json_object_get(a0, "backend_time_ms_total")), 1500.0);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "backends")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "clients")), 11);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "uptime_s")), 99);
	json_decref(j);
	resp_free(&r);
}
END_TEST

START_TEST(test_oversized_body)
{
	size_t n = 70 * 1024;
	char *big = malloc(n + 1);
	struct resp before;
	int fd;
	char head[256];
	int hl;

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	before = http("GET", "/v1/accounts", TOKEN, NULL);
	/* Declared length over the cap: refused before the body is read (none is sent, so
	 * that the server's close cannot turn into a reset that loses the answer). */
	fd = connect_admin();
	hl = snprintf(head, sizeof head,
	              "POST /v1/accounts HTTP/1.0\r\nAuthorization: Bearer " TOKEN "\r\n"
	              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	              n);
	send_all(fd, head, (size_t)hl);
	expect(read_resp(fd), 413, "larger than 65536");

	/* Chunked, no declared length: refused once the body passed the cap. */
	fd = connect_admin();
	hl = snprintf(head, sizeof head,
	              "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	              "Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n"
	              "Transfer-Encoding: chunked\r\n\r\n");
	send_all(fd, head, (size_t)hl);
	for (size_t off = 0; off < n; off += 8192) {
		size_t len = n - off < 8192 ? n - off : 8192;

		hl = snprintf(head, sizeof head, "%zx\r\n", len);
		send_all(fd, head, (size_t)hl);
		send_all(fd, big + off, len);
		send_all(fd, "\r\n", 2);
	}
	send_all(fd, "0\r\n\r\n", 5);
	expect(read_resp(fd), 413, "larger than 65536");
	free(big);

	{
		struct resp after = http("GET", "/v1/accounts", TOKEN, NULL);

		ck_assert_str_eq(after.body, before.body);
		resp_free(&after);
	}
	resp_free(&before);
	ck_assert_int_eq(publish_calls, 0);
}
END_TEST

START_TEST(test_routing_errors)
{
	struct resp r = http("PUT", "/v1/accounts", TOKEN, "{}");

	ck_assert_int_eq(r.status, 405);
	ck_assert_msg(strstr(r.head, "Allow: GET, POST") != NULL, "%s", r.head);
	ck_assert_msg(strstr(r.body, "\"error\"") != NULL, "%s", r.body);
	resp_free(&r);
	expect(http("GET", "/v1/nothing", TOKEN, NULL), 404, "no such endpoint");
	expect(http("GET", "/v1/accounts/a/b", TOKEN, NULL), 404, "\"error\"");
	expect(http_ct("POST", "/v1/accounts", TOKEN, "text/plain", "{\"name\":\"x\"}"), 415,
	       "application/json");
	expect(http_ct("POST", "/v1/accounts", TOKEN, "application/json; charset=utf-8",
	               "{\"name\":\"x\"}"),
	       201, no_needle);
	expect(http("POST", "/v1/accounts", TOKEN, ""), 400, "JSON object");
}
END_TEST

START_TEST(test_backends_crud)
{
	expect(http("POST", "/v1/backends", TOKEN, "{\"name\":\"db1\",\"host\":\"10.0.0.1\"}"), 201,
	       "\"port\":3306");
	expect(http("POST", "/v1/backends", TOKEN, "{\"name\":\"db1\",\"host\":\"h\"}"), 409,
	       "already exists");
	expect(http("POST", "/v1/backends", TOKEN, "{\"name\":\"db2\"}"), 400, "host is required");
	expect(http("POST", "/v1/backends", TOKEN, "{\"host\":\"h\"}"), 400, "name is required");
	expect(http("PATCH", "/v1/backends/db1", TOKEN, "{\"name\":\"db9\"}"), 400,
	       "name cannot be changed; delete the backend");
	expect(http("PATCH", "/v1/backends/db1", TOKEN, "{\"name\":\"db1\",\"port\":3307}"), 200,
	       "\"port\":3307");
	expect(http("POST", "/v1/backends", TOKEN, "{\"name\":\"db2\",\"host\":\"h\",\"port\":0}"),
	       400, "port must be between 1 and 65535");
	expect(
	    http("POST", "/v1/backends", TOKEN, "{\"name\":\"db2\",\"host\":\"h\",\"enabled\":1}"),
	    400, "enabled must be true or false");
	expect(http("PATCH", "/v1/backends/db1", TOKEN, "{\"enabled\":false,\"pool_size\":16}"),
	       200, "\"enabled\":false");
	expect(http("GET", "/v1/backends", TOKEN, NULL), 200, "\"pool_size\":16");
	expect(http("GET", "/v1/backends/db1", TOKEN, NULL), 200, "\"max_active\":0");
	expect(http("PATCH", "/v1/backends/db1", TOKEN, "{\"max_active\":4}"), 200,
	       "\"max_active\":4");
	expect(http("PATCH", "/v1/backends/db1", TOKEN, "{\"max_active\":10001}"), 400,
	       "max_active must be");
	expect(http("PATCH", "/v1/backends/db1", TOKEN, "{\"max_active\":-1}"), 400,
	       "max_active must be");
	expect(http("GET", "/v1/backends/db1", TOKEN, NULL), 200, "\"max_active\":4");
	expect(http("DELETE", "/v1/backends/db1", TOKEN, NULL), 204, no_needle);
	expect(http("GET", "/v1/backends/db1", TOKEN, NULL), 404, "no such backend");
	ck_assert_int_eq(publish_calls, 5);
}
END_TEST

START_TEST(test_dashboard)
{
	struct resp r = http("GET", "/", NULL, NULL);

	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.head, "text/html") != NULL, "%s", r.head);
	ck_assert_msg(strstr(r.head, "Content-Security-Policy: default-src 'none'") != NULL, "%s",
	              r.head);
	ck_assert_ptr_nonnull(strstr(r.body, "<canvas"));
	ck_assert_ptr_nonnull(strstr(r.body, "/v1/stats"));
	ck_assert_ptr_nonnull(strstr(r.body, "sessionStorage"));
	/* Self-contained: nothing loaded from elsewhere. */
	ck_assert_ptr_null(strstr(r.body, "http://"));
	ck_assert_ptr_null(strstr(r.body, "https://"));
	ck_assert_ptr_null(strstr(r.body, " src="));
	resp_free(&r);
}
END_TEST

/* ---- where a request comes from (issue 11: DNS rebinding, cross-site pages) ---- */

struct origin_case {
	bool token;         /* a token is configured */
	const char *method; /* the request's method */
	const char *host;   /* Host header, NULL = none */
	const char *origin; /* Origin header, NULL = none */
	bool allowed;       /* adm_request_allowed()'s answer */
};

static const struct origin_case origin_cases[] = {
	/* No token: the Host must be a loopback literal or localhost, port or not. */
	{ false, "PATCH", "localhost", NULL, true },
	{ false, "PATCH", "localhost:8307", NULL, true },
	{ false, "GET", "LOCALHOST:8307", NULL, true },
	{ false, "GET", "127.0.0.1", NULL, true },
	{ false, "GET", "127.0.0.1:8307", NULL, true },
	{ false, "GET", "127.255.0.9:1", NULL, true },
	{ false, "GET", "[::1]", NULL, true },
	{ false, "GET", "[::1]:65535", NULL, true },
	{ false, "GET", NULL, NULL, true }, /* HTTP/1.0: no browser sends that */
	{ false, "PATCH", "rebind.attacker.example", NULL, false },
	{ false, "PATCH", "rebind.attacker.example:8307", NULL, false },
	{ false, "GET", "localhost.attacker.example", NULL, false },
	{ false, "GET", "127.0.0.1.attacker.example", NULL, false },
	{ false, "GET", "attacker.example:127.0.0.1", NULL, false },
	{ false, "GET", "localhost:", NULL, false },
	{ false, "GET", "localhost:65536", NULL, false },
	{ false, "GET", "localhost:80x", NULL, false },
	{ false, "GET", "localhost.", NULL, false },
	{ false, "GET", "128.0.0.1", NULL, false },
	{ false, "GET", "10.0.0.1:8307", NULL, false },
	{ false, "GET", "127.0.0", NULL, false },
	{ false, "GET", "127.0.0.1.1", NULL, false },
	{ false, "GET", "127.0.0.256", NULL, false },
	{ false, "GET", "127.0.0.01", NULL, false },
	{ false, "GET", "0x7f.0.0.1", NULL, false },
	{ false, "GET", "2130706433", NULL, false },
	{ false, "GET", "[::ffff:127.0.0.1]", NULL, false },
	{ false, "GET", "[::1]x", NULL, false },
	{ false, "GET", "::1", NULL, false },
	{ false, "GET", "", NULL, false },
	{ false, "GET", "127.0.0.1@evil.example", NULL, false },
	/* No token: an Origin must be an http:// loopback page, nothing after the port. */
	{ false, "PATCH", "localhost:8307", "http://localhost:8307", true },
	{ false, "PATCH", "127.0.0.1:8307", "http://127.0.0.1:8307", true },
	{ false, "PATCH", "127.0.0.1:8307", "http://localhost", true },
	{ false, "DELETE", "[::1]:8307", "http://[::1]:8307", true },
	{ false, "GET", "127.0.0.1:8307", "http://evil.example", false },
	{ false, "PATCH", "127.0.0.1:8307", "http://evil.example", false },
	{ false, "PATCH", "127.0.0.1:8307", "null", false },
	{ false, "PATCH", "127.0.0.1:8307", "", false },
	{ false, "PATCH", "127.0.0.1:8307", "https://localhost:8307", false },
	{ false, "PATCH", "127.0.0.1:8307", "http://localhost.evil.example", false },
	{ false, "PATCH", "127.0.0.1:8307", "http://127.0.0.1:8307/x", false },
	{ false, "PATCH", "127.0.0.1:8307", "file://", false },
	{ false, "PATCH", NULL, "http://evil.example", false },
	/* A token: any Host; a write with a foreign Origin is refused, a read is not. */
	{ true, "GET", "admin.example:8307", NULL, true },
	{ true, "PATCH", "admin.example:8307", NULL, true },
	{ true, "GET", "admin.example:8307", "http://evil.example", true },
	{ true, "HEAD", "admin.example:8307", "http://evil.example", true },
	{ true, "POST", "admin.example:8307", "http://evil.example", false },
	{ true, "PATCH", "admin.example:8307", "http://evil.example", false },
	{ true, "DELETE", "admin.example:8307", "null", false },
	{ true, "DELETE", NULL, "http://evil.example", false },
	{ true, "PATCH", "admin.example:8307", "http://admin.example:8307", true },
	{ true, "PATCH", "Admin.Example:8307", "https://admin.example:8307", true },
	{ true, "PATCH", "admin.example:8307", "http://admin.example:8308", false },
	{ true, "PATCH", "admin.example:8307", "http://localhost:3000", true },
};

START_TEST(test_request_allowed_table)
{
	const struct origin_case *k = &origin_cases[_i];
	char why[ADM_ERR_MAX] = "";
	bool got = adm_request_allowed(k->token, k->method, k->host, k->origin, why, sizeof why);

	ck_assert_msg(got == k->allowed, "token=%d %s Host=%s Origin=%s: got %s (%s)", k->token,
	              k->method, k->host ? k->host : "(none)", k->origin ? k->origin : "(none)",
	              got ? "allowed" : "refused", why);
	if (!got)
		ck_assert_msg(strncmp(why, "refused: ", 9) == 0, "why: %s", why);
}
END_TEST

/* One HTTP/1.0 request with extra header lines (each ending in \r\n) instead of the Host
 * http_ct() sends; no body. */
static struct resp http_raw(const char *method, const char *path, const char *headers)
{
	char head[1024];
	int fd = connect_admin();
	int n = snprintf(head, sizeof head, "%s %s HTTP/1.0\r\n%s\r\n", method, path, headers);

	send_all(fd, head, (size_t)n);
	return read_resp(fd);
}

START_TEST(test_loopback_without_token_refuses_foreign_pages)
{
	char err[256];

	open_store();
	ck_assert_msg(adm_start("127.0.0.1:0", NULL, st, &hooks, err, sizeof err), "%s", err);
	expect(http_raw("DELETE", "/v1/accounts/x", "Host: rebind.attacker.example\r\n"), 403,
	       "DNS rebinding");
	expect(http_raw("GET", "/v1/health", "Host: rebind.attacker.example:80\r\n"), 403,
	       "\"error\"");
	expect(http_raw("GET", "/nowhere", "Host: rebind.attacker.example\r\n"), 403, no_needle);
	expect(
	    http_raw("GET", "/v1/accounts", "Host: 127.0.0.1\r\nOrigin: http://evil.example\r\n"),
	    403, "Origin: http://evil.example");
	expect(http_raw("GET", "/v1/accounts", "Host: localhost:1\r\n"), 200, "accounts");
	expect(http_raw("GET", "/v1/accounts", "Host: [::1]\r\nOrigin: http://[::1]:1\r\n"), 200,
	       "accounts");
	expect(http_raw("GET", "/v1/health", ""), 200, "generation");
	adm_stop();
	close_store();
}
END_TEST

START_TEST(test_token_refuses_foreign_writes)
{
	char hdr[256];

	snprintf(hdr, sizeof hdr, "Host: admin.example\r\nAuthorization: Bearer %s\r\n", TOKEN);
	expect(http_raw("GET", "/v1/accounts", hdr), 200, "accounts");
	snprintf(hdr, sizeof hdr,
	         "Host: admin.example\r\nAuthorization: Bearer %s\r\n"
	         "Origin: http://evil.example\r\n",
	         TOKEN);
	expect(http_raw("DELETE", "/v1/accounts/x", hdr), 403, "another origin");
	expect(http_raw("GET", "/v1/accounts", hdr), 200, "accounts");
	snprintf(hdr, sizeof hdr,
	         "Host: admin.example\r\nAuthorization: Bearer %s\r\n"
	         "Origin: http://admin.example\r\n",
	         TOKEN);
	expect(http_raw("DELETE", "/v1/accounts/x", hdr), 404, no_needle);
}
END_TEST

/* ---- start-up rules (no fixture daemon) ---- */

START_TEST(test_start_refuses_public_without_token)
{
	char err[256];

	open_store();
	ck_assert(!adm_start("0.0.0.0:0", NULL, st, &hooks, err, sizeof err));
	ck_assert_msg(strstr(err, "without a token") != NULL, "%s", err);
	ck_assert(!adm_start(":0", "", st, &hooks, err, sizeof err));
	ck_assert(!adm_start("127.0.0.1", TOKEN, st, &hooks, err, sizeof err));
	ck_assert_msg(strstr(err, "bad admin address") != NULL, "%s", err);
	ck_assert(!adm_start("::1:80", TOKEN, st, &hooks, err, sizeof err));
	ck_assert(!adm_start("127.0.0.1:70000", TOKEN, st, &hooks, err, sizeof err));
	/* With a token, any address is fine. */
	ck_assert_msg(adm_start("0.0.0.0:0", TOKEN, st, &hooks, err, sizeof err), "%s", err);
	ck_assert(!adm_start("127.0.0.1:0", TOKEN, st, &hooks, err, sizeof err));
	ck_assert_msg(strstr(err, "already running") != NULL, "%s", err);
	adm_stop();
	close_store();
}
END_TEST

START_TEST(test_loopback_without_token_is_open)
{
	char err[256];

	open_store();
	ck_assert_msg(adm_start("localhost:0", NULL, st, &hooks, err, sizeof err), "%s", err);
	expect(http("GET", "/v1/accounts", NULL, NULL), 200, "accounts");
	expect(http("POST", "/v1/accounts", NULL, "{\"name\":\"open\"}"), 201, no_needle);
	adm_stop();
	ck_assert_uint_eq(adm_port(), 0);
	close_store();
}
END_TEST

START_TEST(test_port_taken)
{
	char err[256], addr[64];
	uint16_t port;

	setup();
	port = adm_port();
	adm_stop();
	/* Hold the port with a plain socket, then ask for it. */
	{
		struct sockaddr_in sa;
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		memset(&sa, 0, sizeof sa);
		sa.sin_family = AF_INET;
		sa.sin_port = htons(port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
		ck_assert_int_eq(listen(fd, 1), 0);
		snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
		ck_assert(!adm_start(addr, TOKEN, st, &hooks, err, sizeof err));
		ck_assert_msg(strstr(err, "cannot serve") != NULL, "%s", err);
		close(fd);
	}
	close_store();
}
END_TEST

static Suite *admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *tc;

	tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_health_without_token);
	tcase_add_test(tc, test_token_required);
	tcase_add_test(tc, test_bearer_scheme_case_insensitive);
	tcase_add_test(tc, test_routing_errors);
	tcase_add_test(tc, test_dashboard);
	tcase_add_test(tc, test_oversized_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("accounts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_create_and_duplicate);
	tcase_add_loop_test(tc, test_bad_field_writes_nothing, 0,
	                    (int)(sizeof bad_bodies / sizeof bad_bodies[0]));
	tcase_add_test(tc, test_patch_live);
	tcase_add_test(tc, test_password_never_returned);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_publish_failure_keeps_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("backends");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_backends_crud);
	suite_add_tcase(s, tc);

	tc = tcase_create("views");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_stats_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("origin");
	tcase_add_loop_test(tc, test_request_allowed_table, 0,
	                    (int)(sizeof origin_cases / sizeof origin_cases[0]));
	tcase_add_test(tc, test_loopback_without_token_refuses_foreign_pages);
	suite_add_tcase(s, tc);

	tc = tcase_create("origin_token");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_token_refuses_foreign_writes);
	suite_add_tcase(s, tc);

	tc = tcase_create("startup");
	tcase_add_test(tc, test_start_refuses_public_without_token);
	tcase_add_test(tc, test_loopback_without_token_is_open);
	tcase_add_test(tc, test_port_taken);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(admin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
