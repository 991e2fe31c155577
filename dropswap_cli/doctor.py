"""`dropswap doctor`: is a stack wired the way template.yaml builds it? Read-only checks a stranger can run
after `sam deploy` (or against the local stack), each with what to do when it fails.

- the stack's outputs are all there;
- the bucket notifies the SubmitQueue of every object created under inbox/ (and nothing else);
- the queues exist, each hands failures to its dead-letter queue, and the dead-letter queues are empty;
- every alarm of the stack notifies the stack's AlarmTopic, and someone is subscribed to it;
- the webhook answers 401 to an unsigned call (verified before anything else happens);
- the AKOOL secret is readable by the functions that call AKOOL and by no other function of the stack, and
  has no resource policy opening it to anyone else.

Nothing is uploaded and AKOOL is never called, unless asked: `--swap-sample` (one AKOOL credit) also runs
one real swap of a bundled drawing of a face (samples/drawn-face.jpg, no photo of a person) in a folder of
its own under inbox/dropswap-doctor/, waits for its report, says how it ended, and deletes what it uploaded
and what the stack wrote for it.
"""

from __future__ import annotations

import argparse
import json
import secrets
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from dropswap_cli import layout, manifests, objects, reports
from dropswap_cli.errors import CliError
from dropswap_cli.printable import printable
from dropswap_cli.stack import Stack

Status = Literal["ok", "warn", "FAIL"]
# Exit code when a check failed (a usage or connection error is errors.USAGE, 2).
CHECK_FAILED = 1
OUTPUTS = ("DropBucketName", "JobsTableName", "SubmitQueueUrl", "SubmitDLQUrl", "FinaliseQueueUrl",
           "FinaliseDLQUrl", "AlarmTopicArn", "WebhookBaseUrl", "EventBusName")
QUEUES = (("SubmitQueueUrl", "SubmitDLQUrl"), ("FinaliseQueueUrl", "FinaliseDLQUrl"))
# The functions whose code calls AKOOL, so reads its secret (template.yaml grants exactly these).
SECRET_READERS = frozenset({"SubmitFunction", "WebhookFunction", "ReconcileFunction"})
REDEPLOY = "redeploy the stack (sam deploy) so CloudFormation puts it back"
_UNKNOWN_JOB = "0" * 32  # a well-formed job id that names no job
# --swap-sample: the picture (shipped with the CLI; devkit.images.make_doctor_sample draws it) and the folder
# under inbox/ (and results/) each run gets a fresh subfolder of.
SAMPLE = Path(__file__).resolve().parent / "samples" / "drawn-face.jpg"
SAMPLE_FOLDER = "dropswap-doctor/"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "doctor", parents=[common], help="check that a deployed (or the local) stack is wired as it should",
        description="Read-only checks of a dropswap stack: outputs, the bucket's notification, queues and "
                    "dead-letter queues, alarms and their topic, the webhook's answer to an unsigned call, "
                    "and who can read the AKOOL secret. Uploads nothing and calls no AKOOL API, unless "
                    "--swap-sample asks for one real swap (one AKOOL credit). Exits 1 if a check failed.")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--swap-sample", action="store_true",
                   help="also swap a bundled drawing of a face end to end (COSTS ONE AKOOL CREDIT): "
                        "uploads it under inbox/dropswap-doctor/, waits for its report, then deletes what "
                        "it made")
    p.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                   help="how long --swap-sample waits for the report (default 600)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Callable[[], Stack], out: Console, err: Console) -> int:
    stack = connect()
    if stack.session is None or not stack.name:
        raise CliError(f"{stack.description} does not say its CloudFormation stack: pass --stack NAME")
    checks = list(diagnose(stack))
    if args.swap_sample:
        err.print("dropswap doctor --swap-sample: one real swap, which costs one AKOOL credit",
                  highlight=False)
        checks.append(sample_swap(stack, args.timeout, err))
    if args.json:
        out.print_json(json.dumps({"stack": stack.name, "checks": [asdict(c) for c in checks]}))
    else:
        out.print(f"dropswap doctor: {printable(stack.description)}", markup=False, highlight=False)
        for c in checks:
            style = {"ok": "green", "warn": "yellow", "FAIL": "bold red"}[c.status]
            out.print(f"[{style}]{c.status:<4}[/{style}] ", end="")
            out.print(f"{c.name}: {printable(c.detail)}", markup=False, highlight=False)
        failed = sum(c.status == "FAIL" for c in checks)
        warned = sum(c.status == "warn" for c in checks)
        out.print(f"{len(checks)} checks: {failed} failed, {warned} warnings", markup=False, highlight=False)
    return CHECK_FAILED if any(c.status == "FAIL" for c in checks) else 0


