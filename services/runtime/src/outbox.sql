-- Transactional outbox (runtime::outbox): the events of committed changes, written in the
-- same transaction as the change and removed by the relay once JetStream has acknowledged
-- them. The same file in every service database with an outbox; a test checks each copy.
CREATE TABLE outbox (
    -- Publication order. Two writes to one entity are serialised by the entity's row lock,
    -- so the later one always takes the larger number.
    seq        bigint      GENERATED ALWAYS AS IDENTITY,
    -- The NATS subject (events.<type>).
    subject    text        NOT NULL,
    -- The event's id, also its Nats-Msg-Id.
    event_id   text        NOT NULL,
    -- The whole CloudEvent, as published.
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_outbox PRIMARY KEY (seq)
);

-- Wakes the relays when a transaction that wrote events commits (a notification is delivered
-- at commit, and not at all on rollback).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
