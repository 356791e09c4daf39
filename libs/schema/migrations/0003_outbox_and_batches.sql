-- Batched consumers (issue 7, ADR 0007).

-- Transactional outbox: the records a consumer produces for an event are
-- written here in the same transaction as its state change and its
-- processed_messages row, published after COMMIT, and deleted once the
-- broker has acknowledged them. A consumer that dies between COMMIT and the
-- acknowledgement gets the event again (its offset was not committed), finds
-- it already processed, and publishes what is left here for it. So no
-- downstream service ever reads an event whose rows are not yet committed.
CREATE TABLE outbox (
    consumer_group  text        NOT NULL,
    source_event_id text        NOT NULL,
    seq             integer     NOT NULL,  -- publication order within the event
    topic           text        NOT NULL,
    record_key      text,
    record_value    text        NOT NULL,
    headers         text        NOT NULL,  -- JSON array of [name, value] pairs
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, source_event_id, seq)
);
-- Pruning of rows left behind by a crash, by age.
CREATE INDEX outbox_created_at_idx ON outbox (created_at);

-- Pruning of processed_messages deletes one group's oldest ids in small
-- batches; this index serves that scan without touching other groups.
CREATE INDEX processed_messages_group_age_idx ON processed_messages (consumer_group, processed_at);
DROP INDEX processed_messages_processed_at_idx;
