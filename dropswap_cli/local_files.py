"""Checks on the user's files before anything is uploaded: they exist and are photos the stack takes."""

from __future__ import annotations

from pathlib import Path

from dropswap_cli.errors import CliError
from dropswap_cli.layout import IMAGE_EXTENSIONS

CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                 "bmp": "image/bmp"}


def sniff(head: bytes) -> str | None:
    """The image format of a file's first bytes (jpeg, png, webp, bmp), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM"):
        return "bmp"
    return None


def extension(path: Path) -> str:
    return path.suffix.lstrip(".").lower()


def check_photo(path: Path, role: str = "photo") -> Path:
    """The path, if it is a readable file of a supported type whose content is an image; else a CliError
    saying which and what to do."""
    if not path.exists():
        raise CliError(f"{path}: no such file")
    if not path.is_file():
        raise CliError(f"{path}: not a file (give the {role}'s file)")
    ext = extension(path)
    if ext not in IMAGE_EXTENSIONS:
        kinds = ", ".join(IMAGE_EXTENSIONS)
        raise CliError(f"{path}: .{ext or '(none)'} is not a supported {role} type; use one of {kinds}")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise CliError(f"{path}: cannot read it ({exc.strerror})") from exc
    if sniff(head) is None:
        raise CliError(f"{path}: not an image (its content is not JPEG, PNG, WebP or BMP); "
                       f"give a {role} saved as one of those")
    return path


def content_type(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".html"):
        return "text/html"
    return CONTENT_TYPES.get(ext, "application/octet-stream")
