-- +goose Up
-- op_started_at is when the payment's current provider operation was first claimed (unix ms):
-- the age of its idempotency key, which providers keep for a limited time (Stripe: 24 hours).
-- Re-claims of the same operation keep it; a redrive keeps it.
ALTER TABLE payments ADD COLUMN op_started_at BIGINT;

-- +goose Down
ALTER TABLE payments DROP COLUMN op_started_at;
