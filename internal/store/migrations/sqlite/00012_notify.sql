-- +goose Up
-- Notifications (the notify service). A notify_messages row is one notification to one
-- recipient on one channel (in_app: a principal; email: an address; webhook: an endpoint ID),
-- written once per (event, recipient, channel) whatever redelivers the event, and delivered
-- (sent), or given up (dead), by jobs. id is also the e-mail's Message-ID and the webhook's
-- webhook-id, so a receiver can tell a repeat. claim fences an attempt; calling marks one
-- under way.
CREATE TABLE notify_messages (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    order_id        TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claim           BIGINT NOT NULL DEFAULT 0,
    calling         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    UNIQUE (event_id, recipient, channel)
);
CREATE INDEX notify_messages_due ON notify_messages (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX notify_messages_recipient ON notify_messages (channel, recipient, order_id, created_at);

-- The in-app inbox: what GET /v1/notifications lists for a principal ("customer:cust-1").
CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    recipient  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    order_id   TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_recipient ON notifications (recipient, id);

-- Webhook endpoints restaurants and integrators register. owner is the principal
-- ("restaurant:owner-1", "ops:integrator-1"); events a JSON array of event types; secret the
-- whsec_ signing secret. failing_since is when the current run of failed deliveries began;
-- an endpoint failing for long enough is disabled (enabled 0, with the reason).
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    owner           TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT NOT NULL DEFAULT '',
    failing_since   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner);

-- +goose Down
DROP TABLE webhook_endpoints;
DROP TABLE notifications;
DROP TABLE notify_messages;
