-- +goose Up
-- The payment saga: a claimed provider call (claim_attempt, claimed_at), when the payment next
-- needs looking at (due_at), and statuses renamed to the payment state machine's.
ALTER TABLE payments ADD COLUMN claim_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN claimed_at BIGINT;
ALTER TABLE payments ADD COLUMN due_at BIGINT;
-- first_failed_at: when the current run of failed attempts began; dead_at: when the saga gave
-- up on the payment (a dead letter, until ops redrive it).
ALTER TABLE payments ADD COLUMN first_failed_at BIGINT;
ALTER TABLE payments ADD COLUMN dead_at BIGINT;
UPDATE payments SET status = 'refunding', due_at = updated_at WHERE status = 'refund_pending';
UPDATE payments SET status = 'cancelled' WHERE status = 'void';
UPDATE payments SET due_at = updated_at WHERE status = 'pending';
CREATE INDEX payments_due ON payments (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE payment_transitions (
    order_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    status   TEXT NOT NULL,
    attempt  INTEGER NOT NULL,
    detail   TEXT NOT NULL DEFAULT '',
    at       BIGINT NOT NULL,
    PRIMARY KEY (order_id, seq)
);

-- +goose Down
DROP TABLE payment_transitions;
DROP INDEX payments_due;
ALTER TABLE payments DROP COLUMN dead_at;
ALTER TABLE payments DROP COLUMN first_failed_at;
ALTER TABLE payments DROP COLUMN due_at;
ALTER TABLE payments DROP COLUMN claimed_at;
ALTER TABLE payments DROP COLUMN claim_attempt;
