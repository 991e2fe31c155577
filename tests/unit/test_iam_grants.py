"""Each function's S3, DynamoDB, SQS and Secrets Manager grants cover every call its code makes.

Every moto-backed unit test already checks the calls it makes (tests/unit/conftest.py). Here: the matcher
and the attribution themselves, the paths local runs cannot reach (extra source buckets, other
partitions), and the read grants: only SubmitFunction reads inputs (issue 9 found them too wide), the
reconciler hands rechecks to it through the SubmitQueue (issue 10).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest

from devkit.template import functions, load_template
from dropswap.domain.jobs import Status
from tests.conftest import BUCKET, REGION, load_event, load_handler
from tests.unit.akool_fake import FakeAkool, face, fake_akool
from tests.unit.call_recorder import RecordedCall, attribute, function_code, recording
from tests.unit.cfn_eval import Stack
from tests.unit.iam_grants import EXTRA_BUCKETS, unit_stack, violations
from tests.unit.iam_match import Need, Statement, UnknownOperation, allows, needs, role_statements
from tests.unit.queue_support import drain
from tests.unit.sam_transform import NO_EXTRA_BUCKETS, SECRET_ARN, TWO_EXTRA_BUCKETS, transformed_template
from tests.unit.submit_harness import JPEG
from tests.unit.test_finalise_support import FakeContext, get_job

READERS = ("SubmitFunction",)
# HEAD of a job's sidecar and photo only (latest.py: is the job still the latest of its photo?)
INBOX_HEADERS = ("FinaliseFunction", "ReconcileFunction")
NON_READERS = ("WebhookFunction",)
DROP_ARN = f"arn:aws:s3:::{BUCKET}"
SUBMITTER = "dropswap.flows.submit.submitter"
FINALISER = "dropswap.flows.common.finaliser"
OBJECTS = "dropswap.adapters.object_store"


# -- the matcher ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stmt", "need", "allowed"),
    [
        (Statement("Allow", ("s3:GetObject",), (f"{DROP_ARN}/inbox/*",)),
         Need("s3:GetObject", f"{DROP_ARN}/inbox/a/b.jpg"), True),
        (Statement("Allow", ("s3:GetObject",), (f"{DROP_ARN}/inbox/*",)),
         Need("s3:GetObject", f"{DROP_ARN}/results/a.jpg"), False),
        (Statement("Allow", ("s3:GetObject",), (f"{DROP_ARN}/inbox/*",)),
         Need("s3:GetObject", f"{DROP_ARN}-other/inbox/a.jpg"), False),
        (Statement("Allow", ("S3:getobject",), (f"{DROP_ARN}/*",)),
         Need("s3:GetObject", f"{DROP_ARN}/x"), True),
        (Statement("Allow", ("s3:Get*",), (f"{DROP_ARN}/*",)), Need("s3:GetObject", f"{DROP_ARN}/x"), True),
        (Statement("Allow", ("s3:ListBucket",), (f"{DROP_ARN}/*",)), Need("s3:ListBucket", DROP_ARN), False),
        (Statement("Allow", ("s3:GetObject",), ("arn:aws:s3:::b/a?c",)),
         Need("s3:GetObject", "arn:aws:s3:::b/abc"), True),
        (Statement("Allow", ("s3:GetObject",), ("arn:aws:s3:::b/a?c",)),
         Need("s3:GetObject", "arn:aws:s3:::b/ac"), False),
        # A Condition is not evaluated here, so it never counts as an Allow (strict side).
        (Statement("Allow", ("s3:GetObject",), ("*",), conditional=True),
         Need("s3:GetObject", DROP_ARN), False),
    ],
)
def test_given_statement_when_matched_then_iam_wildcard_semantics(
    stmt: Statement, need: Need, allowed: bool
) -> None:
    assert allows([stmt], need) is allowed


def test_given_allow_and_matching_deny_then_denied() -> None:
    allow = Statement("Allow", ("s3:*",), ("*",))
    deny = Statement("Deny", ("s3:GetObject",), (f"{DROP_ARN}/results/*",))
    assert allows([allow, deny], Need("s3:GetObject", f"{DROP_ARN}/inbox/a.jpg"))
    assert not allows([allow, deny], Need("s3:GetObject", f"{DROP_ARN}/results/a.jpg"))


def test_given_calls_then_needs_are_what_aws_checks() -> None:
    stack = unit_stack(SECRET_ARN)
    head = needs("s3", "HeadObject", {"Bucket": "b", "Key": "inbox/a.jpg"}, stack)
    # A HEAD of a missing key answers 404 only with ListBucket (else 403, and the job would not wait).
    assert [(n.action, n.resource) for n in head] == [
        ("s3:GetObject", "arn:aws:s3:::b/inbox/a.jpg"), ("s3:ListBucket", "arn:aws:s3:::b")]
    part = needs("s3", "UploadPart", {"Bucket": "b", "Key": "k"}, stack)
    assert [n.action for n in part] == ["s3:PutObject"]
    query = needs("dynamodb", "Query", {"TableName": "t", "IndexName": "open-jobs"}, stack)
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
    assert query == [Need("dynamodb:Query", f"{table}/index/open-jobs")]
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/dropswap-submit"
    assert needs("sqs", "ChangeMessageVisibility", {"QueueUrl": queue}, stack) == [
        Need("sqs:ChangeMessageVisibility", "arn:aws:sqs:us-east-1:123456789012:dropswap-submit")]
    with pytest.raises(UnknownOperation):
        needs("s3", "PutBucketPolicy", {"Bucket": "b"}, stack)


# -- which function's code makes a call ----------------------------------------------------------------
def test_given_handlers_then_import_closures_follow_the_code() -> None:
    code = {f.name: f.modules for f in function_code(functions(load_template()))}
    assert set(code) == {"SubmitFunction", "WebhookFunction", "FinaliseFunction", "ReconcileFunction"}
    assert SUBMITTER in code["SubmitFunction"] and FINALISER not in code["SubmitFunction"]
    # The webhook only verifies and enqueues: none of the finaliser's code (downloads, reports) is its.
    assert "dropswap.flows.webhook" in code["WebhookFunction"]
    assert not {SUBMITTER, FINALISER} & code["WebhookFunction"]
    assert {FINALISER, "dropswap.flows.finalise"} <= code["FinaliseFunction"]
    assert {"dropswap.flows.reconcile", FINALISER} <= code["ReconcileFunction"]
    assert SUBMITTER not in code["ReconcileFunction"]


def _call(modules: set[str], handlers: frozenset[str] = frozenset(), **params: str) -> RecordedCall:
    return RecordedCall("s3", "PutObject", params, frozenset(modules), handlers, SECRET_ARN)


def test_given_call_paths_then_attributed_to_the_functions_that_run_them() -> None:
    code = function_code(functions(load_template()))
    submitter = _call({SUBMITTER, OBJECTS})
    assert attribute(submitter, code) == ["SubmitFunction"]
    assert attribute(_call({FINALISER, OBJECTS}), code) == [
        "FinaliseFunction", "ReconcileFunction"]
    via_handler = _call({SUBMITTER, OBJECTS}, frozenset({"functions/submit"}))
    assert attribute(via_handler, code) == ["SubmitFunction"]
    # A test arranging state through an adapter is no function's call.
    assert attribute(_call({OBJECTS}), code) is None


def test_given_a_call_no_role_grants_then_reported_for_every_function_that_makes_it() -> None:
    # Given the Submitter writing under inbox/ (no role may: it would re-trigger the pipeline)
    call = _call({SUBMITTER, OBJECTS}, Bucket=BUCKET, Key="inbox/a.jpg")
    # Then the function that runs the Submitter is named, with the permission
    assert violations([call]) == [
        f"SubmitFunction's role does not allow s3:PutObject on {DROP_ARN}/inbox/a.jpg: needed by "
        f"s3:PutObject(Bucket={BUCKET}, Key=inbox/a.jpg) from dropswap.flows.submit.submitter"
    ]


# -- the read grants issue 9 found wrong ---------------------------------------------------------------
def _s3_reads(stack: Stack, function: str) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {"s3:GetObject": set(), "s3:ListBucket": set()}
    for stmt in role_statements(stack, function):
        for action in stmt.actions:
            if stmt.effect == "Allow" and action in grants:
                grants[action].update(stmt.resources)
    return grants


@pytest.mark.parametrize("extra", [NO_EXTRA_BUCKETS, TWO_EXTRA_BUCKETS])
def test_given_deployment_then_submit_reads_inbox_staging_extra_buckets_others_head_inbox(
    extra: str,
) -> None:
    stack = unit_stack(SECRET_ARN, extra)
    buckets = [b for b in extra.split(",") if b]
    expected = {
        # staging/: the pinned copies of checked inputs that AKOOL fetches by presigned URL
        "s3:GetObject": {
            f"{DROP_ARN}/inbox/*", f"{DROP_ARN}/staging/*", *(f"arn:aws:s3:::{b}/*" for b in buckets)
        },
        "s3:ListBucket": {DROP_ARN, *(f"arn:aws:s3:::{b}" for b in buckets)},
    }
    for name in READERS:
        assert _s3_reads(stack, name) == expected, name
    heads = {"s3:GetObject": {f"{DROP_ARN}/inbox/*"}, "s3:ListBucket": {DROP_ARN}}
    for name in INBOX_HEADERS:
        assert _s3_reads(stack, name) == heads, name
    for name in NON_READERS:
        assert _s3_reads(stack, name) == {"s3:GetObject": set(), "s3:ListBucket": set()}, name


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_given_partition_then_extra_bucket_arns_are_that_partitions(partition: str) -> None:
    template = transformed_template(TWO_EXTRA_BUCKETS)
    stack = Stack(template, {"AkoolSecretArn": SECRET_ARN}, partition=partition)
    reads = _s3_reads(stack, "SubmitFunction")
    buckets = [f"arn:{partition}:s3:::{b}" for b in EXTRA_BUCKETS]
    assert {f"{b}/*" for b in buckets} <= reads["s3:GetObject"]
    assert set(buckets) <= reads["s3:ListBucket"]


# -- extra source buckets, end to end through both handlers (local runs never have any) ----------------
@pytest.fixture
def akool(resources: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAkool]:
    from dropswap.settings import settings

    monkeypatch.setenv("EXTRA_SOURCE_BUCKETS", ",".join(EXTRA_BUCKETS))
    # Negative: every WAITING job is due at the next scheduled run, without sleeping in a unit test.
    monkeypatch.setenv("WAITING_RECHECK_SECONDS", "-60")
    settings.cache_clear()
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in EXTRA_BUCKETS:
        s3.create_bucket(Bucket=bucket)
    for fake in fake_akool():
        fake.faces["party/team.jpg"] = [face(120, 80, 90, 110)]
        fake.faces["people/alice.jpg"] = [face(20, 30, 120, 140)]
        yield fake
    settings.cache_clear()


def _without_extra_bucket_policy() -> dict[str, Any]:
    """template.yaml's transform with SubmitFunction's role lacking the extra buckets' policy."""
    template = copy.deepcopy(transformed_template(TWO_EXTRA_BUCKETS))
    role = template["Resources"]["SubmitFunctionRole"]["Properties"]
    role["ManagedPolicyArns"] = [a for a in role["ManagedPolicyArns"] if "Fn::If" not in a]
    return template


