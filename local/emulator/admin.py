"""The admin API under /_emulator/ (no AKOOL auth). ADMIN.md documents every endpoint for the README.

Each handler takes the emulator, the parsed JSON body (None when absent or not a JSON object) and the
URL arguments, and returns (JSON payload, HTTP status). Errors are HTTP 400 {"error": "..."}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from local.emulator.config import ENGINES, MODES, EngineKind, Mode
from local.emulator.core import Emulator
from local.emulator.faults import FaultError
from local.emulator.limits import LimitError

Payload = tuple[dict[str, Any], int]
AdminHandler = Callable[[Emulator, dict[str, Any] | None, dict[str, Any]], Payload]


def _error(msg: str, status: int = 400) -> Payload:
    return {"error": msg}, status


def health(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    return {"ok": True, "url": emu.base_url}, 200


def config(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    c = emu.config
    return {
        "url": emu.base_url,
        "client_id": c.client_id,  # the API key is never shown
        "mode": emu.mode,
        "engine": emu.engine,
        "credits": emu.credits,
        "credits_per_job": c.credits_per_job,
        "workers": c.workers,
        "concurrent_jobs": emu.limits.concurrent_jobs,
        "requests_per_second": emu.limits.requests_per_second,
        "queue_seconds": c.queue_seconds,
        "processing_seconds": c.processing_seconds,
        "webhook_retries": c.webhook_retries,
        "webhook_backoff_seconds": c.webhook_backoff_seconds,
        "instant_backoff_seconds": c.instant_backoff_seconds,
        "allowed_hosts": list(c.allowed_hosts),
        "max_faces": c.max_faces,
    }, 200


def requests_log(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    entries = emu.requests()
    path = args.get("path")
    if path:
        entries = [e for e in entries if e["path"] == path]
    return {"requests": entries}, 200


def activity(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    return emu.activity(), 200


def reset(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    emu.reset()
    return {"ok": True}, 200


def get_faults(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    return {"faults": emu.faults.snapshot()}, 200


def set_faults(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    if body is None:
        return _error("body must be a JSON object of faults")
    try:
        emu.faults.update(body)
    except FaultError as exc:
        return _error(str(exc))
    return {"faults": emu.faults.snapshot()}, 200


def clear_faults(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    emu.faults.clear()
    return {"faults": emu.faults.snapshot()}, 200


def jobs(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    with emu.lock:
        listed = [job.admin_json() for job in emu.jobs.all()]
    return {"jobs": listed}, 200


def job(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    with emu.lock:
        found = emu.jobs.get(str(args["job_id"]), include_deleted=True)
        if found is None:
            return _error("no such job", 404)
        return {"job": found.admin_json()}, 200


def mode(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    if body is not None:
        value = body.get("mode")
        if value not in MODES:
            return _error(f"mode must be one of {list(MODES)}")
        emu.mode = cast(Mode, value)
    return {"mode": emu.mode}, 200


def engine(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    if body is not None:
        value = body.get("engine")
        if value not in ENGINES:
            return _error(f"engine must be one of {list(ENGINES)}")
        emu.engine = cast(EngineKind, value)
    return {"engine": emu.engine}, 200


def credits(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    if body is not None:
        value = body.get("credits")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return _error("credits must be a non-negative integer")
        emu.credits = value
    return {"credits": emu.credits}, 200


def get_limits(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    return {**emu.limits.snapshot(), "in_flight": emu.in_flight()}, 200


def set_limits(emu: Emulator, body: dict[str, Any] | None, args: dict[str, Any]) -> Payload:
    if body is None:
        return _error('body must be a JSON object {"concurrent_jobs"?: N, "requests_per_second"?: R}')
    try:
        emu.limits.update(body)
    except LimitError as exc:
        return _error(str(exc))
    return get_limits(emu, None, args)