def diagnose(stack: Stack) -> Iterator[Check]:
    """Every check, in the order a person reads them; one that cannot run says why instead of stopping."""
    yield _outputs(stack)
    for name, check in (("bucket notification", _notification), ("queues", _queues),
                        ("alarms", _alarms), ("webhook", _webhook), ("AKOOL secret", _secret)):
        try:
            yield from check(stack)
        except (ClientError, BotoCoreError) as exc:
            yield Check(name, "warn", f"could not check: {_aws_error(exc)}")


def _aws_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        hint = " (the caller lacks that read permission)" if "AccessDenied" in code else ""
        return f"{code}: {error.get('Message', '')}{hint}"
    return str(exc)


def _outputs(stack: Stack) -> Check:
    missing = [name for name in OUTPUTS if not stack.outputs.get(name)]
    if missing:
        return Check("outputs", "FAIL", f"missing {', '.join(missing)}: is the stack a dropswap stack, "
                                        "deployed completely (sam deploy)?")
    return Check("outputs", "ok", f"all {len(OUTPUTS)} present; bucket {stack.bucket}")


def _queue_arn(stack: Stack, url: str) -> str:
    attrs = stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def _notification(stack: Stack) -> Iterator[Check]:
    name = "bucket notification"
    submit_url = stack.outputs.get("SubmitQueueUrl")
    if not submit_url:
        return
    queue_arn = _queue_arn(stack, submit_url)
    config = stack.s3.get_bucket_notification_configuration(Bucket=stack.bucket)
    found = [q for q in config.get("QueueConfigurations", []) if q.get("QueueArn") == queue_arn]
    if not found:
        yield Check(name, "FAIL", f"{stack.bucket} does not notify the SubmitQueue: uploads to inbox/ "
                                  f"start nothing; {REDEPLOY}")
        return
    prefixes = {rule.get("Value") for q in found
                for rule in q.get("Filter", {}).get("Key", {}).get("FilterRules", [])
                if str(rule.get("Name", "")).lower() == "prefix"}
    events = {e for q in found for e in q.get("Events", [])}
    if prefixes != {"inbox/"}:
        shown = sorted(p or "" for p in prefixes)
        yield Check(name, "FAIL", f"the SubmitQueue is notified for prefix {shown}, not inbox/ only "
                                  f"(results/ would re-trigger the pipeline); {REDEPLOY}")
    elif not events & {"s3:ObjectCreated:*"}:
        yield Check(name, "FAIL", f"the SubmitQueue is notified of {sorted(events)}, not every "
                                  f"s3:ObjectCreated:*; {REDEPLOY}")
    else:
        yield Check(name, "ok", "every object created under inbox/ goes to the SubmitQueue")


def _queues(stack: Stack) -> Iterator[Check]:
    sqs = stack.client("sqs")
    for queue_out, dlq_out in QUEUES:
        queue_url, dlq_url = stack.outputs.get(queue_out), stack.outputs.get(dlq_out)
        if not queue_url or not dlq_url:
            continue
        label = queue_out.removesuffix("Url")
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        dlq_arn = _queue_arn(stack, dlq_url)
        redrive = json.loads(attrs.get("RedrivePolicy") or "{}")
        if redrive.get("deadLetterTargetArn") != dlq_arn:
            yield Check(label, "FAIL", f"failed messages do not go to {dlq_out.removesuffix('Url')}: they "
                                       f"would be retried until they expire, unseen; {REDEPLOY}")
            continue
        waiting = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        stuck = int(waiting["Attributes"].get("ApproximateNumberOfMessages", 0))
        if stuck:
            yield Check(label, "warn", f"{stuck} message(s) in {dlq_out.removesuffix('Url')}: work that ran "
                                       "out of retries (docs/operations.md: Troubleshooting)")
        else:
            yield Check(label, "ok", f"exists, hands failures to {dlq_out.removesuffix('Url')} (empty)")


