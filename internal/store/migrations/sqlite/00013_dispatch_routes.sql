-- +goose Up
-- Dispatch offers and routes (issue 7, part 3). An offers row is one offer ever made to one
-- courier: a route of one or more orders of one restaurant (offer_orders, in drop-off
-- sequence), open until answered, expired or withdrawn, and never deleted, so an answer to any
-- offer id ever issued can say what became of it. An accepted offer's id is its route's id
-- (deliveries.route_id); deliveries.offer_id is the delivery's latest offer.
CREATE TABLE offers (
    id                TEXT PRIMARY KEY,
    courier_id        TEXT NOT NULL,
    region            TEXT NOT NULL,
    restaurant_id     TEXT NOT NULL,
    status            TEXT NOT NULL,
    pickup_lat        REAL NOT NULL,
    pickup_lng        REAL NOT NULL,
    distance_m        REAL NOT NULL,
    pay               BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    planned_pickup_at BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    answered_at       BIGINT
);
CREATE INDEX offers_open ON offers (status, expires_at) WHERE status = 'open';
CREATE INDEX offers_courier ON offers (courier_id, status);

CREATE TABLE offer_orders (
    offer_id TEXT NOT NULL REFERENCES offers (id),
    order_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (offer_id, order_id)
);
CREATE INDEX offer_orders_order ON offer_orders (order_id);

DROP INDEX deliveries_offer;
CREATE INDEX deliveries_offer ON deliveries (offer_id);
ALTER TABLE deliveries ADD COLUMN route_id TEXT;
ALTER TABLE deliveries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN planned_pickup_at BIGINT;
CREATE INDEX deliveries_route ON deliveries (route_id);

ALTER TABLE couriers ADD COLUMN shift_ends_at BIGINT;

-- +goose Down
ALTER TABLE couriers DROP COLUMN shift_ends_at;
DROP INDEX deliveries_route;
ALTER TABLE deliveries DROP COLUMN planned_pickup_at;
ALTER TABLE deliveries DROP COLUMN seq;
ALTER TABLE deliveries DROP COLUMN route_id;
DROP INDEX deliveries_offer;
CREATE UNIQUE INDEX deliveries_offer ON deliveries (offer_id);
DROP TABLE offer_orders;
DROP TABLE offers;
