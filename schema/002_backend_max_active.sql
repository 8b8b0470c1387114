-- 002_backend_max_active.sql - a backend's cap on queued statements running at once.
--
-- The rule behind --max-active (docs/qos.md): at most max_active statements that came
-- through the scheduler's queue run on the backend at once; the pool's other connections
-- serve sparse accounts at once. 0 = the --max-active default (off unless given).
-- ALTER TABLE checks the CHECK against the rows already there (all get the default 0).

ALTER TABLE backends ADD COLUMN max_active INTEGER NOT NULL DEFAULT 0
	CHECK (max_active BETWEEN 0 AND 10000);
