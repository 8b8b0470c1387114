/*
 * check_store.c - unit tests for admin/store.c: migrations, validation, CRUD, generation,
 * file permissions and persistence across reopen.
 *
 * Most cases run on ":memory:" (the fixture); the persistence and permission cases use a
 * file in a fresh mkdtemp() directory that the case removes.
 */
#include "config.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/schema_sql.h"
#include "admin/store.h"
#include "tests/unit/testutil.h"

static struct store *st; /* owned by the fixture: a migrated ":memory:" store */
static char err[512];    /* the last error message of a store call */

static void mem_setup(void)
{
	err[0] = '\0';
	ck_assert_msg(store_open(":memory:", &st, err, sizeof err), "store_open: %s", err);
}

static void mem_teardown(void)
{
	store_close(st);
	st = NULL;
}

/* An account with the defaults and the given name and weight. */
static struct store_account mk_account(const char *name, uint32_t weight)
{
	struct store_account a;

	store_account_defaults(&a);
	snprintf(a.name, sizeof a.name, "%s", name);
	a.weight = weight;
	return a;
}

static struct store_backend backend(const char *name, const char *host, uint16_t port)
{
	struct store_backend b;

	memset(&b, 0, sizeof b);
	snprintf(b.name, sizeof b.name, "%s", name);
	snprintf(b.host, sizeof b.host, "%s", host);
	b.port = port;
	b.enabled = true;
	return b;
}

static size_t count_accounts(void)
{
	struct store_account *v;
	size_t n;

	ck_assert_msg(store_account_list(st, &v, &n, err, sizeof err), "list: %s", err);
	free(v);
	return n;
}

/* A temporary directory and a database path inside it; rm_tmp() removes both. */
static char tmpdir[256];
static char dbpath[300];

static void make_tmp(void)
{
	ck_assert(test_tmpdir_make(tmpdir, sizeof tmpdir, "check_store"));
	snprintf(dbpath, sizeof dbpath, "%s/rules.db", tmpdir);
}

static void rm_tmp(void)
{
	test_tmpdir_remove(tmpdir);
}

/* ---- migrations ---- */

START_TEST(test_migrate_memory)
{
	char v[32];

	ck_assert_int_eq(store_schema_version(st), 3);
	ck_assert_int_eq(store_generation(st), 0);
	ck_assert_uint_eq(count_accounts(), 0);
	ck_assert(store_setting_get(st, "generation", v, sizeof v));
	ck_assert_str_eq(v, "0");
	ck_assert_int_eq(store_last_status(st), STORE_OK);
}
END_TEST

START_TEST(test_migrate_file_mode_and_reopen)
{
	struct store *s2;
	struct store_account a = mk_account("alice", 3), got;
	struct stat sb;
	bool found;
	mode_t old = umask(022);

	make_tmp();
	ck_assert_msg(store_open(dbpath, &s2, err, sizeof err), "open: %s", err);
	umask(old);
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(store_schema_version(s2), 3);
	a.reservation = 2;
	a.has_password = true;
	memset(a.pw_sha1, 0xab, sizeof a.pw_sha1);
	ck_assert_msg(store_account_add(s2, &a, 0, err, sizeof err), "add: %s", err);
	ck_assert_msg(store_setting_set(s2, "motd", "hello", err, sizeof err), "set: %s", err);
	ck_assert_int_eq(store_generation(s2), 2);
	store_close(s2);

	/* The WAL's companions must not be more open than the file itself. */
	{
		char wal[320];

		snprintf(wal, sizeof wal, "%s-wal", dbpath);
		if (stat(wal, &sb) == 0)
			ck_assert_int_eq(sb.st_mode & 077, 0);
	}

	/* Reopen: same schema, data and generation; migrations are not applied twice. */
	ck_assert_msg(store_open(dbpath, &s2, err, sizeof err), "reopen: %s", err);
	ck_assert_int_eq(store_schema_version(s2), 3);
	ck_assert_int_eq(store_generation(s2), 2);
	ck_assert(store_account_get(s2, "alice", &got, &found, err, sizeof err));
	ck_assert(found);
	ck_assert_uint_eq(got.weight, 3);
	ck_assert_uint_eq(got.reservation, 2);
	ck_assert(got.has_password);
	ck_assert_int_eq(memcmp(got.pw_sha1, a.pw_sha1, sizeof a.pw_sha1), 0);
	{
		char v[32];

		ck_assert(store_setting_get(s2, "motd", v, sizeof v));
		ck_assert_str_eq(v, "hello");
	}
	store_close(s2);
	rm_tmp();
}
END_TEST

