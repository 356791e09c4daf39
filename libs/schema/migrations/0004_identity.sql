-- Customer identity across channels (issue 8, ADR 0011).
--
-- A customer is found by the identifier its channel proves: the E.164
-- number Twilio reports for WhatsApp, the mailbox address for email and the
-- address a form was sent from. Identifiers move between customers only by
-- an operator (`fte customers link|unlink`), and every change is written
-- down here. A message that merely claims someone else's identifier (a form
-- giving another customer's phone number) becomes a merge candidate for a
-- person to decide; nothing is merged automatically.

-- WhatsApp numbers are phone numbers: one kind `phone`, so the same number is
-- one identifier whichever channel it arrives on. No release before this one
-- wrote `whatsapp` rows (the normalizer read only the web form); should a
-- database hold both a `whatsapp` and a `phone` row for one number, this
-- UPDATE fails on the unique key and the migration stops for a person to
-- look, rather than choosing a customer silently.
UPDATE customer_identifiers SET kind = 'phone' WHERE kind = 'whatsapp';
ALTER TABLE customer_identifiers DROP CONSTRAINT customer_identifiers_kind_check;
ALTER TABLE customer_identifiers ADD CONSTRAINT customer_identifiers_kind_check
    CHECK (kind IN ('email', 'phone'));
-- The normalised forms, so no writer can store a second spelling of one
-- identifier (`Ada@Example.com`, `+1 555 ...`) beside the first.
ALTER TABLE customer_identifiers ADD CONSTRAINT customer_identifiers_value_normalised
    CHECK ((kind = 'email' AND value = lower(value) AND value LIKE '_%@_%')
        OR (kind = 'phone' AND value ~ '^\+[1-9][0-9]{1,14}$'));

-- Every link, unlink and move of an identifier: who, when, what, why.
-- `actor` is the operator's name given to `fte customers ... --by`, or the
-- service that linked an identifier on proof (`channel-normalizer` when a
-- channel's own identifier first writes). Rows are never updated; the
-- customer may since have been deleted, so there is no foreign key.
CREATE TABLE customer_identity_audit (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                   timestamptz NOT NULL DEFAULT now(),
    action               text NOT NULL CHECK (action IN ('link', 'unlink', 'move')),
    kind                 text NOT NULL CHECK (kind IN ('email', 'phone')),
    value                text NOT NULL CHECK (value <> ''),
    customer_id          uuid NOT NULL,  -- linked to / unlinked from / moved to
    previous_customer_id uuid,           -- a move: where the identifier was
    actor                text NOT NULL CHECK (actor <> ''),
    reason               text,
    source_event_id      text,           -- the event that proved it, for links made on proof
    CHECK ((action = 'move') = (previous_customer_id IS NOT NULL))
);
CREATE INDEX customer_identity_audit_customer_idx ON customer_identity_audit (customer_id, at DESC);
CREATE INDEX customer_identity_audit_previous_idx ON customer_identity_audit (previous_customer_id, at DESC)
    WHERE previous_customer_id IS NOT NULL;
-- The normalizer counts an identifier's releases (unlinks and moves) to give
-- the next customer it creates for that identifier a new id (ADR 0011).
CREATE INDEX customer_identity_audit_identifier_idx ON customer_identity_audit (kind, value);

-- A message claimed an identifier that belongs to another customer. One open
-- candidate per (identifier, owner, claimant): later claims count up on it.
-- A person accepts (moves or links the identifier: `fte customers link
-- --move` accepts the matching candidates) or rejects it.
CREATE TABLE customer_merge_candidates (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                  text NOT NULL CHECK (kind IN ('email', 'phone')),
    value                 text NOT NULL CHECK (value <> ''),
    owner_customer_id     uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    claimant_customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    source_event_id       text NOT NULL,  -- the first message that claimed it
    last_source_event_id  text NOT NULL,
    claims                integer NOT NULL DEFAULT 1 CHECK (claims > 0),
    status                text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected')),
    decided_by            text,
    decided_at            timestamptz,
    decision_reason       text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    last_claimed_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (owner_customer_id <> claimant_customer_id),
    CHECK ((status = 'open') = (decided_by IS NULL AND decided_at IS NULL))
);
CREATE UNIQUE INDEX customer_merge_candidates_open_uq
    ON customer_merge_candidates (kind, value, owner_customer_id, claimant_customer_id) WHERE status = 'open';
CREATE INDEX customer_merge_candidates_owner_idx ON customer_merge_candidates (owner_customer_id) WHERE status = 'open';
CREATE INDEX customer_merge_candidates_claimant_idx ON customer_merge_candidates (claimant_customer_id)
    WHERE status = 'open';
