"""The faces preview of a `"mode": "faces"` job: one self-contained HTML page, the photo with each face's
box and index drawn over it. Pure rules, no I/O: the page is written to a file object the caller gives.

- Self-contained and offline: the photo is embedded as a `data:` URI and the page's CSP forbids loading
  anything else, so it opens in any browser from a download, with nothing beside it.
- No imaging library (cold start): the browser draws the boxes, as CSS-positioned elements over the photo.
  The photo is shown at its own pixel size, so the boxes (the detector's pixel coordinates) sit on the
  faces without the page knowing the photo's dimensions (a browser's zoom scales both together).
- Bounded memory: the photo is base64-encoded chunk by chunk straight into the output, so a photo of
  `MAX_IMAGE_BYTES` costs one chunk of memory, not the photo plus a third more.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from dropswap.domain import keys
from dropswap.domain.faces import DetectedFace, order_faces

# Magenta: rare in photos and visible on skin, sky and shadow alike.
BOX_COLOUR = "#ff00ff"
# base64 turns every 3 bytes into 4 characters: chunks of a multiple of 3 bytes encode independently.
CHUNK_BYTES = 3 * 256 * 1024
MEDIA_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
               "bmp": "image/bmp"}
CONTENT_TYPE = "text/html; charset=utf-8"
# Nothing but the embedded photo and the page's own style: the page loads nothing, online or not.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


class Output(Protocol):
    def write(self, data: bytes, /) -> object: ...


class PhotoTooLarge(ValueError):
    """The photo grew past the limit while it was read (replaced after its size was checked)."""


def face_list(detected: Sequence[DetectedFace]) -> list[dict[str, Any]]:
    """The faces as a manifest's `target` numbers them: left to right by box x (faces.order_faces).
    AKOOL's detector gives a box and landmarks per face, no confidence score, so none is listed."""
    return [
        {"index": i, "box": [f.region.x, f.region.y, f.region.w, f.region.h]}
        for i, f in enumerate(order_faces(detected))
    ]


def write_preview(
    out: Output,
    *,
    image_key: str,
    photo: Iterable[bytes],
    faces: Sequence[dict[str, Any]],
    max_photo_bytes: int,
) -> int:
    """Write the page for the photo at `image_key` (its bytes in `photo`, chunk by chunk) and `faces`
    (face_list's shape). Returns the photo's size; PhotoTooLarge past `max_photo_bytes`."""
    media_type = MEDIA_TYPES.get(keys.extension(image_key), "application/octet-stream")
    out.write(_head(image_key).encode("utf-8"))
    out.write(f'<div class="photo"><img alt="the photo" src="data:{media_type};base64,'.encode("ascii"))
    size = 0
    carry = b""
    for chunk in photo:
        size += len(chunk)
        if size > max_photo_bytes:
            raise PhotoTooLarge(f"the photo is over {max_photo_bytes} bytes")
        data = carry + chunk
        cut = len(data) - len(data) % 3
        out.write(base64.b64encode(data[:cut]))
        carry = data[cut:]
    out.write(base64.b64encode(carry))
    out.write(b'">\n')
    for face in faces:
        out.write(_box(face).encode("ascii"))
    out.write(b"</div>\n")
    out.write(_tail(image_key, faces).encode("utf-8"))
    return size


def _head(image_key: str) -> str:
    name = html.escape(image_key.rsplit("/", 1)[-1])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>Faces in {name}</title>
<style>
html,body{{margin:0;background:#fff;color:#111;font:15px/1.4 system-ui,sans-serif}}
.photo{{position:relative;display:inline-block;vertical-align:top;line-height:0}}
.photo img{{display:block;max-width:none}}
.face{{position:absolute;box-sizing:border-box;border:solid {BOX_COLOUR}}}
.face b{{position:absolute;left:0;top:0;background:{BOX_COLOUR};color:#fff;font-family:monospace;
 line-height:1;padding:.15em .35em}}
main{{padding:12px 16px;max-width:60em}}
table{{border-collapse:collapse}}
th,td{{border:1px solid #bbb;padding:2px 10px;text-align:right}}
code{{background:#eee;padding:0 .2em}}
</style></head><body>
"""


def _box(face: dict[str, Any]) -> str:
    x, y, w, h = (int(v) for v in face["box"])
    # Border and number grow with the face, so both stay readable on large photos and small faces.
    border = max(2, min(w, h) // 40)
    font = max(14, min(w, h) // 6)
    return (
        f'<div class="face" style="left:{x}px;top:{y}px;width:{w}px;height:{h}px;border-width:{border}px">'
        f'<b style="font-size:{font}px">{int(face["index"])}</b></div>\n'
    )


def _tail(image_key: str, faces: Sequence[dict[str, Any]]) -> str:
    shown = html.escape(image_key)
    if not faces:
        summary = f"No face was found in <code>{shown}</code>."
    else:
        count = "1 face" if len(faces) == 1 else f"{len(faces)} faces"
        summary = (
            f"{count} in <code>{shown}</code>, numbered from 0 left to right (by the box's x, then y). "
            "Use a number as a swap's "
            '<code>"target"</code> in the sidecar, e.g. '
            '<code>{"source": "faces/alice.jpg", "target": 0}</code>, '
            'or a point inside a box as <code>{"x": …, "y": …}</code>.'
        )
    rows = "".join(
        f"<tr><td>{int(f['index'])}</td>" + "".join(f"<td>{int(v)}</td>" for v in f["box"]) + "</tr>\n"
        for f in faces
    )
    table = (
        f"<table><tr><th>index</th><th>x</th><th>y</th><th>width</th><th>height</th></tr>\n{rows}</table>\n"
        if faces else ""
    )
    return f"<main><p>{summary}</p>\n{table}</main>\n</body></html>\n"