def test_given_face_in_extra_bucket_arriving_late_then_the_recheck_is_submit_functions_and_its_role_covers_it(
    akool: FakeAkool, resources: dict[str, str],
) -> None:
    # Given a sidecar naming a face in an extra bucket that is not uploaded yet
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key="inbox/party/team.jpg", Body=JPEG)
    sidecar = {"version": 1, "swaps": [{"source": "s3://team-faces/people/alice.jpg", "target": 0}]}
    s3.put_object(Bucket=BUCKET, Key="inbox/party/team.jpg.faceswap.json", Body=json.dumps(sidecar).encode())
    event = load_event("sqs-submit-sidecar.json")
    notification = json.loads(event["Records"][0]["body"])
    notification["Records"][0]["s3"]["object"]["key"] = "inbox/party/team.jpg.faceswap.json"
    event["Records"][0]["body"] = json.dumps(notification)
    submit = load_handler("submit")
    with recording() as recorder:
        # When SubmitFunction handles the sidecar, the face arrives, the scheduled reconciler runs, and
        # SubmitFunction takes the recheck it queued
        assert submit.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
        [job] = _jobs_with_status(Status.WAITING)
        s3.put_object(Bucket="team-faces", Key="people/alice.jpg", Body=JPEG)
        summary = load_handler("reconcile").lambda_handler(
            load_event("schedule-reconcile.json"), FakeContext(remaining_ms=300_000)
        )
        assert drain(submit, resources["SubmitQueueUrl"], FakeContext()) == 1
    # Then the job was submitted with a pinned copy of the extra bucket's face presigned for AKOOL
    assert summary["rechecked"] == 1
    assert get_job(job).status is Status.SUBMITTED
    [submission] = akool.submissions()
    assert submission.body is not None
    source = unquote(urlsplit(submission.body["sourceImage"][0]["path"]).path)
    assert f"/staging/{job}/" in source and source.endswith("/people/alice.jpg")
    [copy_call] = [c for c in recorder.calls if c.operation == "CopyObject" and "team-faces" in str(c.params)]
    assert attribute(copy_call, function_code(functions(load_template()))) == ["SubmitFunction"]
    # And only SubmitFunction touched the extra bucket, within its role
    code = function_code(functions(load_template()))
    extra = {(c.operation, name) for c in recorder.calls if c.params.get("Bucket") == "team-faces"
             for name in attribute(c, code) or []}
    assert {("HeadObject", "SubmitFunction"), ("GetObject", "SubmitFunction")} == extra
    assert violations(recorder.calls) == []
    # While a role without the extra buckets' policy fails it: a missing face answers 403, not 404
    assert any(
        v.startswith("SubmitFunction's role does not allow s3:ListBucket on arn:aws:s3:::team-faces ")
        for v in violations(recorder.calls, template=_without_extra_bucket_policy())
    )


def _jobs_with_status(status: Status) -> list[str]:
    from tests.unit.test_finalise_support import store

    return [j.job_id for j in store().open_jobs(status, "9999")]
