"""Injected faults (set through POST /_emulator/faults). Counted faults are consumed one at a time."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from local.emulator.codes import OK, message


class FaultError(ValueError):
    """An admin request asked for an impossible fault; the message says which field."""


@dataclass
class FaultState:
    submit_error_code: int = 0
    submit_error_count: int = 0
    submit_error_msg: str | None = None
    fail_jobs: int = 0
    fail_reason: str = "injected failure (emulator fault)"
    drop_webhooks: int = 0
    duplicate_webhooks: int = 0
    reorder_webhooks: int = 0
    webhook_delay_seconds: float = 0.0
    response_delay_ms: int = 0
    pad_result_bytes: int = 0
    pad_result_count: int = 0


def _count(body: dict[str, Any], name: str) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(f"{name} must be a non-negative integer")
    return value


def _number(body: dict[str, Any], name: str) -> float:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultError(f"{name} must be a non-negative number")
    return float(value)


class Faults:
    """Thread-safe fault switches; `take_*` consumes one unit of a counted fault."""

    KEYS = (
        "submit_error",
        "fail_jobs",
        "fail_reason",
        "drop_webhooks",
        "duplicate_webhooks",
        "reorder_webhooks",
        "webhook_delay_seconds",
        "response_delay_ms",
        "pad_results",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = FaultState()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            s = asdict(self._state)
        return {
            "submit_error": {
                "code": s.pop("submit_error_code"),
                "count": s.pop("submit_error_count"),
                "msg": s.pop("submit_error_msg"),
            },
            "pad_results": {"bytes": s.pop("pad_result_bytes"), "count": s.pop("pad_result_count")},
            **s,
        }

    def clear(self) -> None:
        with self._lock:
            self._state = FaultState()

    def update(self, body: dict[str, Any]) -> None:
        """Set the given faults (others unchanged); validates everything before changing anything."""
        unknown = sorted(set(body) - set(self.KEYS))
        if unknown:
            raise FaultError(f"unknown fault(s) {unknown}; known: {list(self.KEYS)}")
        changes: dict[str, Any] = {}
        if "submit_error" in body:
            spec = body["submit_error"]
            if not isinstance(spec, dict):
                raise FaultError('submit_error must be {"code": int, "count": int, "msg"?: str}')
            code = spec.get("code")
            if isinstance(code, bool) or not isinstance(code, int) or code == OK:
                raise FaultError("submit_error.code must be an integer business code other than 1000")
            count = _count({"submit_error.count": spec.get("count", 1)}, "submit_error.count")
            msg = spec.get("msg")
            if msg is not None and not isinstance(msg, str):
                raise FaultError("submit_error.msg must be a string")
            changes.update(submit_error_code=code, submit_error_count=count, submit_error_msg=msg)
        for name in (
            "fail_jobs",
            "drop_webhooks",
            "duplicate_webhooks",
            "reorder_webhooks",
            "response_delay_ms",
        ):
            if name in body:
                changes[name] = _count(body, name)
        if "pad_results" in body:
            spec = body["pad_results"]
            if not isinstance(spec, dict) or set(spec) - {"bytes", "count"}:
                raise FaultError('pad_results must be {"bytes": int, "count": int}')
            changes.update(
                pad_result_bytes=_count({"pad_results.bytes": spec.get("bytes", 0)}, "pad_results.bytes"),
                pad_result_count=_count({"pad_results.count": spec.get("count", 1)}, "pad_results.count"),
            )
        if "webhook_delay_seconds" in body:
            changes["webhook_delay_seconds"] = _number(body, "webhook_delay_seconds")
        if "fail_reason" in body:
            if not isinstance(body["fail_reason"], str) or not body["fail_reason"]:
                raise FaultError("fail_reason must be a non-empty string")
            changes["fail_reason"] = body["fail_reason"]
        with self._lock:
            for key, value in changes.items():
                setattr(self._state, key, value)

    def take_submit_error(self) -> tuple[int, str] | None:
        with self._lock:
            s = self._state
            if s.submit_error_count <= 0:
                return None
            s.submit_error_count -= 1
            return s.submit_error_code, s.submit_error_msg or message(s.submit_error_code)

    def take_pad_result(self) -> int | None:
        """The size to pad the next JPEG result to, or None (counted: one job per call)."""
        with self._lock:
            s = self._state
            if s.pad_result_count <= 0 or s.pad_result_bytes <= 0:
                return None
            s.pad_result_count -= 1
            return s.pad_result_bytes

    def take_fail_job(self) -> str | None:
        with self._lock:
            if self._state.fail_jobs <= 0:
                return None
            self._state.fail_jobs -= 1
            return self._state.fail_reason

    def _take(self, name: str) -> bool:
        with self._lock:
            left: int = getattr(self._state, name)
            if left <= 0:
                return False
            setattr(self._state, name, left - 1)
            return True

    def take_drop_webhook(self) -> bool:
        return self._take("drop_webhooks")

    def take_duplicate_webhook(self) -> bool:
        return self._take("duplicate_webhooks")

    def take_reorder(self) -> bool:
        return self._take("reorder_webhooks")

    @property
    def webhook_delay_seconds(self) -> float:
        with self._lock:
            return self._state.webhook_delay_seconds

    @property
    def response_delay_ms(self) -> int:
        with self._lock:
            return self._state.response_delay_ms
