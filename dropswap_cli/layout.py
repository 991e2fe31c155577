"""The drop folder's key layout (ARCHITECTURE §4), as a client sees it.

inbox/<path>/team.jpg                  a photo
inbox/<path>/team.jpg.faceswap.json    its sidecar manifest
inbox/<path>/_folder.faceswap.json     the folder manifest (every photo of the folder without a sidecar)
results/<path>/team.swapped.jpg        the swapped photo
results/<path>/team.jpg.result.json    the report
results/<path>/team.jpg.faces.json     faces mode: the faces found (and team.jpg.faces.html, a preview)
Paths here are relative to inbox/ and results/ ("party/team.jpg"), the way a user names them.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from pathlib import Path

from dropswap_cli.errors import CliError

INBOX = "inbox/"
RESULTS = "results/"
SIDECAR_SUFFIX = ".faceswap.json"
FOLDER_MANIFEST = "_folder.faceswap.json"
REPORT_SUFFIX = ".result.json"
# The photo types the stack takes (ARCHITECTURE §4).
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp")
TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED")
# What the stack writes (and the CLI saves locally): never uploaded again, whatever glob named it, since
# the stack would take a swapped photo for a new photo and spend a credit on it.
OUTPUT_PATTERNS = ("*.swapped.*", "*.faces.*", "*.result.json")


def is_output_name(name: str) -> bool:
    """Whether a file's name is one of the stack's output names (any case: `A.SWAPPED.JPG` too)."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in OUTPUT_PATTERNS)


def local_path(root: Path, rel: str) -> Path:
    """`root/rel` for a key's part below a prefix, refused (CliError) when it would leave `root`: an S3 key
    may hold `//`, `.`, `..` or a backslash, and whoever can upload to inbox/ chooses the results' keys."""
    parts = rel.split("/")
    if not rel or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise CliError(f"not saved: {rel!r} is not a plain relative path")
    return root.joinpath(*parts)


def folder(text: str) -> str:
    """A user's folder ("party", "inbox/party/", "results/party") as a relative folder: "party/" ("" for
    the whole drop folder)."""
    path = text.strip().strip("/")
    for top in (INBOX.rstrip("/"), RESULTS.rstrip("/")):
        if path == top:
            return ""
        if path.startswith(top + "/"):
            path = path[len(top) + 1:]
            break
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts) or "\\" in path:
        raise CliError(f"{text!r} is not a folder of the drop folder: use a path like party/ or inbox/party/")
    return "/".join(parts) + "/" if parts else ""


def default_folder(name: str) -> str:
    """A folder name for a local directory's name: letters, digits, '.', '_' and '-' kept, others '-'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "dropswap"
    return cleaned + "/"


def sidecar(rel: str) -> str:
    return rel + SIDECAR_SUFFIX


def report(rel: str) -> str:
    """results/<path>/<name>.<ext>.result.json for a photo at inbox/<rel>."""
    return RESULTS + rel + REPORT_SUFFIX


def swapped(rel: str) -> str:
    """results/<path>/<name>.swapped.<ext>, the contract's name (the report names the actual key)."""
    stem, ext = posixpath.splitext(rel)
    return f"{RESULTS}{stem}.swapped{ext}"


def faces_prefix(rel: str) -> str:
    """results/<path>/<name>.<ext>.faces. — the faces list (.json) and its preview share it."""
    return f"{RESULTS}{rel}.faces."


def key_of(uri: str, bucket: str) -> str | None:
    """The key an s3:// URI of the bucket names (reports name objects as URIs), or a bare key as is."""
    if uri.startswith(f"s3://{bucket}/"):
        return uri[len(f"s3://{bucket}/"):]
    if uri.startswith("s3://"):
        return None
    return uri or None


def photo_of_report(key: str) -> str:
    """The photo a report is about, relative to inbox/: results/party/a.jpg.result.json → party/a.jpg."""
    rel = key[len(RESULTS):] if key.startswith(RESULTS) else key
    return rel[: -len(REPORT_SUFFIX)] if rel.endswith(REPORT_SUFFIX) else rel
