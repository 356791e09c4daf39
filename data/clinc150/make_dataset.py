#!/usr/bin/env python3
"""Build fte's answer-or-escalate evaluation set from CLINC150 (clinc/oos-eval).

Reads data/data_full.json and data/domains.json of the source repository and
writes, into --out:

  examples.csv     text,article   train split of the 30 in-scope intents + all of
                                  oos_train (past resolutions a person handled
                                  without an article: `escalate`)
  calibration.csv  text,expected  val split of the 30 intents + all of oos_val
  eval.csv         text,expected  test split of the 30 intents + all of oos_test

In-scope intents are those of the `banking` and `credit_cards` domains. An
intent name becomes an article slug by replacing `_` with `-`; out-of-scope
messages expect `escalate`. Rows keep the order of the source lists. The
output depends only on the two input files (standard library only).

Usage:
  python3 make_dataset.py --source data_full.json --domains domains.json --out DIR
"""

import argparse
import csv
import json
import os
import sys

DOMAINS = ("banking", "credit_cards")
INTENTS_PER_DOMAIN = 15
ESCALATE = "escalate"

# Per-intent counts of data_full.json, and the sizes of its out-of-scope splits.
PER_INTENT = {"train": 100, "val": 20, "test": 30}
OOS = {"oos_train": 100, "oos_val": 100, "oos_test": 1000}


def fail(msg):
    sys.exit("make_dataset.py: error: " + msg)


def slug(intent):
    return intent.replace("_", "-")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def in_scope_intents(domains):
    intents = []
    for d in DOMAINS:
        if d not in domains:
            fail("domain %r missing from domains file" % d)
        names = domains[d]
        if len(names) != INTENTS_PER_DOMAIN or len(set(names)) != len(names):
            fail("domain %r has %d intents (%d distinct), expected %d"
                 % (d, len(names), len(set(names)), INTENTS_PER_DOMAIN))
        intents.extend(names)
    if len(set(intents)) != len(intents):
        fail("an intent appears in more than one in-scope domain")
    if ESCALATE in {slug(i) for i in intents}:
        fail("an intent's slug collides with %r" % ESCALATE)
    return intents


def rows(data, split):
    if split not in data:
        fail("split %r missing from source file" % split)
    out = []
    for n, item in enumerate(data[split]):
        if not (isinstance(item, list) and len(item) == 2
                and all(isinstance(x, str) for x in item)):
            fail("%s[%d] is not a [text, intent] pair" % (split, n))
        out.append((item[0], item[1]))
    return out


def in_scope_rows(data, split, intents):
    wanted = set(intents)
    picked = [(t, i) for t, i in rows(data, split) if i in wanted]
    counts = {i: 0 for i in intents}
    for _, i in picked:
        counts[i] += 1
    missing = [i for i in intents if counts[i] == 0]
    if missing:
        fail("split %r has no rows for intent(s): %s" % (split, ", ".join(missing)))
    wrong = ["%s=%d" % (i, c) for i, c in counts.items() if c != PER_INTENT[split]]
    if wrong:
        fail("split %r: expected %d rows per intent, got %s"
             % (split, PER_INTENT[split], ", ".join(wrong)))
    return picked


def oos_rows(data, split):
    picked = rows(data, split)
    intents = {i for _, i in picked}
    if intents != {"oos"}:
        fail("split %r has intents %s, expected only 'oos'" % (split, sorted(intents)))
    if len(picked) != OOS[split]:
        fail("split %r has %d rows, expected %d" % (split, len(picked), OOS[split]))
    return picked


def write_csv(path, header, body):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True, help="path to data/data_full.json")
    p.add_argument("--domains", required=True, help="path to data/domains.json")
    p.add_argument("--out", required=True, help="output directory")
    a = p.parse_args()

    data = load_json(a.source)
    intents = in_scope_intents(load_json(a.domains))

    train = in_scope_rows(data, "train", intents)
    val = in_scope_rows(data, "val", intents)
    test = in_scope_rows(data, "test", intents)
    oos_train = oos_rows(data, "oos_train")
    oos_val = oos_rows(data, "oos_val")
    oos_test = oos_rows(data, "oos_test")

    examples = [(t, slug(i)) for t, i in train] + [(t, ESCALATE) for t, _ in oos_train]
    calibration = [(t, slug(i)) for t, i in val] + [(t, ESCALATE) for t, _ in oos_val]
    evaluation = [(t, slug(i)) for t, i in test] + [(t, ESCALATE) for t, _ in oos_test]

    n = len(intents)
    expect = {
        "examples.csv": n * PER_INTENT["train"] + OOS["oos_train"],
        "calibration.csv": n * PER_INTENT["val"] + OOS["oos_val"],
        "eval.csv": n * PER_INTENT["test"] + OOS["oos_test"],
    }
    outputs = {
        "examples.csv": (("text", "article"), examples),
        "calibration.csv": (("text", "expected"), calibration),
        "eval.csv": (("text", "expected"), evaluation),
    }
    for name, (_, body) in outputs.items():
        if len(body) != expect[name]:
            fail("%s: %d rows, expected %d" % (name, len(body), expect[name]))

    os.makedirs(a.out, exist_ok=True)
    for name, (header, body) in outputs.items():
        write_csv(os.path.join(a.out, name), header, body)

    print("in-scope intents: %d (%s)" % (n, " + ".join(DOMAINS)))
    print("examples.csv:    %5d rows (train: %d per intent, %d escalate)"
          % (len(examples), PER_INTENT["train"], len(oos_train)))
    print("calibration.csv: %5d rows (val: %d in-scope, %d escalate)"
          % (len(calibration), len(val), len(oos_val)))
    print("eval.csv:        %5d rows (test: %d in-scope, %d escalate)"
          % (len(evaluation), len(test), len(oos_test)))


if __name__ == "__main__":
    main()
