"""AKOOL's values, free of the HTTP client that produces them (adapters/akool_client.py): the account's
credentials, a failed call (AkoolError), a submission's answer, a job's state in listbyids, AKOOL's word on a
job (AkoolTruth: faceswap_status 1–4, result URL, reason, from a verified callback or listbyids), and the
result image as fetched (adapters/result_fetch.py).

The flows use these without importing requests; nothing here reaches AWS or AKOOL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dropswap.domain.error_codes import ErrorCode

# Keys under which a failure reason might come with a status-4 payload (none is documented).
_REASON_KEYS = ("reason", "error", "error_msg", "errorMsg", "fail_reason", "failReason", "msg", "message")


class AkoolJobInfoLike(Protocol):
    """What listbyids tells about one job (akool_client.AkoolJobInfo has this shape)."""

    @property
    def akool_id(self) -> str: ...

    @property
    def status(self) -> int: ...

    @property
    def url(self) -> str | None: ...

    @property
    def raw(self) -> dict[str, Any]: ...


class AkoolLookup(Protocol):
    """The part of the AKOOL client the webhook and the reconciler use (tests pass a fake)."""

    def list_by_ids(self, ids: list[str]) -> Sequence[AkoolJobInfoLike]: ...


# -- values -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AkoolTruth:
    """AKOOL's word on a job, from a verified callback or from listbyids."""

    akool_id: str
    status: int  # faceswap_status: 1 queued, 2 processing, 3 done, 4 failed
    url: str | None = None
    reason: str | None = None
    source: str = "webhook"  # or "listbyids"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], source: str = "webhook") -> AkoolTruth | None:
        """From a decrypted callback `{_id, status, type, url}`; None if it does not say a status 1–4."""
        akool_id = payload.get("_id")
        status = _status(payload.get("status"))
        if not isinstance(akool_id, str) or status is None:
            return None
        url = payload.get("url")
        return cls(
            akool_id=akool_id,
            status=status,
            url=url if isinstance(url, str) and url else None,
            reason=_reason(payload),
            source=source,
        )

    @classmethod
    def from_job_info(cls, info: AkoolJobInfoLike) -> AkoolTruth | None:
        status = _status(info.status)
        if status is None:
            return None
        return cls(
            akool_id=info.akool_id, status=status, url=info.url or None, reason=_reason(info.raw),
            source="listbyids",
        )


def _status(value: Any) -> int | None:
    # AKOOL documents a number; a third party saw strings ("3") now and then.
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and 1 <= value <= 4 else None


def _reason(payload: Mapping[str, Any]) -> str | None:
    for key in _REASON_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value.strip() and value.strip().upper() not in {"OK", "SUCCESS"}:
            return value.strip()[:500]
    return None


class AkoolError(Exception):
    """A failed AKOOL call. `code` is AKOOL's business code when it gave one (None for HTTP/network
    failures and detector errors); `retryable` says whether trying again later may succeed."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        retryable: bool = False,
        http_status: int | None = None,
        media_failed: bool = False,
    ) -> None:
        self.message = message
        self.code = code
        self.retryable = retryable
        self.http_status = http_status
        # The detector could not process the media: retried at most MEDIA_ATTEMPTS times, then final.
        self.media_failed = media_failed
        super().__init__(message if code is None else f"AKOOL {code}: {message}")


@dataclass(frozen=True)
class AkoolJobInfo:
    akool_id: str
    status: int  # faceswap_status: 1 queued, 2 processing, 3 success, 4 failed
    url: str | None  # pre-allocated before success: only meaningful at status 3
    raw: dict[str, Any]


@dataclass(frozen=True)
class SubmitResult:
    akool_id: str  # `_id`: what listbyids and webhooks refer to
    akool_job_id: str | None
    url: str | None  # v3 pre-allocates the result URL; Pro returns none


@dataclass(frozen=True)
class AkoolCredentials:
    client_id: str
    api_key: str

    def __repr__(self) -> str:  # never let a log line or traceback print the key
        return f"AkoolCredentials(client_id={self.client_id[:4]}…, api_key=***)"

    __str__ = __repr__


class ResultFetchError(Exception):
    """The result could not be fetched; `code` is the job's error code, `message` says why."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FetchedResult:
    path: str  # a temporary file holding the whole body
    size: int
    content_type: str
