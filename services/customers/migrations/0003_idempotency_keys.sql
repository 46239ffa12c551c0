-- Idempotency keys (runtime::idempotency): the first result of each write a user named with
-- an Idempotency-Key, kept 24 hours so that a retry returns it instead of writing again.
-- The same file in every service database that stores keys; a test checks each copy.
CREATE TABLE idempotency_keys (
    user_id     text        NOT NULL,
    key         text        NOT NULL,
    -- SHA-256 of the operation and the request it named: a different request with the same
    -- key is refused.
    fingerprint bytea       NOT NULL,
    status      smallint    NOT NULL,
    body        bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_idempotency_keys PRIMARY KEY (user_id, key)
);

-- Expired keys are purged oldest first.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
