-- +goose Up
-- Customer erasure (the customer package): erased_at is when a customer's personal data was
-- anonymised (profile blanked; their orders' drop-offs, addresses and notes, their
-- notifications and the stored checkout answers cleared); NULL while never erased. Orders,
-- payments and money records stay, for accounting.
ALTER TABLE customers ADD COLUMN erased_at BIGINT;

-- +goose Down
ALTER TABLE customers DROP COLUMN erased_at;
