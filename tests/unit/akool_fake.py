"""A fake AKOOL at the requests boundary (the `responses` library), answering with AKOOL's documented
envelopes, plus a validator of submit bodies written from docs/akool.md (not from the code under test).

Faces are registered per image by a substring of the image's URL path (presigned S3 URLs carry the key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import responses

from devkit.credentials import TEST_API_KEY

BASE = "https://openapi.akool.test"
DETECT = "https://openapi.akool.test/interface/detect-api"
V3_URL = BASE + "/api/open/v3/faceswap/highquality/specifyimage"
PRO_URL = BASE + "/api/open/v4/faceswap/faceswapByImage"
LIST_URL = BASE + "/api/open/v3/faceswap/result/listbyids"
DETECT_URL = DETECT + "/detect_faces"

V3_MSG = "Please be patient! If your results are not generated in three hours, please check your input image."
MESSAGES = {
    1003: "Parameter error",
    1005: "Operation is too frequent",
    1006: "Your quota is not enough",
    1007: "The number of people who can have their faces changed cannot exceed 8",
    1101: "Invalid authorization or The request token has expired",
    1102: "Authorization cannot be empty",
    1200: "The account has been banned",
}


def face(x: int, y: int, w: int, h: int) -> dict[str, Any]:
    """A detector face whose landmarks sit inside its box, as the real detector reports them."""
    pts = [
        [x + w * 3 // 10, y + h * 4 // 10],
        [x + w * 7 // 10, y + h * 4 // 10],
        [x + w // 2, y + h * 6 // 10],
        [x + w // 2, y + h * 8 // 10],
        [x + w * 35 // 100, y + h * 8 // 10],
        [x + w * 65 // 100, y + h * 8 // 10],
    ]
    return {"region": [x, y, w, h], "landmarks": pts}


def landmarks_str(f: dict[str, Any]) -> str:
    return ":".join(f"{p[0]},{p[1]}" for p in f["landmarks"][:4])


def detect_body(faces: list[dict[str, Any]]) -> dict[str, Any]:
    """The new detector's success envelope (docs/akool.md §3), one frame "0"."""
    return {
        "error_code": 0,
        "error_msg": "SUCCESS",
        "faces_obj": {
            "0": {
                "landmarks": [f["landmarks"] for f in faces],
                "landmarks_str": [landmarks_str(f) for f in faces],
                "region": [f["region"] for f in faces],
                "frame_time": None,
            }
        },
    }


NO_FACES = {"error_code": 1, "error_msg": "No faces detected", "faces_obj": {}}


# -- request validation from docs/akool.md -------------------------------------------------------
_OPTS = re.compile(r"^-?\d+,-?\d+(:-?\d+,-?\d+){3}$")


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_items(name: str, items: Any, problems: list[str]) -> None:
    if not isinstance(items, list):
        problems.append(f"{name} is not an array")
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{name}[{i}] is not an object")
            continue
        if not _is_http_url(item.get("path")):
            problems.append(f"{name}[{i}].path is not an http(s) URL")
        if "opts" in item and not (isinstance(item["opts"], str) and _OPTS.match(item["opts"])):
            problems.append(f"{name}[{i}].opts is not 'x1,y1:x2,y2:x3,y3:x4,y4'")
        if set(item) - {"path", "opts"}:
            problems.append(f"{name}[{i}] has unknown fields {sorted(set(item) - {'path', 'opts'})}")


def _check_opts_rule(body: dict[str, Any], problems: list[str]) -> None:
    src, tgt = body.get("sourceImage") or [], body.get("targetImage") or []
    if len(src) == 1 and len(tgt) == 1:
        return
    for name, items in (("sourceImage", src), ("targetImage", tgt)):
        for i, item in enumerate(items):
            if isinstance(item, dict) and not item.get("opts"):
                problems.append(f"{name}[{i}].opts is required when either array has more than one item")


