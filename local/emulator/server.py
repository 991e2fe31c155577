"""The AKOOL emulator's HTTP server (dev-only, never deployed): AKOOL's image face-swap API on 127.0.0.1.

AKOOL routes (akool-api.md; same envelopes, codes and auth rules):
    POST /api/open/v3/getToken                          {"code":1000,"token":...} (token at top level)
    POST /interface/detect-api/detect_faces             {"error_code","error_msg","faces_obj"}
    POST /api/open/v3/faceswap/highquality/specifyimage {"code","msg","data":{"_id","url","job_id"}}
    POST /api/open/v4/faceswap/faceswapByImage          {"code","msg","data":{"_id","job_id"}}
    GET  /api/open/v3/faceswap/result/listbyids?_ids=a,b
    POST /api/open/v3/faceswap/result/delbyids          {"_ids":"a,b"}
    GET  /api/open/v3/faceswap/quota/info               {"code":1000,"msg":"OK","data":{"credit":N}}
Files (no auth, like AKOOL's CDN): GET /results/<_id>.jpg (404 until status 3), GET /crops/<id>.png.

HTTP status of business errors: AKOOL says "HTTP status is often 200; always use code" and documents no
per-error status, so every {code,msg} answer, errors included (1003, 1005, 1006, 1007, 1101, 1102), is
HTTP 200 with the code in the body. A client that trusts the HTTP status alone will notice here.
The detector keeps its own documented statuses (400 input errors, 500 processing errors; see detect.py);
its auth failures come from the API gateway, so they use the {code,msg} envelope with HTTP 200 too.
A body that is not a JSON object (or not sent as application/json) is treated as empty.
Account limits (limits.py): an authenticated API request past requests_per_second, or a submission while
concurrent_jobs are in flight, is answered 1005 "Operation is too frequent" (HTTP 200).

Admin API under /_emulator/ (no AKOOL auth; see ADMIN.md for bodies and answers):
    GET  /_emulator/health                 liveness and the emulator's URL
    GET  /_emulator/config                 mode, engine, credits and the other settings (no API key)
    GET  /_emulator/requests[?path=...]    request log: method, path, query, JSON body, auth kind, answer
    GET  /_emulator/activity               quiet (nothing queued, running or to send), jobs unfinished and
                                           held by realistic mode, callback attempts pending
    POST /_emulator/reset                  clear the log, jobs, results, crops, pending webhooks and
                                           faults; restore the configured credits, mode and engine
    GET  /_emulator/faults                 current faults
    POST /_emulator/faults                 set faults (submit_error, fail_jobs, fail_reason, drop_webhooks,
                                           duplicate_webhooks, reorder_webhooks, webhook_delay_seconds,
                                           response_delay_ms)
    DELETE /_emulator/faults               clear faults only
    GET  /_emulator/jobs                   every job: status, inputs, reason, history, webhook attempts
    GET  /_emulator/jobs/<_id>             one job (deleted ones too)
    GET|POST /_emulator/mode               {"mode": "instant"|"realistic"}
    GET|POST /_emulator/engine             {"engine": "real"|"passthrough"}
    GET|POST /_emulator/credits            {"credits": N}
    GET|PUT  /_emulator/limits             {"concurrent_jobs": N, "requests_per_second": R} (0 = unlimited)
The request log covers the AKOOL routes and file downloads, not the admin API. It never holds credential
values: it records which credential was used (bearer, x-api-key, credentials for getToken, none), and
masks clientSecret-like body fields; long strings (base64 images) are summarised.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.emulator import admin
from local.emulator.codes import (
    AUTH_EMPTY,
    INVALID_AUTH,
    OK,
    PARAM_ERROR,
    V3_SUBMIT_MSG,
    BusinessError,
    message,
)
from local.emulator.config import EmulatorConfig
from local.emulator.core import Emulator, Throttled
from local.emulator.detect import detect_faces, error_body
from local.emulator.validation import validate_v3, validate_v4

Payload = tuple[dict[str, Any], int]
log = logging.getLogger("local.emulator")

_ADMIN: dict[tuple[str, str], admin.AdminHandler] = {
    ("health", "GET"): admin.health,
    ("config", "GET"): admin.config,
    ("requests", "GET"): admin.requests_log,
    ("activity", "GET"): admin.activity,
    ("reset", "POST"): admin.reset,
    ("faults", "GET"): admin.get_faults,
    ("faults", "POST"): admin.set_faults,
    ("faults", "DELETE"): admin.clear_faults,
    ("jobs", "GET"): admin.jobs,
    ("job", "GET"): admin.job,
    ("mode", "GET"): admin.mode,
    ("mode", "POST"): admin.mode,
    ("engine", "GET"): admin.engine,
    ("engine", "POST"): admin.engine,
    ("credits", "GET"): admin.credits,
    ("credits", "POST"): admin.credits,
    ("limits", "GET"): admin.get_limits,
    ("limits", "PUT"): admin.set_limits,
}


def _rules() -> list[Rule]:
    """Fresh Rule objects for each app (a werkzeug Rule binds to one Map only)."""
    akool = [
        Rule("/api/open/v3/getToken", methods=["POST"], endpoint="get_token"),
        Rule("/interface/detect-api/detect_faces", methods=["POST"], endpoint="detect_faces"),
        Rule("/api/open/v3/faceswap/highquality/specifyimage", methods=["POST"], endpoint="submit_v3"),
        Rule("/api/open/v4/faceswap/faceswapByImage", methods=["POST"], endpoint="submit_v4"),
        Rule("/api/open/v3/faceswap/result/listbyids", methods=["GET"], endpoint="listbyids"),
        Rule("/api/open/v3/faceswap/result/delbyids", methods=["POST"], endpoint="delbyids"),
        Rule("/api/open/v3/faceswap/quota/info", methods=["GET"], endpoint="quota"),
    ]
    files = [
        Rule("/results/<name>", methods=["GET"], endpoint="result_file"),
        Rule("/crops/<name>", methods=["GET"], endpoint="crop_file"),
    ]
    admin_rules = [
        Rule(f"/_emulator/{name}", methods=["GET", "POST", "PUT", "DELETE"], endpoint=f"admin:{name}")
        for name in sorted({name for name, _ in _ADMIN if name != "job"})
    ] + [Rule("/_emulator/jobs/<job_id>", methods=["GET"], endpoint="admin:job")]
    return akool + files + admin_rules


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _envelope(code: int, msg: str | None = None) -> dict[str, Any]:
    return {"code": code, "msg": msg if msg is not None else message(code)}


def _parse_body(request: Request) -> dict[str, Any] | None:
    """The JSON object body, or None (absent, not JSON, not an object): AKOOL's body parser sees nothing."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    if not request.mimetype.endswith("json"):
        return None
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


