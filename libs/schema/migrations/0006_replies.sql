-- Replies sent back on their channel (issue 8, ADR 0010).
--
-- The outbound `messages` row the agent-worker writes in the same
-- transaction as the ticket's state IS the reply outbox: the dispatcher in
-- the agent-worker process claims due rows, records each attempt before it
-- calls the provider, and records what the provider answered. Neither
-- Twilio's nor Gmail's send API takes an idempotency key, so these columns
-- are what keeps a reply from going out twice.

-- Outbound states, in the order a reply moves through them:
--   pending     written by the agent-worker, or put back after a send the
--               provider provably did not accept (429, connection refused);
--               due at next_attempt_at
--   sending     claimed by a dispatcher and committed BEFORE the provider is
--               called (provider_message_id NULL); a row left here by a
--               dead dispatcher, or after an ambiguous answer, is
--               reconciled, never sent again blindly. With a
--               provider_message_id it is instead the provider's own
--               "sending" status from a delivery callback.
--   queued, accepted, sent, delivered, read
--               accepted by the provider, then its delivery callbacks
--               (monotonic: see services/agent-worker/src/delivery_status.hpp)
--   failed, undelivered
--               refused for good, or a callback that says so
--   unknown     the provider may or may not have it and cannot tell us:
--               escalated to a person, never sent again
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check CHECK (status IN (
    'received', 'pending', 'sending', 'queued', 'accepted', 'sent', 'delivered', 'read',
    'failed', 'undelivered', 'unknown'));

ALTER TABLE messages
    -- inbound: the normalizer's data.channel_metadata (Twilio MessageSid and
    -- our number, Gmail thread and Message-ID, ...); outbound:
    -- {"inbound": <that of the message answered>, "sent": {provider ids}}
    ADD COLUMN channel_metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- outbound: the customer's address on the channel (E.164, email)
    ADD COLUMN recipient                text,
    -- provider calls made to send this row (reconciliations not counted)
    ADD COLUMN attempts                 integer     NOT NULL DEFAULT 0,
    -- pending: when it may be sent; sending: when it may be reconciled
    ADD COLUMN next_attempt_at          timestamptz,
    ADD COLUMN last_error               text,
    -- the provider's error code (Twilio ErrorCode of a callback)
    ADD COLUMN error_code               text,
    -- the dispatcher holding a `sending` row: a random token per claim
    -- (fences late outcomes) and the PostgreSQL session that claimed it (a
    -- session that no longer exists means its process died mid-send)
    ADD COLUMN claim_token              uuid,
    ADD COLUMN claimed_at               timestamptz,
    ADD COLUMN claimed_by_pid           integer,
    ADD COLUMN claimed_by_backend_start timestamptz,
    ADD COLUMN reconcile_attempts       integer     NOT NULL DEFAULT 0,
    ADD COLUMN sent_at                  timestamptz,
    -- when the provider reported the current delivery status
    ADD COLUMN status_reported_at       timestamptz;

-- What the dispatcher scans: due pending rows and sending rows to reconcile.
DROP INDEX messages_outbound_pending_idx;
CREATE INDEX messages_outbound_dispatch_idx ON messages (status, next_attempt_at)
    WHERE direction = 'outbound' AND status IN ('pending', 'sending');
-- Delivery callbacks find their reply by the provider's id.
CREATE INDEX messages_provider_message_id_idx ON messages (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
-- An email conversation continues by its Gmail thread.
CREATE INDEX conversations_external_thread_idx ON conversations (customer_id, channel, external_thread)
    WHERE external_thread IS NOT NULL;

-- One row per provider call (send or reconcile), written before the call
-- and completed after it: the audit of what went out and when. A `send`
-- row without `finished_at` is a call whose process died before the answer.
CREATE TABLE reply_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  uuid        NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('send', 'reconcile')),
    attempt     integer     NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    outcome     text CHECK (outcome IN ('sent', 'not_sent', 'rejected', 'ambiguous', 'found', 'absent',
                                        'cannot_tell', 'error')),
    detail      text
);
CREATE INDEX reply_attempts_message_idx ON reply_attempts (message_id, id);

-- Delivery statuses that arrive before the dispatcher has recorded the
-- provider's id (a callback can beat the dispatcher's COMMIT after a 201):
-- kept here, merged by the same monotonic rule, and applied when the id is
-- recorded. Both sides take a transaction-level advisory lock on the id
-- first, so neither can miss the other. Rows for ids that never get
-- recorded (a reply marked unknown, a message sent from the provider's
-- console) are pruned by age.
CREATE TABLE message_delivery_status (
    provider            text        NOT NULL,
    provider_message_id text        NOT NULL,
    status              text        NOT NULL,
    error_code          text,
    reported_at         timestamptz,
    source_event_id     text        NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, provider_message_id)
);
CREATE INDEX message_delivery_status_received_idx ON message_delivery_status (received_at);

-- Replies written before this migration name no recipient: the customer's
-- address is the sender of the message each one answers. (They are sent
-- once their channel has a sender; mark them failed first to keep old
-- answers from going out late.)
UPDATE messages o SET recipient = i.sender
FROM messages i
WHERE o.direction = 'outbound' AND o.status = 'pending' AND o.recipient IS NULL
  AND i.direction = 'inbound' AND i.source_event_id = o.source_event_id;
