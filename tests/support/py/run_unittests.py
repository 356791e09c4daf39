"""Runs Python unittest modules for ctest, stricter than `python3 -m unittest`.

A run that executes no test, or skips one, fails: a test that cannot reach
what it needs must fail with the reason (the project's rule for every tier),
and unittest would otherwise exit 0 on both.
"""
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
    sys.exit(main(sys.argv[1:]))
