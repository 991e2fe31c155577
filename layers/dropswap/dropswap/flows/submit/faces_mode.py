"""The work of a `"mode": "faces"` job: detection only, no swap (submission.py ends the job).

AKOOL's detector gets a presigned URL of the photo, as for a swap; the faces it finds are numbered left to
right as a manifest's `target` numbers them, and written as `results/<path>/<name>.<ext>.faces.json` and
a preview page `results/<path>/<name>.<ext>.faces.html` (faces_preview.py). The page is built in a
temporary file from the photo read chunk by chunk, then uploaded from disk, so memory stays flat whatever
the photo's size (up to MAX_IMAGE_BYTES; the file is about 4/3 of the photo, well within Lambda's /tmp).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from dropswap.domain import keys
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.jobs import JobRef
from dropswap.domain.manifest import ManifestError
from dropswap.domain.ports import InputReader, ReportSink, SwapApi
from dropswap.flows.submit import akool_swap


class PreviewFiles(Protocol):
    """The photo read in chunks, the preview uploaded from disk (object_store.ObjectStore)."""

    def read_chunks(
        self, key: str, chunk_bytes: int, bucket: str | None = None
    ) -> Iterator[bytes] | None: ...

    def put_file(self, key: str, path: str, content_type: str) -> None: ...


class PreviewObjects(InputReader, ReportSink, PreviewFiles, Protocol): ...


class PhotoGone(Exception):
    """The photo was deleted between its check and its preview (retryable: the job then waits for it)."""


@dataclass(frozen=True)
class FacesFound:
    faces: list[dict[str, Any]]  # [{"index", "box": [x, y, w, h]}], left to right
    preview_key: str

    def summary(self) -> dict[str, Any]:
        """What the job record keeps (the report's `faces` comes from it, report.py)."""
        return {"mode": "faces", "faces_detected": len(self.faces), "faces": self.faces}


def detect_and_preview(
    akool: SwapApi, objects: PreviewObjects, ref: JobRef, *, presign_ttl: int, max_image_bytes: int
) -> FacesFound:
    """Detect the photo's faces and write faces.json and the preview. ManifestError: the photo cannot be
    read (by AKOOL, or by us: gone or grown since its check); AkoolError goes up as it is."""
    # Imported here: only a "mode": "faces" job needs the page (cold start of every other submit).
    from dropswap.domain import faces_preview as preview

    image_url = objects.presign_get(ref.image_key, presign_ttl)
    faces = preview.face_list(akool_swap.detect(akool, image_url, "image"))
    preview_key = keys.faces_preview_key(ref.image_key)
    photo = objects.read_chunks(ref.image_key, preview.CHUNK_BYTES)
    if photo is None:
        # Deleted since the input gate saw it: the retry finds it missing, and the job WAITs for it.
        raise PhotoGone(ref.image_key)
    with tempfile.NamedTemporaryFile(suffix=".html") as page:
        try:
            preview.write_preview(
                page, image_key=ref.image_key, photo=photo, faces=faces, max_photo_bytes=max_image_bytes
            )
        except preview.PhotoTooLarge:
            raise ManifestError(
                "image", f"{ref.image_key} is larger than {max_image_bytes} bytes; resize it",
                code=ErrorCode.TOO_LARGE,
            ) from None
        page.flush()
        objects.put_file(preview_key, page.name, preview.CONTENT_TYPE)
    bucket = f"s3://{ref.bucket}/"
    objects.put_json(
        keys.faces_json_key(ref.image_key),
        {"job_id": ref.job_id, "image": bucket + ref.image_key, "preview": bucket + preview_key,
         "faces": faces},
    )
    return FacesFound(faces, preview_key)
