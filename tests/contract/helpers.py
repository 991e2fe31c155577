"""Test-side helpers for the emulator contract tests: a loopback image server, a webhook receiver,
and a tiny AKOOL client over `requests`. Plain code (no pytest) so it is easy to reuse."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

CLIENT_ID = "64db241f6d9e5c4bd136c187"
KEY_16 = "0123456789abcdef"
KEY_24 = "0123456789abcdefghijklmn"
KEY_32 = "0123456789abcdefghijklmnopqrstuv"

V3 = "/api/open/v3/faceswap/highquality/specifyimage"
V4 = "/api/open/v4/faceswap/faceswapByImage"
LIST = "/api/open/v3/faceswap/result/listbyids"
DELETE = "/api/open/v3/faceswap/result/delbyids"
QUOTA = "/api/open/v3/faceswap/quota/info"
DETECT = "/interface/detect-api/detect_faces"
TOKEN = "/api/open/v3/getToken"


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll until `condition()` is truthy and return it; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


class ImageServer(_Server):
    """Serves registered bytes at GET /<name>; anything else is 404."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = files.get(self.path.split("?", 1)[0])
                if found is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", found[1])
                self.send_header("Content-Length", str(len(found[0])))
                self.end_headers()
                self.wfile.write(found[0])

            def log_message(self, *args: Any) -> None:
                return

        super().__init__(Handler)

    def add(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        self.files["/" + name] = (data, content_type)
        return f"{self.url}/{name}"


@dataclass
class Callback:
    body: dict[str, Any]
    answered: int
    content_type: str
    path: str
    at: float = field(default_factory=time.monotonic)


class WebhookReceiver(_Server):
    """Records every POST. Answers with `respond(body)` when set, else from `script` (HTTP statuses,
    consumed in order), else 200."""

    def __init__(self) -> None:
        self.calls: list[Callback] = []
        self.script: list[int] = []
        self.respond: Callable[[dict[str, Any]], int] | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(raw)
                with receiver._lock:
                    if receiver.respond is not None:
                        status = receiver.respond(body)
                    else:
                        status = receiver.script.pop(0) if receiver.script else 200
                    receiver.calls.append(
                        Callback(body, status, self.headers.get("Content-Type", ""), self.path)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        super().__init__(Handler)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/webhooks/akool/job-1?token=t0k3n"

    def received(self) -> list[Callback]:
        with self._lock:
            return list(self.calls)


class Akool:
    """A minimal AKOOL client for the tests: x-api-key auth unless told otherwise."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.url = base_url
        self.api_key = api_key

    def headers(self, auth: dict[str, str] | None) -> dict[str, str]:
        return {"x-api-key": self.api_key} if auth is None else auth

    def post(self, path: str, body: Any, auth: dict[str, str] | None = None) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=self.headers(auth), timeout=30)

    def get(
        self, path: str, params: dict[str, str] | None = None, auth: dict[str, str] | None = None
    ) -> requests.Response:
        return requests.get(self.url + path, params=params, headers=self.headers(auth), timeout=30)

    def submit(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.post(path, body).json()
        assert answer["code"] == 1000, answer
        return answer

    def job(self, job_id: str) -> dict[str, Any] | None:
        answer = self.get(LIST, {"_ids": job_id}).json()
        assert answer["code"] == 1000, answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result[0] if result else None

    def wait_final(self, job_id: str, timeout: float = 20.0) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            entry = self.job(job_id)
            return entry if entry and entry["faceswap_status"] in (3, 4) else None

        result: dict[str, Any] = wait_for(final, timeout)
        return result

    def admin(self, method: str, name: str, body: Any = None) -> dict[str, Any]:
        resp = requests.request(method, f"{self.url}/_emulator/{name}", json=body, timeout=10)
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()
        return data

    def faults(self, **faults: Any) -> None:
        self.admin("POST", "faults", faults)

    def wait_quiet(self, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until the emulator is quiet (GET /_emulator/activity): no job queued or being worked on, no
        callback scheduled or being sent, so whatever it was going to do on its own has been done. Wait for
        this before asserting that something did NOT happen."""
        found: dict[str, Any] = wait_for(lambda: (a := self.admin("GET", "activity"))["quiet"] and a, timeout)
        return found

    def admin_job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.admin("GET", f"jobs/{job_id}")["job"]
        return job