START_TEST(test_existing_file_made_private)
{
	struct store *s2;
	struct stat sb;
	FILE *f;

	make_tmp();
	f = fopen(dbpath, "w"); /* an empty file is a valid, empty SQLite database */
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(chmod(dbpath, 0644), 0);
	ck_assert_msg(store_open(dbpath, &s2, err, sizeof err), "open: %s", err);
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	store_close(s2);
	rm_tmp();
}
END_TEST

/* A database at version 1 (only 001_init.sql, as sluice before 002 left it) gains
 * backends.max_active = 0 on its rows, and keeps everything else. */
START_TEST(test_migrate_from_v1)
{
	struct store *s2;
	struct store_backend got;
	sqlite3 *db;
	bool found;

	ck_assert_int_ge((int)store_n_migrations, 2);
	ck_assert_int_eq(store_migrations[0].version, 1);
	make_tmp();
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, store_migrations[0].sql, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
	                              "INSERT INTO backends (name, host, port, pool_size) "
	                              "VALUES ('default', '127.0.0.1', 3306, 16);"
	                              "INSERT INTO accounts (name, weight) VALUES ('old', 3);"
	                              "PRAGMA user_version = 1",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);

	ck_assert_msg(store_open(dbpath, &s2, err, sizeof err), "open: %s", err);
	ck_assert_int_eq(store_schema_version(s2), 3);
	ck_assert(store_backend_get(s2, "default", &got, &found, err, sizeof err));
	ck_assert(found);
	ck_assert_uint_eq(got.pool_size, 16);
	ck_assert_uint_eq(got.max_active, 0);
	ck_assert(got.enabled);
	got.max_active = 4;
	ck_assert_msg(store_backend_update(s2, &got, err, sizeof err), "update: %s", err);
	store_close(s2);

	/* The column's CHECK holds for a hand edit too. */
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_ne(
	    sqlite3_exec(db, "UPDATE backends SET max_active = 10001", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert_msg(store_open(dbpath, &s2, err, sizeof err), "reopen: %s", err);
	ck_assert(store_backend_get(s2, "default", &got, &found, err, sizeof err));
	ck_assert_uint_eq(got.max_active, 4);
	{
		/* 003: an account from before gets the automatic max_pinned and the 60 s
		 * pinned_idle_timeout_ms, and keeps its rules. */
		struct store_account acc;

		ck_assert(store_account_get(s2, "old", &acc, &found, err, sizeof err));
		ck_assert(found);
		ck_assert_uint_eq(acc.weight, 3);
		ck_assert_uint_eq(acc.max_pinned, 0);
		ck_assert_uint_eq(acc.pinned_idle_timeout_ms, 60000);
		acc.max_pinned = 10001; /* over STORE_POOL_MAX */
		ck_assert(!store_account_update(s2, &acc, 16, err, sizeof err));
		ck_assert_ptr_nonnull(strstr(err, "max_pinned"));
	}
	store_close(s2);
	rm_tmp();
}
END_TEST

START_TEST(test_newer_schema_refused)
{
	struct store *s2;
	sqlite3 *db;

	make_tmp();
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert(!store_open(dbpath, &s2, err, sizeof err));
	ck_assert_ptr_null(s2);
	ck_assert_msg(strstr(err, "newer") != NULL, "err: %s", err);
	rm_tmp();
}
END_TEST

START_TEST(test_open_bad_path)
{
	struct store *s2;

	ck_assert(!store_open("/nonexistent-dir/x/rules.db", &s2, err, sizeof err));
	ck_assert_ptr_null(s2);
	ck_assert_msg(strstr(err, "cannot open") != NULL, "err: %s", err);
	ck_assert(!store_open("", &s2, err, sizeof err));
}
END_TEST

/* ---- accounts ---- */

START_TEST(test_account_crud)
{
	struct store_account a = mk_account("bob", 5), b = mk_account("alice", 1), got, *v;
	bool found;
	size_t n;

	ck_assert_msg(store_account_add(st, &a, 0, err, sizeof err), "add: %s", err);
	ck_assert_msg(store_account_add(st, &b, 0, err, sizeof err), "add: %s", err);

	ck_assert(store_account_get(st, "bob", &got, &found, err, sizeof err));
	ck_assert(found);
	ck_assert_str_eq(got.name, "bob");
	ck_assert_uint_eq(got.weight, 5);
	ck_assert_uint_eq(got.max_queue, 10000);
	ck_assert_uint_eq(got.queue_timeout_ms, 120000);
	ck_assert(!got.has_password);
	ck_assert_int_gt(got.id, 0);

	/* Ordered by name. */
	ck_assert(store_account_list(st, &v, &n, err, sizeof err));
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].name, "alice");
	ck_assert_str_eq(v[1].name, "bob");
	free(v);

	/* Update replaces every rule, the password included. */
	got.weight = 9;
	got.max_qps = 100;
	got.max_connections = 7;
	got.max_queue = 3;
	got.queue_timeout_ms = 0;
	got.has_password = true;
	memset(got.pw_sha1, 0x11, sizeof got.pw_sha1);
	ck_assert_msg(store_account_update(st, &got, 0, err, sizeof err), "update: %s", err);
	ck_assert(store_account_get(st, "bob", &a, &found, err, sizeof err));
	ck_assert_uint_eq(a.weight, 9);
	ck_assert_uint_eq(a.max_qps, 100);
	ck_assert_uint_eq(a.max_connections, 7);
	ck_assert_uint_eq(a.max_queue, 3);
	ck_assert_uint_eq(a.queue_timeout_ms, 0);
	ck_assert(a.has_password);
	ck_assert_uint_eq(a.pw_sha1[19], 0x11);
	ck_assert_int_eq(a.id, got.id);

	/* And back to no password. */
	a.has_password = false;
	ck_assert(store_account_update(st, &a, 0, err, sizeof err));
	ck_assert(store_account_get(st, "bob", &got, &found, err, sizeof err));
	ck_assert(!got.has_password);

	ck_assert(store_account_delete(st, "bob", &found, err, sizeof err));
	ck_assert(found);
	ck_assert(!store_account_get(st, "bob", &got, &found, err, sizeof err));
	ck_assert(!found);
	ck_assert_str_eq(err, "no such account");
	ck_assert_int_eq(store_last_status(st), STORE_NOT_FOUND);
	ck_assert_uint_eq(count_accounts(), 1);
}
END_TEST