def pro_problems(body: dict[str, Any]) -> list[str]:
    """Face Swap Pro, docs/akool.md §2b."""
    problems: list[str] = []
    for name in ("sourceImage", "targetImage"):
        items = body.get(name)
        if not isinstance(items, list) or not 1 <= len(items) <= 50:
            problems.append(f"{name} must be an array of 1 to 50 items")
        _check_items(name, items, problems)
    if "modifyImage" in body:
        problems.append("Pro has no modifyImage")
    if body.get("model_name", "akool_faceswap_image_hq") != "akool_faceswap_image_hq":
        problems.append("model_name must be akool_faceswap_image_hq")
    for flag in ("face_enhance", "single_face_mode"):
        if flag in body and not isinstance(body[flag], bool):
            problems.append(f"{flag} must be a boolean")
    if not isinstance(body.get("webhookUrl", ""), str):
        problems.append("webhookUrl must be a string")
    if len(body.get("sourceImage") or []) != len(body.get("targetImage") or []):
        problems.append("sourceImage and targetImage pair by index and must have the same length")
    _check_opts_rule(body, problems)
    return problems


def v3_problems(body: dict[str, Any]) -> list[str]:
    """v3 specifyimage, docs/akool.md §2a."""
    problems: list[str] = []
    for name in ("sourceImage", "targetImage"):
        items = body.get(name)
        if not isinstance(items, list) or not items:
            problems.append(f"{name} is required (a non-empty array)")
        _check_items(name, items, problems)
    if len(body.get("targetImage") or []) > 8:
        problems.append("more than 8 target faces (1007)")
    if not _is_http_url(body.get("modifyImage")):
        problems.append("modifyImage is required and must be an http(s) URL")
    enhance = body.get("face_enhance", 0)
    if isinstance(enhance, bool) or enhance not in (0, 1):
        problems.append("face_enhance must be the integer 0 or 1")
    if len(body.get("sourceImage") or []) != len(body.get("targetImage") or []):
        problems.append("sourceImage and targetImage pair by index and must have the same length")
    for name in ("sourceImage", "targetImage"):
        for i, item in enumerate(body.get(name) or []):
            if isinstance(item, dict) and not item.get("opts"):
                problems.append(f"{name}[{i}].opts: v3 expects landmarks for every face")
    if not isinstance(body.get("webhookUrl", ""), str):
        problems.append("webhookUrl must be a string")
    return problems


