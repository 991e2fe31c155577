"""JSON objects from callers we do not trust yet (AKOOL callback bodies and their decrypted payloads).

`json.loads` alone is not enough for text anyone can send: nesting past the interpreter's recursion limit
raises RecursionError (the webhook answered 5xx to `[[[[…]]]]` under 64 KiB), and a `"\\ud800"` escape
yields a lone surrogate that raises UnicodeEncodeError later, wherever the text is hashed, logged or
sent on. `load_object` bounds size and nesting before parsing and checks every string after, so a caller
gets one exception type (UntrustedJsonError) for every shape it does not accept, and nothing else.
"""

from __future__ import annotations

import json
import re
from typing import Any

# AKOOL's callback and its payload are flat objects; 32 levels leave room for fields AKOOL may add.
MAX_DEPTH = 32

# A JSON string literal (escapes included), then anything that is not a bracket: what is left after
# removing both is the nesting structure. Possessive quantifiers keep both scans linear.
_STRING_LITERAL = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]++")


class UntrustedJsonError(ValueError):
    """The text is not a JSON object this code accepts (too big, too deep, not JSON, not an object)."""


def load_object(raw: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The JSON object in `raw` (UTF-8), or UntrustedJsonError; never any other exception."""
    try:
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    except UnicodeEncodeError:
        raise UntrustedJsonError("not UTF-8 text") from None
    if len(data) > max_bytes:
        raise UntrustedJsonError(f"larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UntrustedJsonError("not UTF-8 text") from None
    if _nesting_exceeds(text, max_depth):
        raise UntrustedJsonError(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError cannot happen past the depth check; kept as a guard
        raise UntrustedJsonError("not JSON") from None
    if not isinstance(value, dict):
        raise UntrustedJsonError("not a JSON object")
    try:
        # Every key and string value must be encodable: "\ud800" parses but breaks any later encode.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise UntrustedJsonError("a string holds a lone surrogate") from None
    return value


def _nesting_exceeds(text: str, limit: int) -> bool:
    # Runs only after the caller's token matched, on at most 64 KiB (tens of ms at worst): plain Python.
    depth = 0
    for bracket in _NOT_A_BRACKET.sub("", _STRING_LITERAL.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False
