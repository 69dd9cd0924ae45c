-- +goose Up
-- A shipment is one order's parcel with an outside carrier (the fulfil service). Its state,
-- the carrier's reference and when to try the carrier next live here, so a carrier outage of
-- days is a backlog of rows, not of messages. id is also our reference at the carrier, and
-- the idempotency key of its booking.
CREATE TABLE shipments (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL UNIQUE,
    carrier         TEXT NOT NULL,
    state           TEXT NOT NULL,
    carrier_ref     TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX shipments_due ON shipments (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX shipments_state ON shipments (state, updated_at);

CREATE TABLE shipment_transitions (
    shipment_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    at          BIGINT NOT NULL,
    PRIMARY KEY (shipment_id, seq)
);

-- +goose Down
DROP TABLE shipment_transitions;
DROP TABLE shipments;
