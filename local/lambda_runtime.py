"""Run a Lambda function's handler locally, as Lambda would: its own process and environment,
imported once (cold start), then warm for every later invocation.

Each `FunctionPool` holds N worker processes (like N concurrent Lambda instances) of one function.
A worker is a fresh interpreter (this file run as a script) with the function's environment and
sys.path (the function's CodeUri + the layer) and nothing else of ours; it imports the handler once,
then serves invocations one at a time over a pipe.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # logical id in template.yaml
    code_dir: Path
    handler: str  # module.function
    env: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    layer_dirs: tuple[Path, ...]
    log_file: Path | None = None  # where the function's stdout/stderr (its logs) go


class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools use."""

    def __init__(self, spec_name: str, timeout_seconds: int, memory_mb: int) -> None:
        self.function_name = spec_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{spec_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InvocationError(Exception):
    """The handler raised; carries the error type and message like Lambda's error payload."""

    def __init__(self, function: str, error_type: str, message: str, trace: str) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.error_type = error_type
        self.trace = trace


def _worker_main() -> None:
    """Entry point of a worker process (this file run as a script, stdlib only).

    Line protocol: the first stdin line is the spec, each later line an event; each answer is one
    JSON line on the original stdout, which is moved off fd 1 so the function's own prints and logs
    go to its log file, like CloudWatch Logs.
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    spec = json.loads(sys.stdin.readline())
    log_path = spec.get("log_file")
    log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else sys.stderr  # noqa: SIM115
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    sys.path[0:1] = [spec["code_dir"], *spec["layer_dirs"]]  # drop local/ (this script's folder)
    module_name, func_name = spec["handler"].rsplit(".", 1)
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
    except Exception as exc:  # init error, like Lambda's Runtime.ImportModuleError
        proto.write(json.dumps(["init_error", {"type": type(exc).__name__, "message": str(exc),
                                               "trace": traceback.format_exc()}]) + "\n")
        return
    proto.write(json.dumps(["ready", {"init_ms": (time.perf_counter() - started) * 1000}]) + "\n")
    for line in sys.stdin:
        event = json.loads(line)
        context = LambdaContext(spec["name"], spec["timeout_seconds"], spec["memory_mb"])
        t0 = time.perf_counter()
        try:
            result = handler(event, context)
            answer = ["ok", {"result": result, "duration_ms": (time.perf_counter() - t0) * 1000}]
        except Exception as exc:
            answer = ["error", {"type": type(exc).__name__, "message": str(exc),
                                "trace": traceback.format_exc(),
                                "duration_ms": (time.perf_counter() - t0) * 1000}]
        proto.write(json.dumps(answer, default=str) + "\n")


class _Worker:
    def __init__(self, spec: FunctionSpec) -> None:
        self.name = spec.name
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=spec.env,
            cwd=str(spec.code_dir),
            text=True,
            encoding="utf-8",
        )
        self._send({
            "name": spec.name, "code_dir": str(spec.code_dir), "handler": spec.handler,
            "layer_dirs": [str(p) for p in spec.layer_dirs], "timeout_seconds": spec.timeout_seconds,
            "memory_mb": spec.memory_mb, "log_file": str(spec.log_file) if spec.log_file else None,
        })
        kind, info = self._recv()
        if kind != "ready":
            raise InvocationError(spec.name, info.get("type", "InitError"), info.get("message", ""),
                                  info.get("trace", ""))
        self.init_ms = float(info["init_ms"])

    def _send(self, obj: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(obj) + "\n")
        self.process.stdin.flush()

    def _recv(self) -> tuple[str, dict[str, Any]]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            return "error", {"type": "Runtime.ExitError", "message": f"{self.name} worker exited",
                             "trace": ""}
        kind, info = json.loads(line)
        return str(kind), info

    def invoke(self, event: Any) -> tuple[str, dict[str, Any]]:
        self._send(event)
        return self._recv()

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass
class InvocationStats:
    invocations: int = 0
    errors: int = 0
    total_ms: float = 0.0


class FunctionPool:
    """N warm workers of one function; `invoke` blocks until a worker is free (bounded concurrency)."""

    def __init__(self, spec: FunctionSpec, concurrency: int = 1) -> None:
        self.spec = spec
        self._free: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        self.stats = InvocationStats()
        self._lock = threading.Lock()
        # Start the workers in parallel: each pays its cold start once.
        errors: list[BaseException] = []

        def start_one() -> None:
            try:
                w = _Worker(spec)
            except BaseException as exc:  # reported after all threads finish
                errors.append(exc)
                return
            with self._lock:
                self._workers.append(w)
            self._free.put(w)

        threads = [threading.Thread(target=start_one) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.stop()
            raise errors[0]

    @property
    def init_ms(self) -> list[float]:
        return [w.init_ms for w in self._workers]

    def invoke(self, event: Any) -> Any:
        worker = self._free.get()
        try:
            kind, info = worker.invoke(event)
        finally:
            self._free.put(worker)
        with self._lock:
            self.stats.invocations += 1
            self.stats.total_ms += float(info.get("duration_ms", 0.0))
            if kind != "ok":
                self.stats.errors += 1
        if kind != "ok":
            raise InvocationError(self.spec.name, info["type"], info["message"], info["trace"])
        return info["result"]

    def stop(self) -> None:
        for w in self._workers:
            w.stop()
        self._workers.clear()


if __name__ == "__main__":
    _worker_main()
