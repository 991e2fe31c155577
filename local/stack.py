"""The local stack: the whole of dropswap on one machine, offline, on 127.0.0.1.

- MiniStack, a local AWS (local/ministack.py), with IAM and bucket policies enforced and TLS on;
- template.yaml deployed to it through CloudFormation with the SAM transform (local/deploy.py): the same
  roles, event sources, API, schedule and alarms as on AWS; the functions run on python3.13 under their
  own roles, with the layer built for this machine;
- the AKOOL emulator over HTTPS, with a CA the functions trust (local/tls.py), calling back the webhook
  through MiniStack's API Gateway.

`python -m local.stack` (or `make up`) runs it until Ctrl-C; tests and the demo use `LocalStack` in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from devkit.template import ROOT
from dropswap_cli.printable import printable
from local import deploy
from local.emulator.config import EngineKind, Mode, route_url
from local.events_feed import EventsFeed
from local.ministack import ACCOUNT, ADMIN_KEY, REGION, MiniStack, free_port
from local.native_stderr import native_stderr_to
from local.tls import LocalTls, ensure_local_tls
from local.watch import bucket_watch

STATE_DIR = ROOT / ".dropswap"
STACK_NAME = "dropswap-local"
# MiniStack's CloudTrail records every request while this is set, trail or not (services/cloudtrail.py
# `_recording_enabled`; StartLogging only flips a trail's status), into an in-memory ring that LookupEvents
# reads (benchmarks/aws_calls.py). The ring is sized so a benchmark's whole stack lifetime fits.
_RECORDING_ENV = {"CLOUDTRAIL_RECORDING": "1", "CLOUDTRAIL_MAX_EVENTS": "200000"}


@dataclass
class StackConfig:
    mode: Mode = "realistic"  # AKOOL emulator timing: "realistic" or "instant"
    engine: EngineKind = "real"  # emulator face engine: "real" or "passthrough" (load tests only)
    watch_dir: Path | None = None
    # Print each job's outcome on stdout as its report appears (`make up`); tests and the demo read reports.
    console: bool = False
    state_dir: Path = STATE_DIR
    # Template parameter ReconcileAfterSeconds (None: the template's default). Tests shorten it.
    reconcile_after_seconds: int | None = None
    # Template parameter AkoolCreditBudgetPerDay (None: the template's default; 0 = unlimited).
    credit_budget_per_day: int | None = None
    # Other template parameters to deploy with (e.g. AkoolMaxJobsInFlight); the template's defaults else.
    parameters: dict[str, str] = field(default_factory=dict)
    aws_port: int = 0
    emulator_port: int = 0
    # Record every AWS request (MiniStack's CloudTrail), for the benchmarks' calls-per-job figures.
    record_aws_requests: bool = False


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.client_id = secrets.token_hex(12)  # 24 chars, like AKOOL's
        self.api_key = secrets.token_urlsafe(24)[:32].ljust(32, "x")  # a 32-byte AES-256 key
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ministack: MiniStack | None = None
        self.emulator: Any = None
        self.info: dict[str, Any] = {}
        self.functions: dict[str, str] = {}  # logical id -> function name
        self.outputs: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        state = self.config.state_dir
        (state / "logs").mkdir(parents=True, exist_ok=True)
        self.tls: LocalTls = ensure_local_tls(state / "tls")
        try:
            self.ministack = MiniStack(
                self.tls, state, port=self.config.aws_port or free_port(),
                extra_env=_RECORDING_ENV if self.config.record_aws_requests else {},
            )
            self.aws_endpoint = self.ministack.endpoint
            self._start_emulator()
            layer = deploy.build_host_layer(self.ministack.python)
            self.ministack.start()
            self._deploy(layer)
            self._start_log_tail()
            self._start_events_feed()
            self._write_info()
            if self.config.console or self.config.watch_dir is not None:
                self._start_bucket_watch()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self.ministack is not None:
            self.ministack.stop()

    # -- parts ---------------------------------------------------------------------------------
    def _start_emulator(self) -> None:
        from local.emulator import EmulatorConfig, start_emulator

        assert self.ministack is not None
        self.emulator = start_emulator(EmulatorConfig(
            client_id=self.client_id,
            api_key=self.api_key,
            port=self.config.emulator_port,
            mode=self.config.mode,
            engine=self.config.engine,
            tls_cert_file=str(self.tls.server_cert),
            tls_key_file=str(self.tls.server_key),
            ca_bundle=str(self.tls.bundle),
            execute_api_endpoint=self.ministack.endpoint,
        ))
        self.akool_url = str(self.emulator.url).rstrip("/")

    def _deploy(self, layer: Path) -> None:
        secret = json.dumps({"clientId": self.client_id, "apiKey": self.api_key})
        secret_arn = self.client("secretsmanager").create_secret(
            Name="dropswap/akool", SecretString=secret
        )["ARN"]
        parameters = {
            "AkoolSecretArn": secret_arn,
            "AkoolBaseUrl": self.akool_url,
            "AkoolDetectUrl": f"{self.akool_url}/interface/detect-api",
            # The emulator serves results on 127.0.0.1, which a deployed stack refuses to fetch from.
            "LocalStackLoopbackResults": "true",
        }
        if self.config.reconcile_after_seconds is not None:
            parameters["ReconcileAfterSeconds"] = str(self.config.reconcile_after_seconds)
        if self.config.credit_budget_per_day is not None:
            parameters["AkoolCreditBudgetPerDay"] = str(self.config.credit_budget_per_day)
        parameters.update(self.config.parameters)
        deployed = deploy.deploy(
            self.client("cloudformation"), self.client("s3"), STACK_NAME, layer, parameters
        )
        self.outputs = deployed.outputs
        _coerce_scaling_config(self.client("lambda"))
        self.bucket = self.outputs["DropBucketName"]
        self.table = self.outputs["JobsTableName"]
        self.functions = {
            logical: physical for logical, physical in deployed.resources.items()
            if logical in ("SubmitFunction", "WebhookFunction", "FinaliseFunction", "ReconcileFunction")
        }
        # What AKOOL is told (the template's execute-api URL) and where that is on this machine.
        self.webhook_base_url = route_url(self.outputs["WebhookBaseUrl"], self.aws_endpoint)

    def redeploy(self, parameters: dict[str, str]) -> None:
        """Change template parameters of the running stack, as a redeploy does on AWS (`sam deploy
        --parameter-overrides`): e.g. {"AkoolCreditBudgetPerDay": "500"} raises the credit budget."""
        deployed = deploy.update_parameters(self.client("cloudformation"), STACK_NAME, parameters)
        self.outputs = deployed.outputs
        _coerce_scaling_config(self.client("lambda"))

    def client(self, service: str) -> Any:
        """A boto3 client as the account's administrator, on the local endpoint, trusting the local CA."""
        factory: Any = boto3.client  # one helper for every service; callers know what they asked for
        return factory(
            service,
            endpoint_url=self.aws_endpoint,
            region_name=REGION,
            aws_access_key_id=ADMIN_KEY,
            aws_secret_access_key=ADMIN_KEY,
            verify=str(self.tls.bundle),
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=330),
        )

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=f"stack-{target.__name__}")
        t.start()
        self._threads.append(t)

    def _start_log_tail(self) -> None:
        """Copy each function's CloudWatch log into logs/<Function>.log, as `sam logs --tail` shows it."""
        logs = self.client("logs")
        folder = self.config.state_dir / "logs"

        def tail() -> None:
            seen: dict[str, int] = {}
            while not self._stop.wait(1.0):
                for logical, name in self.functions.items():
                    events: list[dict[str, Any]] = []
                    # The group appears with the first invocation; until then there is nothing to copy.
                    with contextlib.suppress(Exception):
                        events = _new_log_events(logs, f"/aws/lambda/{name}", seen.get(logical, 0))
                    if events:
                        seen[logical] = max(int(e["timestamp"]) for e in events) + 1
                        with (folder / f"{logical}.log").open("a", encoding="utf-8") as fh:
                            fh.writelines(str(e["message"]).rstrip("\n") + "\n" for e in events)

        self._spawn(tail)

    def _start_events_feed(self) -> None:
        """Completion events from DropswapEventBus into events.jsonl (and on the console with `make up`)."""
        feed = EventsFeed(
            self.client("events"), self.client("sqs"), self.outputs["EventBusName"],
            self.config.state_dir / "events.jsonl", _console if self.config.console else _quiet,
        )
        self._spawn(feed.run, self._stop)

    def _start_bucket_watch(self) -> None:
        """Each job's outcome on the console; with a drop folder, `dropswap sync DIR` on this stack (found
        through local.json, as the CLI finds it)."""
        watcher = bucket_watch(self.config.state_dir / "local.json", self.client("s3"), self.bucket,
                               self.config.watch_dir, _console if self.config.console else None)
        self._spawn(watcher.run, self._stop)

    # -- invocation ----------------------------------------------------------------------------
    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke a function (RequestResponse) by its logical id; its JSON answer, or raise on an error."""
        resp = self.client("lambda").invoke(
            FunctionName=self.functions[function], Payload=json.dumps(event).encode()
        )
        payload = json.loads(resp["Payload"].read() or b"null")
        if resp.get("FunctionError"):
            raise RuntimeError(f"{function} failed: {payload}")
        return payload

    def run_schedule(self, function: str = "ReconcileFunction") -> Any:
        """Run a scheduled function now, with the event EventBridge sends (as an operator would)."""
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
        except RuntimeError as exc:
            print(printable(f"[local] {exc}"), file=sys.stderr)
            return None

    # -- info ----------------------------------------------------------------------------------
    def _write_info(self) -> None:
        self.info = {
            "aws_endpoint_url": self.aws_endpoint,
            "region": REGION,
            "bucket": self.bucket,
            "table": self.table,
            "akool_url": self.akool_url,
            "webhook_url": f"{self.webhook_base_url}/webhooks/akool/{{job_id}}",
            "emulator_admin_url": f"{self.akool_url}/_emulator/",
            "stack_name": STACK_NAME,
            "logs": str(self.config.state_dir / "logs"),
            "ca_bundle": str(self.tls.bundle),
            "outputs": self.outputs,
        }
        (self.config.state_dir / "local.json").write_text(json.dumps(self.info, indent=2) + "\n")

    def usage(self) -> str:
        i = self.info
        aws = f"aws --endpoint-url {i['aws_endpoint_url']}"
        return "\n".join([
            "dropswap local stack is up (Ctrl-C stops it). Endpoints, also in .dropswap/local.json:",
            *(f"  {k:<20} {v}" for k, v in i.items() if k != "outputs"),
            "",
            "The aws CLI needs the stack's CA and the local administrator's credentials:",
            f"  export AWS_CA_BUNDLE={i['ca_bundle']} AWS_ACCESS_KEY_ID={ADMIN_KEY} "
            f"AWS_SECRET_ACCESS_KEY={ADMIN_KEY} AWS_DEFAULT_REGION={REGION}",
            "Drop a photo and its sidecar (any order):",
            f"  {aws} s3 cp team.jpg s3://{i['bucket']}/inbox/party/team.jpg",
            f"  {aws} s3 cp team.jpg.faceswap.json s3://{i['bucket']}/inbox/party/team.jpg.faceswap.json",
            "Results:",
            f"  {aws} s3 ls --recursive s3://{i['bucket']}/results/",
        ])


def _console(line: str) -> None:
    # The last guard: the lines quote keys, reports and events, which the uploader chooses (printable.py).
    print(printable(line), flush=True)


def _quiet(line: str) -> None:
    """Not shown: a caller without a console reads events.jsonl itself."""


def _coerce_scaling_config(lam: Any) -> None:
    """A gap handled: CloudFormation turns `MaximumConcurrency: !Ref SubmitConcurrency` (a parameter, so a
    string) into the integer the Lambda API takes; MiniStack's provisioner stores the string, and its
    poller then fails on every pass. Set the same value again, as an integer, through the Lambda API (botocore
    reads the stored string back as a number, so every mapping with a limit is set)."""
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for mapping in page["EventSourceMappings"]:
            limit = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
            if limit is not None:
                lam.update_event_source_mapping(
                    UUID=mapping["UUID"], ScalingConfig={"MaximumConcurrency": int(limit)}
                )


def _new_log_events(logs: Any, group: str, since_ms: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": since_ms}
    while True:
        page = logs.filter_log_events(**kwargs)
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return sorted(events, key=lambda e: int(e["timestamp"]))
        kwargs["nextToken"] = token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__.split("\n")[0])
    parser.add_argument("--watch", type=Path, default=None,
                        help="sync a local folder: files dropped in it go to inbox/, results come back")
    parser.add_argument("--mode", choices=["realistic", "instant"], default="realistic")
    parser.add_argument("--credit-budget", type=int, default=None, metavar="N",
                        help="AKOOL credits the stack may spend per UTC day (template parameter "
                             "AkoolCreditBudgetPerDay; default: the template's, 0 = unlimited)")
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR,
                        help="where local.json, the CA and the functions' logs go (default .dropswap/)")
    args = parser.parse_args(argv)
    mode: Mode = "instant" if args.mode == "instant" else "realistic"
    if args.credit_budget is not None and args.credit_budget < 0:
        parser.error("--credit-budget must be 0 (unlimited) or more")
    stack = LocalStack(StackConfig(mode=mode, watch_dir=args.watch, state_dir=args.state_dir, console=True,
                                   credit_budget_per_day=args.credit_budget))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    native_log = args.state_dir / "logs" / "up-stderr.log"
    with native_stderr_to(native_log):
        stack.start()
        print(stack.usage(), flush=True)
        print(f"(deployed {STACK_NAME} in {time.monotonic() - started:.1f}s; the face engine's native "
              f"warnings go to {native_log})", flush=True)
        if args.watch:
            print(f"Watching {args.watch}: drop files there; results appear in {args.watch / 'results'}",
                  flush=True)
        print("Each job's outcome appears below as its report is written to results/:", flush=True)
        try:
            stop.wait()
        finally:
            print("\nstopping…", flush=True)
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
