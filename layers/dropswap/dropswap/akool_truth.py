"""AKOOL's word on a job (faceswap_status 1–4, result URL, reason), from a verified callback or listbyids.

A value shared by the webhook (which puts it on the FinaliseQueue), the reconciler and the finaliser; it
holds no logic that reaches AWS or AKOOL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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
