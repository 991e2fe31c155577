"""template.yaml, transformed in-process by the SAM translator: wiring and least-privilege checks.

Every check iterates over all functions, so functions added later are covered without editing this file.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit import template as tpl
from tests.unit.cfn_eval import Stack
from tests.unit.sam_transform import (
    NO_EXTRA_BUCKETS,
    SECRET_ARN,
    TWO_EXTRA_BUCKETS,
    transform,
    transformed_template,
)

ROOT = Path(__file__).resolve().parents[2]
DATA_SERVICES = ("s3:", "dynamodb:", "secretsmanager:", "sqs:")
# Event sources that invoke a function asynchronously: a failed event needs somewhere to go.
ASYNC_EVENTS = {"S3", "SNS"}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return tpl.load_template()


@pytest.fixture(scope="module", params=[NO_EXTRA_BUCKETS, TWO_EXTRA_BUCKETS], ids=["no-extra", "two-extra"])
def transformed(source: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    return transform(source, request.param)


def _functions(source: dict[str, Any]) -> dict[str, dict[str, Any]]:
    fns = tpl.functions(source)
    assert fns, "the template defines no functions"
    return fns


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether an intrinsic value (Ref, GetAtt, Sub) points at a resource."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        att = value.get("Fn::GetAtt")
        if att and (att[0] if isinstance(att, list) else str(att).split(".")[0]) == logical_id:
            return True
        sub = value.get("Fn::Sub")
        if sub is not None:
            text = sub[0] if isinstance(sub, list) else sub
            return bool(re.search(r"\$\{" + re.escape(logical_id) + r"(\.[^}]*)?\}", str(text)))
    return False


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    """Every statement of a policy document, including both branches of Fn::If."""
    stmts = document.get("Statement", [])
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        if isinstance(stmt, dict) and "Fn::If" in stmt:
            for branch in stmt["Fn::If"][1:]:
                if isinstance(branch, dict) and "Ref" not in branch:
                    yield branch
        elif isinstance(stmt, dict):
            yield stmt


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_wildcard(resource: Any) -> bool:
    text = (
        resource
        if isinstance(resource, str)
        else (resource.get("Fn::Sub") if isinstance(resource, dict) else None)
    )
    if isinstance(text, list):
        text = text[0]
    if not isinstance(text, str):
        return False  # other intrinsics (GetAtt, Ref, Split of named buckets) name specific resources
    return text == "*" or text.endswith((":*", ":::*"))


def test_given_template_then_inbox_created_events_go_through_the_submit_queue_to_submit_function(
    source: dict[str, Any], transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    bucket = resources["DropBucket"]
    assert not bucket["Properties"]["NotificationConfiguration"].get("LambdaConfigurations")
    [cfg] = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert _refers_to(cfg["Queue"], "SubmitQueue") and cfg["Event"] == "s3:ObjectCreated:*"
    # A prefix and no suffix: photos, sidecars and folder manifests (_folder.faceswap.json) all reach it.
    assert cfg["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "inbox/"}], cfg["Filter"]
    # S3 checks its right to send when the notification is set up: the queue policy must exist first.
    assert bucket["DependsOn"] == "SubmitQueuePolicy"
    [stmt] = resources["SubmitQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"} and stmt["Action"] == "sqs:SendMessage"
    assert set(stmt["Condition"]) == {"ArnLike", "StringEquals"}
    assert not _refers_to(stmt["Condition"]["ArnLike"]["aws:SourceArn"], "DropBucket")  # no cycle
    [mapping] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
                 and _refers_to(r["Properties"]["EventSourceArn"], "SubmitQueue")]
    assert mapping["FunctionName"] == {"Ref": "SubmitFunctionAliaslive"}  # the alias (SnapStart's versions)
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "SubmitConcurrency"}}
    assert mapping["BatchSize"] <= 10 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    param = source["Parameters"]["SubmitConcurrency"]
    assert (param["Default"], param["MinValue"]) == (2, 2)  # AWS's minimum MaximumConcurrency
    assert source["Parameters"]["AkoolMaxJobsInFlight"]["Default"] > 0
    env = _functions(source)["SubmitFunction"]["Environment"]["Variables"]
    assert env["AKOOL_MAX_JOBS_IN_FLIGHT"] == {"Ref": "AkoolMaxJobsInFlight"}
    assert env["SUBMIT_CONCURRENCY"] == {"Ref": "SubmitConcurrency"}


def test_given_every_queue_event_source_then_long_visibility_a_dlq_with_an_alarm_and_partial_failures(
    source: dict[str, Any], transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    fns = _functions(source)
    alarmed = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
               for a in resources.values() if a["Type"] == "AWS::CloudWatch::Alarm"
               and a["Properties"]["Namespace"] == "AWS/SQS"}
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    aliases = {m["FunctionName"]["Ref"] for m in mappings}
    assert aliases == {"SubmitFunctionAliaslive", "FinaliseFunctionAliaslive"}
    for m in mappings:
        function = m["FunctionName"]["Ref"].removesuffix("Aliaslive")
        queue = resources[m["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * fns[function]["Timeout"], function
        assert queue["SqsManagedSseEnabled"] is True
        dlq = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 1000 and dlq in alarmed, function
        assert queue["MessageRetentionPeriod"] >= resources[dlq]["Properties"]["MessageRetentionPeriod"]
        assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"], function
    # The webhook only verifies and enqueues: no S3 right, and an answer long before API Gateway's 29 s.
    webhook = fns["WebhookFunction"]
    assert webhook["Timeout"] <= 29
    assert "s3:" not in str(source["Resources"]["WebhookFunction"]["Properties"]["Policies"])


def test_given_every_role_then_no_data_action_is_granted_on_a_wildcard_resource(
    transformed: dict[str, Any],
) -> None:
    checked = 0
    for name, res in transformed["Resources"].items():
        if res["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in res["Properties"].get("Policies", [])]
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [res["Properties"]["PolicyDocument"]]
        else:
            continue
        for doc in documents:
            for stmt in _statements(doc):
                actions = [a for a in _as_list(stmt.get("Action", [])) if isinstance(a, str)]
                if stmt.get("Effect") != "Allow" or not any(
                    a.lower().startswith(DATA_SERVICES) for a in actions
                ):
                    continue
                checked += 1
                assert "NotResource" not in stmt, f"{name}: NotResource on data actions {actions}"
                wild = [r for r in _as_list(stmt.get("Resource")) if _is_wildcard(r)]
                assert not wild, f"{name}: {actions} granted on {wild}"
                assert not any(
                    a in {"*", "s3:*", "dynamodb:*", "sqs:*", "secretsmanager:*"} for a in actions
                ), f"{name}: service-wide action in {actions}"
    assert checked > 0


def test_given_every_function_then_its_handler_exists_on_disk(source: dict[str, Any]) -> None:
    for name, props in _functions(source).items():
        code_uri = props["CodeUri"]
        assert isinstance(code_uri, str) and code_uri.startswith("functions/"), f"{name}: CodeUri {code_uri}"
        module, _, func = props["Handler"].rpartition(".")
        path = ROOT / code_uri / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{name}: handler file {path} is missing"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert func in defined, f"{name}: {path} defines no {func}()"


def test_given_every_function_then_a_log_group_with_retention_exists(source: dict[str, Any]) -> None:
    groups = {k: v for k, v in source["Resources"].items() if v["Type"] == "AWS::Logs::LogGroup"}
    for name, props in _functions(source).items():
        explicit = props.get("LoggingConfig", {}).get("LogGroup")
        mine = [
            g
            for gid, g in groups.items()
            if _refers_to(g["Properties"].get("LogGroupName"), name)
            or (explicit and _refers_to(explicit, gid))
        ]
        assert mine, f"{name}: no AWS::Logs::LogGroup for /aws/lambda/${{{name}}}"
        for g in mine:
            assert g["Properties"].get("RetentionInDays"), f"{name}: its log group keeps logs forever"


def test_given_async_event_sources_then_failed_events_have_a_destination(
    source: dict[str, Any], transformed: dict[str, Any]
) -> None:
    configs = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    async_functions = [
        name
        for name, props in _functions(source).items()
        if any(e.get("Type") in ASYNC_EVENTS for e in props.get("Events", {}).values())
    ]
    # S3 feeds the SubmitQueue now; a function S3 or SNS invokes directly needs a failure destination.
    assert "SubmitFunction" not in async_functions
    for name in async_functions:
        mine = [c for c in configs if _refers_to(c["Properties"]["FunctionName"], name)]
        assert mine, f"{name}: no EventInvokeConfig"
        on_failure = mine[0]["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
        assert on_failure.get("Destination"), f"{name}: failed events are dropped (no OnFailure destination)"
        assert mine[0]["Properties"].get("MaximumRetryAttempts") is not None


# -- deploy defects issue 9 found, one test each ------------------------------------------------------
def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_given_any_fn_join_then_its_delimiter_is_a_literal_string(source: dict[str, Any]) -> None:
    # CloudFormation takes no function as a Join delimiter (the ExtraSourceBuckets ARNs once used a !Sub).
    joins = [n["Fn::Join"] for n in _walk(source) if isinstance(n, dict) and "Fn::Join" in n]
    assert joins
    assert all(isinstance(j[0], str) for j in joins), [j[0] for j in joins if not isinstance(j[0], str)]


def test_given_conditions_then_no_fn_join_and_extra_buckets_detected(source: dict[str, Any]) -> None:
    from tests.unit.cfn_eval import Stack

    # Fn::Join inside Conditions is mis-evaluated by the local emulator (and needs none).
    assert not [n for n in _walk(source["Conditions"]) if isinstance(n, dict) and "Fn::Join" in n]
    for value, expected in (("", False), ("team-faces", True), ("team-faces,faces-library", True)):
        stack = Stack(source, {"ExtraSourceBuckets": value})
        assert stack.condition("HasExtraSourceBuckets") is expected, value


def test_given_transformed_api_then_served_by_exactly_one_stage_named_by_the_parameter(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"].values()
    stages = [r["Properties"]["StageName"] for r in resources if r["Type"] == "AWS::ApiGateway::Stage"]
    # SAM's implicit "Stage" stage comes from the Deployment's StageName: the webhook served twice, the
    # second time without the stage's throttling and 5xx alarm.
    implicit = [r["Properties"]["StageName"] for r in resources
                if r["Type"] == "AWS::ApiGateway::Deployment" and "StageName" in r["Properties"]]
    assert stages == [{"Ref": "ApiStageName"}] and implicit == []


def test_given_resources_with_fixed_names_then_a_failed_first_create_does_not_block_the_next(
    source: dict[str, Any],
) -> None:
    # A Retain'ed resource with a fixed name survives a failed first create, and the retry then fails on
    # "already exists". RetainExceptOnCreate keeps data on delete yet cleans up a failed create.
    for name in ("DropBucket", "JobsTable"):
        res = source["Resources"][name]
        assert res["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert res["UpdateReplacePolicy"] == "Retain", name
    for name, res in source["Resources"].items():
        fixed = [k for k in res.get("Properties", {}) if k.endswith("Name") and k[:-4] in res["Type"]]
        if fixed:
            assert res.get("DeletionPolicy") != "Retain", f"{name}: Retain with a fixed {fixed[0]}"


def test_given_alarms_then_their_topic_is_under_a_key_cloudwatch_may_use(source: dict[str, Any]) -> None:
    resources = source["Resources"]
    topics = {a["Ref"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
              for a in r["Properties"]["AlarmActions"]}
    assert topics
    for topic in topics:
        key_ref = resources[topic]["Properties"]["KmsMasterKeyId"]
        # alias/aws/sns (AWS managed) cannot be granted to CloudWatch: alarms would be dropped.
        assert isinstance(key_ref, dict) and "Ref" in key_ref, f"{topic}: {key_ref!r} is no key of this stack"
        key = resources[key_ref["Ref"]]
        assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        admin = [s for s in statements if s["Effect"] == "Allow" and "AWS" in s["Principal"]]
        assert admin and all(":root" in str(s["Principal"]["AWS"]) for s in admin)
        [cloudwatch] = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
        assert cloudwatch["Effect"] == "Allow"
        assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        assert cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_given_webhook_unverified_metric_then_alarmed_where_powertools_emits_it(
    source: dict[str, Any],
) -> None:
    # Given the WebhookFunction's Powertools settings (namespace from Globals, service per function) and
    # the metric its handler emits
    env = {**source["Globals"]["Function"]["Environment"]["Variables"],
           **_functions(source)["WebhookFunction"]["Environment"]["Variables"]}
    assert '"WebhookUnverified"' in (ROOT / "functions/webhook/app.py").read_text(encoding="utf-8")
    # When the alarms are read, Then one watches that metric under that namespace and service dimension,
    # and notifies the alarm topic
    [alarm] = [r["Properties"] for r in source["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
               and r["Properties"]["MetricName"] == "WebhookUnverified"]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1 and alarm["AlarmActions"] == [
        {"Ref": "AlarmTopic"}]


def test_given_reconcile_after_seconds_then_a_bounded_parameter_reaches_the_reconciler(
    source: dict[str, Any],
) -> None:
    param = source["Parameters"]["ReconcileAfterSeconds"]
    assert (param["Type"], param["Default"], param["MinValue"]) == ("Number", 600, 1)
    env = _functions(source)["ReconcileFunction"]["Environment"]["Variables"]
    assert env["RECONCILE_AFTER_SECONDS"] == {"Ref": "ReconcileAfterSeconds"}
    config = (ROOT / "layers" / "dropswap" / "dropswap" / "settings.py").read_text(encoding="utf-8")
    assert '"RECONCILE_AFTER_SECONDS"' in config


def test_given_samconfig_then_the_build_needs_no_container() -> None:
    text = (ROOT / "samconfig.toml").read_text(encoding="utf-8")
    config = tomllib.loads(text)
    for env, commands in config.items():
        if isinstance(commands, dict):
            build = commands.get("build", {}).get("parameters", {})
            assert not build.get("use_container"), f"[{env}.build.parameters] forces Docker"
    assert not re.search(r"(?<!no-)use-container", text), "the header comment still asks for --use-container"


def test_given_checkov_skips_then_each_is_justified_beside_its_resource(source: dict[str, Any]) -> None:
    skips = [(name, s) for name, res in source["Resources"].items()
             for s in res.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip.get("id", "")), f"{name}: {skip}"
        assert len(skip.get("comment", "").split()) >= 8, f"{name}: {skip['id']} needs a reason"


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def _period_seconds(expression: str) -> int:
    match = _RATE.fullmatch(expression)
    assert match, f"not a rate() expression: {expression}"
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def test_given_the_reconciler_then_each_run_ends_before_the_next_is_due(
    source: dict[str, Any], transformed: dict[str, Any],
) -> None:
    # Given the deployed ReconcileFunction and its schedule parameter
    fn = transformed["Resources"]["ReconcileFunction"]["Properties"]
    [rule] = [r["Properties"] for r in transformed["Resources"].values()
              if r["Type"] == "AWS::Events::Rule" and r["Properties"]["Targets"][0]["Arn"]
              == {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}]
    assert rule["ScheduleExpression"] == {"Ref": "ReconcileSchedule"}
    param = source["Parameters"]["ReconcileSchedule"]
    pattern = re.compile(param["AllowedPattern"])
    # Then a run times out before the default period, or any period the parameter accepts, brings the next
    assert fn["Timeout"] < _period_seconds(param["Default"])
    for accepted in ("rate(5 minutes)", "rate(10 minutes)", "rate(1 hour)", "rate(2 hours)", "rate(1 day)"):
        assert pattern.fullmatch(accepted) and fn["Timeout"] < _period_seconds(accepted), accepted
    for refused in ("rate(1 minute)", "rate(4 minutes)", "rate(0 minutes)", "rate(05 minutes)",
                    "cron(* * * * ? *)", "rate(5 minutes) "):
        assert not pattern.fullmatch(refused), refused


def _finalise_fetcher(monkeypatch: pytest.MonkeyPatch, parameters: dict[str, str]) -> Any:
    """FinaliseFunction's result fetcher, built by its wiring from the environment a deployment with
    `parameters` gives it."""
    from dropswap.app.parts import Parts
    from dropswap.settings import load_settings

    template = transformed_template()
    stack = Stack(template, {"AkoolSecretArn": SECRET_ARN, **parameters})
    env = stack.value(template["Resources"]["FinaliseFunction"]["Properties"]["Environment"]["Variables"])
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    return Parts(load_settings()).result_fetcher()


def test_given_a_deployment_with_the_template_defaults_then_results_from_loopback_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from dropswap.domain.akool import ResultFetchError

    # Given FinaliseFunction as deployed with the template's defaults, and a name that resolves to loopback
    fetcher = _finalise_fetcher(monkeypatch, {})
    loopback = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: loopback)
    # When a result on the loopback address, or on that name, is fetched
    for url in ("https://127.0.0.1:9/r.png", "https://localhost:9/r.png", "https://results.example.com/r.png"):
        # Then it is refused as not allowed (no download is tried)
        with pytest.raises(ResultFetchError) as err, fetcher.fetch(url):
            pass
        assert err.value.code == "RESULT_URL_NOT_ALLOWED", url


def test_given_the_local_stack_then_it_alone_lets_results_come_from_loopback(
    source: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dropswap.domain.akool import ResultFetchError

    # Given the escape parameter: off by default, and passed on by the local stack only
    param = source["Parameters"]["LocalStackLoopbackResults"]
    assert (param["Default"], param["AllowedValues"]) == ("false", ["false", "true"])
    assert "Local stack only" in param["Description"]
    assert '"LocalStackLoopbackResults": "true"' in (ROOT / "local" / "stack.py").read_text(encoding="utf-8")
    # When FinaliseFunction is deployed with it, and a result on 127.0.0.1 is fetched
    fetcher = _finalise_fetcher(monkeypatch, {"LocalStackLoopbackResults": "true"})
    # Then the URL passes the checks (nothing listens there, so the download itself fails)
    with pytest.raises(ResultFetchError) as err, fetcher.fetch("https://127.0.0.1:9/r.png"):
        pass
    assert err.value.code == "RESULT_FETCH_FAILED"


def test_given_staging_copies_then_expired_after_a_day_never_notified_and_only_submit_writes_them(
    source: dict[str, Any],
) -> None:
    # Given the pinned copies AKOOL fetches live under staging/ (dropswap/staging.py)
    bucket = source["Resources"]["DropBucket"]["Properties"]
    # Then a lifecycle rule expires them after one day
    [rule] = [r for r in bucket["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "staging/"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == 1
    # And no S3 notification covers staging/ (a copy can never start a job)
    for cfg in bucket["NotificationConfiguration"]["QueueConfigurations"]:
        assert cfg["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "inbox/"}]
    # And the TLS-only bucket policy covers every key, staging/ included
    [deny] = source["Resources"]["DropBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Resource"][1] == {"Fn::Sub": "${DropBucket.Arn}/*"}
    # And only SubmitFunction may write under staging/
    writers = [name for name, fn in _functions(source).items()
               for policy in fn.get("Policies", []) if isinstance(policy, dict)
               for stmt in policy.get("Statement", [])
               if "s3:PutObject" in stmt["Action"] and "/staging/" in str(stmt["Resource"])]
    assert writers == ["SubmitFunction"]


def test_given_max_image_pixels_then_a_bounded_parameter_reaches_the_submit_function(
    source: dict[str, Any],
) -> None:
    param = source["Parameters"]["MaxImagePixels"]
    assert (param["Type"], param["Default"]) == ("Number", 50_000_000) and param["MinValue"] > 0
    env = _functions(source)["SubmitFunction"]["Environment"]["Variables"]
    assert env["MAX_IMAGE_PIXELS"] == {"Ref": "MaxImagePixels"}
    config = (ROOT / "layers" / "dropswap" / "dropswap" / "settings.py").read_text(encoding="utf-8")
    assert '"MAX_IMAGE_PIXELS"' in config


@pytest.mark.parametrize(("reserved", "expected"), [("0", None), ("1", 1)])
def test_given_reconcile_reserved_concurrency_then_the_default_reserves_nothing_and_1_one_run_at_a_time(
    transformed: dict[str, Any], reserved: str, expected: int | None,
) -> None:
    # Given the parameter's default (0: a reservation would fail to deploy on a new account, where AWS keeps
    # 100 unreserved of as little as 10), or 1
    stack = Stack(transformed, {"AkoolSecretArn": SECRET_ARN, "ReconcileReservedConcurrency": reserved})
    # When the template is evaluated, Then the function reserves nothing, or exactly one run at a time
    fn = stack.value(transformed["Resources"]["ReconcileFunction"]["Properties"])
    assert fn.get("ReservedConcurrentExecutions") == expected


def test_given_the_default_reserved_concurrency_then_it_is_0(source: dict[str, Any]) -> None:
    assert source["Parameters"]["ReconcileReservedConcurrency"]["Default"] == 0


@pytest.mark.parametrize(("arn", "accepted"), [
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:dropswap/akool-AbCdEf", True),
    ("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:akool_key.v2-x1Y2z3", True),
    # Without the suffix Secrets Manager adds: the role's grant would name no secret (denied at run time).
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:dropswap/akool", False),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:dropswap/akool-AbCd", False),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:dropswap/akool-AbCdEf-", False),
    ("dropswap/akool-AbCdEf", False),
])
def test_given_a_secret_arn_then_only_a_full_arn_with_its_suffix_is_accepted(
    source: dict[str, Any], arn: str, accepted: bool
) -> None:
    # Given the AkoolSecretArn parameter's pattern, When an ARN is checked, Then only the full one passes
    pattern = re.compile(source["Parameters"]["AkoolSecretArn"]["AllowedPattern"])
    assert bool(pattern.fullmatch(arn)) is accepted


# The functions SnapStart pays for (docs/snapstart.md): their cold starts are on a path someone waits on
# (SQS bursts, AKOOL's callback). The scheduled reconciler runs every few minutes, cold or not, unwatched.
SNAPSTART_FUNCTIONS = {"SubmitFunction", "WebhookFunction", "FinaliseFunction"}


def _deployed(transformed: dict[str, Any], snap_start: str | None) -> Stack:
    parameters = {"AkoolSecretArn": SECRET_ARN} | ({"SnapStart": snap_start} if snap_start else {})
    return Stack(transformed, parameters)


def _aliases(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Function logical id -> its AWS::Lambda::Alias resource."""
    return {r["Properties"]["FunctionName"]["Ref"]: r for r in transformed["Resources"].values()
            if r["Type"] == "AWS::Lambda::Alias"}