START_TEST(test_account_missing)
{
	struct store_account a = mk_account("ghost", 1);
	int64_t gen = store_generation(st);
	bool found = true;

	ck_assert(!store_account_update(st, &a, 0, err, sizeof err));
	ck_assert_int_eq(store_last_status(st), STORE_NOT_FOUND);
	ck_assert(!store_account_delete(st, "ghost", &found, err, sizeof err));
	ck_assert(!found);
	ck_assert_int_eq(store_last_status(st), STORE_NOT_FOUND);
	ck_assert_int_eq(store_generation(st), gen);
}
END_TEST

START_TEST(test_account_duplicate)
{
	struct store_account a = mk_account("carol", 1), b = mk_account("carol", 7), got;
	bool found;

	ck_assert(store_account_add(st, &a, 0, err, sizeof err));
	ck_assert(!store_account_add(st, &b, 0, err, sizeof err));
	ck_assert_int_eq(store_last_status(st), STORE_EXISTS);
	ck_assert_msg(strstr(err, "already exists") != NULL, "err: %s", err);
	ck_assert_int_eq(store_generation(st), 1);
	ck_assert(store_account_get(st, "carol", &got, &found, err, sizeof err));
	ck_assert_uint_eq(got.weight, 1);
	ck_assert_uint_eq(count_accounts(), 1);
}
END_TEST

