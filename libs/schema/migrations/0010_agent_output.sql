-- What a language model said about an inbound message (FTE_LLM=openai,
-- ADR 0019), stored with the message in the transaction that decided it:
-- the model, the mode, the answer and citations or the handoff, the usage,
-- or the error that made the agent fall back. `fte replay diff` compares
-- it between a replay and the live run.
ALTER TABLE messages ADD COLUMN agent_output jsonb;