@pytest.mark.parametrize(("snap_start", "apply_on"), [
    (None, "None"), ("Disabled", "None"), ("Enabled", "PublishedVersions"),
], ids=["default", "disabled", "enabled"])
def test_given_the_snapstart_parameter_then_only_the_waited_on_functions_snapshot_their_published_versions(
    source: dict[str, Any], transformed: dict[str, Any], snap_start: str | None, apply_on: str,
) -> None:
    # Given a deployment with SnapStart left at its default, Disabled or Enabled
    param = source["Parameters"]["SnapStart"]
    assert (param["Default"], sorted(param["AllowedValues"])) == ("Disabled", ["Disabled", "Enabled"])
    stack = _deployed(transformed, snap_start)
    resources = transformed["Resources"]
    # When the template is evaluated
    snap = {name: stack.value(res["Properties"].get("SnapStart", {})).get("ApplyOn", "None")
            for name, res in resources.items() if res["Type"] == "AWS::Lambda::Function"}
    # Then SubmitFunction, WebhookFunction and FinaliseFunction snapshot their published versions exactly when
    # it is Enabled (off by default), and the reconciler never does
    assert {name for name, value in snap.items() if value == "PublishedVersions"} == (
        SNAPSTART_FUNCTIONS if apply_on == "PublishedVersions" else set())
    assert snap["ReconcileFunction"] == "None"
    # And in both settings each of them has a published version behind the alias "live" (SAM cannot make an
    # alias conditional), which the version's description names SnapStart's setting in
    aliases = _aliases(transformed)
    assert set(aliases) == SNAPSTART_FUNCTIONS
    for function, alias in aliases.items():
        assert alias["Properties"]["Name"] == "live"
        version = resources[alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]]
        assert version["Type"] == "AWS::Lambda::Version" and version["DeletionPolicy"] == "Delete", function
        described = stack.value(version["Properties"]["Description"])
        assert described.startswith(f"SnapStart {snap_start or 'Disabled'}, settings "), function


