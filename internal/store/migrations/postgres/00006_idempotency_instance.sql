-- +goose Up
-- instance names the process (its per-boot ID) that holds a pending Idempotency-Key claim. The
-- process keeps a lease 'instance/<id>' alive while it runs, so a claim whose instance holds no
-- live lease was left by a process that died and may be taken over at once. '' is a claim of
-- unknown origin (written before this column, or by a process without an instance): it waits
-- the full staleness timeout, as before.
ALTER TABLE idempotency_keys ADD COLUMN instance TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN instance;
