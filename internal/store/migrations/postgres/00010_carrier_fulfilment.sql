-- +goose Up
-- Orders that ship through an outside carrier (the fulfil service).
-- restaurants.delivery_mode: 'courier' (the platform's couriers) or 'carrier' (every order ships
-- by carrier); carrier_fallback_seconds > 0 lets an order no courier took within that time ship
-- by carrier instead (0: never).
ALTER TABLE restaurants ADD COLUMN delivery_mode TEXT NOT NULL DEFAULT 'courier';
ALTER TABLE restaurants ADD COLUMN carrier_fallback_seconds INTEGER NOT NULL DEFAULT 0;
-- orders.fulfilment: 'courier' or 'carrier'; delivery_address: the postal address as JSON
-- ({"line1","city","postcode","country"}; '' for courier orders placed by coordinates).
ALTER TABLE orders ADD COLUMN fulfilment TEXT NOT NULL DEFAULT 'courier';
ALTER TABLE orders ADD COLUMN delivery_address TEXT NOT NULL DEFAULT '';
-- The fulfil service's sweep looks for accepted carrier orders without a shipment.
CREATE INDEX orders_fulfilment ON orders (fulfilment, status);
-- A shipment's attempts are claimed: claim is the fencing token of the attempt under way
-- (one more per claim), calling says a claimed call's outcome was never recorded (the next
-- booking attempt asks the carrier for our reference first). request is the booking request
-- (JSON) and region the order's, for the shipment's events.
ALTER TABLE shipments ADD COLUMN claim BIGINT NOT NULL DEFAULT 0;
ALTER TABLE shipments ADD COLUMN calling INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shipments ADD COLUMN request TEXT NOT NULL DEFAULT '';
ALTER TABLE shipments ADD COLUMN region TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE shipments DROP COLUMN region;
ALTER TABLE shipments DROP COLUMN request;
ALTER TABLE shipments DROP COLUMN calling;
ALTER TABLE shipments DROP COLUMN claim;
DROP INDEX orders_fulfilment;
ALTER TABLE orders DROP COLUMN delivery_address;
ALTER TABLE orders DROP COLUMN fulfilment;
ALTER TABLE restaurants DROP COLUMN carrier_fallback_seconds;
ALTER TABLE restaurants DROP COLUMN delivery_mode;
