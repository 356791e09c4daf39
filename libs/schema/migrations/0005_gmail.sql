-- Gmail fetch (issue 8, ADR 0009).

-- One row per mailbox the channel-normalizer reads. `history_id` is the
-- cursor: every messagesAdded history record up to it has been turned into a
-- ticket message or deliberately skipped. It moves only in the transaction
-- that writes those ticket messages to the outbox and claims the
-- notifications, under SELECT ... FOR UPDATE, so the cursor, the outputs and
-- the consumer's dedup rows commit together or not at all. NULL: no cursor
-- yet (or a resynchronisation that must be retried), so the next
-- notification backfills by date from `last_message_internal_date`.
-- numeric(20,0): Gmail's history ids are unsigned 64-bit.
CREATE TABLE gmail_mailboxes (
    -- lower case as the gateway keys it (ASCII folding, like the event schema)
    mailbox                    text PRIMARY KEY CHECK (mailbox <> '' AND mailbox !~ '[A-Z]'),
    history_id                 numeric(20, 0) CHECK (history_id >= 0),
    last_message_internal_date timestamptz,  -- newest Gmail internalDate fetched: where a backfill starts
    watch_topic                text,         -- the Pub/Sub topic of the last users.watch
    watch_label_ids            text[],
    watch_expiration           timestamptz,  -- Gmail stops pushing then unless the watch is renewed
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
-- The hourly renewal looks for watches about to lapse.
CREATE INDEX gmail_mailboxes_watch_expiration_idx ON gmail_mailboxes (watch_expiration)
    WHERE watch_expiration IS NOT NULL;

-- Gmail messages the normalizer has decided about, keyed by Gmail's own id
-- (the dedup key of an email: history listings overlap, two pushes can name
-- the same historyId, a backfill re-lists what history already gave).
-- Kept apart from processed_messages, whose rows are notification ids and
-- expire with the topics' retention: a backfill after a long outage can reach
-- messages older than that, and skipped messages (our own sent mail, drafts,
-- auto-replies) are recorded here with the reason.
CREATE TABLE gmail_messages_seen (
    mailbox          text        NOT NULL,
    gmail_message_id text        NOT NULL,
    thread_id        text,
    internal_date    timestamptz,
    -- ticket: a ticket message was produced (event_id); skipped: not a
    -- customer's message (detail says why); missing: listed by history but
    -- not fetchable yet, retried at the next notification; vanished: missing
    -- for so long that it was deleted, and given up.
    outcome          text        NOT NULL CHECK (outcome IN ('ticket', 'skipped', 'missing', 'vanished')),
    detail           text,
    event_id         text,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox, gmail_message_id)
);
