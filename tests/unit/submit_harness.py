"""Test harness for the submit path: moto S3/DynamoDB (the `resources` fixture) + the fake AKOOL."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from devkit import images
from devkit.credentials import TEST_API_KEY, TEST_CLIENT_ID
from dropswap.adapters.akool_client import AkoolClient
from dropswap.adapters.job_store import JobStore
from dropswap.adapters.object_store import ObjectStore
from dropswap.app import submit as app_submit
from dropswap.domain.akool import AkoolCredentials
from dropswap.domain.jobs import Job, job_id_for
from dropswap.flows.submit.submitter import Outcome, Submitter
from dropswap.settings import Settings, load_settings
from tests.conftest import BUCKET, REGION, TABLE
from tests.unit.akool_fake import BASE, DETECT, FakeAkool, face

CREDS = AkoolCredentials(client_id=TEST_CLIENT_ID, api_key=TEST_API_KEY)

# A real JPEG (a generated gradient): the submit path checks every input's header and end before AKOOL.
JPEG = images.jpeg()
# As dropswap.adapters.aws configures it: SigV4 presigned URLs.
S3_CONFIG = Config(signature_version="s3v4")


@dataclass
class Harness:
    akool: FakeAkool
    settings: Settings

    def __post_init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION, config=S3_CONFIG)
        self.store = JobStore(boto3.client("dynamodb", region_name=REGION), TABLE)
        self.objects = ObjectStore(self.s3, BUCKET)

    def submitter(
        self,
        objects: ObjectStore | None = None,
        akool: Callable[[], AkoolClient] | None = None,
        **kwargs: Any,
    ) -> Submitter:
        # Own clients per submitter, so threads in race tests do not share one.
        store = JobStore(boto3.client("dynamodb", region_name=REGION), TABLE)
        objs = objects or ObjectStore(boto3.client("s3", region_name=REGION, config=S3_CONFIG), BUCKET)
        client = akool or (lambda: AkoolClient(CREDS, BASE, DETECT))
        return app_submit.submitter(self.settings, store, objs, client, **kwargs)

    # uploads (what the user does) and their events
    def put(self, key: str, body: bytes = JPEG, bucket: str = BUCKET) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def put_manifest(self, image_key: str, doc: Any) -> str:
        key = image_key + ".faceswap.json"
        self.put(key, doc if isinstance(doc, bytes) else json.dumps(doc).encode())
        return key

    def event(self, key: str, submitter: Submitter | None = None) -> list[Outcome]:
        return (submitter or self.submitter()).handle_object_created(BUCKET, key)

    def upload(self, key: str, body: bytes = JPEG) -> list[Outcome]:
        self.put(key, body)
        return self.event(key)

    # what the user and the operator see
    def job_id(self, image_key: str) -> str:
        sidecar = image_key + ".faceswap.json"
        info = self.objects.head(sidecar)
        assert info is not None
        photo = self.objects.head(image_key)
        return job_id_for(BUCKET, sidecar, info.version, image_key, photo.version if photo else "")

    def job(self, image_key: str) -> Job:
        job = self.store.get(self.job_id(image_key))
        assert job is not None
        return job

    def report(self, image_key: str) -> dict[str, Any]:
        key = "results/" + image_key[len("inbox/") :] + ".result.json"
        data: dict[str, Any] = json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        return data

    def has_report(self, image_key: str) -> bool:
        return self.objects.head("results/" + image_key[len("inbox/") :] + ".result.json") is not None

    def inbox_etags(self) -> dict[str, str]:
        listing = self.s3.list_objects_v2(Bucket=BUCKET, Prefix="inbox/")
        return {o["Key"]: o["ETag"] for o in listing.get("Contents", [])}


def make_harness(akool: FakeAkool, **overrides: Any) -> Harness:
    base = load_settings()
    settings = Settings(**{**base.__dict__, **overrides})
    return Harness(akool, settings)


def hopper_harness(akool: FakeAkool, photos: str) -> Harness:
    """A harness whose AKOOL finds one face in the photos under `photos` (a key prefix below inbox/, or a
    photo's) and one in the face source inbox/faces/hopper.jpg, which is uploaded."""
    akool.faces[photos] = [face(120, 80, 90, 110)]
    akool.faces["faces/hopper.jpg"] = [face(20, 30, 120, 140)]
    harness = make_harness(akool)
    harness.put("inbox/faces/hopper.jpg")
    return harness


def party_harness(akool: FakeAkool) -> Harness:
    """A harness whose AKOOL finds one face in the photo inbox/party/team.jpg and one in the face source
    inbox/party/faces/alice.jpg (neither is uploaded)."""
    akool.faces["party/team.jpg"] = [face(120, 80, 90, 110)]
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    return make_harness(akool)
