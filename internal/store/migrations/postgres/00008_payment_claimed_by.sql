-- +goose Up
-- claimed_by names the process (its per-boot instance ID) that holds a payment's claim while
-- its provider call runs. A claim whose instance holds no live lease 'instance/<id>' was left
-- by a process that died: the reconciler releases it at once, instead of after the claim
-- timeout, so a kill strands no payment for long. '' is a claim of unknown origin (written
-- before this column, or by a process without an instance): it waits the full claim timeout.
ALTER TABLE payments ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
CREATE INDEX payments_claimed ON payments (claimed_by) WHERE claimed_at IS NOT NULL;

-- +goose Down
DROP INDEX payments_claimed;
ALTER TABLE payments DROP COLUMN claimed_by;
