"""`dropswap doctor` against the local stack, as a user runs it: a healthy stack passes, and a broken bucket
notification or an alarm notifying the wrong topic is reported and fails the run (exit 1). With
--swap-sample it also runs one real swap of its bundled drawing and leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dropswap_cli.doctor import SAMPLE_FOLDER
from local.stack import STACK_NAME, LocalStack
from tests.integration.helpers import User
from tests.integration.test_cli import dropswap

pytestmark = pytest.mark.integration


def _run(stack: LocalStack, tmp_path: Path, *args: str) -> tuple[int, dict[str, list[dict[str, Any]]], str]:
    done = dropswap(stack, "doctor", "--json", *args, cwd=tmp_path, timeout=420)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    by_name: dict[str, list[dict[str, Any]]] = {}
    for check in json.loads(done.stdout)["checks"]:
        by_name.setdefault(check["name"], []).append(check)
    return done.returncode, by_name, done.stderr


def _checks(stack: LocalStack, tmp_path: Path) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    code, checks, _ = _run(stack, tmp_path)
    return code, checks


def _doctor_objects(stack: LocalStack) -> list[str]:
    """Every key under the doctor's own folders of inbox/ and results/."""
    s3 = stack.client("s3")
    listings = [s3.list_objects_v2(Bucket=stack.bucket, Prefix=top + SAMPLE_FOLDER)
                for top in ("inbox/", "results/")]
    return [o["Key"] for listing in listings for o in listing.get("Contents", [])]


def _statuses(checks: dict[str, list[dict[str, Any]]], name: str) -> list[str]:
    return [c["status"] for c in checks[name]]


def test_given_the_local_stack_when_doctor_runs_then_every_wiring_check_passes(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given the local stack as `make up` deploys it, When the user runs dropswap doctor
    code, checks = _checks(stack, tmp_path)
    # Then it exits 0 and each wiring check is ok (nobody subscribed to the alarm topic is only a warning)
    assert code == 0, checks
    for name in ("outputs", "bucket notification", "SubmitQueue", "FinaliseQueue", "alarms", "webhook",
                 "AKOOL secret"):
        assert _statuses(checks, name) == ["ok"], (name, checks[name])
    assert _statuses(checks, "alarm topic") == ["warn"]
    assert "FinaliseFunction" not in checks["AKOOL secret"][0]["detail"]
    # And without --swap-sample it swapped nothing and uploaded nothing
    assert "sample swap" not in checks
    assert _doctor_objects(stack) == []


@pytest.fixture
def notification_removed(stack: LocalStack) -> Iterator[None]:
    s3 = stack.client("s3")
    saved = s3.get_bucket_notification_configuration(Bucket=stack.bucket)
    saved.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    try:
        yield
    finally:
        s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration=saved)


def test_given_the_bucket_notification_removed_when_doctor_runs_then_it_fails_naming_it(
    stack: LocalStack, notification_removed: None, tmp_path: Path
) -> None:
    # Given the drop bucket no longer notifies the SubmitQueue (uploads would start nothing)
    # When the user runs dropswap doctor, Then it exits 1 and says so, and what to do
    code, checks = _checks(stack, tmp_path)
    assert code == 1
    [check] = checks["bucket notification"]
    assert check["status"] == "FAIL" and "does not notify the SubmitQueue" in check["detail"]
    assert "sam deploy" in check["detail"]


@pytest.fixture
def alarm_on_another_topic(stack: LocalStack) -> Iterator[str]:
    cfn, cloudwatch = stack.client("cloudformation"), stack.client("cloudwatch")
    resources = cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
    alarm = next(r for r in resources if r["ResourceType"] == "AWS::CloudWatch::Alarm")
    [saved] = cloudwatch.describe_alarms(AlarmNames=[alarm["PhysicalResourceId"]])["MetricAlarms"]
    other = stack.client("sns").create_topic(Name="not-the-alarm-topic")["TopicArn"]
    keys = ("AlarmName", "MetricName", "Namespace", "Statistic", "Period", "EvaluationPeriods", "Threshold",
            "ComparisonOperator", "Dimensions", "TreatMissingData", "AlarmDescription", "DatapointsToAlarm")
    kept = {k: saved[k] for k in keys if k in saved}

    def put(actions: list[str]) -> None:
        cloudwatch.put_metric_alarm(**kept, AlarmActions=actions, OKActions=saved.get("OKActions", []))

    put([other])
    try:
        yield alarm["LogicalResourceId"]
    finally:
        put(saved["AlarmActions"])


def test_given_an_alarm_notifying_another_topic_when_doctor_runs_then_it_fails_naming_the_alarm(
    stack: LocalStack, alarm_on_another_topic: str, tmp_path: Path
) -> None:
    # Given one of the stack's alarms now notifies another SNS topic (its operator would never hear of it)
    # When the user runs dropswap doctor, Then it exits 1 naming that alarm
    code, checks = _checks(stack, tmp_path)
    assert code == 1
    [check] = checks["alarms"]
    assert check["status"] == "FAIL" and alarm_on_another_topic in check["detail"]


def test_given_swap_sample_when_doctor_runs_then_one_real_swap_succeeds_and_nothing_is_left_behind(
    stack: LocalStack, user: User, tmp_path: Path
) -> None:
    # Given the local stack, When the user runs dropswap doctor --swap-sample
    submitted = len(user.submissions())
    code, checks, stderr = _run(stack, tmp_path, "--swap-sample", "--timeout", "300")
    # Then it said beforehand that this costs an AKOOL credit, and the sample swap succeeded (exit 0)
    assert "costs one AKOOL credit" in stderr
    assert code == 0, checks
    [check] = checks["sample swap"]
    assert check["status"] == "ok" and check["detail"].startswith("SUCCEEDED"), check
    # And exactly one swap reached AKOOL
    assert len(user.submissions()) == submitted + 1
    # And once the pipeline is at rest, nothing it uploaded or the stack wrote for it is left
    user.wait_at_rest()
    assert _doctor_objects(stack) == []


def test_given_akool_failing_the_job_when_doctor_swaps_the_sample_then_it_fails_saying_why_and_cleans_up(
    stack: LocalStack, user: User, tmp_path: Path
) -> None:
    # Given AKOOL ends the next job in failure
    user.admin("POST", "faults", {"fail_jobs": 1})
    # When the user runs dropswap doctor --swap-sample
    code, checks, _ = _run(stack, tmp_path, "--swap-sample", "--timeout", "300")
    # Then the run fails (exit 1) on the sample swap, naming the job's end
    assert code == 1
    [check] = checks["sample swap"]
    assert check["status"] == "FAIL" and check["detail"].startswith("FAILED"), check
    # And it still leaves nothing behind
    user.wait_at_rest()
    assert _doctor_objects(stack) == []
