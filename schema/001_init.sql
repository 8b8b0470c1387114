-- 001_init.sql - the first schema of the rules store.
--
-- Applied by admin/store.c inside one transaction, which then sets PRAGMA user_version = 1.
-- Forward-only: never edit this file once released; add 002_*.sql instead.
-- The CHECK constraints mirror the validation in store.c (which gives the friendly
-- messages) so that a hand edit with the sqlite3 shell cannot store a rule sluice would
-- refuse; the upper bounds of 4294967295 are the range of the uint32_t fields in C.

CREATE TABLE accounts (
	id               INTEGER PRIMARY KEY,
	name             TEXT NOT NULL UNIQUE
	                 CHECK (length(name) BETWEEN 1 AND 64),
	-- SHA1(password) (mysql_native_password stage 1); NULL = empty password
	password_sha1    BLOB NULL
	                 CHECK (password_sha1 IS NULL
	                        OR (typeof(password_sha1) = 'blob' AND length(password_sha1) = 20)),
	weight           INTEGER NOT NULL DEFAULT 1
	                 CHECK (weight BETWEEN 1 AND 10000),
	reservation      INTEGER NOT NULL DEFAULT 0
	                 CHECK (reservation BETWEEN 0 AND 4294967295),
	max_qps          INTEGER NOT NULL DEFAULT 0
	                 CHECK (max_qps BETWEEN 0 AND 4294967295),
	max_connections  INTEGER NOT NULL DEFAULT 0
	                 CHECK (max_connections BETWEEN 0 AND 4294967295),
	max_queue        INTEGER NOT NULL DEFAULT 10000
	                 CHECK (max_queue BETWEEN 1 AND 4294967295),
	queue_timeout_ms INTEGER NOT NULL DEFAULT 120000
	                 CHECK (queue_timeout_ms BETWEEN 0 AND 4294967295),
	created_at       INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
	updated_at       INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);

CREATE TABLE backends (
	id               INTEGER PRIMARY KEY,
	name             TEXT NOT NULL UNIQUE
	                 CHECK (length(name) BETWEEN 1 AND 64),
	host             TEXT NOT NULL
	                 CHECK (length(host) BETWEEN 1 AND 255),
	port             INTEGER NOT NULL DEFAULT 3306
	                 CHECK (port BETWEEN 1 AND 65535),
	-- 0 = the --pool-size default
	pool_size        INTEGER NOT NULL DEFAULT 0
	                 CHECK (pool_size BETWEEN 0 AND 10000),
	enabled          INTEGER NOT NULL DEFAULT 1
	                 CHECK (enabled IN (0, 1)),
	created_at       INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
	updated_at       INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);

CREATE TABLE settings (
	key              TEXT PRIMARY KEY
	                 CHECK (length(key) BETWEEN 1 AND 64),
	value            TEXT NOT NULL
	                 CHECK (length(value) <= 4096)
);

-- Bumped by every committed change (store.c); reserved, not writable through the
-- settings API.
INSERT INTO settings (key, value) VALUES ('generation', '0');
