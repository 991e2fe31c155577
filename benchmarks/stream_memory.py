"""Memory of the result path: stream a 50 MB result through finalise into S3 and measure peak RSS growth.

Run: `python -m benchmarks.stream_memory`. `run()` returns the numbers as a dict for reports.

Set-up, so that only our code's memory is measured: moto server (S3 + DynamoDB) and a plain HTTP file
server run as their own processes on 127.0.0.1; a fresh worker process imports everything, finalises a
1 MB result once (warm-up: lazy imports, boto3's transfer threads, connection pools), then resets its
peak-RSS counter (/proc/self/clear_refs) and finalises the 50 MB result with the same code the webhook
and the reconciler use (HttpResultFetcher → temp file → ObjectStore.put_file → report → SUCCEEDED).
Peak growth = VmHWM after − VmRSS before. Target: ≤ 10% of the result size. Linux only (/proc).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT_MB = 50
WARMUP_MB = 1
TARGET_RATIO = 0.10
BUCKET = "dropswap-bench"
TABLE = "dropswap-bench-jobs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _write_result(path: Path, size: int) -> None:
    # A JPEG header then incompressible bytes, written in chunks (the benchmark itself stays small too).
    chunk = os.urandom(1024 * 1024)
    with path.open("wb") as fh:
        fh.write(b"\xff\xd8\xff\xe0")
        left = size - 4
        while left > 0:
            fh.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _table_definition(template: dict[str, Any]) -> dict[str, Any]:
    """CreateTable arguments for template.yaml's JobsTable (keys and indexes; moto needs no more)."""
    props = template["Resources"]["JobsTable"]["Properties"]
    return {key: props[key] for key in ("AttributeDefinitions", "KeySchema", "BillingMode",
                                        "GlobalSecondaryIndexes") if key in props}


def _worker(files_url: str) -> dict[str, Any]:
    """In the fresh process: set up moto resources, warm up, then measure the 50 MB finalisation."""
    import boto3

    from devkit import template as tpl
    from dropswap.adapters.job_store import JobStore
    from dropswap.adapters.object_store import ObjectStore
    from dropswap.adapters.result_fetch import HttpResultFetcher
    from dropswap.domain.jobs import Status
    from dropswap.flows.common.finaliser import Action, AkoolTruth, Finaliser

    s3 = boto3.client("s3")
    ddb = boto3.client("dynamodb")
    s3.create_bucket(Bucket=BUCKET)
    ddb.create_table(TableName=TABLE, **_table_definition(tpl.load_template()))
    store = JobStore(ddb, TABLE)
    fetcher = HttpResultFetcher(
        https_only=False, allow_loopback=True, max_bytes=(RESULT_MB + 1) * 1024 * 1024
    )
    finaliser = Finaliser(store, ObjectStore(s3, BUCKET), fetcher, lease_seconds=600)

    def finalise(name: str) -> tuple[Action, int]:
        job = store.transition(
            name, Status.SUBMITTED,
            set_fields={"bucket": BUCKET, "image_key": f"inbox/bench/{name}.jpg", "akool_id": name},
        ).job
        assert job is not None
        outcome = finaliser.apply(job, AkoolTruth(akool_id=name, status=3, url=f"{files_url}/{name}.jpg"))
        size = s3.head_object(Bucket=BUCKET, Key=f"results/bench/{name}.swapped.jpg")["ContentLength"]
        return outcome.action, size

    cold_before_kb = _status_kb("VmRSS")
    finalise("warmup")
    cold_kb = _status_kb("VmHWM") - cold_before_kb
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    before_kb = _status_kb("VmRSS")
    hwm_before_kb = _status_kb("VmHWM")
    start = time.perf_counter()
    action, size = finalise("result")
    seconds = time.perf_counter() - start
    peak_kb = _status_kb("VmHWM")
    growth = max(0, peak_kb - before_kb) * 1024
    return {
        "action": action.value,
        "stored_bytes": size,
        "rss_before_bytes": before_kb * 1024,
        "peak_rss_bytes": peak_kb * 1024,
        "peak_rss_growth_bytes": growth,
        # The 1 MB warm-up from a process that had only imported: one-time set-up, not size-dependent.
        "warmup_growth_bytes": max(0, cold_kb) * 1024,
        # Without the reset, VmHWM may predate the measurement: then growth is only a lower bound.
        "peak_reset": reset or peak_kb > hwm_before_kb,
        "seconds": round(seconds, 2),
    }


def run() -> dict[str, Any]:
    size = RESULT_MB * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="dropswap-bench-") as tmp:
        files = Path(tmp)
        _write_result(files / "result.jpg", size)
        _write_result(files / "warmup.jpg", WARMUP_MB * 1024 * 1024)
        moto_port, files_port = _free_port(), _free_port()
        servers = [
            subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", tmp,
                 str(files_port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ),
        ]
        try:
            _wait_for_port(moto_port)
            _wait_for_port(files_port)
            env = {
                **os.environ,
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
                "TMPDIR": tmp,
            }
            env.pop("AWS_PROFILE", None)
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "dropswap")])
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.stream_memory", "--worker", f"http://127.0.0.1:{files_port}"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
            )
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(timeout=10)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed:\n{proc.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    ratio = measured["peak_rss_growth_bytes"] / size
    return {
        "result_bytes": size,
        **measured,
        "growth_ratio": round(ratio, 4),
        "target_ratio": TARGET_RATIO,
        "within_target": ratio <= TARGET_RATIO and measured["stored_bytes"] == size,
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(sys.argv[2])))
        return
    r = run()
    mib = 1024 * 1024
    stored = r["stored_bytes"] / mib
    print(f"result streamed through finalise into S3: {stored:.1f} MiB in {r['seconds']} s ({r['action']})")
    print(f"RSS before: {r['rss_before_bytes'] / mib:.1f} MiB, peak: {r['peak_rss_bytes'] / mib:.1f} MiB")
    print(f"one-time set-up on the first (1 MB) result: {r['warmup_growth_bytes'] / mib:.2f} MiB")
    growth = r["peak_rss_growth_bytes"] / mib
    print(
        f"peak RSS growth: {growth:.2f} MiB = {r['growth_ratio'] * 100:.1f}% of the result"
        f" (target <= {TARGET_RATIO * 100:.0f}%): {'OK' if r['within_target'] else 'OVER'}"
    )


if __name__ == "__main__":
    main()
