-- +goose Up
-- The fake payment provider's ledger (payment.Fake, `--pay-provider fake`): a sandbox account
-- kept in tiffin's own database, so it outlives the process and every replica of one
-- deployment sees the same one. tiffin's own tables never read these; only the fake does.
--
-- One account per order: the hold placed, what was captured and refunded.
CREATE TABLE fake_payment_accounts (
    order_id   TEXT PRIMARY KEY,
    ref        TEXT NOT NULL UNIQUE,
    currency   TEXT NOT NULL,
    authorized BIGINT NOT NULL DEFAULT 0,
    captured   BIGINT NOT NULL DEFAULT 0,
    refunded   BIGINT NOT NULL DEFAULT 0,
    voided     BOOLEAN NOT NULL DEFAULT FALSE,
    declined   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per idempotency key the fake acted on, with the outcome a replay returns. The
-- primary key makes a key act once however many processes send it at the same moment.
CREATE TABLE fake_payment_keys (
    idempotency_key TEXT PRIMARY KEY,
    op              TEXT NOT NULL,
    ref             TEXT NOT NULL DEFAULT '',
    declined        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE fake_payment_keys;
DROP TABLE fake_payment_accounts;
