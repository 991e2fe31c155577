"""The local stack: the whole of dropswap on one machine, offline, on 127.0.0.1.

- a moto server (S3, DynamoDB, Secrets Manager, SQS) with the bucket, table and secret of template.yaml;
- the AKOOL emulator;
- every function of template.yaml in its own warm worker process(es), with the template's environment
  (intrinsics resolved to local values) plus a short, listed set of local overrides;
- S3 notifications as the template wires them: moto S3 → SQS → a dispatcher that invokes the function
  asynchronously (retries, then the on-failure queue, as Lambda's EventInvokeConfig says);
- an HTTP gateway turning requests into API Gateway proxy events for the functions' Api events;
- the functions' Schedule events on a timer.

`python -m local.stack` (or `make up`) runs it until Ctrl-C; tests and the demo use `LocalStack` in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import secrets
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config

from local import moto_atomic
from local import template as tpl
from local.aws_requests import AwsRequestCounter
from local.emulator.config import EngineKind, Mode
from local.gateway import Gateway, Route, compile_route
from local.lambda_runtime import FunctionPool, FunctionSpec, InvocationError

ROOT = tpl.ROOT
STATE_DIR = ROOT / ".dropswap"
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "dropswap-local"


@dataclass
class StackConfig:
    mode: Mode = "realistic"  # AKOOL emulator timing: "realistic" or "instant"
    engine: EngineKind = "real"  # emulator face engine: "real" or "passthrough" (load tests only)
    concurrency: dict[str, int] = field(
        default_factory=lambda: {"SubmitFunction": 2, "WebhookFunction": 2, "ReconcileFunction": 1}
    )
    reconcile_every_seconds: float = 15.0
    reconcile_after_seconds: int = 30
    async_retry_delays: tuple[float, ...] = (1.0, 2.0)  # Lambda waits ~1 and ~2 minutes; here seconds
    watch_dir: Path | None = None
    state_dir: Path = STATE_DIR
    moto_port: int = 0
    gateway_port: int = 0
    emulator_port: int = 0
    quiet: bool = False
    # Count the AWS requests the moto server gets, by caller (function), service and operation
    # (local/aws_requests.py; `LocalStack.aws_requests`). For benchmarks and the soak suite.
    count_aws_requests: bool = False


def _ensure_aws_env() -> None:
    """boto3 in this process and the workers use fake credentials; nothing can reach real AWS."""
    import os

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    # mediapipe's C++ logging (the emulator's face engine) is chatty on stderr; warnings and up only.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.template = tpl.load_template()
        self.client_id = secrets.token_hex(12)  # 24 chars, like AKOOL's
        self.api_key = secrets.token_urlsafe(24)[:32].ljust(32, "x")  # a 32-byte AES-256 key
        self.pools: dict[str, FunctionPool] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._async = ThreadPoolExecutor(max_workers=16, thread_name_prefix="async-invoke")
        self._moto: Any = None
        self.emulator: Any = None
        self.gateway: Gateway | None = None
        self.info: dict[str, Any] = {}
        self.async_failures: list[dict[str, Any]] = []
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self.aws_requests: AwsRequestCounter | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        _ensure_aws_env()
        # The moto server and the gateway log every request; the functions' logs are what matter.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        (self.config.state_dir / "logs").mkdir(exist_ok=True)
        try:
            self._start_moto()
            self._create_resources()
            self._start_emulator()
            self._start_gateway_and_functions()
            self._start_event_sources()
            self._write_info()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self._async.shutdown(wait=True, cancel_futures=True)
        if self.gateway:
            self.gateway.stop()
        if self.emulator is not None:
            self.emulator.stop()
        for pool in self.pools.values():
            pool.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    # -- parts ---------------------------------------------------------------------------------
    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        moto_atomic.install()  # DynamoDB's conditional writes are atomic; moto's must be too
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.config.moto_port, verbose=False)
        self._moto.start()
        if self.config.count_aws_requests:
            # Before the first request: werkzeug's request handler calls `server.app` per request.
            server = self._moto._server
            self.aws_requests = AwsRequestCounter(server.app)
            server.app = self.aws_requests
        port = self._moto.get_host_and_port()[1]
        self.aws_endpoint = f"http://127.0.0.1:{port}"

    def client(self, service: str) -> Any:
        factory: Any = boto3.client  # one helper for every service; callers know what they asked for
        return factory(
            service,
            endpoint_url=self.aws_endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts anything
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _resolver(self) -> tpl.Resolver:
        params = tpl.parameter_defaults(self.template)
        params["AkoolSecretArn"] = getattr(self, "secret_arn", "arn:aws:secretsmanager:local")
        resolver = tpl.Resolver(parameters=params)
        for logical in self.template["Resources"]:
            resolver.refs.setdefault(logical, f"{STACK_NAME}-{logical}")
            resolver.attrs.setdefault(f"{logical}.Arn", f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}")
        resolver.pseudo.update(
            {"AWS::StackName": STACK_NAME, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        )
        return resolver

    def _create_resources(self) -> None:
        res = self.template["Resources"]
        sm = self.client("secretsmanager")
        secret = json.dumps({"clientId": self.client_id, "apiKey": self.api_key})
        self.secret_arn = sm.create_secret(Name="dropswap/akool", SecretString=secret)["ARN"]
        resolver = self._resolver()
        self.bucket = resolver.resolve(res["DropBucket"]["Properties"]["BucketName"])
        resolver.refs["DropBucket"] = self.bucket
        self.table = f"{STACK_NAME}-JobsTable"
        resolver.refs["JobsTable"] = self.table
        s3 = self.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        ddb = self.client("dynamodb")
        ddb.create_table(TableName=self.table, **tpl.table_definition(self.template))
        ttl = tpl.ttl_attribute(self.template)
        if ttl:
            ddb.update_time_to_live(TableName=self.table,
                                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
        sqs = self.client("sqs")
        # One queue per function with S3 events stands in for S3's direct Lambda invocation.
        self.s3_queues: dict[str, str] = {}
        notif: list[dict[str, Any]] = []
        for name, props in tpl.functions(self.template).items():
            for ev in props.get("Events", {}).values():
                if ev.get("Type") != "S3":
                    continue
                q = sqs.create_queue(QueueName=f"{STACK_NAME}-{name}-s3")["QueueUrl"]
                attrs = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]
                arn = attrs["QueueArn"]
                self.s3_queues[name] = q
                ev_props = ev["Properties"]
                events = ev_props["Events"] if isinstance(ev_props["Events"], list) else [ev_props["Events"]]
                cfg: dict[str, Any] = {"QueueArn": arn, "Events": events}
                rules = ev_props.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                if rules:  # CloudFormation's S3Key.Rules is the API's Key.FilterRules
                    cfg["Filter"] = {"Key": {"FilterRules": [
                        {"Name": r["Name"], "Value": self.resolver_value(r["Value"])} for r in rules
                    ]}}
                notif.append(cfg)
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": notif}
        )
        self.failure_queues: dict[str, str] = {}
        for name, props in tpl.functions(self.template).items():
            dest = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
            if dest and dest.get("Type") == "SQS":
                logical = dest["Destination"]["Fn::GetAtt"][0]
                q = sqs.create_queue(QueueName=f"{STACK_NAME}-{logical}")["QueueUrl"]
                self.failure_queues[name] = q
        self.resolver = resolver

    def resolver_value(self, value: Any) -> Any:
        return self._resolver().resolve(value)

    def _start_emulator(self) -> None:
        from local.emulator import EmulatorConfig, start_emulator

        self.emulator = start_emulator(
            EmulatorConfig(
                client_id=self.client_id,
                api_key=self.api_key,
                port=self.config.emulator_port,
                mode=self.config.mode,
                engine=self.config.engine,
            )
        )
        self.akool_url = str(self.emulator.url).rstrip("/")

    def local_overrides(self) -> dict[str, str]:
        """What differs from AWS, and only this: endpoints, credentials, and plain-http results."""
        assert self.gateway is not None
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AKOOL_BASE_URL": self.akool_url,
            "AKOOL_DETECT_URL": f"{self.akool_url}/interface/detect-api",
            "WEBHOOK_BASE_URL": self.gateway.stage_url,
            # The emulator serves results over http on 127.0.0.1; deployed stacks keep https-only.
            "RESULT_HTTPS_ONLY": "false",
            "RECONCILE_AFTER_SECONDS": str(self.config.reconcile_after_seconds),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def _start_gateway_and_functions(self) -> None:
        fns = tpl.functions(self.template)
        stage = str(self.resolver.resolve(
            self.template["Resources"]["WebhookApi"]["Properties"]["StageName"]
        )) if "WebhookApi" in self.template["Resources"] else "v1"
        routes: list[Route] = []
        for name, props in fns.items():
            for ev in props.get("Events", {}).values():
                if ev.get("Type") == "Api":
                    routes.append(compile_route(ev["Properties"]["Method"], ev["Properties"]["Path"], name))
        self.gateway = Gateway(routes, stage, self.invoke, port=self.config.gateway_port)
        self.gateway.start()
        overrides = self.local_overrides()
        layer_dirs = self._layer_dirs()
        specs: list[FunctionSpec] = []
        for name, props in fns.items():
            env = {k: str(v) for k, v in self.resolver.resolve(props["Environment"]["Variables"]).items()}
            env.update(overrides)
            import os

            env["PATH"] = os.environ.get("PATH", "")
            if self.config.count_aws_requests:
                env["AWS_SDK_UA_APP_ID"] = name  # botocore puts app/<name> in the User-Agent
            specs.append(FunctionSpec(
                name=name,
                code_dir=ROOT / str(props["CodeUri"]),
                handler=str(props["Handler"]),
                env=env,
                timeout_seconds=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                layer_dirs=layer_dirs,
                log_file=self.config.state_dir / "logs" / f"{name}.log",
            ))
        errors: list[BaseException] = []

        def start(spec: FunctionSpec) -> None:
            try:
                self.pools[spec.name] = FunctionPool(spec, self.config.concurrency.get(spec.name, 1))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(s,)) for s in specs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        self.function_env = {s.name: s.env for s in specs}

    def _layer_dirs(self) -> tuple[Path, ...]:
        dirs: list[Path] = []
        for res in self.template["Resources"].values():
            if res.get("Type") == "AWS::Serverless::LayerVersion":
                dirs.append(ROOT / str(res["Properties"]["ContentUri"]))
        return tuple(dirs)

    def _start_event_sources(self) -> None:
        for name, queue_url in self.s3_queues.items():
            self._spawn(self._s3_dispatch_loop, name, queue_url)
        for name, props in tpl.functions(self.template).items():
            if any(ev.get("Type") == "Schedule" for ev in props.get("Events", {}).values()):
                self._spawn(self._schedule_loop, name)
        if self.config.watch_dir is not None:
            from local.watch import DropFolderSync

            sync = DropFolderSync(self.config.watch_dir, self.client("s3"), self.bucket)
            self._spawn(sync.run, self._stop)

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=f"stack-{target.__name__}")
        t.start()
        self._threads.append(t)

    # -- invocation ----------------------------------------------------------------------------
    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Synchronous invocation (RequestResponse), e.g. from the gateway."""
        return self.pools[function].invoke(event)

    def invoke_async(self, function: str, event: dict[str, Any]) -> None:
        """Event invocation: retried per the function's EventInvokeConfig, then its on-failure queue."""
        with self._inflight_lock:
            self._inflight += 1
        self._async.submit(self._run_async, function, event)

    def _run_async(self, function: str, event: dict[str, Any]) -> None:
        props = tpl.functions(self.template)[function]
        retries = int(props.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2))
        delays = self.config.async_retry_delays
        try:
            last: InvocationError | None = None
            for attempt in range(retries + 1):
                if self._stop.is_set():
                    return
                try:
                    self.pools[function].invoke(event)
                    return
                except InvocationError as exc:
                    last = exc
                    if attempt < retries:
                        self._stop.wait(delays[min(attempt, len(delays) - 1)])
            assert last is not None
            record = {
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": retries + 1,
                },
                "requestPayload": event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                    "functionError": "Unhandled"},
                "responsePayload": {"errorType": last.error_type, "errorMessage": str(last)},
            }
            self.async_failures.append(record)
            if function in self.failure_queues:
                self.client("sqs").send_message(QueueUrl=self.failure_queues[function],
                                                MessageBody=json.dumps(record))
        finally:
            with self._inflight_lock:
                self._inflight -= 1

    @property
    def inflight(self) -> int:
        with self._inflight_lock:
            return self._inflight

    def _s3_dispatch_loop(self, function: str, queue_url: str) -> None:
        sqs = self.client("sqs")
        s3 = self.client("s3")
        while not self._stop.is_set():
            try:
                resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:  # the moto server is going away at shutdown
                if self._stop.is_set():
                    return
                time.sleep(0.5)
                continue
            for msg in resp.get("Messages", []):
                body = json.loads(msg["Body"])
                for record in body.get("Records", []):
                    self.invoke_async(function, {"Records": [complete_s3_record(record, s3)]})
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])

    def _schedule_loop(self, function: str) -> None:
        while not self._stop.wait(self.config.reconcile_every_seconds):
            self.run_schedule(function)

    def run_schedule(self, function: str = "ReconcileFunction") -> Any:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK_NAME}-{function}"],
            "detail": {},
        }
        try:
            return self.invoke(function, event)
        except InvocationError as exc:
            print(f"[local] {function} failed: {exc}", file=sys.stderr)
            return None

    # -- info ----------------------------------------------------------------------------------
    def _write_info(self) -> None:
        assert self.gateway is not None
        self.info = {
            "aws_endpoint_url": self.aws_endpoint,
            "region": REGION,
            "bucket": self.bucket,
            "table": self.table,
            "akool_url": self.akool_url,
            "webhook_url": f"{self.gateway.stage_url}/webhooks/akool/{{job_id}}",
            "emulator_admin_url": f"{self.akool_url}/_emulator/",
            "logs": str(self.config.state_dir / "logs"),
        }
        (self.config.state_dir / "local.json").write_text(json.dumps(self.info, indent=2) + "\n")

    def usage(self) -> str:
        i = self.info
        return "\n".join([
            "dropswap local stack is up (Ctrl-C stops it). Endpoints, also in .dropswap/local.json:",
            *(f"  {k:<20} {v}" for k, v in i.items()),
            "",
            "Drop a photo and its sidecar (any order):",
            f"  aws --endpoint-url {i['aws_endpoint_url']} s3 cp team.jpg s3://{i['bucket']}/inbox/party/team.jpg",
            f"  aws --endpoint-url {i['aws_endpoint_url']} s3 cp team.jpg.faceswap.json "
            f"s3://{i['bucket']}/inbox/party/team.jpg.faceswap.json",
            "Results:",
            f"  aws --endpoint-url {i['aws_endpoint_url']} s3 ls --recursive s3://{i['bucket']}/results/",
            "Credentials for the aws CLI: any values, e.g.",
            "  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1",
        ])


