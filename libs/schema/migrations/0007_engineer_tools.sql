-- Engineers' tools (issue 9, ADR 0013): the audit of replays and DLQ
-- re-drives. These rows are written by the `fte` CLI, never by a service;
-- they say who replayed or re-drove what, when, and where it went, so every
-- effect of a replay or re-drive can be traced back to the command.

-- One `fte replay` run. A sandbox replay keeps its row (with the sandbox's
-- topic prefix and database, and what its state was copied from, so that
-- `fte replay run` can run it again) until `fte replay rm` marks it
-- removed; `held` is a sandbox prepared but not run yet. A live replay
-- lists each record it re-published in replay_records.
CREATE TABLE replays (
    id               uuid        PRIMARY KEY,
    name             text,                  -- the sandbox's name; NULL for a live replay
    target           text        NOT NULL CHECK (target IN ('sandbox', 'live')),
    requested_by     text        NOT NULL,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    status           text        NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'held', 'done', 'failed', 'removed')),
    selection        jsonb       NOT NULL,  -- topics, time range, offsets, customers, correlation id
    topic_prefix     text,                  -- sandbox: the prefix of its topics and groups
    database_name    text,                  -- sandbox: its scratch database
    first_record_at  timestamptz,           -- sandbox: the selected records' time span, which
    last_record_at   timestamptz,           --   bounds the state copied (ADR 0013)
    customer_ids     uuid[],                -- sandbox: whose state it copied
    records_selected bigint      NOT NULL DEFAULT 0,
    records_copied   bigint      NOT NULL DEFAULT 0,
    customers        bigint      NOT NULL DEFAULT 0,
    error            text,
    CHECK ((target = 'sandbox') = (name IS NOT NULL))
);
CREATE UNIQUE INDEX replays_live_sandbox_name_uq ON replays (name) WHERE target = 'sandbox' AND status <> 'removed';
CREATE INDEX replays_requested_at_idx ON replays (requested_at);

-- Each record a live replay re-published: the original's place and id, and
-- the new id (derived from the original and the replay) its effects carry
-- as their source event.
CREATE TABLE replay_records (
    replay_id         uuid        NOT NULL REFERENCES replays (id) ON DELETE CASCADE,
    topic             text        NOT NULL,
    "partition"       integer     NOT NULL,
    "offset"          bigint      NOT NULL,
    original_event_id text        NOT NULL,
    new_event_id      text        NOT NULL,
    customer_key      text,
    new_partition     integer,
    new_offset        bigint,
    PRIMARY KEY (replay_id, topic, "partition", "offset")
);
CREATE INDEX replay_records_new_event_idx ON replay_records (new_event_id);
CREATE INDEX replay_records_original_event_idx ON replay_records (original_event_id);

-- Each DLQ record `fte dlq redrive` sent back to its origin topic, with the
-- original event id (dedup makes a second re-drive harmless).
CREATE TABLE dlq_redrives (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    redrive_id       uuid        NOT NULL,  -- one command run
    redriven_by      text        NOT NULL,
    redriven_at      timestamptz NOT NULL DEFAULT now(),
    selection        jsonb       NOT NULL,
    dlq_topic        text        NOT NULL,
    dlq_partition    integer     NOT NULL,
    dlq_offset       bigint      NOT NULL,
    event_id         text,
    consumer_group   text,
    reason           text,
    origin_topic     text        NOT NULL,
    origin_partition integer,
    new_offset       bigint,
    redrive_count    integer     NOT NULL   -- how many times this record has now been re-driven
);
CREATE INDEX dlq_redrives_dlq_record_idx ON dlq_redrives (dlq_topic, dlq_partition, dlq_offset);
CREATE INDEX dlq_redrives_event_idx ON dlq_redrives (event_id);
