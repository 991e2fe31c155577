"""Strings someone else chose (S3 keys, a report's messages and metadata, local file names), made safe to
print: never read as rich markup, and no terminal control character reaches the console raw.

Whoever can upload to inbox/ chooses keys, and so the names of the results and the text of the reports. A
key like `a[/]b.jpg` is invalid rich markup (printing it as markup raises), and ESC, BEL or a C1 control
(U+009B is a one-byte CSI) can recolour, retitle or rewrite the user's terminal. Every console line the CLI
and `make up` print with such a string goes through `printable`, or through `line` for rich consoles.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls, DEL and C1 controls; and the invisible characters that move text around on screen: the line
# and paragraph separators (a new line to many readers) and the bidirectional overrides and isolates
# (they can make a name read as another, "Trojan Source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: object) -> str:
    """`str(value)` with each unsafe character written as an escape (ESC → `\\x1b`, U+2028 → `\\u2028`).
    Idempotent: its output holds no unsafe character. Markup is the console's business: see `line`."""
    return _UNSAFE.sub(_escape, str(value))


Part = str | tuple[str, str]


def line(*parts: Part) -> Text:
    """One console line for a rich console: a `(text, style)` pair is the CLI's own words, styled; a plain
    string is shown as it is (escaped with `printable`), never read as markup."""
    out = Text()
    for part in parts:
        if isinstance(part, tuple):
            out.append(part[0], style=part[1])
        else:
            out.append(printable(part))
    return out
