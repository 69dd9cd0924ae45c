-- +goose Up
CREATE TABLE restaurants (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL,
    name          TEXT NOT NULL,
    lat           DOUBLE PRECISION NOT NULL,
    lng           DOUBLE PRECISION NOT NULL,
    region        TEXT NOT NULL,
    timezone      TEXT NOT NULL DEFAULT 'UTC',
    opens_minute  INTEGER NOT NULL DEFAULT 0,
    closes_minute INTEGER NOT NULL DEFAULT 1440,
    prep_minutes  INTEGER NOT NULL DEFAULT 15,
    menu_version  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX restaurants_owner ON restaurants (owner_id);
CREATE INDEX restaurants_lat_lng ON restaurants (lat, lng);

CREATE TABLE menu_items (
    id            TEXT PRIMARY KEY,
    restaurant_id TEXT NOT NULL REFERENCES restaurants (id),
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    price         BIGINT NOT NULL CHECK (price >= 0),
    available     BOOLEAN NOT NULL DEFAULT TRUE,
    stock         INTEGER CHECK (stock IS NULL OR stock >= 0),
    position      INTEGER NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX menu_items_restaurant ON menu_items (restaurant_id, position);

CREATE TABLE customers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE couriers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    vehicle    TEXT NOT NULL DEFAULT 'bike',
    status     TEXT NOT NULL DEFAULT 'off',
    lat        DOUBLE PRECISION,
    lng        DOUBLE PRECISION,
    region     TEXT NOT NULL DEFAULT '',
    shift_started_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX couriers_status ON couriers (status, region);

CREATE TABLE orders (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    restaurant_id TEXT NOT NULL REFERENCES restaurants (id),
    region        TEXT NOT NULL,
    status        TEXT NOT NULL,
    subtotal      BIGINT NOT NULL,
    delivery_fee  BIGINT NOT NULL,
    total         BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    delivery_lat  DOUBLE PRECISION NOT NULL,
    delivery_lng  DOUBLE PRECISION NOT NULL,
    placed_by     TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deadline_at   BIGINT
);
CREATE INDEX orders_customer ON orders (customer_id, id);
CREATE INDEX orders_restaurant ON orders (restaurant_id, status, id);
CREATE INDEX orders_deadline ON orders (status, deadline_at);

CREATE TABLE order_items (
    order_id     TEXT NOT NULL REFERENCES orders (id),
    line         INTEGER NOT NULL,
    menu_item_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    unit_price   BIGINT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line)
);

CREATE TABLE order_transitions (
    order_id TEXT NOT NULL REFERENCES orders (id),
    seq      INTEGER NOT NULL,
    status   TEXT NOT NULL,
    actor    TEXT NOT NULL DEFAULT '',
    at       BIGINT NOT NULL,
    PRIMARY KEY (order_id, seq)
);

CREATE TABLE idempotency_keys (
    principal     TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL,
    response_code INTEGER NOT NULL DEFAULT 0,
    response_body TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE TABLE payments (
    order_id     TEXT PRIMARY KEY REFERENCES orders (id),
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL,
    provider_ref TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    updated_at   BIGINT NOT NULL
);
CREATE INDEX payments_status ON payments (status, updated_at);

CREATE TABLE deliveries (
    order_id           TEXT PRIMARY KEY REFERENCES orders (id),
    region             TEXT NOT NULL,
    restaurant_id      TEXT NOT NULL,
    pickup_lat         DOUBLE PRECISION NOT NULL,
    pickup_lng         DOUBLE PRECISION NOT NULL,
    dropoff_lat        DOUBLE PRECISION NOT NULL,
    dropoff_lng        DOUBLE PRECISION NOT NULL,
    status             TEXT NOT NULL,
    courier_id         TEXT,
    offer_id           TEXT,
    offered_courier_id TEXT,
    offer_expires_at   BIGINT,
    offers             INTEGER NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX deliveries_status ON deliveries (status, offer_expires_at);
CREATE INDEX deliveries_courier ON deliveries (courier_id, status);
CREATE UNIQUE INDEX deliveries_offer ON deliveries (offer_id);

CREATE TABLE delivery_declines (
    order_id   TEXT NOT NULL,
    courier_id TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (order_id, courier_id)
);

CREATE TABLE outbox (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    subject    TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

CREATE TABLE processed_events (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- +goose Down
DROP TABLE processed_events;
DROP TABLE outbox;
DROP TABLE delivery_declines;
DROP TABLE deliveries;
DROP TABLE payments;
DROP TABLE idempotency_keys;
DROP TABLE order_transitions;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE couriers;
DROP TABLE customers;
DROP TABLE menu_items;
DROP TABLE restaurants;