def test_given_aliased_functions_then_queues_and_the_api_invoke_the_alias_and_the_schedule_the_function(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    # Given the transformed template, When its event sources are read
    mappings = {r["Properties"]["FunctionName"]["Ref"] for r in resources.values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"}
    permissions = {r["Properties"]["FunctionName"]["Ref"] for r in resources.values()
                   if r["Type"] == "AWS::Lambda::Permission"}
    integration = resources["WebhookApi"]["Properties"]["Body"]["paths"]["/webhooks/akool/{job_id}"]["post"][
        "x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    # Then both queues invoke their function's alias (a snapshot runs only behind a version), the API its
    # alias, and the schedule the reconciler itself
    assert mappings == {"SubmitFunctionAliaslive", "FinaliseFunctionAliaslive"}
    assert permissions == {"WebhookFunctionAliaslive", "ReconcileFunction"}
    assert "${WebhookFunctionAliaslive}" in integration


def test_given_snapstart_toggled_or_a_new_layer_then_a_new_version_is_published() -> None:
    # Given the deployed template, with SnapStart Disabled
    before = transformed_template()
    disabled, enabled = _deployed(before, "Disabled"), _deployed(before, "Enabled")
    assert set(_aliases(before)) == SNAPSTART_FUNCTIONS
    # When SnapStart is turned on, Then each version's description changes, which replaces (republishes) it
    # on CloudFormation, so the alias moves to a version published with a snapshot
    for alias in _aliases(before).values():
        version = before["Resources"][alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]]
        described = version["Properties"]["Description"]
        assert disabled.value(described) != enabled.value(described)
    # When only the layer's code changes (the functions' own code and settings unchanged)
    after = transform(tpl.load_template(), layer_zip="s3://artifacts/SharedLayer-next.zip")
    # Then each aliased function gets a new version (else its alias would keep running the old layer)
    for function, alias in _aliases(after).items():
        old = _aliases(before)[function]["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        assert alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0] != old, function
