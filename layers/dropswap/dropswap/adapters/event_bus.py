"""The EventBridge adapter: completion events onto the stack's DropswapEventBus (job_events.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dropswap.domain.job_events import SOURCE


class EventPublishError(RuntimeError):
    """EventBridge did not take the event; raised so the ending is retried (the event id stays the same)."""


class EventBus:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._events = client  # boto3 "events" client (no type stubs in the dev venv)
        self._bus = bus_name

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        resp = self._events.put_events(
            Entries=[{
                "EventBusName": self._bus,
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, ensure_ascii=False, separators=(",", ":")),
            }]
        )
        if resp.get("FailedEntryCount"):
            entry = resp["Entries"][0]
            raise EventPublishError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