class EmulatorApp:
    """The WSGI application: AKOOL routes, files and the admin API over one Emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.url_map = Map(_rules(), strict_slashes=False)
        self._akool: dict[str, Callable[[dict[str, Any] | None, Request], Payload]] = {
            "detect_faces": lambda body, _req: detect_faces(self.emu, body or {}),
            "submit_v3": lambda body, _req: self._submit("v3", body),
            "submit_v4": lambda body, _req: self._submit("v4", body),
            "listbyids": lambda _body, req: self._listbyids(req),
            "delbyids": lambda body, _req: self._delbyids(body),
            "quota": lambda _body, _req: ({**_envelope(OK), "data": {"credit": self.emu.credits}}, 200),
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            response = _json({"code": 405, "msg": "Method Not Allowed"}, 405)
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])
            return response(environ, start_response)
        except (NotFound, HTTPException):
            return _json({"code": 404, "msg": "Not Found"}, 404)(environ, start_response)
        if endpoint.startswith("admin:"):
            response = self._admin(endpoint[len("admin:") :], request, args)
        elif endpoint in ("result_file", "crop_file"):
            response = self._file(endpoint, str(args["name"]), request)
        else:
            response = self._akool_route(endpoint, request)
        return response(environ, start_response)

    # -- AKOOL -------------------------------------------------------------------------------------
    def _akool_route(self, endpoint: str, request: Request) -> Response:
        body = _parse_body(request)
        auth_kind = "credentials"  # getToken authenticates with the body's credentials
        limit: str | None = None  # the account limit behind a 1005, for the request log
        try:
            if endpoint == "get_token":
                payload, status = self._get_token(body)
            else:
                headers = request.headers
                auth = self.emu.auth.check(headers.get("Authorization"), headers.get("x-api-key"))
                auth_kind = auth.kind
                if auth.ok:
                    self._admit()
                    payload, status = self._akool[endpoint](body, request)
                else:
                    payload, status = _envelope(auth.code), 200
        except Throttled as exc:
            # Refused at the account's gate, before any route logic: the same {code,msg} envelope on
            # every route, the detector's included (its auth failures look the same).
            payload, status, limit = _envelope(exc.code, exc.msg), 200, exc.limit
        except BusinessError as exc:
            payload, status = _envelope(exc.code, exc.msg), 200
        except Exception:  # an emulator bug must still answer in AKOOL's shape
            log.exception("emulator error on %s", request.path)
            if endpoint == "detect_faces":
                payload, status = error_body("Failed to process media"), 500
            else:
                payload, status = {"code": 500, "msg": "Internal Server Error"}, 500
        delay_ms = self.emu.faults.response_delay_ms
        if delay_ms:
            time.sleep(delay_ms / 1000)
        self._log(request, body, auth_kind, status, payload.get("code", payload.get("error_code")), limit)
        return _json(payload, status)

    def _admit(self) -> None:
        """Count a request that names the account; Throttled past requests_per_second."""
        if not self.emu.limits.admit_request():
            raise Throttled("requests_per_second")

    def _get_token(self, body: dict[str, Any] | None) -> Payload:
        body = body or {}
        client_id, secret = body.get("clientId"), body.get("clientSecret")
        if not client_id or not secret:
            return _envelope(AUTH_EMPTY), 200
        if not self.emu.auth.credentials_match(client_id, secret):
            return _envelope(INVALID_AUTH), 200
        self._admit()
        return {"code": OK, "token": self.emu.auth.issue_token()}, 200

    def _submit(self, api: str, body: dict[str, Any] | None) -> Payload:
        injected = self.emu.faults.take_submit_error()
        if injected is not None:
            return _envelope(*injected), 200
        if body is None:
            raise BusinessError(PARAM_ERROR, "the body must be a JSON object")
        request = validate_v3(body) if api == "v3" else validate_v4(body)
        job = self.emu.submit(request, body)
        if api == "v3":
            data = {"_id": job.id, "url": job.result_url, "job_id": job.job_id}
            return {**_envelope(OK, V3_SUBMIT_MSG), "data": data}, 200
        return {**_envelope(OK), "data": {"_id": job.id, "job_id": job.job_id}}, 200

    def _listbyids(self, request: Request) -> Payload:
        raw = request.args.get("_ids", "")
        ids = list(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip()))
        if not ids:
            raise BusinessError(PARAM_ERROR, "_ids", base="Parameter cannot be empty")
        with self.emu.lock:
            result = [
                job.listbyids_entry(self.emu.user_id, self.emu.uid)
                for job in (self.emu.jobs.get(i) for i in ids)
                if job is not None
            ]
        return {**_envelope(OK), "data": {"result": result}}, 200

    def _delbyids(self, body: dict[str, Any] | None) -> Payload:
        raw = (body or {}).get("_ids")
        if not isinstance(raw, str) or not raw.strip():
            raise BusinessError(PARAM_ERROR, '_ids must be a comma-separated string "id1,id2"')
        self.emu.jobs.delete([i.strip() for i in raw.split(",") if i.strip()])
        return _envelope(OK), 200

    # -- files -------------------------------------------------------------------------------------
    def _file(self, endpoint: str, name: str, request: Request) -> Response:
        found: tuple[bytes, str] | None = None
        stem, _, ext = name.partition(".")
        if endpoint == "result_file" and ext == "jpg":
            found = self.emu.result(stem)
        elif endpoint == "crop_file" and ext == "png":
            crop = self.emu.crops.get(stem)
            found = (crop.png, "image/png") if crop is not None else None
        self._log(request, None, "none", 200 if found else 404, None)
        if found is None:
            return Response("Not Found", status=404, mimetype="text/plain")
        return Response(found[0], status=200, mimetype=found[1])

    # -- admin -------------------------------------------------------------------------------------
    def _admin(self, name: str, request: Request, args: Mapping[str, Any]) -> Response:
        handler = _ADMIN.get((name, request.method))
        if handler is None:
            return _json({"error": f"{request.method} not supported on /_emulator/{name}"}, 405)
        merged = {**request.args.to_dict(), **args}
        payload, status = handler(self.emu, _parse_body(request), merged)
        return _json(payload, status)

    def _log(
        self,
        request: Request,
        body: dict[str, Any] | None,
        auth: str,
        status: int,
        code: object,
        limit: str | None = None,
    ) -> None:
        self.emu.log_request(
            {
                "at": time.time(),
                "method": request.method,
                "path": request.path,
                "query": request.args.to_dict(),
                "body": body,
                "auth": auth,
                "http_status": status,
                "code": code,
                "limit": limit,
            }
        )


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (the admin request log has them); errors still go to logging."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@dataclass
class RunningEmulator:
    """A started emulator; `stop()` (or leaving the `with` block) shuts it down and joins its threads."""

    url: str
    config: EmulatorConfig
    emulator: Emulator
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._thread.join(timeout=10)
        self.emulator.stop()
        self._server.server_close()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(config: EmulatorConfig) -> RunningEmulator:
    """Bind config.host:config.port (0 = a free port), start the server, workers and webhook senders."""
    emu = Emulator(config)
    tls = None
    if config.tls_cert_file and config.tls_key_file:
        tls = (config.tls_cert_file, config.tls_key_file)
    server = make_server(
        config.host, config.port, EmulatorApp(emu), threaded=True, request_handler=_QuietHandler,
        ssl_context=tls,
    )
    host = f"[{config.host}]" if ":" in config.host else config.host
    url = f"{'https' if tls else 'http'}://{host}:{server.server_port}"
    emu.start(url)
    # A short poll interval so stop() returns quickly.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="akool-emu-http", daemon=True
    )
    thread.start()
    return RunningEmulator(url=url, config=config, emulator=emu, _server=server, _thread=thread)