/* Table of refused accounts: which field is wrong and what the message must say. */
static const struct bad_account {
	const char *name;    /* account name to try */
	uint32_t weight;     /* weight to try */
	uint32_t max_queue;  /* max_queue to try */
	const char *message; /* a substring the error must contain */
} bad_accounts[] = {
	{ "w0", 0, 10, "weight must be between 1 and 10000" },
	{ "w10001", 10001, 10, "weight must be between 1 and 10000" },
	{ "q0", 1, 0, "max_queue must be at least 1" },
	{ "", 1, 10, "name must be 1 to 64 characters long" },
	{ "a/b", 1, 10, "name may contain only" },
	{ "sp ace", 1, 10, "name may contain only" },
	{ "x\"y", 1, 10, "name may contain only" },
};

START_TEST(test_account_bad_values)
{
	const struct bad_account *t = &bad_accounts[_i];
	struct store_account a = mk_account("ok", 1), b = mk_account(t->name, t->weight), got;
	bool found;

	ck_assert(store_account_add(st, &a, 0, err, sizeof err));
	b.max_queue = t->max_queue;
	/* Refused as a new account... */
	ck_assert(!store_account_add(st, &b, 0, err, sizeof err));
	ck_assert_int_eq(store_last_status(st), STORE_INVALID);
	ck_assert_msg(strstr(err, t->message) != NULL, "err: %s", err);
	/* ...and as a change to an existing one (when the name is the valid one). */
	snprintf(b.name, sizeof b.name, "ok");
	if (t->weight != 1 || t->max_queue != 10) {
		ck_assert(!store_account_update(st, &b, 0, err, sizeof err));
		ck_assert_msg(strstr(err, t->message) != NULL, "err: %s", err);
	}
	/* Nothing written. */
	ck_assert_int_eq(store_generation(st), 1);
	ck_assert_uint_eq(count_accounts(), 1);
	ck_assert(store_account_get(st, "ok", &got, &found, err, sizeof err));
	ck_assert_uint_eq(got.weight, 1);
	ck_assert_uint_eq(got.max_queue, 10000);
}
END_TEST

