/*
 * store.h - the rules store: accounts, backends and settings in SQLite.
 *
 * Owns: the SQLite handle, the schema migrations (schema/NNN_*.sql, compiled in), every
 * SQL statement. Must not touch: gateway objects, sockets. Not thread-safe: callers
 * serialize (the admin thread and the startup code are the only users).
 *
 * Passwords are never stored in plain text: an account keeps SHA1(password), which is
 * what mysql_native_password needs both to verify a client and to log in to a backend.
 * The database file is created readable and writable by its owner only (0600).
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_NAME_MAX                                                                             \
	64 /* longest account or backend name (MySQL user names: 80 in MariaDB, 32 in MySQL) */

struct store;

/* What the last failing call of a store ran into, so that a caller can answer with the
 * right HTTP status without parsing messages (store_last_status()). */
enum store_status {
	STORE_OK = 0,    /* the last call succeeded */
	STORE_INVALID,   /* a value out of range or malformed (400); nothing written */
	STORE_EXISTS,    /* the name is taken (409); nothing written */
	STORE_NOT_FOUND, /* no such account or backend (404); nothing written */
	STORE_CONFLICT,  /* valid alone but not with the other rows, e.g. the reservation
	                  * sum would exceed the pool size (409); nothing written */
	STORE_DB,        /* SQLite failed: I/O, busy, corrupt, out of memory (500) */
};

struct store_account {
	int64_t id;                      /* row id; stable for the account's life */
	char name[STORE_NAME_MAX + 1];   /* login name, also its backend MySQL user */
	uint8_t pw_sha1[20];             /* SHA1(password) */
	bool has_password;               /* false: empty password (pw_sha1 unused) */
	uint32_t weight;                 /* >= 1 */
	uint32_t reservation;            /* >= 0; sum over accounts <= pool size */
	uint32_t max_qps;                /* 0 = none */
	uint32_t max_connections;        /* 0 = none */
	uint32_t max_queue;              /* >= 1 */
	uint32_t queue_timeout_ms;       /* 0 = none */
	uint32_t max_pinned;             /* connections its sessions may pin; 0 = automatic
	                                  * (half the pool, at least 1) */
	uint32_t pinned_idle_timeout_ms; /* a pinned session idle this long ends; 0 = never */
};

struct store_backend {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	char host[256];
	uint16_t port;
	uint32_t pool_size;  /* 0 = the --pool-size default */
	uint32_t max_active; /* queued statements running at once; 0 = the --max-active default */
	bool enabled;
};

/* Defaults for a new account's rules (DESIGN.md). */
void store_account_defaults(struct store_account *a);

/* Open (creating with mode 0600 if needed) and migrate to the newest schema version.
 * On failure returns false and writes a message to err. */
bool store_open(const char *path, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);
/* Schema version after migrations (PRAGMA user_version). */
int store_schema_version(struct store *s);
/* Bumped by every committed change; lets readers see that a new snapshot is due. */
int64_t store_generation(struct store *s);
/* The outcome class of the last call that took an err buffer (STORE_OK after success). */
enum store_status store_last_status(const struct store *s);

/* Every account, ordered by name; *out is malloc'ed (free() it). */
bool store_account_list(struct store *s, struct store_account **out, size_t *n, char *err,
                        size_t errlen);
/* false with err "no such account" (and *found=false) when absent. */
bool store_account_get(struct store *s, const char *name, struct store_account *out, bool *found,
                       char *err, size_t errlen);
/* Insert a new account; fails if the name exists, a rule is out of range, or the sum of
 * reservations would exceed pool_size (0 = don't check). One transaction. */
bool store_account_add(struct store *s, const struct store_account *a, uint32_t pool_size,
                       char *err, size_t errlen);
/* Replace every rule (and the password) of the account named a->name. Same checks. */
bool store_account_update(struct store *s, const struct store_account *a, uint32_t pool_size,
                          char *err, size_t errlen);
bool store_account_delete(struct store *s, const char *name, bool *found, char *err, size_t errlen);

bool store_backend_list(struct store *s, struct store_backend **out, size_t *n, char *err,
                        size_t errlen);
bool store_backend_get(struct store *s, const char *name, struct store_backend *out, bool *found,
                       char *err, size_t errlen);
bool store_backend_add(struct store *s, const struct store_backend *b, char *err, size_t errlen);
bool store_backend_update(struct store *s, const struct store_backend *b, char *err, size_t errlen);
bool store_backend_delete(struct store *s, const char *name, bool *found, char *err, size_t errlen);

/* Settings: small key/value strings. get returns false when absent. */
bool store_setting_get(struct store *s, const char *key, char *val, size_t vallen);
bool store_setting_set(struct store *s, const char *key, const char *val, char *err, size_t errlen);

#endif
