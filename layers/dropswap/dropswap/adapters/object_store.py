"""S3 adapter: the only place that talks to S3 for the business logic."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from dropswap.domain.ports import ObjectChanged, ObjectInfo, SmallObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


# Large results go up from disk part by part in this thread: with boto3's default 10 transfer threads,
# each in-flight part costs buffers and a malloc arena (measured: +22 MB RSS for a 50 MB file, vs
# +1.5 MB flat without threads; benchmarks/stream_memory.py). A Lambda runs one event at a time anyway.
_FILE_UPLOAD = TransferConfig(use_threads=False)






class ObjectStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    def head(self, key: str, bucket: str | None = None) -> ObjectInfo | None:
        """Metadata of an object, or None when it does not exist."""
        b = bucket or self.bucket
        try:
            resp = self._s3.head_object(Bucket=b, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return _info(b, key, resp)

    def read_small(self, key: str, max_bytes: int, bucket: str | None = None) -> SmallObject | None:
        """A small object's metadata and content from one GET (so both are of the same version), or
        None when it does not exist. `data` is None past `max_bytes` (at most max_bytes + 1 are read)."""
        b = bucket or self.bucket
        resp = self._get(b, key)
        if resp is None:
            return None
        body = resp["Body"]
        data = body.read(max_bytes + 1)
        body.close()
        return SmallObject(_info(b, key, resp), data if len(data) <= max_bytes else None)

    def read_chunks(self, key: str, chunk_bytes: int, bucket: str | None = None) -> Iterator[bytes] | None:
        """An object's content `chunk_bytes` at a time, so memory holds one chunk whatever its size; None
        when it does not exist. The GET is made at once; the body is closed when the iterator ends."""
        b = bucket or self.bucket
        resp = self._get(b, key)
        return None if resp is None else _chunks(resp["Body"], chunk_bytes)

    def read_range(
        self, key: str, byte_range: str, *, bucket: str | None = None, if_match: str | None = None
    ) -> SmallObject | None:
        """Bytes of an object by an HTTP range (`bytes=0-65535`, `bytes=-4096`), with the whole object's
        size and ETag; None when it does not exist. ObjectChanged when its ETag is not `if_match`."""
        b = bucket or self.bucket
        resp = self._get(b, key, Range=byte_range, **({"IfMatch": f'"{if_match}"'} if if_match else {}))
        if resp is None:
            return None
        body = resp["Body"]
        data = body.read()
        body.close()
        info = _info(b, key, resp)
        total = str(resp.get("ContentRange", "")).rpartition("/")[2]
        return SmallObject(replace(info, size=int(total)) if total.isdigit() else info, data)

    def _get(self, bucket: str, key: str, **extra: str) -> Any:
        """One GetObject; None when the object does not exist, ObjectChanged when an IfMatch fails."""
        try:
            return self._s3.get_object(Bucket=bucket, Key=key, **extra)  # type: ignore[arg-type]
        except ClientError as exc:
            if _missing(exc):
                return None
            if _code(exc) in {"PreconditionFailed", "412"}:
                raise ObjectChanged(f"s3://{bucket}/{key}") from None
            raise

    def copy_pinned(self, src_key: str, etag: str, dest_key: str, *, src_bucket: str | None = None) -> None:
        """Copy an object into this bucket only if it is still the version with `etag` (ObjectChanged
        otherwise), so the copy holds exactly the bytes that were checked."""
        b = src_bucket or self.bucket
        try:
            self._s3.copy_object(
                Bucket=self.bucket,
                Key=dest_key,
                CopySource={"Bucket": b, "Key": src_key},
                CopySourceIfMatch=f'"{etag}"',
                # No tags: copying a source's tags would need s3:GetObjectTagging/PutObjectTagging too.
                TaggingDirective="REPLACE",
            )
        except ClientError as exc:
            if _code(exc) in {"PreconditionFailed", "412"} or _missing(exc):
                raise ObjectChanged(f"s3://{b}/{src_key}") from None
            raise

    def list_folder(self, folder: str, page_size: int = 1000) -> Iterator[str]:
        """The keys directly in `folder` (`inbox/party/`; not those in its subfolders), page by page."""
        token = ""
        while True:
            if token:
                resp = self._s3.list_objects_v2(
                    Bucket=self.bucket, Prefix=folder, Delimiter="/", MaxKeys=page_size,
                    ContinuationToken=token,
                )
            else:
                resp = self._s3.list_objects_v2(
                    Bucket=self.bucket, Prefix=folder, Delimiter="/", MaxKeys=page_size
                )
            for obj in resp.get("Contents", []):
                yield obj["Key"]
            token = resp.get("NextContinuationToken", "")
            if not resp.get("IsTruncated") or not token:
                return

    def put_json(self, key: str, document: Any) -> None:
        body = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8")
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/json; charset=utf-8"
        )

    def put_file(self, key: str, path: str, content_type: str) -> None:
        """Upload a file from disk with flat memory. By filename, s3transfer reads each multipart part
        lazily from disk; from an open file object it would buffer whole 8 MB parts in memory."""
        self._s3.upload_file(
            path, self.bucket, key, ExtraArgs={"ContentType": content_type}, Config=_FILE_UPLOAD
        )

    def delete(self, key: str) -> None:
        """Remove an object of the drop bucket (no error if there is none)."""
        self._s3.delete_object(Bucket=self.bucket, Key=key)

    def presign_get(self, key: str, expires_seconds: int, bucket: str | None = None) -> str:
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket or self.bucket, "Key": key},
            ExpiresIn=expires_seconds,
        )


def _chunks(body: Any, chunk_bytes: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_bytes)
    finally:
        body.close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in {"404", "NoSuchKey", "NotFound"}


def _info(bucket: str, key: str, resp: Mapping[str, Any]) -> ObjectInfo:
    """ObjectInfo from a HeadObject or GetObject response (they carry the same metadata fields)."""
    version = resp.get("VersionId")
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=int(resp.get("ContentLength", 0)),
        etag=str(resp.get("ETag", "")).strip('"'),
        content_type=str(resp.get("ContentType", "")),
        version_id=version if version and version != "null" else None,
    )