START_TEST(test_account_name_too_long)
{
	struct store_account a;

	store_account_defaults(&a);
	memset(a.name, 'n', STORE_NAME_MAX);
	a.name[STORE_NAME_MAX] = '\0';
	ck_assert_msg(store_account_add(st, &a, 0, err, sizeof err), "64 chars: %s", err);
	/* Not terminated inside the buffer: 65 characters. */
	memset(a.name, 'm', sizeof a.name);
	ck_assert(!store_account_add(st, &a, 0, err, sizeof err));
	ck_assert_msg(strstr(err, "name must be 1 to 64") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_reservation_sum)
{
	struct store_account a = mk_account("a", 1), b = mk_account("b", 1), got;
	bool found;

	a.reservation = 6;
	ck_assert(store_account_add(st, &a, 10, err, sizeof err));
	b.reservation = 5;
	ck_assert(!store_account_add(st, &b, 10, err, sizeof err));
	ck_assert_int_eq(store_last_status(st), STORE_CONFLICT);
	ck_assert_msg(strstr(err, "pool size 10") != NULL, "err: %s", err);
	ck_assert_uint_eq(count_accounts(), 1);
	ck_assert_int_eq(store_generation(st), 1);

	b.reservation = 4;
	ck_assert_msg(store_account_add(st, &b, 10, err, sizeof err), "add: %s", err);
	/* Raising a's reservation past the pool is refused, lowering is not. */
	a.reservation = 7;
	ck_assert(!store_account_update(st, &a, 10, err, sizeof err));
	ck_assert_int_eq(store_last_status(st), STORE_CONFLICT);
	ck_assert(store_account_get(st, "a", &got, &found, err, sizeof err));
	ck_assert_uint_eq(got.reservation, 6);
	a.reservation = 5;
	ck_assert(store_account_update(st, &a, 10, err, sizeof err));
	/* pool_size 0: not checked. */
	a.reservation = 500;
	ck_assert(store_account_update(st, &a, 0, err, sizeof err));
	/* Over the pool already (it shrank): other rules can still change. */
	a.weight = 2;
	ck_assert_msg(store_account_update(st, &a, 10, err, sizeof err), "update: %s", err);
}
END_TEST

START_TEST(test_generation_bumps)
{
	struct store_account a = mk_account("g", 1);
	struct store_backend b = backend("db1", "127.0.0.1", 3306);
	bool found;

	ck_assert_int_eq(store_generation(st), 0);
	ck_assert(store_account_add(st, &a, 0, err, sizeof err));
	ck_assert_int_eq(store_generation(st), 1);
	a.weight = 2;
	ck_assert(store_account_update(st, &a, 0, err, sizeof err));
	ck_assert_int_eq(store_generation(st), 2);
	ck_assert(store_backend_add(st, &b, err, sizeof err));
	ck_assert_int_eq(store_generation(st), 3);
	ck_assert(store_setting_set(st, "k", "v", err, sizeof err));
	ck_assert_int_eq(store_generation(st), 4);
	ck_assert(store_account_delete(st, "g", &found, err, sizeof err));
	ck_assert_int_eq(store_generation(st), 5);
	/* Failures do not bump. */
	ck_assert(!store_account_delete(st, "g", &found, err, sizeof err));
	ck_assert(!store_backend_add(st, &b, err, sizeof err));
	ck_assert_int_eq(store_generation(st), 5);
}
END_TEST

/* ---- settings ---- */

START_TEST(test_settings)
{
	char v[16], big[5000];

	ck_assert(!store_setting_get(st, "absent", v, sizeof v));
	ck_assert_msg(store_setting_set(st, "mode", "strict", err, sizeof err), "set: %s", err);
	ck_assert(store_setting_get(st, "mode", v, sizeof v));
	ck_assert_str_eq(v, "strict");
	ck_assert(store_setting_set(st, "mode", "lenient", err, sizeof err));
	ck_assert(store_setting_get(st, "mode", v, sizeof v));
	ck_assert_str_eq(v, "lenient");
	/* Too long for the caller's buffer: reported absent, not cut. */
	ck_assert(store_setting_set(st, "long", "0123456789abcdefXYZ", err, sizeof err));
	ck_assert(!store_setting_get(st, "long", v, sizeof v));

	ck_assert(!store_setting_set(st, "generation", "42", err, sizeof err));
	ck_assert_int_eq(store_last_status(st), STORE_INVALID);
	ck_assert(!store_setting_set(st, "", "x", err, sizeof err));
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert(!store_setting_set(st, "big", big, err, sizeof err));
	ck_assert_msg(strstr(err, "at most 4096") != NULL, "err: %s", err);
	ck_assert_int_eq(store_generation(st), 3);
}
END_TEST

/* ---- backends ---- */

START_TEST(test_backend_crud)
{
	struct store_backend a = backend("db2", "10.0.0.2", 3307), b = backend("db1", "::1", 3306);
	struct store_backend got, *v;
	bool found;
	size_t n;

	ck_assert_msg(store_backend_add(st, &a, err, sizeof err), "add: %s", err);
	ck_assert_msg(store_backend_add(st, &b, err, sizeof err), "add: %s", err);
	ck_assert(!store_backend_add(st, &b, err, sizeof err));
	ck_assert_int_eq(store_last_status(st), STORE_EXISTS);

	ck_assert(store_backend_list(st, &v, &n, err, sizeof err));
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].name, "db1");
	ck_assert_str_eq(v[0].host, "::1");
	ck_assert_str_eq(v[1].name, "db2");
	ck_assert_uint_eq(v[1].port, 3307);
	ck_assert(v[1].enabled);
	free(v);

	a.enabled = false;
	a.pool_size = 32;
	a.max_active = 3;
	snprintf(a.host, sizeof a.host, "db2.internal");
	ck_assert_msg(store_backend_update(st, &a, err, sizeof err), "update: %s", err);
	ck_assert(store_backend_get(st, "db2", &got, &found, err, sizeof err));
	ck_assert(found);
	ck_assert(!got.enabled);
	ck_assert_uint_eq(got.pool_size, 32);
	ck_assert_uint_eq(got.max_active, 3);
	ck_assert_str_eq(got.host, "db2.internal");

	ck_assert(store_backend_delete(st, "db2", &found, err, sizeof err));
	ck_assert(found);
	ck_assert(!store_backend_get(st, "db2", &got, &found, err, sizeof err));
	ck_assert(!found);
	ck_assert_int_eq(store_last_status(st), STORE_NOT_FOUND);
	ck_assert(!store_backend_delete(st, "db2", &found, err, sizeof err));
	ck_assert(!found);
	ck_assert(!store_backend_update(st, &a, err, sizeof err));
	ck_assert_int_eq(store_last_status(st), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_backend_bad_values)
{
	struct store_backend b = backend("db", "127.0.0.1", 0);
	struct store_backend *v;
	size_t n;

	ck_assert(!store_backend_add(st, &b, err, sizeof err));
	ck_assert_msg(strstr(err, "port must be between 1 and 65535") != NULL, "err: %s", err);
	b = backend("db", "", 3306);
	ck_assert(!store_backend_add(st, &b, err, sizeof err));
	ck_assert_msg(strstr(err, "host must be") != NULL, "err: %s", err);
	b = backend("db", "bad host", 3306);
	ck_assert(!store_backend_add(st, &b, err, sizeof err));
	ck_assert_msg(strstr(err, "host may contain") != NULL, "err: %s", err);
	b = backend("db", "h", 3306);
	b.pool_size = 10001;
	ck_assert(!store_backend_add(st, &b, err, sizeof err));
	ck_assert_msg(strstr(err, "pool_size must be between 0 and 10000") != NULL, "err: %s", err);
	ck_assert_int_eq(store_last_status(st), STORE_INVALID);
	b = backend("db", "h", 3306);
	b.max_active = 10001;
	ck_assert(!store_backend_add(st, &b, err, sizeof err));
	ck_assert_msg(strstr(err, "max_active must be between 0 and 10000") != NULL, "err: %s",
	              err);
	ck_assert_int_eq(store_last_status(st), STORE_INVALID);
	ck_assert(store_backend_list(st, &v, &n, err, sizeof err));
	ck_assert_uint_eq(n, 0);
	free(v);
	ck_assert_int_eq(store_generation(st), 0);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("migrations");
	tcase_add_checked_fixture(tc, mem_setup, mem_teardown);
	tcase_add_test(tc, test_migrate_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_test(tc, test_migrate_file_mode_and_reopen);
	tcase_add_test(tc, test_migrate_from_v1);
	tcase_add_test(tc, test_existing_file_made_private);
	tcase_add_test(tc, test_newer_schema_refused);
	tcase_add_test(tc, test_open_bad_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("accounts");
	tcase_add_checked_fixture(tc, mem_setup, mem_teardown);
	tcase_add_test(tc, test_account_crud);
	tcase_add_test(tc, test_account_missing);
	tcase_add_test(tc, test_account_duplicate);
	tcase_add_loop_test(tc, test_account_bad_values, 0,
	                    (int)(sizeof bad_accounts / sizeof bad_accounts[0]));
	tcase_add_test(tc, test_account_name_too_long);
	tcase_add_test(tc, test_reservation_sum);
	suite_add_tcase(s, tc);

	tc = tcase_create("generation");
	tcase_add_checked_fixture(tc, mem_setup, mem_teardown);
	tcase_add_test(tc, test_generation_bumps);
	suite_add_tcase(s, tc);

	tc = tcase_create("settings");
	tcase_add_checked_fixture(tc, mem_setup, mem_teardown);
	tcase_add_test(tc, test_settings);
	suite_add_tcase(s, tc);

	tc = tcase_create("backends");
	tcase_add_checked_fixture(tc, mem_setup, mem_teardown);
	tcase_add_test(tc, test_backend_crud);
	tcase_add_test(tc, test_backend_bad_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
