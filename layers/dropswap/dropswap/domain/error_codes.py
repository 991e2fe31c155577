"""Every error code a job can end with (the `error.code` of its record and report), in one place.

README.md's table of error codes documents each one for users. AKOOL's own refusals of a submission are
passed through as `AKOOL_<code>` (see `akool_refusal`), since AKOOL may add codes we have not seen.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # REJECTED: the manifest or an input is not usable (the user's to fix)
    INVALID_JSON = "INVALID_JSON"
    MANIFEST_INVALID = "MANIFEST_INVALID"
    LIMIT = "LIMIT"
    INVALID_SOURCE = "INVALID_SOURCE"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    OUTPUT_NAME = "OUTPUT_NAME"  # named like the stack's own output (keys.is_own_output): never a photo
    NOT_AN_IMAGE = "NOT_AN_IMAGE"
    EMPTY_IMAGE = "EMPTY_IMAGE"
    TOO_LARGE = "TOO_LARGE"
    TOO_MANY_PIXELS = "TOO_MANY_PIXELS"
    TRUNCATED_IMAGE = "TRUNCATED_IMAGE"
    UNREADABLE_IMAGE = "UNREADABLE_IMAGE"
    FACE_NOT_FOUND = "FACE_NOT_FOUND"
    NO_FACE = "NO_FACE"
    DUPLICATE_FACE = "DUPLICATE_FACE"
    SIDECAR_GONE = "SIDECAR_GONE"
    INPUT_NEVER_ARRIVED = "INPUT_NEVER_ARRIVED"
    # REJECTED (WAITING) or FAILED (open) without a report: a newer sidecar or photo version has its own
    # job, which owns the report's name (latest.py)
    SUPERSEDED = "SUPERSEDED"
    # FAILED: AKOOL or the result went wrong after the input was accepted
    AKOOL_ERROR = "AKOOL_ERROR"
    AKOOL_FAILED = "AKOOL_FAILED"
    RESULT_URL_MISSING = "RESULT_URL_MISSING"
    RESULT_URL_NOT_ALLOWED = "RESULT_URL_NOT_ALLOWED"
    RESULT_TOO_LARGE = "RESULT_TOO_LARGE"
    RESULT_NOT_AN_IMAGE = "RESULT_NOT_AN_IMAGE"
    RESULT_FETCH_FAILED = "RESULT_FETCH_FAILED"
    JOB_TOO_OLD = "JOB_TOO_OLD"


def akool_refusal(akool_code: int | None) -> str:
    """The code of a job AKOOL refused for good: `AKOOL_<its business code>`, or AKOOL_ERROR without one."""
    return f"AKOOL_{akool_code}" if akool_code is not None else ErrorCode.AKOOL_ERROR.value


def job_error(code: str, message: str) -> dict[str, str]:
    """The `error` of a job record and its report."""
    return {"code": str(code), "message": message}
