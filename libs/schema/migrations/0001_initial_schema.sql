-- fte initial schema. Applied by `fte migrate`; never edit once released:
-- add a new numbered file instead.

CREATE TABLE customers (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- How a customer is recognised on each channel. `value` is normalised by the
-- normalizer (lower-case email, E.164 phone) so one person is one customer.
CREATE TABLE customer_identifiers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('email', 'phone', 'whatsapp')),
    value       text NOT NULL CHECK (value <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, value)
);
CREATE INDEX customer_identifiers_customer_idx ON customer_identifiers (customer_id);

CREATE TABLE conversations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id     uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('whatsapp', 'email', 'webform')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    external_thread text, -- Gmail threadId, WhatsApp conversation, ...
    started_at      timestamptz NOT NULL DEFAULT now(),
    last_message_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_customer_open_idx ON conversations (customer_id, channel) WHERE status = 'open';

CREATE TABLE tickets (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    customer_id     uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    subject         text,
    category        text,
    priority        text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'answered', 'escalated', 'resolved', 'closed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_customer_idx ON tickets (customer_id, created_at DESC);
CREATE INDEX tickets_conversation_idx ON tickets (conversation_id);

CREATE TABLE messages (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id     uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    ticket_id           uuid REFERENCES tickets (id) ON DELETE SET NULL,
    customer_id         uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    direction           text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel             text NOT NULL CHECK (channel IN ('whatsapp', 'email', 'webform')),
    sender              text NOT NULL,
    subject             text,
    body                text NOT NULL,
    status              text NOT NULL
                        CHECK (status IN ('received', 'pending', 'sending', 'sent', 'delivered', 'read', 'failed')),
    source_event_id     text,            -- the CloudEvent this row came from
    correlation_id      text,
    provider_message_id text,            -- Twilio sid, Gmail id once sent
    kb_article_id       bigint,
    kb_score            real,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at);
CREATE INDEX messages_ticket_idx ON messages (ticket_id);
CREATE UNIQUE INDEX messages_inbound_source_event_uq ON messages (source_event_id)
    WHERE direction = 'inbound' AND source_event_id IS NOT NULL;
CREATE INDEX messages_outbound_pending_idx ON messages (status) WHERE direction = 'outbound' AND status = 'pending';

-- Exactly-once effects (ARCHITECTURE.md, Processing guarantees): the event id
-- is inserted in the same transaction as the state change it guards.
CREATE TABLE processed_messages (
    consumer_group text        NOT NULL,
    message_id     text        NOT NULL,
    processed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, message_id)
);
-- Pruning after the retention window scans by age.
CREATE INDEX processed_messages_processed_at_idx ON processed_messages (processed_at);

CREATE TABLE escalations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id       uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    customer_id     uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    message_id      uuid REFERENCES messages (id) ON DELETE SET NULL,
    reason          text NOT NULL,
    reason_detail   text,
    priority        text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'assigned', 'resolved')),
    summary         text,
    assigned_to     text,
    source_event_id text NOT NULL UNIQUE,
    correlation_id  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE INDEX escalations_status_idx ON escalations (status, created_at);

-- What the agent answers from: full-text search with title weighted above body.
CREATE TABLE knowledge_base (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug       text NOT NULL UNIQUE,
    title      text NOT NULL,
    body       text NOT NULL,
    tags       text[] NOT NULL DEFAULT '{}',
    search     tsvector GENERATED ALWAYS AS (
                   setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
                   setweight(to_tsvector('english', coalesce(body, '')), 'B')) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX knowledge_base_search_idx ON knowledge_base USING gin (search);
