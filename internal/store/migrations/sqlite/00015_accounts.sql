-- +goose Up
-- Local accounts for ops and restaurant staff (package account). 00015, not 00014: 00014 is
-- another branch's, and the store applies a migration that lands after a later one
-- (goose's allow-out-of-order), so either may be applied first. These tables touch no other.
-- password_hash is PHC-format argon2id; disabled_at is 0 while the account may log in.
CREATE TABLE accounts (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled_at   BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Refresh tokens, stored as the SHA-256 of the token only. A login starts a family; each
-- refresh uses its token up (used_at) and adds the family's next; a used token presented
-- again revokes the whole family (revoked_at on every row).
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    username   TEXT NOT NULL REFERENCES accounts (username),
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_username ON refresh_tokens (username);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Login throttling, shared by replicas: failures per key ("user:NAME", "addr:IP") within a
-- window, and the lock-out they earned (locked_until, doubling with each lock-out in a row).
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    window_start BIGINT NOT NULL DEFAULT 0,
    lockouts     INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0,
    last_failure BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure);

-- +goose Down
DROP TABLE login_throttle;
DROP TABLE refresh_tokens;
DROP TABLE accounts;
