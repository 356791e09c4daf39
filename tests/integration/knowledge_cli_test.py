"""`fte kb` against a real PostgreSQL: articles, past resolutions and the
calibration set are managed from the command line, bad input is reported by
line with the good rows kept, and every change is audited and lands in the
change feed the agent-workers follow."""

import json
import os
import subprocess
import tempfile
import unittest

import fte_stack


def run(db, *args, stdin=None):
    return subprocess.run([fte_stack.cli_path(), "--database-url", db.url, *args], capture_output=True, text=True,
                          input=stdin, timeout=120, env=dict(os.environ, FTE_EMBEDDINGS="none"))


class KnowledgeCli(unittest.TestCase):
    def setUp(self):
        self.db = fte_stack.ScratchDatabase()
        self.addCleanup(self.db.drop)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def file(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def ok(self, *args, stdin=None):
        result = run(self.db, *args, stdin=stdin)
        self.assertEqual(result.returncode, 0, "fte %s: %s%s" % (" ".join(args), result.stdout, result.stderr))
        return result.stdout

    def test_articles_add_show_edit_export_import_and_remove(self):
        out = self.ok("kb", "add", "lost-card", "--title", "Lost card", "--body", "Freeze it in the app.", "--by", "ada")
        self.assertIn("lost-card added", out)
        refused = run(self.db, "kb", "add", "lost-card", "--title", "x", "--body", "y")
        self.assertEqual(refused.returncode, 2, refused.stderr)
        self.assertIn("exists", refused.stderr)
        self.assertEqual(run(self.db, "kb", "add", "Bad Slug", "--title", "x", "--body", "y").returncode, 2)
        self.assertEqual(json.loads(self.ok("kb", "show", "lost-card", "--json"))["body"], "Freeze it in the app.")
        self.ok("kb", "edit", "lost-card", "--file", "-", "--by", "ada", stdin="Call us at once.\n")
        self.assertEqual(json.loads(self.ok("kb", "show", "lost-card", "--json"))["body"], "Call us at once.")
        listed = {a["slug"]: a for a in json.loads(self.ok("kb", "list", "--json"))}
        self.assertIn("lost-card", listed)
        self.assertIn("reset-password", listed)  # the seeded articles

        exported = json.loads(self.ok("kb", "export"))
        self.assertEqual(len(exported), len(listed))
        path = self.file("articles.json", json.dumps([
            {"slug": "lost-card", "title": "Lost card", "body": "Call us at once."},
            {"slug": "new-one", "title": "New", "body": "A new article."}]))
        result = json.loads(self.ok("kb", "import", path, "--replace", "--json", "--by", "importer"))
        self.assertEqual((result["added"], result["unchanged"], result["removed"]), (1, 1, len(listed) - 1))
        self.assertEqual(sorted(a["slug"] for a in json.loads(self.ok("kb", "list", "--json"))),
                         ["lost-card", "new-one"])
        bad = run(self.db, "kb", "import", self.file("bad.json", '{"slug": "x"}'))
        self.assertEqual(bad.returncode, 2, bad.stderr)

        self.assertIn("removed", self.ok("kb", "rm", "new-one", "--by", "ada"))
        self.assertEqual(run(self.db, "kb", "rm", "new-one").returncode, 1)
        actors = self.db.rows("SELECT actor, action FROM kb_audit ORDER BY id")
        self.assertIn(["ada", "article.add"], actors)
        self.assertIn(["importer", "articles.import"], actors)
        self.assertIn(["ada", "article.rm"], actors)
        # Every change is in the feed the agent-workers follow.
        self.assertGreaterEqual(self.db.count("SELECT count(*) FROM kb_changes WHERE kind = 'article'"), 4)

    def test_examples_import_keeps_good_rows_and_names_bad_lines(self):
        seeded = json.loads(self.ok("kb", "examples", "list", "--json", "--limit", "1000"))
        self.assertGreater(len(seeded), 100)  # migration 0009's resolutions of the seeded FAQ
        self.ok("kb", "examples", "rm", *[str(e["id"]) for e in seeded])
        path = self.file("examples.csv", "text,article\n"
                                         "how do I reset my password,reset-password\n"
                                         "\"forgot my password, again\",reset-password\n"
                                         "who won the match,escalate\n"
                                         "no such article,not-an-article\n"
                                         ",reset-password\n"
                                         "three,fields,here\n")
        result = run(self.db, "kb", "examples", "import", path, "--by", "ada")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("3 added", result.stdout)
        self.assertIn("line 5:", result.stderr)
        self.assertIn("not-an-article", result.stderr)
        self.assertIn("line 6: empty text", result.stderr)
        self.assertIn("line 7: expected 2 fields", result.stderr)
        # Importing again adds nothing: a resolution is stored once.
        again = json.loads(run(self.db, "kb", "examples", "import", path, "--json").stdout)
        self.assertEqual((again["added"], again["unchanged"]), (0, 3))

        listed = json.loads(self.ok("kb", "examples", "list", "--json"))
        self.assertEqual(sorted(e["article"] for e in listed), ["escalate", "reset-password", "reset-password"])
        escalate = [e for e in listed if e["article"] == "escalate"]
        self.assertEqual(escalate[0]["text"], "who won the match")
        self.assertIn("removed", self.ok("kb", "examples", "rm", str(escalate[0]["id"])))
        self.assertEqual(len(json.loads(self.ok("kb", "examples", "list", "--json"))), 2)
        self.assertEqual(run(self.db, "kb", "examples", "import", self.file("x.csv", "a,b\n")).returncode, 2)

        # Removing an article removes its resolutions.
        self.ok("kb", "rm", "reset-password")
        self.assertEqual(json.loads(self.ok("kb", "examples", "list", "--json")), [])

    def test_calibration_import_replaces_the_set_and_show_reports_the_thresholds(self):
        rows = ["text,expected"] + ["how do I reset my password %d,reset-password" % i for i in range(120)] + \
               ["tell me a joke %d,escalate" % i for i in range(40)]
        path = self.file("calibration.csv", "\n".join(rows) + "\n")
        result = json.loads(self.ok("kb", "calibration", "import", path, "--json"))
        self.assertEqual(result["added"], 160)
        shown = json.loads(self.ok("kb", "calibration", "show", "--json"))
        self.assertEqual(shown["calibration_messages"], 160)
        self.assertTrue(shown["lexical"]["fitted"])
        self.assertEqual(shown["lexical"]["labelled"], 160 + shown["examples"])  # and each resolution left out
        self.assertGreaterEqual(shown["lexical"]["expected_precision"], 0.95)
        self.assertFalse(shown["semantic"])
        again = json.loads(self.ok("kb", "calibration", "import", self.file("c2.csv", "text,expected\na,escalate\n"),
                                   "--json"))
        self.assertEqual((again["added"], again["removed"]), (1, 160))


if __name__ == "__main__":
    unittest.main()
