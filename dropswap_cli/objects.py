"""S3 as the commands use it: listings with ETags, uploads that skip unchanged files, safe downloads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from dropswap_cli.local_files import content_type

# Explicit, so a multipart upload's ETag can be recomputed locally (md5_etag) to tell unchanged files.
PART_SIZE = 8 * 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)


@dataclass(frozen=True)
class Remote:
    etag: str
    size: int
    modified: datetime | None = None

    @property
    def signature(self) -> tuple[str, datetime | None]:
        """What changes when an object is written again, even with the same bytes."""
        return (self.etag, self.modified)


def listing(s3: Any, bucket: str, prefix: str) -> dict[str, Remote]:
    """Every object under a prefix (one LIST per 1,000 keys)."""
    out: dict[str, Remote] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = Remote(obj["ETag"].strip('"'), int(obj["Size"]), obj.get("LastModified"))
    return out


def md5_etag(data: bytes | Path) -> str:
    """S3's ETag for these bytes uploaded with TRANSFER (SSE-S3): MD5, or MD5 of part MD5s with -N."""
    if isinstance(data, bytes):
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    size = data.stat().st_size
    with data.open("rb") as fh:
        if size < PART_SIZE:
            return hashlib.md5(fh.read(), usedforsecurity=False).hexdigest()
        parts = [hashlib.md5(chunk, usedforsecurity=False).digest()
                 for chunk in iter(lambda: fh.read(PART_SIZE), b"")]
    return f"{hashlib.md5(b''.join(parts), usedforsecurity=False).hexdigest()}-{len(parts)}"


def same(remote: Remote | None, data: bytes | Path) -> bool:
    """Whether the object already holds these bytes (size first: cheaper than hashing)."""
    if remote is None:
        return False
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    return remote.size == size and remote.etag == md5_etag(data)


def upload(s3: Any, bucket: str, key: str, data: bytes | Path) -> str:
    """Put bytes or a file at key; the ETag S3 gave it."""
    name = key.rsplit("/", 1)[-1]
    if isinstance(data, bytes):
        resp = s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type(name))
        return str(resp["ETag"]).strip('"')
    s3.upload_file(str(data), bucket, key, ExtraArgs={"ContentType": content_type(name)}, Config=TRANSFER)
    return str(s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')


def get_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """A JSON object's content; None when it is gone or not a JSON object."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def download(s3: Any, bucket: str, key: str, dest: Path) -> Path:
    """Download to dest through a temporary file beside it, so dest is never half-written (and a symlink at
    dest is replaced, never written through)."""
    return _replace(dest, lambda tmp: s3.download_file(bucket, key, tmp))


def save(dest: Path, data: bytes) -> Path:
    """Write bytes to dest as `download` does: whole or not at all, never through a symlink."""
    return _replace(dest, lambda tmp: Path(tmp).write_bytes(data))


def _replace(dest: Path, fill: Callable[[str], object]) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        fill(tmp)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return dest
