"""A local API Gateway: turns HTTP requests into REST API proxy events for the functions' Api events.

Routes come from template.yaml (each function's `Type: Api` events); the stage name prefixes every path,
as on a deployed REST API (`/<stage>/webhooks/akool/{job_id}`).
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

Invoke = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # template path, e.g. /webhooks/akool/{job_id}
    function: str
    pattern: re.Pattern[str]


def compile_route(method: str, path: str, function: str) -> Route:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return Route(method.upper(), path, function, re.compile(f"^{regex}$"))


_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


def proxy_event(request: Request, route: Route, stage: str, params: dict[str, str]) -> dict[str, Any]:
    raw = request.get_data(cache=False)
    ctype = request.headers.get("Content-Type", "")
    is_text = not raw or any(ctype.startswith(t) for t in _TEXT_TYPES)
    try:
        body: str | None = raw.decode("utf-8") if is_text else None
    except UnicodeDecodeError:
        body = None
    b64 = body is None and bool(raw)
    if b64:
        body = base64.b64encode(raw).decode("ascii")
    headers = dict(request.headers.items())
    multi_headers: dict[str, list[str]] = {}
    for k, v in request.headers.items():
        multi_headers.setdefault(k, []).append(v)
    query = dict(request.args.items()) or None
    multi_query = {k: request.args.getlist(k) for k in request.args} or None
    now = time.time()
    return {
        "resource": route.path,
        "path": request.path.removeprefix(f"/{stage}"),
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": request.method,
            "path": request.path,
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "identity": {
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.user_agent.string,
            },
        },
        "body": body,
        "isBase64Encoded": b64,
    }


class Gateway:
    def __init__(self, routes: list[Route], stage: str, invoke: Callable[[str, dict[str, Any]], Any],
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes = routes
        self.stage = stage
        self._invoke = invoke
        self._server: BaseWSGIServer = make_server(host, port, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="gateway")
        self.requests = 0

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def stage_url(self) -> str:
        return f"{self.url}/{self.stage}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        self.requests += 1
        prefix = f"/{self.stage}"
        if not request.path.startswith(prefix + "/"):
            return Response('{"message":"Forbidden"}', 403, content_type="application/json")
        path = request.path[len(prefix):]
        for route in self.routes:
            m = route.pattern.match(path)
            if m and route.method in (request.method, "ANY"):
                event = proxy_event(request, route, self.stage, m.groupdict())
                try:
                    result = self._invoke(route.function, event)
                except Exception:
                    # What API Gateway answers when the integration fails.
                    return Response('{"message": "Internal server error"}', 502,
                                    content_type="application/json")
                return _to_response(result)
        # API Gateway's answer for an unknown route or method.
        return Response('{"message":"Missing Authentication Token"}', 403, content_type="application/json")


def _to_response(result: Any) -> Response:
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response('{"message": "Internal server error"}', 502, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    resp = Response(data, int(result["statusCode"]))
    for k, v in (result.get("headers") or {}).items():
        resp.headers[k] = str(v)
    for k, vs in (result.get("multiValueHeaders") or {}).items():
        for v in vs:
            resp.headers.add(k, str(v))
    return resp
