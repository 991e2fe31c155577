"""Pinned copies of a job's checked inputs: what AKOOL fetches is exactly what input_gate checked.

The bucket is not versioned, so a presigned URL of `inbox/...` would serve whatever is there when AKOOL
fetches it (maybe minutes later, a replaced photo). Instead each checked input is copied to
`staging/<job_id>/<n>/<its key>`, conditional on the checked ETag (CopySourceIfMatch), and the copy is
presigned. staging/ is private (no S3 notification, no user access) and a lifecycle rule (template.yaml)
expires it after a day. The original key stays in the copy's name, so its extension (AKOOL's detector
reads the type from it first) and what a log shows are unchanged.
"""

from __future__ import annotations

from typing import Protocol

from dropswap.domain.ports import InputReader, Staging
from dropswap.flows.submit.input_gate import CheckedInput

STAGING = "staging/"
_MAX_KEY_BYTES = 1024  # S3's key limit


class StagingObjects(InputReader, Staging, Protocol): ...


def staging_key(job_id: str, n: int, key: str) -> str:
    """Where input `n` of a job is staged; the original key's tail is kept within S3's key limit."""
    prefix = f"{STAGING}{job_id}/{n}/"
    room = _MAX_KEY_BYTES - len(prefix.encode())
    tail = key.encode()[-room:].decode("utf-8", errors="ignore")
    return prefix + tail


def stage(
    objects: StagingObjects, job_id: str, checked: list[CheckedInput], ttl: int
) -> dict[tuple[str, str], str]:
    """Presigned URLs of pinned copies, by (bucket, key) of the original. ObjectChanged when an input is
    no longer the version checked (the caller retries: the new version is checked again)."""
    urls: dict[tuple[str, str], str] = {}
    for n, c in enumerate(checked):
        dest = staging_key(job_id, n, c.item.key)
        objects.copy_pinned(c.item.key, c.etag, dest, src_bucket=c.item.bucket)
        urls[(c.item.bucket, c.item.key)] = objects.presign_get(dest, ttl)
    return urls
