"""The one error the commands raise for bad input: a message saying what to do, and an exit code."""

from __future__ import annotations

USAGE = 2  # bad input or configuration (as argparse exits for a bad command line)
JOBS_FAILED = 1  # the command ran, and some job did not succeed


class CliError(Exception):
    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code
