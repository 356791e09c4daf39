-- API tokens for machines and scripts that call the escalation API (ADR
-- 0020). Only the SHA-256 of a token is stored: the token is shown once,
-- when `fte token create` makes it, and a copy of this table grants nothing.
-- A name is unique among the tokens still in force, so a revoked name can be
-- issued again while the old row stays for the audit.
CREATE TABLE api_tokens (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  role        text NOT NULL CHECK (role IN ('agent', 'supervisor')),
  digest      text NOT NULL UNIQUE CHECK (digest ~ '^[0-9a-f]{64}$'),
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_by  text NOT NULL CHECK (created_by <> ''),
  expires_at  timestamptz,
  revoked_at  timestamptz,
  revoked_by  text,
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);

CREATE UNIQUE INDEX api_tokens_name_in_force ON api_tokens (name) WHERE revoked_at IS NULL;
