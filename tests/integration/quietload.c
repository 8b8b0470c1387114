/*
 * quietload.c - the quiet tenant of the isolation tests: THREADS connections, each
 * running point selects with THINK_US of think time between them, measured per
 * statement with the real MariaDB client library. A C client, so that what the tests
 * measure is the gateway and the backend, not a Python client's own CPU time on a
 * 2-core box where the load generator, the gateway and MariaDB share the CPUs.
 *
 * Usage: quietload HOST PORT USER PASSWORD DB THREADS THINK_US ROWS
 * Connects, prints "ready", then obeys commands on stdin, one per line:
 *   run SECONDS   every thread runs for that long; then one line per statement,
 *                 "lat <microseconds> <milliseconds since the run began>", for each
 *                 thread that saw failures "error <its last one>", then
 *                 "done <statements> <failed statements>"
 *   quit          exits
 * Connect, read and write time out (10, 60, 60 s): a stalled gateway fails the run, it
 * does not hang it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

struct sample {
	uint32_t lat_us;
	uint32_t at_ms;
};

struct worker {
	pthread_t thread;
	MYSQL *conn;
	unsigned seed;
	struct sample *samples;
	size_t n, cap;
	unsigned errors;
	char error[256];
};

static unsigned think_us, rows;
static uint64_t run_start_ns, run_end_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void record(struct worker *w, uint64_t t0, uint64_t t1)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 4096;
		struct sample *p = realloc(w->samples, cap * sizeof(*p));

		if (!p)
			return; /* out of memory: the statement goes unrecorded */
		w->samples = p;
		w->cap = cap;
	}
	w->samples[w->n].lat_us = (uint32_t)((t1 - t0) / 1000u);
	w->samples[w->n].at_ms = (uint32_t)((t1 - run_start_ns) / 1000000u);
	w->n++;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char sql[96];

	while (now_ns() < run_end_ns) {
		unsigned id = (unsigned)rand_r(&w->seed) % rows + 1;
		uint64_t t0;
		MYSQL_RES *res;

		snprintf(sql, sizeof(sql), "SELECT c FROM sbtest1 WHERE id = %u", id);
		t0 = now_ns();
		if (mysql_query(w->conn, sql) != 0 || !(res = mysql_store_result(w->conn))) {
			w->errors++;
			snprintf(w->error, sizeof(w->error), "%u %s", mysql_errno(w->conn),
			         mysql_error(w->conn));
			sleep_us(think_us);
			continue;
		}
		mysql_free_result(res);
		record(w, t0, now_ns());
		sleep_us(think_us);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker *ws;
	unsigned nthreads;
	char line[128];

	if (argc != 9) {
		fprintf(stderr,
		        "usage: quietload HOST PORT USER PASSWORD DB THREADS THINK_US ROWS\n");
		return 2;
	}
	nthreads = (unsigned)strtoul(argv[6], NULL, 10);
	think_us = (unsigned)strtoul(argv[7], NULL, 10);
	rows = (unsigned)strtoul(argv[8], NULL, 10);
	if (nthreads == 0 || nthreads > 256 || rows == 0) {
		fprintf(stderr, "quietload: THREADS must be 1..256 and ROWS at least 1\n");
		return 2;
	}
	ws = calloc(nthreads, sizeof(*ws));
	if (!ws)
		return 1;
	for (unsigned i = 0; i < nthreads; i++) {
		ws[i].seed = 7919u * (i + 1);
		unsigned connect_s = 10, io_s = 60;

		ws[i].conn = mysql_init(NULL);
		if (ws[i].conn) {
			mysql_options(ws[i].conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
			mysql_options(ws[i].conn, MYSQL_OPT_READ_TIMEOUT, &io_s);
			mysql_options(ws[i].conn, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
		}
		if (!ws[i].conn || !mysql_real_connect(ws[i].conn, argv[1], argv[3], argv[4],
		                                       argv[5], (unsigned)atoi(argv[2]), NULL, 0)) {
			printf("error connect: %s\n",
			       ws[i].conn ? mysql_error(ws[i].conn) : "no memory");
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		double secs;
		size_t total = 0;
		unsigned errors = 0;

		if (strncmp(line, "quit", 4) == 0)
			break;
		if (sscanf(line, "run %lf", &secs) != 1 || secs <= 0) {
			printf("error unknown command\n");
			fflush(stdout);
			continue;
		}
		run_start_ns = now_ns();
		run_end_ns = run_start_ns + (uint64_t)(secs * 1e9);
		for (unsigned i = 0; i < nthreads; i++) {
			ws[i].n = 0;
			ws[i].errors = 0;
			if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) {
				printf("error pthread_create\n");
				return 1;
			}
		}
		for (unsigned i = 0; i < nthreads; i++)
			pthread_join(ws[i].thread, NULL);
		for (unsigned i = 0; i < nthreads; i++) {
			for (size_t k = 0; k < ws[i].n; k++)
				printf("lat %u %u\n", ws[i].samples[k].lat_us,
				       ws[i].samples[k].at_ms);
			if (ws[i].errors)
				printf("error %s\n", ws[i].error);
			total += ws[i].n;
			errors += ws[i].errors;
		}
		printf("done %zu %u\n", total, errors);
		fflush(stdout);
	}
	for (unsigned i = 0; i < nthreads; i++) {
		mysql_close(ws[i].conn);
		free(ws[i].samples);
	}
	free(ws);
	return 0;
}