def complete_s3_record(record: dict[str, Any], s3: Any) -> dict[str, Any]:
    """Fill in what moto's S3 event leaves out, so the handler sees a real S3 notification record.

    The key keeps its URL-encoding (moto quotes `/` as %2F; S3 itself uses `+` for space): the
    handler must decode it either way.
    """
    rec: dict[str, Any] = json.loads(json.dumps(record))
    rec.setdefault("eventVersion", "2.1")
    rec.setdefault("eventSource", "aws:s3")
    rec.setdefault("awsRegion", REGION)
    rec.setdefault("eventTime", datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    rec.setdefault("eventName", "ObjectCreated:Put")
    rec.setdefault("userIdentity", {"principalId": "AWS:LOCAL"})
    rec.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
    rec.setdefault("responseElements", {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                                        "x-amz-id-2": uuid.uuid4().hex})
    s3rec = rec.setdefault("s3", {})
    s3rec.setdefault("s3SchemaVersion", "1.0")
    s3rec.setdefault("configurationId", "local-notification")
    bucket = s3rec.setdefault("bucket", {})
    bucket.setdefault("ownerIdentity", {"principalId": "LOCAL"})
    if "name" in bucket:
        bucket.setdefault("arn", f"arn:aws:s3:::{bucket['name']}")
    obj = s3rec.setdefault("object", {})
    obj.setdefault("sequencer", f"{time.time_ns():X}")
    if ("eTag" not in obj or "size" not in obj) and "key" in obj and "name" in bucket:
        with contextlib.suppress(Exception):  # the object may already be gone; S3 would still notify
            head = s3.head_object(Bucket=bucket["name"], Key=unquote_plus(obj["key"]))
            obj.setdefault("eTag", str(head["ETag"]).strip('"'))
            obj.setdefault("size", int(head["ContentLength"]))
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__.split("\n")[0])
    parser.add_argument("--watch", type=Path, default=None,
                        help="sync a local folder: files dropped in it go to inbox/, results come back")
    parser.add_argument("--mode", choices=["realistic", "instant"], default="realistic")
    parser.add_argument("--reconcile-every", type=float, default=15.0)
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR,
                        help="where local.json and the functions' logs go (default .dropswap/)")
    args = parser.parse_args(argv)
    mode: Mode = "instant" if args.mode == "instant" else "realistic"
    config = StackConfig(mode=mode, watch_dir=args.watch, reconcile_every_seconds=args.reconcile_every,
                         state_dir=args.state_dir)
    stack = LocalStack(config)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stack.start()
    print(stack.usage(), flush=True)
    if args.watch:
        print(f"Watching {args.watch}: drop files there; results appear in {args.watch / 'results'}",
              flush=True)
    try:
        stop.wait()
    finally:
        print("\nstopping…", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
