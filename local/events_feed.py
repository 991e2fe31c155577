"""The local stack's consumer of completion events (docs/events.md).

What a user's rule on AWS would do, set up after the deploy through the EventBridge API (a dev-only
consumer, so not in template.yaml): a rule on DropswapEventBus matching source "dropswap", its target a
queue; a thread reads the queue, appends each event to `.dropswap/events.jsonl` and prints it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dropswap_cli.printable import printable

QUEUE = "dropswap-local-events"
RULE = "dropswap-local-events"


class EventsFeed:
    def __init__(
        self, events: Any, sqs: Any, bus_name: str, out: Path, console: Callable[[str], None]
    ) -> None:
        self._sqs = sqs
        self._out = out
        self._console = console
        self.queue_url: str = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        events.put_rule(Name=RULE, EventBusName=bus_name, EventPattern=json.dumps({"source": ["dropswap"]}))
        events.put_targets(
            Rule=RULE, EventBusName=bus_name,
            Targets=[{"Id": "local-feed", "Arn": arn["Attributes"]["QueueArn"]}],
        )

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                resp = self._sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
            except Exception as exc:  # the stack stopping under us; keep trying until told to stop
                if stop.wait(1.0):
                    return
                self._console(f"[events] cannot read the events queue: {exc}")
                continue
            for msg in resp.get("Messages", []):
                self._deliver(json.loads(msg["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=msg["ReceiptHandle"])

    def _deliver(self, event: dict[str, Any]) -> None:
        with self._out.open("a", encoding="utf-8") as fh:
            # ASCII escapes: U+2028 and U+2029 in a key or metadata would split the line for splitlines().
            fh.write(json.dumps(event, ensure_ascii=True) + "\n")
        data = event.get("detail", {}).get("data", {})
        meta = event.get("detail", {}).get("metadata", {})
        # The key and the metadata are the uploader's (printable.py).
        self._console(printable(
            f"[event] {event.get('detail-type')}: {data.get('image', {}).get('key')} "
            f"(id {meta.get('id')}, metadata {json.dumps(data.get('metadata'), ensure_ascii=False)})"
        ))
