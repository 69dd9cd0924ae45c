-- +goose Up
-- What each order took from stock, one row per (order, menu item) summed over the order's lines.
-- An order that ends before pickup gives back exactly quantity, once: released_at goes from NULL
-- to a time in the transaction that adds quantity back to menu_items.stock. An item that had
-- unlimited stock (NULL) when the order was placed has no row: nothing was taken.
CREATE TABLE stock_reservations (
    order_id     TEXT NOT NULL REFERENCES orders (id),
    menu_item_id TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    taken_at     BIGINT NOT NULL,
    released_at  BIGINT,
    PRIMARY KEY (order_id, menu_item_id)
);

-- Orders still open when this migration runs took stock before takes were recorded. The best
-- record left is the rule the old code used: every line whose item's stock is limited now.
INSERT INTO stock_reservations (order_id, menu_item_id, quantity, taken_at)
SELECT oi.order_id, oi.menu_item_id, SUM(oi.quantity), MIN(o.created_at)
FROM order_items oi
JOIN orders o ON o.id = oi.order_id
JOIN menu_items m ON m.id = oi.menu_item_id
WHERE o.status IN ('placed', 'paid', 'accepted', 'preparing', 'ready') AND m.stock IS NOT NULL
GROUP BY oi.order_id, oi.menu_item_id;

-- +goose Down
DROP TABLE stock_reservations;
