"""Opt-in end-to-end test against a deployed stack (real AWS, real AKOOL; costs AKOOL credits).

Run with: DROPSWAP_E2E_STACK=<stack name> AWS_PROFILE=... .venv/bin/pytest -m e2e tests/e2e
Skipped otherwise (and always in CI: there is no AWS here). It acts only as a user would: it uploads a
public-domain photo and a sidecar to the stack's drop bucket and waits for the report under results/.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from devkit import photos
from dropswap.domain.jobs import TERMINAL

STACK = os.environ.get("DROPSWAP_E2E_STACK", "")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not STACK, reason="set DROPSWAP_E2E_STACK to run against a deployed stack"),
]


def test_given_deployed_stack_when_photo_and_sidecar_dropped_then_swapped_result_arrives() -> None:
    import boto3

    # Given the deployed stack's bucket (from its outputs)
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    }
    bucket = outputs["DropBucketName"]
    s3 = boto3.client("s3")
    prefix = f"inbox/e2e-{uuid.uuid4().hex[:8]}/"
    # When a face, a photo and its sidecar are dropped
    s3.put_object(Bucket=bucket, Key=prefix + "faces/hopper.jpg",
                  Body=photos.jpeg_bytes(photos.grace_hopper_bgr()))
    s3.put_object(Bucket=bucket, Key=prefix + "me.jpg", Body=photos.jpeg_bytes(photos.astronaut_bgr()))
    manifest = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}]}
    s3.put_object(Bucket=bucket, Key=prefix + "me.jpg.faceswap.json", Body=json.dumps(manifest).encode())
    # Then a SUCCEEDED report and the swapped image appear under results/ (AKOOL takes minutes)
    report_key = "results/" + prefix[len("inbox/"):] + "me.jpg.result.json"
    deadline = time.monotonic() + float(os.environ.get("DROPSWAP_E2E_TIMEOUT", "1200"))
    report = None
    while time.monotonic() < deadline:
        try:
            report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            report = None
        # The report exists from the job's first moment (QUEUED, PROCESSING): wait for its end.
        if report is not None and report.get("status") in TERMINAL:
            break
        time.sleep(2)
    assert report is not None, "no report before the deadline"
    assert report["status"] == "SUCCEEDED", report
    result_key = report["result"].split("/", 3)[3]
    assert s3.head_object(Bucket=bucket, Key=result_key)["ContentLength"] > 0
