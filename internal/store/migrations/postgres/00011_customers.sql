-- +goose Up
-- Customers' profiles (the customer package): contact details, language, postal address and
-- notification preferences, kept for customers who have no login of their own. Checkout writes
-- bare rows (id and created_at only), so every new column has a default; updated_at stays 0
-- until a profile is first written. address and notify are JSON text, '' when not given.
ALTER TABLE customers ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN notify TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

-- The ops audit log (the audit package): who did what to which object, and when, written in
-- the transaction that did it. Read newest first by seq, for one target or all; the (at) index
-- serves pruning by age.
CREATE TABLE audit_log (
    seq    BIGSERIAL PRIMARY KEY,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at     BIGINT NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- +goose Down
DROP TABLE audit_log;
ALTER TABLE customers DROP COLUMN updated_at;
ALTER TABLE customers DROP COLUMN notify;
ALTER TABLE customers DROP COLUMN address;
ALTER TABLE customers DROP COLUMN language;
ALTER TABLE customers DROP COLUMN phone;
ALTER TABLE customers DROP COLUMN email;
