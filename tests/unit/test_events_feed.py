"""The local stack's events feed writes `.dropswap/events.jsonl`: one event a line, whatever keys hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.events_feed import EventsFeed


class _Quiet:
    def create_queue(self, **_: Any) -> dict[str, str]:
        return {"QueueUrl": "https://sqs.local/q"}

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q"}}

    def put_rule(self, **_: Any) -> None: ...

    def put_targets(self, **_: Any) -> None: ...


def test_given_a_key_with_line_separators_when_its_event_is_written_then_it_stays_one_ascii_line(
    tmp_path: Path,
) -> None:
    # Given an event whose photo key and metadata hold U+2028, U+2029 and U+0085 (splitlines() splits on them)
    out = tmp_path / "events.jsonl"
    feed = EventsFeed(_Quiet(), _Quiet(), "bus", out, console=lambda _line: None)
    key = "inbox/a\u2028b\u2029c\u0085d.jpg"
    data = {"image": {"key": key}, "metadata": {"n": "\u2028"}}
    event = {"detail": {"metadata": {"id": "1"}, "data": data}}
    # When the feed delivers it
    feed._deliver(event)
    # Then the file is ASCII, one line, and reads back to the same event
    text = out.read_text(encoding="utf-8")
    assert text.isascii()
    assert len(text.splitlines()) == 1
    assert json.loads(text.splitlines()[0]) == event
