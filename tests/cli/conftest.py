"""The CLI against moto in-process: a bucket and a CloudFormation stack whose outputs name it, and a fake
pipeline that plays the stack's part (reports and results) whenever the CLI pauses between polls."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import boto3
import pytest

from dropswap_cli import cli, layout, objects, reports
from tests.conftest import REGION

STACK = "dropswap-test"
BUCKET = "dropswap-cli-test-drop"
_TEMPLATE = {
    "Resources": {"DropBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": BUCKET}}},
    "Outputs": {"DropBucketName": {"Value": {"Ref": "DropBucket"}}},
}
# A JPEG's first bytes: enough for the CLI, which only checks that a file is an image.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


class FakePipeline:
    """What the stack does with the drop folder, reduced to its outputs: for each photo with a manifest
    (its sidecar, else its folder's manifest) whose photo or manifest changed since it last ran, a report
    (and a swapped photo when it succeeds), or in faces mode the faces list and preview."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.status = "SUCCEEDED"
        self.error: dict[str, str] | None = None
        self.jobs: list[str] = []  # the photos a job ran for, in order
        self.manifests: dict[str, dict[str, Any]] = {}  # manifest key -> content, as the stack read it
        self._ran: dict[str, tuple[str, str]] = {}

    def run(self, _seconds: float = 0) -> None:
        inbox = {o["Key"]: o["ETag"] for o in self._list("inbox/")}
        for key in sorted(inbox):
            if posixpath.splitext(key)[1].lstrip(".") not in layout.IMAGE_EXTENSIONS or "/faces/" in key:
                continue
            manifest_key = key + layout.SIDECAR_SUFFIX
            if manifest_key not in inbox:
                manifest_key = posixpath.dirname(key) + "/" + layout.FOLDER_MANIFEST
            if manifest_key not in inbox or self._ran.get(key) == (inbox[key], inbox[manifest_key]):
                continue
            self._ran[key] = (inbox[key], inbox[manifest_key])
            manifest = json.loads(self._get(manifest_key))
            self.manifests[manifest_key] = manifest
            self.jobs.append(key)
            self._finish(key, manifest)

    def _finish(self, key: str, manifest: dict[str, Any]) -> None:
        rel = key[len(layout.INBOX):]
        report: dict[str, Any] = {"job_id": f"job-{len(self.jobs)}", "status": self.status,
                                  "image": f"s3://{BUCKET}/{key}", "result": None, "error": self.error}
        if manifest.get("mode") == "faces":
            stem = layout.faces_prefix(rel)
            self._put(stem + "json", json.dumps({"faces": [{"index": 0, "box": [10, 20, 30, 40]}]}).encode())
            self._put(stem + "html", b"<html>faces</html>")
        elif self.status == "SUCCEEDED":
            self._put(layout.swapped(rel), b"swapped:" + self._get(key))
            report["result"] = f"s3://{BUCKET}/{layout.swapped(rel)}"
        self._put(layout.report(rel), json.dumps(report).encode())

    def _list(self, prefix: str) -> list[dict[str, Any]]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [o for page in pages for o in page.get("Contents", [])]

    def _get(self, key: str) -> bytes:
        data: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return data

    def _put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(o["Key"] for o in self._list(prefix))


@pytest.fixture
def s3(moto_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A deployed stack in moto (bucket + outputs), found with --stack; wide output, no local stack."""
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("DROPSWAP_STACK", raising=False)
    monkeypatch.delenv("DROPSWAP_LOCAL", raising=False)
    monkeypatch.chdir(tmp_path)
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=STACK, TemplateBody=json.dumps(_TEMPLATE))
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def pipeline(s3: Any, monkeypatch: pytest.MonkeyPatch) -> FakePipeline:
    """The stack's work happens while the CLI pauses between polls (no real waiting)."""
    fake = FakePipeline(s3)
    monkeypatch.setattr(reports, "pause", fake.run)
    return fake


@pytest.fixture
def uploads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys the CLI uploads, in order (S3's LastModified has one-second resolution: not enough)."""
    sent: list[str] = []
    real = objects.upload

    def recording(s3: Any, bucket: str, key: str, data: bytes | Path) -> str:
        sent.append(key)
        return real(s3, bucket, key, data)

    monkeypatch.setattr(objects, "upload", recording)
    return sent


def run_cli(*argv: str) -> int:
    return cli.main([*argv, "--stack", STACK])


def photo(folder: Path, name: str, data: bytes = JPEG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path
