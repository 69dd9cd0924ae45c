-- +goose Up
-- Leases give background work (the outbox relay, reconcilers, sweeps) one holder across
-- replicas. token is the fencing token: it grows by one with every new term, and writes made
-- under a lease check it in their transaction.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