def _stack_resources(stack: Stack, resource_type: str) -> dict[str, str]:
    """Logical id → physical id of the stack's resources of one type."""
    found: dict[str, str] = {}
    paginator = stack.client("cloudformation").get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack.name):
        for r in page["StackResourceSummaries"]:
            if r["ResourceType"] == resource_type and r.get("PhysicalResourceId"):
                found[r["LogicalResourceId"]] = r["PhysicalResourceId"]
    return found


def _alarms(stack: Stack) -> Iterator[Check]:
    topic = stack.outputs.get("AlarmTopicArn")
    if not topic:
        return
    alarms = _stack_resources(stack, "AWS::CloudWatch::Alarm")
    if not alarms:
        yield Check("alarms", "FAIL", f"the stack has no alarms; {REDEPLOY}")
        return
    cloudwatch = stack.client("cloudwatch")
    by_name = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(
        AlarmNames=sorted(alarms.values()))["MetricAlarms"]}
    wrong = sorted(logical for logical, name in alarms.items()
                   if topic not in by_name.get(name, {}).get("AlarmActions", []))
    if wrong:
        yield Check("alarms", "FAIL", f"{', '.join(wrong)} do not notify the AlarmTopic: nobody would hear "
                                      f"of them; {REDEPLOY}")
    else:
        yield Check("alarms", "ok", f"all {len(alarms)} notify the AlarmTopic")
    subscriptions = stack.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    confirmed = [s for s in subscriptions if str(s.get("SubscriptionArn", "")).startswith("arn:")]
    if not confirmed:
        yield Check("alarm topic", "warn", "nobody is subscribed: subscribe an address "
                                           "(docs/deploy.md: 5. Subscribe to the alarms)")
    else:
        yield Check("alarm topic", "ok", f"{len(confirmed)} confirmed subscription(s)")


def _webhook(stack: Stack) -> Iterator[Check]:
    template = stack.webhook_url
    if not template or "{job_id}" not in template:
        yield Check("webhook", "FAIL", "the stack has no WebhookBaseUrl output: AKOOL could not call back")
        return
    url = template.replace("{job_id}", _UNKNOWN_JOB) + "?token=dropswap-doctor"
    parts = urlsplit(url)
    local = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    # Only the stack's own https endpoint (plain http only on this machine's loopback).
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        yield Check("webhook", "FAIL", f"{parts.scheme}:// webhook URL: AKOOL's callbacks must use https")
        return
    context = ssl.create_default_context(cafile=stack.verify if isinstance(stack.verify, str) else None)
    request = urllib.request.Request(  # noqa: S310 - https (or loopback http) only, checked above
        url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20, context=context) as answer:  # noqa: S310
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        yield Check("webhook", "FAIL", f"{parts.scheme}://{parts.netloc} cannot be reached ({exc}): AKOOL "
                                       "could not call back")
        return
    if status == 401:
        yield Check("webhook", "ok", "answers 401 to an unsigned call for an unknown job")
    else:
        yield Check("webhook", "FAIL", f"answered {status} to an unsigned call, not 401: check that the "
                                       "WebhookFunction is deployed behind the API (sam deploy)")


