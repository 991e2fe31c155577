"""Make moto's DynamoDB writes atomic, as the real service's conditional writes are.

moto checks a ConditionExpression and then writes, without a lock; two threads (or two requests to a
threaded moto server) can both pass the same condition. Real DynamoDB never allows that, and our
exactly-once guarantees rest on it, so the unit tests serialise moto's item writes. (The local stack runs
on MiniStack, whose conditional writes are atomic.)
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()
_PATCHED = False


def install() -> None:
    """Idempotent: wrap moto's DynamoDB backend write methods in one process-wide lock."""
    global _PATCHED
    if _PATCHED:
        return
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item"):
        original = getattr(DynamoDBBackend, name)

        def wrapper(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __original(*args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(wrapper))
    _PATCHED = True
