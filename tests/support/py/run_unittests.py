"""Runs Python unittest modules for ctest, stricter than `python3 -m unittest`.

A run that executes no test, or skips one, fails: a test that cannot reach
what it needs must fail with the reason (the project's rule for every tier),
and unittest would otherwise exit 0 on both.
"""
import os
import sys
import unittest


def main(names):
    suite = unittest.TestLoader().loadTestsFromNames(names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print(f"{result.testsRun - failed - len(result.skipped)} passed, {failed} failed, {len(result.skipped)} skipped")
    if result.testsRun == 0:
        print("no test ran", file=sys.stderr)
        return 1
    if result.skipped:
        for test, reason in result.skipped:
            print(f"skipped (not allowed): {test.id()}: {reason}", file=sys.stderr)
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    # As `python3 -m unittest` does: test modules are found in the working
    # directory (ctest runs each suite in its own source folder).
    sys.path.insert(0, os.getcwd())
    sys.exit(main(sys.argv[1:]))