# -- the fake server ----------------------------------------------------------------------------
@dataclass
class Call:
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class FakeAkool:
    rsps: responses.RequestsMock
    faces: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # URL-path substring -> faces
    calls: list[Call] = field(default_factory=list)
    # Per endpoint ("detect", "pro", "v3", "list"): replies (http_status, body) served before normal ones.
    queued: dict[str, list[tuple[int, dict[str, Any] | str]]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _n: int = 0

    def install(self) -> FakeAkool:
        self.rsps.add_callback(responses.POST, DETECT_URL, callback=self._detect)
        self.rsps.add_callback(responses.POST, PRO_URL, callback=self._pro)
        self.rsps.add_callback(responses.POST, V3_URL, callback=self._v3)
        self.rsps.add_callback(
            responses.GET, re.compile(re.escape(LIST_URL) + r"(\?.*)?$"), callback=self._list
        )
        return self

    # what tests look at
    def submissions(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith(("/faceswapByImage", "/specifyimage"))]

    def detections(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith("/detect_faces")]

    def queue(self, endpoint: str, status: int, body: dict[str, Any] | str) -> None:
        """The next reply of an endpoint: a JSON body, or raw text (e.g. a load balancer's HTML page)."""
        self.queued.setdefault(endpoint, []).append((status, body))

    def queue_code(self, endpoint: str, code: int) -> None:
        self.queue(endpoint, 200, {"code": code, "msg": MESSAGES.get(code, "Error")})

    # handlers
    def _record(self, request: Any) -> tuple[Call, tuple[int, dict[str, str], str] | None]:
        body = json.loads(request.body) if request.body else None
        call = Call(request.method, request.url, dict(request.headers), body)
        self.calls.append(call)
        key = request.headers.get("x-api-key")
        if request.headers.get("Authorization"):
            return call, _reply(200, {"code": 1101, "msg": MESSAGES[1101]})
        if not key:
            return call, _reply(200, {"code": 1102, "msg": MESSAGES[1102]})
        if key != TEST_API_KEY:
            return call, _reply(200, {"code": 1101, "msg": MESSAGES[1101]})
        return call, None

    def _queued(self, endpoint: str) -> tuple[int, dict[str, str], str] | None:
        items = self.queued.get(endpoint)
        if items:
            status, body = items.pop(0)
            return _reply(status, body)
        return None

    def _detect(self, request: Any) -> tuple[int, dict[str, str], str]:
        call, denied = self._record(request)
        if denied:
            return denied
        queued = self._queued("detect")
        if queued:
            return queued
        assert call.body is not None
        url = call.body.get("url")
        if not isinstance(url, str) or not url:
            return _reply(
                400,
                {
                    "error_code": 1,
                    "error_msg": "Either 'url' or 'img' parameter must be provided",
                    "faces_obj": {},
                },
            )
        path = unquote(urlsplit(url).path)
        for needle, faces in self.faces.items():
            if needle in path:
                return _reply(200, detect_body(faces)) if faces else _reply(400, NO_FACES)
        return _reply(
            400, {"error_code": 1, "error_msg": "Failed to download media from URL", "faces_obj": {}}
        )

    def _submit(self, request: Any, endpoint: str, problems_of: Any) -> tuple[int, dict[str, str], str]:
        call, denied = self._record(request)
        if denied:
            return denied
        queued = self._queued(endpoint)
        if queued:
            return queued
        assert call.body is not None
        problems = problems_of(call.body)
        if problems:
            code = 1007 if any("1007" in p for p in problems) else 1003
            return _reply(200, {"code": code, "msg": f"{MESSAGES[code]}: {'; '.join(problems)}"})
        self._n += 1
        akool_id = f"{self._n:024x}"
        job_id = f"20261122101530{self._n:03d}-{self._n:04d}"
        self.jobs[akool_id] = {
            "_id": akool_id,
            "faceswap_status": 1,
            "url": f"https://cdn.akool.test/final_{self._n}.jpg",
        }
        data: dict[str, Any] = {"_id": akool_id, "job_id": job_id}
        if endpoint == "v3":
            data["url"] = self.jobs[akool_id]["url"]
            return _reply(200, {"code": 1000, "msg": V3_MSG, "data": data})
        return _reply(200, {"code": 1000, "msg": "OK", "data": data})

    def _pro(self, request: Any) -> tuple[int, dict[str, str], str]:
        return self._submit(request, "pro", pro_problems)

    def _v3(self, request: Any) -> tuple[int, dict[str, str], str]:
        return self._submit(request, "v3", v3_problems)

    def _list(self, request: Any) -> tuple[int, dict[str, str], str]:
        _, denied = self._record(request)
        if denied:
            return denied
        queued = self._queued("list")
        if queued:
            return queued
        ids = parse_qs(urlsplit(request.url).query).get("_ids", [""])[0].split(",")
        result = [self.jobs[i] for i in ids if i in self.jobs]
        return _reply(200, {"code": 1000, "msg": "OK", "data": {"result": result}})


def _reply(status: int, body: dict[str, Any] | str) -> tuple[int, dict[str, str], str]:
    if isinstance(body, str):
        return status, {"Content-Type": "text/html"}, body
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def fake_akool() -> Iterator[FakeAkool]:
    """Generator for a fixture: AKOOL faked, every other HTTP call passes through to moto's mock."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeAkool(rsps).install()
