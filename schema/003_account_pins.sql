-- 003_account_pins.sql - what one account's pinned sessions may hold (issue 11).
--
-- A session pins its backend connection while it has state sluice cannot replay (a
-- transaction, a temporary table, a lock, ...): that connection serves no one else.
-- max_pinned caps how many connections an account's sessions may pin at once (0 = the
-- automatic cap: half the pool, at least 1; docs/pooling.md); pinned_idle_timeout_ms ends
-- a pinned session that sent no statement for that long, giving its connection back
-- (0 = never), like MariaDB's idle_transaction_timeout.

ALTER TABLE accounts ADD COLUMN max_pinned INTEGER NOT NULL DEFAULT 0
	CHECK (max_pinned BETWEEN 0 AND 10000);
ALTER TABLE accounts ADD COLUMN pinned_idle_timeout_ms INTEGER NOT NULL DEFAULT 60000
	CHECK (pinned_idle_timeout_ms BETWEEN 0 AND 4294967295);
