"""Is a job still the latest of its photo? Only the latest job may write the photo's public names in
results/ (the swapped image and the report: keys.result_image_key, keys.report_key).

The truth is what inbox/ holds now, not what the job store remembers: a job is superseded when its
sidecar or its photo is there in another version than the job is for (the newer version has, or will
have on its own upload event, a job of its own). A sidecar or photo deleted since does not supersede:
nothing newer exists, and a user who tidies inbox/ after a drop still gets the result. A folder
manifest's job is also superseded once its photo has a sidecar of its own (a sidecar wins). Two HEADs, made
only when a job ends (flows: finaliser, reconcile); the submit path reads both anyway (submitter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from dropswap.domain import keys
from dropswap.domain.jobs import OPEN, Job

if TYPE_CHECKING:  # a value only: the logic never imports the boto3 adapters
    from dropswap.domain.ports import ObjectInfo


class Heads(Protocol):
    def head(self, key: str, bucket: str | None = None) -> ObjectInfo | None: ...


def superseded_by(objects: Heads, job: Job) -> str | None:
    """The key whose newer version supersedes `job`, or None when the job is still the latest."""
    if keys.is_folder_manifest(job.sidecar_key) and job.image_key:
        own = keys.sidecar_key_for_image(job.image_key)
        if objects.head(own) is not None:
            return own
    checks = [(job.sidecar_key, job.sidecar_etag)]
    # An open job's photo was there when it was submitted: "" only on records from before the photo's
    # version was part of a job's identity, which are not superseded for that.
    if job.image_etag or job.status not in OPEN:
        checks.append((job.image_key, job.image_etag))
    for key, version in checks:
        if not key:
            continue
        info = objects.head(key)
        if info is not None and info.version != version:
            return key
    return None