def _secret(stack: Stack) -> Iterator[Check]:
    parameters = stack.client("cloudformation").describe_stacks(StackName=stack.name)["Stacks"][0]
    secret = next((p.get("ParameterValue") for p in parameters.get("Parameters", [])
                   if p.get("ParameterKey") == "AkoolSecretArn"), None)
    if not secret:
        yield Check("AKOOL secret", "FAIL", "the stack has no AkoolSecretArn parameter")
        return
    iam = stack.client("iam")
    readers: set[str] = set()
    denied: set[str] = set()
    for logical, role_name in _stack_resources(stack, "AWS::IAM::Role").items():
        function = logical.removesuffix("Role")
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        result = iam.simulate_principal_policy(
            PolicySourceArn=role_arn, ActionNames=["secretsmanager:GetSecretValue"], ResourceArns=[secret],
        )["EvaluationResults"][0]
        (readers if result.get("EvalDecision") == "allowed" else denied).add(function)
    missing, extra = sorted(SECRET_READERS - readers), sorted(readers - SECRET_READERS)
    if missing:
        yield Check("AKOOL secret", "FAIL", f"{', '.join(missing)} cannot read it: their AKOOL calls would "
                                            "fail (is AkoolSecretArn the secret's full ARN?)")
    if extra:
        yield Check("AKOOL secret", "FAIL", f"{', '.join(extra)} can read it, and never needs to: "
                                            "least privilege is broken")
    if not missing and not extra:
        yield Check("AKOOL secret", "ok", f"readable by {', '.join(sorted(readers))} only, of the stack's "
                                          "functions")
    policy = stack.client("secretsmanager").get_resource_policy(SecretId=secret).get("ResourcePolicy")
    if policy:
        why = "it has a resource policy: check it opens the secret to no one else (get-resource-policy)"
        yield Check("AKOOL secret policy", "warn", why)


def sample_swap(stack: Stack, timeout: float, err: Console) -> Check:
    """One real swap (one AKOOL credit) of the bundled drawing onto itself, in a folder of its own; the
    objects it uploads and the ones the stack writes for it are deleted afterwards, however it ended."""
    name = "sample swap"
    if not stack.bucket:
        return Check(name, "FAIL", "the stack has no DropBucketName output: nowhere to upload the sample")
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
    folder = f"{SAMPLE_FOLDER}{run_id}/"
    photo, face = folder + SAMPLE.name, "faces/" + SAMPLE.name
    manifest = manifests.encode(manifests.swap(face, "largest", None))
    started = time.monotonic()
    try:
        # The face first and the manifest last, as `dropswap swap` does: the job starts when its manifest
        # lands, with both images there.
        for key, data in ((folder + face, SAMPLE), (photo, SAMPLE), (layout.sidecar(photo), manifest)):
            objects.upload(stack.s3, stack.bucket, layout.INBOX + key, data)
        watched = reports.Reports(stack.s3, stack.bucket, folder, [photo])
        reports.wait(watched, timeout, err)
        return _sample_outcome(name, watched.latest.get(photo), time.monotonic() - started, timeout)
    except (ClientError, BotoCoreError) as exc:
        return Check(name, "FAIL", f"could not run: {_aws_error(exc)}")
    finally:
        left = _delete_folder(stack, folder)
        if left:
            err.print(f"dropswap doctor: could not delete {left} object(s) under {layout.INBOX}{folder} or "
                      f"{layout.RESULTS}{folder}; delete them by hand", highlight=False)


def _sample_outcome(name: str, report: dict[str, Any] | None, seconds: float, timeout: float) -> Check:
    status = str((report or {}).get("status") or "")
    if status == "SUCCEEDED":
        return Check(name, "ok", f"SUCCEEDED in {seconds:.0f} s: upload, AKOOL, callback and result all work")
    if status in layout.TERMINAL:
        return Check(name, "FAIL", f"{status}: {reports.describe(report) or 'no error given'}")
    waiting = f"still {status}" if status else "no report"
    return Check(name, "FAIL", f"{waiting} after {timeout:.0f} s: is the SubmitQueue drained (SubmitFunction "
                               "running), and does AKOOL reach the webhook? (README: Troubleshooting)")


def _delete_folder(stack: Stack, folder: str) -> int:
    """Delete every object under inbox/<folder> and results/<folder>; how many could not be deleted."""
    left = 0
    for prefix in (layout.INBOX + folder, layout.RESULTS + folder):
        try:
            keys = sorted(objects.listing(stack.s3, stack.bucket, prefix))
            for start in range(0, len(keys), 1000):
                batch = [{"Key": k} for k in keys[start:start + 1000]]
                answer = stack.s3.delete_objects(
                    Bucket=stack.bucket, Delete={"Objects": batch, "Quiet": True})
                left += len(answer.get("Errors", []))
        except (ClientError, BotoCoreError):
            left += 1
    return left
