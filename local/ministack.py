"""MiniStack (PyPI `ministack`, MIT), the local AWS the stack deploys template.yaml to.

It runs as a server process from its own python3.13 venv (`make ministack-venv`): it pins its own botocore,
and it runs each Lambda function as a warm worker on its own interpreter, so that interpreter is the
runtime's. Settings, and why:
- BIND_HOST=127.0.0.1: it binds every interface otherwise;
- AUTH=true: each function gets its own role's credentials and every request is checked against IAM,
  bucket policies included;
- USE_SSL=1 with the local CA's certificate: the bucket policy denies requests without TLS, as on AWS;
- the CA-bundle variables: the functions (which inherit this environment) trust the local CA, as they trust
  the public roots on AWS;
- started through `ministack_server.py`, which authorises SQS/SNS batch calls by the single action's
  permission, as AWS does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devkit.template import ROOT
from local.tls import LocalTls

VENV_PYTHON = ROOT / ".venvs" / "ministack" / "bin" / "python"
# MiniStack's own entry point, with its IAM action names corrected to AWS's (see that file).
SERVER_SCRIPT = Path(__file__).with_name("ministack_server.py")
REGION = "us-east-1"
ACCOUNT = "000000000000"
# MiniStack treats these as the account's root credentials (administrator). Functions get their own.
ADMIN_KEY = "test"


class MiniStackError(RuntimeError):
    """MiniStack could not be started; the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class MiniStack:
    tls: LocalTls
    state_dir: Path
    port: int = 0
    python: Path = VENV_PYTHON
    extra_env: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (the benchmarks read its and its workers' CPU time)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "ministack.log"

    def start(self, timeout: float = 60.0) -> None:
        if not self.python.exists():
            raise MiniStackError(
                f"MiniStack's venv is missing ({self.python}); run `make ministack-venv` (needs python3.13)"
            )
        self.port = self.port or free_port()
        tmp = self.state_dir / "ministack"
        tmp.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))}
        env.update(
            BIND_HOST="127.0.0.1",
            GATEWAY_PORT=str(self.port),
            AUTH="true",
            USE_SSL="1",
            MINISTACK_SSL_CERT=str(self.tls.server_cert),
            MINISTACK_SSL_KEY=str(self.tls.server_key),
            MINISTACK_REGION=REGION,
            MINISTACK_ACCOUNT_ID=ACCOUNT,
            AWS_ACCESS_KEY_ID=ADMIN_KEY,
            AWS_SECRET_ACCESS_KEY=ADMIN_KEY,
            # Its scratch files (function code, layers, workers) stay in the stack's state folder.
            TMPDIR=str(tmp),
            LOG_LEVEL="WARNING",
            **self.tls.client_env,
        )
        env.update(self.extra_env)
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                # -P: the script's folder (ours) stays off MiniStack's import path.
                [str(self.python), "-P", str(SERVER_SCRIPT)], env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise MiniStackError(f"MiniStack exited with {self._proc.returncode}; see {self.log_file}")
            try:
                if requests.get(f"{self.endpoint}/_ministack/health", timeout=2,
                                verify=str(self.tls.bundle)).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise MiniStackError(f"MiniStack did not answer on {self.endpoint} within {timeout:.0f}s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # Its function workers are its children: end the whole process group.
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, 9)
            proc.wait(timeout=5)
