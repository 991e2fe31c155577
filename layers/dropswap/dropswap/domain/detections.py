"""What AKOOL's detector found in a job's images, and how it is remembered. Pure rules, no I/O.

Detection costs an AKOOL request (the account's request rate binds, docs/akool.md §6), so no image is
asked about twice when its answer is known:
- a job keeps its detections on its record (`Detections`, as JSON: DynamoDB holds no nested lists of
  numbers cheaply), so a retried job (no AKOOL slot, a 1005, a crash before the swap) asks nothing again;
- a source in S3 is also remembered per object version for every job (`source_cache_id`), so 500 photos
  sharing one face detect it once. An https source is remembered per job only: what a URL serves can
  change, an S3 version cannot.
Each image is named by what identifies its content (`ImageRef.kept_as`): the photo by "image" (a job is one
version of its photo, jobs.job_id_for), an S3 source by its bucket, key and checked ETag, an https source by
its URL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dropswap.domain.faces import DetectedFace, Region

PHOTO = "image"
# A detection kept per source version lives in the Jobs table under this prefix: never a job id (32 hex
# digits), never the slots item, and with no index attribute, so no index or job listing ever shows it.
CACHE_ID_PREFIX = "faces#"
# Kept detections larger than this are not kept (a crowd photo); the retry then simply detects again.
MAX_KEPT_CHARS = 64 * 1024


@dataclass(frozen=True)
class ImageRef:
    """An image the detector is asked about: the URL AKOOL fetches, what names its content among the job's
    kept detections, and (an S3 source) its shared cache entry."""

    url: str
    kept_as: str
    cache_id: str | None = None


def photo(url: str) -> ImageRef:
    return ImageRef(url, PHOTO)


def s3_source(url: str, bucket: str, key: str, etag: str) -> ImageRef:
    """An S3 source, by the version whose bytes were checked and copied for AKOOL (staging.py)."""
    return ImageRef(url, f"s3://{bucket}/{key}#{etag}", source_cache_id(bucket, key, etag))


def url_source(url: str) -> ImageRef:
    return ImageRef(url, url)


def source_cache_id(bucket: str, key: str, etag: str) -> str:
    """The cache entry of one version of an S3 source (the same bytes always have the same faces)."""
    digest = hashlib.sha256("\n".join((bucket, key, etag)).encode()).hexdigest()[:40]
    return CACHE_ID_PREFIX + digest


def faces_to_data(faces: Sequence[DetectedFace]) -> list[dict[str, Any]]:
    """The faces as JSON data: box, landmarks and `landmarks_str` (what planning uses; no expiring crops)."""
    return [
        {
            "region": [f.region.x, f.region.y, f.region.w, f.region.h],
            "landmarks": [list(p) for p in f.landmarks],
            "landmarks_str": f.landmarks_str,
        }
        for f in faces
    ]


def faces_from_data(data: Any) -> list[DetectedFace] | None:
    """`faces_to_data`'s output read back; None for anything else (then the image is detected again)."""
    if not isinstance(data, list):
        return None
    faces: list[DetectedFace] = []
    try:
        for item in data:
            region = [int(v) for v in item["region"]]
            points = tuple((int(p[0]), int(p[1])) for p in item["landmarks"])
            text = item["landmarks_str"]
            if len(region) != 4 or not isinstance(text, str):
                return None
            faces.append(DetectedFace(Region(*region), points, text))
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return faces


@dataclass
class Detections:
    """A job's detections so far: faces per image (`ImageRef.kept_as`), and AKOOL detect requests made."""

    faces: dict[str, list[DetectedFace]] = field(default_factory=dict)
    calls: int = 0

    @classmethod
    def from_json(cls, text: str | None) -> Detections:
        """What the job record keeps; nothing usable in it means nothing is known yet."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(data, Mapping):
            return cls()
        calls = data.get("calls")
        known: dict[str, list[DetectedFace]] = {}
        images = data.get("faces")
        for name, value in (images.items() if isinstance(images, Mapping) else ()):
            faces = faces_from_data(value)
            if isinstance(name, str) and faces is not None:
                known[name] = faces
        return cls(known, calls if isinstance(calls, int) and calls >= 0 else 0)

    def to_json(self) -> str | None:
        """The JSON the job record keeps; None when it is too large to keep (MAX_KEPT_CHARS)."""
        text = json.dumps(
            {"calls": self.calls, "faces": {k: faces_to_data(v) for k, v in self.faces.items()}},
            separators=(",", ":"),
        )
        return text if len(text) <= MAX_KEPT_CHARS else None
