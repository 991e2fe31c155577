"""The soak report's fuzz budgets, read from pytest's --hypothesis-show-statistics output."""

from __future__ import annotations

from benchmarks.fuzz_budgets import budgets_table, fuzz_budgets

# As hypothesis 6.x prints it (one test shown twice over: two tests, one stopped by its budget).
STATISTICS = """\
============================ Hypothesis Statistics =============================
tests/fuzz/test_source_host_fuzz.py::test_given_public_dns_name_when_parsed_then_accepted_as_is:

  - during generate phase (1.30 seconds):
    - Typical runtimes: ~ 1-8 ms, of which ~ 0-6 ms in data generation
    - 200 passing, 0 failing, and 74 invalid test cases

  - Stopped because settings.max_examples=200

tests/fuzz/test_manifest_fuzz.py::test_given_any_bytes_then_manifest_or_manifest_error:

  - during reuse phase (0.00 seconds):
    - Typical runtimes: ~ 1ms, of which ~ 0ms in data generation
    - 1 passing, 0 failing, and 0 invalid test cases

  - during generate phase (12.50 seconds):
    - Typical runtimes: ~ 2ms, of which ~ 1ms in data generation
    - 4500 passing, 0 failing, and 3 invalid test cases

  - Stopped because settings.max_examples=4500

1 passed
"""


def test_given_statistics_then_each_tests_generated_examples_seconds_and_stop_reason() -> None:
    # Given hypothesis' statistics of two tests / When read
    rows = fuzz_budgets(STATISTICS)
    # Then each test's generate phase is what is reported (the reuse phase's replay is not the budget)
    assert rows == [
        {"test": "tests/fuzz/test_source_host_fuzz.py::"
                 "test_given_public_dns_name_when_parsed_then_accepted_as_is",
         "passing": 200, "failing": 0, "invalid": 74, "seconds": 1.3,
         "stopped": "settings.max_examples=200"},
        {"test": "tests/fuzz/test_manifest_fuzz.py::test_given_any_bytes_then_manifest_or_manifest_error",
         "passing": 4500, "failing": 0, "invalid": 3, "seconds": 12.5,
         "stopped": "settings.max_examples=4500"},
    ]
    # And the table names each test with its counts
    table = budgets_table(rows)
    assert "| test_given_any_bytes_then_manifest_or_manifest_error | 4500 / 0 / 3 | 12.5 |" in table
