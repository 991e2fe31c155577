"""The bodies of the two queues' messages (template.yaml: SubmitQueue, FinaliseQueue); docs/operations.md
documents them.

SubmitQueue carries:
- S3 event notifications for inbox/ (what S3 sends: `{"Records": [{"s3": {"bucket": {"name"}, "object":
  {"key", "eTag", "versionId"?}}}, ...]}`, keys URL-encoded), and S3's `s3:TestEvent` when the
  notification is set up (ignored);
- the reconciler's recheck of a WAITING job: `{"dropswap": "recheck", "job_id": "<job id>"}`;
- one photo of a folder manifest's folder, sent when the manifest arrives (the submitter lists the folder):
  `{"dropswap": "folder_photo", "manifest": {"key", "version"}, "key": "<photo key>"}`.
FinaliseQueue carries AKOOL's word on a job, from the webhook or the reconciler's listbyids:
`{"dropswap": "finalise", "job_id", "akool": {"_id", "status", "url", "reason"}, "source", "touch"}`.
A body that is none of these raises MalformedMessage (the message is retried, then lands in the DLQ).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dropswap.domain import keys
from dropswap.domain.akool import AkoolTruth

RECHECK = "recheck"
FOLDER_PHOTO = "folder_photo"
FINALISE = "finalise"


class MalformedMessage(ValueError):
    """A queue message this code does not understand."""


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str  # URL-decoded
    # The version the event is of (ObjectInfo.version: its version id, else its ETag); None if the record
    # names neither. It outlives the object: a folder manifest deleted before its event is handled.
    version: str | None = None


@dataclass(frozen=True)
class Recheck:
    job_id: str


@dataclass(frozen=True)
class FolderPhoto:
    manifest_key: str
    manifest_version: str
    key: str  # the photo


SubmitWork = ObjectCreated | Recheck | FolderPhoto


@dataclass(frozen=True)
class FinaliseWork:
    job_id: str
    truth: AkoolTruth
    touch: bool = False  # the reconciler's: rewrite PROCESSING even if unchanged (finalise.Finaliser.apply)


def recheck_body(job_id: str) -> str:
    return json.dumps({"dropswap": RECHECK, "job_id": job_id})


def folder_photo_body(manifest_key: str, manifest_version: str, photo_key: str) -> str:
    return json.dumps(
        {"dropswap": FOLDER_PHOTO, "manifest": {"key": manifest_key, "version": manifest_version},
         "key": photo_key}
    )


def finalise_body(job_id: str, truth: AkoolTruth, *, touch: bool = False) -> str:
    akool = {"_id": truth.akool_id, "status": truth.status, "url": truth.url, "reason": truth.reason}
    return json.dumps(
        {"dropswap": FINALISE, "job_id": job_id, "akool": akool, "source": truth.source, "touch": touch}
    )


def _load(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise MalformedMessage("not a JSON object")
    return data


def parse_submit_body(body: str) -> list[SubmitWork]:
    """The work one SubmitQueue message asks for; [] for S3's test event."""
    data = _load(body)
    if data.get("Event") == "s3:TestEvent":
        return []
    if data.get("dropswap") == RECHECK:
        return [Recheck(_job_id(data))]
    if data.get("dropswap") == FOLDER_PHOTO:
        return [_folder_photo(data)]
    records = data.get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedMessage("neither an S3 event notification nor a recheck")
    return [_object_created(r) for r in records]


def _object_created(record: Any) -> ObjectCreated:
    s3 = record.get("s3") if isinstance(record, dict) else None
    bucket = s3.get("bucket", {}).get("name") if isinstance(s3, dict) else None
    key = s3.get("object", {}).get("key") if isinstance(s3, dict) else None
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise MalformedMessage("an S3 record without bucket name and object key")
    obj = s3.get("object", {}) if isinstance(s3, dict) else {}
    version_id, etag = obj.get("versionId"), obj.get("eTag")
    version = (
        version_id if isinstance(version_id, str) and version_id and version_id != "null"
        else etag.strip('"') if isinstance(etag, str) and etag.strip('"') else None
    )
    return ObjectCreated(bucket, keys.decode_event_key(key), version)


def _folder_photo(data: Mapping[str, Any]) -> FolderPhoto:
    manifest = data.get("manifest")
    key = data.get("key")
    m_key = manifest.get("key") if isinstance(manifest, Mapping) else None
    m_version = manifest.get("version") if isinstance(manifest, Mapping) else None
    if not all(isinstance(v, str) and v for v in (key, m_key, m_version)):
        raise MalformedMessage("a folder_photo message without manifest key and version and photo key")
    return FolderPhoto(str(m_key), str(m_version), str(key))


def parse_finalise_body(body: str) -> FinaliseWork:
    data = _load(body)
    akool = data.get("akool")
    if data.get("dropswap") != FINALISE or not isinstance(akool, Mapping):
        raise MalformedMessage("not a finalise message")
    source = data.get("source") if isinstance(data.get("source"), str) else "webhook"
    truth = AkoolTruth.from_payload(akool, source=str(source))
    if truth is None:
        raise MalformedMessage("its akool part has no _id and status 1-4")
    return FinaliseWork(_job_id(data), truth, touch=data.get("touch") is True)


def _job_id(data: Mapping[str, Any]) -> str:
    job_id = data.get("job_id")
    if not isinstance(job_id, str) or not 0 < len(job_id) <= 128:
        raise MalformedMessage("no job_id")
    return job_id
