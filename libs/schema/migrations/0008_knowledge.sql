-- Knowledge the agent answers from (issue 15, ADR 0018): articles (the
-- knowledge_base table of 0001), past resolutions ("examples": a customer
-- message and the article a person or import said answers it, or none when
-- no article did), a labelled calibration set, stored embeddings, an audit
-- naming who changed what, and a change feed that tells every agent-worker
-- within a second (NOTIFY fte_knowledge) what to reload.

-- The agent ranks in its own process now; PostgreSQL's full-text column and
-- its index are no longer read.
DROP INDEX IF EXISTS knowledge_base_search_idx;

-- A past resolution. article_id NULL: a person answered and no article fits
-- (what the agent should have handed over). Deleting an article deletes its
-- examples.
CREATE TABLE kb_examples (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text        text        NOT NULL CHECK (length(text) BETWEEN 1 AND 10000),
    article_id  bigint      REFERENCES knowledge_base (id) ON DELETE CASCADE,
    source      text        NOT NULL DEFAULT 'import',   -- import, cli, desk
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- The same message resolved with the same article once.
CREATE UNIQUE INDEX kb_examples_text_article_uq ON kb_examples (md5(text), coalesce(article_id, 0));
CREATE INDEX kb_examples_article_idx ON kb_examples (article_id);

-- Labelled messages the agent's threshold is picked on (`fte kb calibration
-- import`): expected_article_id NULL means the right outcome is a handoff.
CREATE TABLE kb_calibration (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text                text        NOT NULL CHECK (length(text) BETWEEN 1 AND 10000),
    expected_article_id bigint      REFERENCES knowledge_base (id) ON DELETE CASCADE,
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX kb_calibration_text_uq ON kb_calibration (md5(text), coalesce(expected_article_id, 0));

-- Embeddings computed once per model and text (sha256 of role and text), for
-- articles, examples and calibration messages alike.
CREATE TABLE kb_embeddings (
    model      text        NOT NULL,
    text_hash  bytea       NOT NULL,
    dimensions integer     NOT NULL,
    vector     bytea       NOT NULL,   -- little-endian float32
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, text_hash)
);

-- Who changed the knowledge, and how.
CREATE TABLE kb_audit (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    action     text        NOT NULL,   -- article.add, article.edit, article.rm, articles.import, examples.import, ...
    slug       text,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX kb_audit_at_idx ON kb_audit (at);

-- The change feed: one row per changed article, example or calibration
-- message, written by triggers (so a change made with psql is seen too);
-- agent-workers read the rows after the last seq they applied.
CREATE TABLE kb_changes (
    seq   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind  text        NOT NULL CHECK (kind IN ('article', 'example', 'calibration')),
    ref   bigint      NOT NULL,
    op    text        NOT NULL CHECK (op IN ('upsert', 'delete')),
    at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION kb_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO kb_changes (kind, ref, op) VALUES (kind, OLD.id, 'delete');
    ELSE
        INSERT INTO kb_changes (kind, ref, op) VALUES (kind, NEW.id, 'upsert');
    END IF;
    RETURN NULL;
END $$;

-- One NOTIFY per statement, not per row: an import of 100,000 examples wakes
-- each agent-worker once (PostgreSQL folds equal notifications of a
-- transaction into one anyway).
CREATE FUNCTION kb_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fte_knowledge', '');
    RETURN NULL;
END $$;

CREATE TRIGGER knowledge_base_change AFTER INSERT OR UPDATE OR DELETE ON knowledge_base
    FOR EACH ROW EXECUTE FUNCTION kb_record_change('article');
CREATE TRIGGER kb_examples_change AFTER INSERT OR UPDATE OR DELETE ON kb_examples
    FOR EACH ROW EXECUTE FUNCTION kb_record_change('example');
CREATE TRIGGER kb_calibration_change AFTER INSERT OR UPDATE OR DELETE ON kb_calibration
    FOR EACH ROW EXECUTE FUNCTION kb_record_change('calibration');
CREATE TRIGGER knowledge_base_notify AFTER INSERT OR UPDATE OR DELETE ON knowledge_base
    FOR EACH STATEMENT EXECUTE FUNCTION kb_notify_change();
CREATE TRIGGER kb_examples_notify AFTER INSERT OR UPDATE OR DELETE ON kb_examples
    FOR EACH STATEMENT EXECUTE FUNCTION kb_notify_change();
CREATE TRIGGER kb_calibration_notify AFTER INSERT OR UPDATE OR DELETE ON kb_calibration
    FOR EACH STATEMENT EXECUTE FUNCTION kb_notify_change();

-- The decision the agent made is stored with its reply or escalation, so
-- `fte replay diff` and `fte trace` can show why: the score that decided,
-- the threshold it was held to, and which retrieval made it.
ALTER TABLE messages ADD COLUMN kb_threshold real, ADD COLUMN kb_method text;
