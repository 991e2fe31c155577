"""S3 key rules of the drop folder: what is an image, what is a sidecar, where results go.

inbox/<path>/team.jpg                  the target image
inbox/<path>/team.jpg.faceswap.json    its sidecar manifest
inbox/<path>/_folder.faceswap.json    the folder manifest: for every photo directly in <path>/ without a
                                       sidecar of its own (a sidecar wins)
inbox/<path>/team.gif(.faceswap.json)  UNSUPPORTED: a file that is not a supported image, or its sidecar
inbox/<path>/team.swapped.jpg(...)     OUTPUT: named like one of the stack's own outputs, so never a photo
results/<path>/team.swapped.jpg        the swapped image
results/<path>/team.jpg.result.json    the status report (every terminal state)
results/<path>/team.jpg.faces.json     the faces found ("mode": "faces"), and team.jpg.faces.html, their
                                       preview (the photo's extension kept: team.jpg's and team.png's differ)
Results never land under inbox/, so they can never re-trigger the pipeline.
"""

from __future__ import annotations

import posixpath
from enum import Enum
from urllib.parse import unquote_plus

INBOX = "inbox/"
RESULTS = "results/"
SIDECAR_SUFFIX = ".faceswap.json"
FOLDER_MANIFEST = "_folder" + SIDECAR_SUFFIX
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "bmp"})
# Image types dropswap cannot swap: in a folder with a folder manifest, such a file looks meant for
# processing and gets an UNSUPPORTED_TYPE report; any other stray file (notes.txt) is left alone.
OTHER_IMAGE_EXTENSIONS = frozenset(
    {"gif", "heic", "heif", "avif", "tif", "tiff", "svg", "jxl", "ico", "dng", "cr2", "cr3", "nef", "arw"}
)


# The stack's own output names (results/…/<name>.swapped.<ext>, <name>.<ext>.faces.json|html and, from
# stacks before issue 18, <name>.faces.json|html,
# <name>.<ext>.result.json). Uploaded back to inbox/ (a client globbing `*.jpg` beside its downloads) such a
# file is a result, not a photo: swapping it again would spend a credit nobody meant to spend.
OUTPUT_STEM_SUFFIX = ".swapped"
OUTPUT_SUFFIXES = (".faces.json", ".faces.html", ".result.json")


class KeyKind(Enum):
    IMAGE = "image"
    SIDECAR = "sidecar"
    FOLDER_MANIFEST = "folder_manifest"
    # Under inbox/, not a supported image: a stray file, or one meant for processing if it has a sidecar
    # (then it gets an UNSUPPORTED_TYPE report), or the sidecar of such a file
    UNSUPPORTED = "unsupported"
    # Under inbox/, named like the stack's own output (is_own_output), or the sidecar of such a file: never
    # swapped; it gets an OUTPUT_NAME report when a manifest applies to it
    OUTPUT = "output"
    OTHER = "other"


def decode_event_key(raw: str) -> str:
    """S3 event keys are URL-encoded with `+` for space (and some emulators quote `/` as %2F)."""
    return unquote_plus(raw)


def extension(key: str) -> str:
    return posixpath.splitext(key)[1].lstrip(".").lower()


def classify(key: str) -> KeyKind:
    if not key.startswith(INBOX) or key.endswith("/"):
        return KeyKind.OTHER
    if posixpath.basename(key) == FOLDER_MANIFEST:
        return KeyKind.FOLDER_MANIFEST
    if key.endswith(SIDECAR_SUFFIX):
        image = key[: -len(SIDECAR_SUFFIX)]
        if is_own_output(image):
            return KeyKind.OUTPUT
        return KeyKind.SIDECAR if extension(image) in IMAGE_EXTENSIONS else KeyKind.UNSUPPORTED
    if is_own_output(key):
        return KeyKind.OUTPUT
    if extension(key) in IMAGE_EXTENSIONS:
        return KeyKind.IMAGE
    # Other JSON files are no photos; a sidecar's name always ends with .faceswap.json
    return KeyKind.OTHER if extension(key) == "json" else KeyKind.UNSUPPORTED


def is_own_output(key: str) -> bool:
    """Whether a key's name is one the stack writes its outputs under: `<name>.swapped.<image ext>`, or a
    faces list, faces preview or report (any case: `A.SWAPPED.JPG` too)."""
    name = posixpath.basename(key).lower()
    stem = posixpath.splitext(name)[0]
    return (extension(name) in IMAGE_EXTENSIONS and stem.endswith(OUTPUT_STEM_SUFFIX)) or name.endswith(
        OUTPUT_SUFFIXES
    )


def looks_like_an_image(key: str) -> bool:
    """A supported photo, or an image of a type dropswap cannot swap (see OTHER_IMAGE_EXTENSIONS)."""
    return extension(key) in IMAGE_EXTENSIONS | OTHER_IMAGE_EXTENSIONS


def image_key_for_sidecar(sidecar_key: str) -> str:
    return sidecar_key[: -len(SIDECAR_SUFFIX)]


def sidecar_key_for_image(image_key: str) -> str:
    return image_key + SIDECAR_SUFFIX


def is_folder_manifest(key: str) -> bool:
    return posixpath.basename(key) == FOLDER_MANIFEST


def folder_manifest_key_for(image_key: str) -> str:
    """The folder manifest that would apply to a photo: the one of its own folder (never a parent's)."""
    return folder_of(image_key) + FOLDER_MANIFEST


def _results_base(image_key: str) -> str:
    return RESULTS + image_key[len(INBOX):] if image_key.startswith(INBOX) else RESULTS + image_key


def result_image_key(image_key: str) -> str:
    """results/<path>/<name>.swapped.<ext>"""
    base = _results_base(image_key)
    stem, ext = posixpath.splitext(base)
    return f"{stem}.swapped{ext}"


def faces_json_key(image_key: str) -> str:
    """results/<path>/<name>.<ext>.faces.json (before issue 18: <name>.faces.json, which a.jpg and a.png
    shared)"""
    return _results_base(image_key) + ".faces.json"


def faces_preview_key(image_key: str) -> str:
    """results/<path>/<name>.<ext>.faces.html"""
    return _results_base(image_key) + ".faces.html"


def report_key(image_key: str) -> str:
    """results/<path>/<name>.<ext>.result.json"""
    return _results_base(image_key) + ".result.json"


def folder_of(key: str) -> str:
    """The folder of a key, with a trailing slash (`inbox/party/`)."""
    head = posixpath.dirname(key)
    return head + "/" if head else ""
