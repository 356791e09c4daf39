-- People signed in to the escalation desk through the company's OpenID
-- provider (ADR 0020). Like api_tokens, only SHA-256 digests of the secrets
-- (a login's state, a session's cookie) are stored.

-- A sign-in under way: created when the browser is sent to the provider,
-- taken (deleted) once when it comes back; an old one is worth nothing.
CREATE TABLE desk_logins (
  state_digest  text PRIMARY KEY CHECK (state_digest ~ '^[0-9a-f]{64}$'),
  nonce         text NOT NULL,
  code_verifier text NOT NULL,
  return_to     text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX desk_logins_created_at ON desk_logins (created_at);

-- A signed-in person. `subject` is the provider's `sub`; the role is what
-- the groups claim said at sign-in. A session ends at sign-out, after
-- FTE_DESK_SESSION_IDLE_MINUTES without a request, or at expires_at.
CREATE TABLE desk_sessions (
  id            uuid PRIMARY KEY,
  digest        text NOT NULL UNIQUE CHECK (digest ~ '^[0-9a-f]{64}$'),
  subject       text NOT NULL,
  username      text NOT NULL,
  display_name  text NOT NULL,
  email         text NOT NULL,
  role          text NOT NULL CHECK (role IN ('agent', 'supervisor')),
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  last_seen_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at    timestamptz NOT NULL,
  ended_at      timestamptz
);
CREATE INDEX desk_sessions_subject ON desk_sessions (subject) WHERE ended_at IS NULL;
