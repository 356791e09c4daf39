-- The escalation desk's conversations (issue 16, ADR 0021).
--
-- An escalation request stays one `escalations` row (one per handed-over
-- message, as before); the desk groups a customer's requests into one
-- conversation that a person owns. A customer has at most one conversation
-- that is not resolved; every later request of that customer joins it.
-- While a person owns it (assigned, waiting) or it was resolved less than
-- FTE_DESK_REOPEN_HOURS ago, the agent-worker does not answer the
-- customer: it hands the message over, and the message joins (and reopens)
-- the conversation.

-- Service-level targets per priority, minutes. Supervisors edit them
-- (PUT /api/sla); a conversation's due times are fixed when it opens or
-- reopens, so an edit applies to what opens after it.
CREATE TABLE desk_sla (
  priority                text PRIMARY KEY CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  first_response_minutes  integer NOT NULL CHECK (first_response_minutes BETWEEN 1 AND 525600),
  resolution_minutes      integer NOT NULL CHECK (resolution_minutes BETWEEN 1 AND 525600),
  updated_by              text NOT NULL DEFAULT 'migration',
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CHECK (resolution_minutes >= first_response_minutes)
);
INSERT INTO desk_sla (priority, first_response_minutes, resolution_minutes) VALUES
  ('urgent', 15, 240), ('high', 60, 480), ('normal', 240, 1440), ('low', 1440, 4320);

CREATE TABLE desk_conversations (
  id                        uuid PRIMARY KEY,
  customer_id               uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  -- open: nobody owns it; assigned: a person owns it and the customer waits
  -- on them; waiting: the owner answered and waits on the customer;
  -- resolved: done (reopened by the customer's next message within
  -- reopen_until, or by a person).
  status                    text NOT NULL CHECK (status IN ('open', 'assigned', 'waiting', 'resolved')),
  owner                     text CHECK (owner <> ''),
  priority                  text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  channel                   text NOT NULL CHECK (channel IN ('whatsapp', 'email', 'webform')),  -- where the customer last wrote
  -- Bumped by every change; a reply names the version its author saw.
  version                   bigint NOT NULL DEFAULT 1,
  created_at                timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at                timestamptz NOT NULL DEFAULT clock_timestamp(),
  assigned_at               timestamptz,
  last_customer_message_at  timestamptz NOT NULL,
  first_response_due        timestamptz NOT NULL,
  first_response_at         timestamptz,
  resolution_due            timestamptz NOT NULL,
  resolved_at               timestamptz,
  resolved_by               text,
  reopen_until              timestamptz,
  reopened                  integer NOT NULL DEFAULT 0,
  -- What the queue sorts by: the next deadline still to meet.
  due_at                    timestamptz GENERATED ALWAYS AS (
                              CASE WHEN first_response_at IS NULL THEN least(first_response_due, resolution_due)
                                   ELSE resolution_due END) STORED,
  CHECK (status NOT IN ('assigned', 'waiting') OR owner IS NOT NULL),
  CHECK (status <> 'open' OR owner IS NULL),
  CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- One conversation a customer is in: the writers rely on it.
CREATE UNIQUE INDEX desk_conversations_one_active ON desk_conversations (customer_id) WHERE status <> 'resolved';
-- The queue: everything active by due time, and one person's by due time.
CREATE INDEX desk_conversations_queue ON desk_conversations (due_at, id) WHERE status <> 'resolved';
CREATE INDEX desk_conversations_owner_queue ON desk_conversations (owner, due_at, id) WHERE status <> 'resolved';
CREATE INDEX desk_conversations_customer ON desk_conversations (customer_id, created_at DESC);

ALTER TABLE escalations ADD COLUMN desk_conversation_id uuid REFERENCES desk_conversations (id) ON DELETE SET NULL;
CREATE INDEX escalations_desk_conversation_idx ON escalations (desk_conversation_id, created_at)
  WHERE desk_conversation_id IS NOT NULL;

-- Private notes: people only, never sent.
CREATE TABLE desk_notes (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES desk_conversations (id) ON DELETE CASCADE,
  author          text NOT NULL CHECK (author <> ''),
  body            text NOT NULL CHECK (body <> '' AND length(body) <= 10000),
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX desk_notes_conversation_idx ON desk_notes (conversation_id, id);

-- A person's reply and the request that made it: a retried request with
-- the same Idempotency-Key finds its reply here instead of sending another.
CREATE TABLE desk_replies (
  conversation_id  uuid NOT NULL REFERENCES desk_conversations (id) ON DELETE CASCADE,
  idempotency_key  text NOT NULL CHECK (idempotency_key <> '' AND length(idempotency_key) <= 255),
  request_digest   text NOT NULL,  -- SHA-256 of what was asked: a reused key with other content is refused
  message_id       uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  author           text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (conversation_id, idempotency_key)
);

-- Every action on a conversation, naming who did it (a person's username,
-- an API token's name, or `escalation` for what the service did on a
-- customer's message). Never updated; also published on fte.desk.activity.
CREATE TABLE desk_audit (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES desk_conversations (id) ON DELETE CASCADE,
  at              timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor           text NOT NULL CHECK (actor <> ''),
  action          text NOT NULL CHECK (action IN ('opened', 'customer_wrote', 'claimed', 'released', 'assigned',
                                                  'noted', 'replied', 'reply_failed', 'resolved', 'reopened')),
  version         bigint NOT NULL,  -- the conversation's version after the action
  detail          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX desk_audit_conversation_idx ON desk_audit (conversation_id, id);

-- The desk reads a customer's whole history across channels (and the
-- latest inbound message per channel for a reply): by customer, newest first.
CREATE INDEX messages_customer_idx ON messages (customer_id, created_at DESC);

-- A message a person sent names them; the article a reply cites is
-- messages.kb_article_id as for the agent's replies.
ALTER TABLE messages ADD COLUMN author text;
