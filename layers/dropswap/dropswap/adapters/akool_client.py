"""The AKOOL HTTP client: the one module that talks to AKOOL (docs/akool.md).

- Auth is the `x-api-key` header only; the key never goes into a URL, a log line or an exception.
- Face-swap endpoints answer `{"code", "msg", "data"}` and report business errors in the body, often with
  HTTP 200, so the body's `code` decides; the detector answers `{"error_code", "error_msg", "faces_obj"}`.
- Retryable failures (1005, HTTP 5xx/429, timeouts, connection errors) are retried a bounded number of
  times with exponential backoff and full jitter, and never past the Lambda's remaining time.
- The detector's "Failed to process media" (HTTP 500) is tried `MEDIA_ATTEMPTS` times, then final: it is
  the detector's word on the image (undecodable), not an outage, and retrying it for a day helps nobody.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests

from dropswap.domain.akool import AkoolCredentials, AkoolError, AkoolJobInfo, SubmitResult
from dropswap.domain.faces import DetectedFace, Region
from dropswap.domain.redelivery import full_jitter

SUCCESS = 1000
RETRYABLE_CODES = frozenset({1005})  # "Operation is too frequent"; every other code but 1000 is final
# The detector's answer for media it cannot process (docs/akool.md §3): tries before it is final.
MEDIA_FAILED_MSG = "failed to process media"
MEDIA_ATTEMPTS = 2

V3_PATH = "/api/open/v3/faceswap/highquality/specifyimage"
PRO_PATH = "/api/open/v4/faceswap/faceswapByImage"
LIST_PATH = "/api/open/v3/faceswap/result/listbyids"
DETECT_PATH = "/detect_faces"
PRO_MODEL = "akool_faceswap_image_hq"

# listbyids takes a comma-joined id list in the query string; AKOOL documents no maximum, so keep
# each request's URL short.
_LIST_CHUNK = 50
_BACKOFF_CAP_SECONDS = 8.0
_MSG_LIMIT = 300








def _as_int(value: Any) -> int | None:
    """AKOOL's numbers, defensively: ints, or strings holding ints (seen in the wild for statuses)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _short(text: Any) -> str:
    s = str(text)
    return s if len(s) <= _MSG_LIMIT else s[:_MSG_LIMIT] + "…"


class AkoolClient:
    def __init__(
        self,
        credentials: AkoolCredentials,
        base_url: str,
        detect_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        remaining_seconds: Callable[[], float] | None = None,
        safety_margin_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        before_request: Callable[[], None] | None = None,
        retry_base_seconds: float = 0.5,
    ) -> None:
        self._credentials = credentials
        self._base = base_url.rstrip("/")
        self._detect = detect_url.rstrip("/")
        self._session = session or requests.Session()
        self._timeout = timeout
        self._max_attempts = max(1, max_attempts)
        self._remaining = remaining_seconds
        # Time kept back for the caller to record the outcome (release a claim, write a report).
        self._margin = safety_margin_seconds
        self._sleep = sleep
        self._backoff_base = retry_base_seconds
        # Spaces this process's requests under AKOOL's request rate (pacing.RequestSpacer.wait).
        self._before_request = before_request

    def __repr__(self) -> str:
        return f"AkoolClient(base_url={self._base!r})"

    # -- public API ----------------------------------------------------------------------------
    def detect_faces(
        self,
        *,
        url: str | None = None,
        img: str | None = None,
        single_face: bool = False,
        return_face_url: bool = False,
    ) -> list[DetectedFace]:
        """Faces in an image (new detector, docs/akool.md §3). No face is an empty list, not an error."""
        if (url is None) == (img is None):
            raise ValueError("detect_faces needs exactly one of url or img")
        body: dict[str, Any] = {"single_face": single_face, "return_face_url": return_face_url}
        if url is not None:
            body["url"] = url
        else:
            body["img"] = img
        data = self._call("POST", self._detect + DETECT_PATH, "detect_faces", json_body=body, detector=True)
        return _parse_faces(data)

    def faceswap_pro(
        self,
        source_images: Sequence[Mapping[str, str]],
        target_images: Sequence[Mapping[str, str]],
        *,
        face_enhance: bool,
        webhook_url: str,
    ) -> SubmitResult:
        """Face Swap Pro (v4 faceswapByImage, docs/akool.md §2b): face_enhance is a boolean here."""
        body = {
            "sourceImage": [dict(i) for i in source_images],
            "targetImage": [dict(i) for i in target_images],
            "model_name": PRO_MODEL,
            "face_enhance": bool(face_enhance),
            "single_face_mode": False,
            "webhookUrl": webhook_url,
        }
        return _submit_result(self._call("POST", self._base + PRO_PATH, "faceswap_pro", json_body=body))

    def faceswap_v3(
        self,
        modify_image: str,
        source_images: Sequence[Mapping[str, str]],
        target_images: Sequence[Mapping[str, str]],
        *,
        face_enhance: bool,
        webhook_url: str,
    ) -> SubmitResult:
        """v3 specifyimage (docs/akool.md §2a): face_enhance is the integer 0 or 1 here."""
        body = {
            "sourceImage": [dict(i) for i in source_images],
            "targetImage": [dict(i) for i in target_images],
            "modifyImage": modify_image,
            "face_enhance": 1 if face_enhance else 0,
            "webhookUrl": webhook_url,
        }
        return _submit_result(self._call("POST", self._base + V3_PATH, "faceswap_v3", json_body=body))

    def list_by_ids(self, ids: Sequence[str]) -> list[AkoolJobInfo]:
        """The state of jobs by AKOOL `_id` (not job_id, which returns nothing). Unknown ids are absent."""
        wanted = list(dict.fromkeys(i for i in ids if i))
        out: list[AkoolJobInfo] = []
        for start in range(0, len(wanted), _LIST_CHUNK):
            chunk = wanted[start : start + _LIST_CHUNK]
            body = self._call("GET", self._base + LIST_PATH, "listbyids", params={"_ids": ",".join(chunk)})
            data = body.get("data")
            results = data.get("result") if isinstance(data, dict) else None
            for item in results if isinstance(results, list) else []:
                info = _job_info(item)
                if info is not None:
                    out.append(info)
        return out

    # -- transport -----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {
            "x-api-key": self._credentials.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "dropswap/0.1",
        }

    def _time_left(self) -> float | None:
        return None if self._remaining is None else self._remaining() - self._margin

    def _call(
        self,
        method: str,
        url: str,
        op: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        detector: bool = False,
    ) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            left = self._time_left()
            if left is not None and left <= 0:
                raise AkoolError(f"{op}: not enough time left in this invocation", retryable=True)
            timeout = self._timeout if left is None else min(self._timeout, left)
            try:
                return self._once(method, url, op, json_body, params, timeout, detector)
            except AkoolError as exc:
                if exc.media_failed and exc.retryable and attempt >= min(MEDIA_ATTEMPTS, self._max_attempts):
                    raise AkoolError(exc.message, retryable=False, http_status=exc.http_status) from None
                if not exc.retryable or attempt >= self._max_attempts:
                    raise
                # Note: a POST that timed out may have been accepted; AKOOL offers no idempotency key.
                delay = full_jitter(attempt, self._backoff_base, _BACKOFF_CAP_SECONDS)
                left = self._time_left()
                if left is not None and left - delay < 1.0:
                    raise
                self._sleep(delay)

    def _once(
        self,
        method: str,
        url: str,
        op: str,
        json_body: dict[str, Any] | None,
        params: dict[str, str] | None,
        timeout: float,
        detector: bool,
    ) -> dict[str, Any]:
        if self._before_request is not None:
            self._before_request()
        try:
            resp = self._session.request(
                method, url, json=json_body, params=params, headers=self._headers(), timeout=timeout
            )
        except requests.Timeout as exc:
            raise AkoolError(f"{op}: AKOOL did not answer within {timeout:.1f}s", retryable=True) from exc
        except requests.RequestException as exc:
            # The exception text can carry the URL (never secret here) but not headers; keep it short.
            raise AkoolError(f"{op}: cannot reach AKOOL ({type(exc).__name__})", retryable=True) from exc
        status = resp.status_code
        try:
            body: Any = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            transient = status >= 500 or status == 429
            raise AkoolError(
                f"{op}: unexpected HTTP {status} response from AKOOL (not a JSON object)",
                retryable=transient,
                http_status=status,
            )
        if detector and "error_code" in body:
            return _check_detector(body, op, status)
        return _check_envelope(body, op, status)


def _check_envelope(body: dict[str, Any], op: str, status: int) -> dict[str, Any]:
    code = _as_int(body.get("code"))
    msg = _short(body.get("msg") or body.get("message") or "")
    if code == SUCCESS and status < 400:
        return body
    if code is not None and code != SUCCESS:
        retryable = code in RETRYABLE_CODES
        raise AkoolError(
            f"{op}: {msg or 'request failed'}", code=code, retryable=retryable, http_status=status
        )
    transient = status >= 500 or status == 429
    raise AkoolError(
        f"{op}: unexpected HTTP {status} from AKOOL{': ' + msg if msg else ''}",
        code=code if code != SUCCESS else None,
        retryable=transient,
        http_status=status,
    )


def _check_detector(body: dict[str, Any], op: str, status: int) -> dict[str, Any]:
    error_code = _as_int(body.get("error_code"))
    msg = _short(body.get("error_msg") or "")
    if error_code == 0 and status < 400:
        return body
    if "no face" in msg.lower():
        # The detector reports an image without faces as an error; for us it is an empty answer.
        return {"error_code": 0, "faces_obj": {}}
    transient = status >= 500 or status == 429
    raise AkoolError(
        f"{op}: {msg or f'HTTP {status}'}",
        retryable=transient,
        http_status=status,
        media_failed=MEDIA_FAILED_MSG in msg.lower(),
    )


def _submit_result(body: dict[str, Any]) -> SubmitResult:
    data = body.get("data")
    akool_id = data.get("_id") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(akool_id, str) or not akool_id:
        # Accepted but untrackable; retrying would risk a second paid job, so this is final.
        raise AkoolError("AKOOL accepted the swap but returned no _id", retryable=False)
    job_id = data.get("job_id")
    url = data.get("url")
    return SubmitResult(
        akool_id=akool_id,
        akool_job_id=str(job_id) if job_id not in (None, "") else None,
        url=url if isinstance(url, str) and url else None,
    )


def _job_info(item: Any) -> AkoolJobInfo | None:
    if not isinstance(item, dict):
        return None
    akool_id = item.get("_id")
    status = _as_int(item.get("faceswap_status"))
    if not isinstance(akool_id, str) or not akool_id or status is None:
        return None
    url = item.get("url")
    return AkoolJobInfo(
        akool_id=akool_id, status=status, url=url if isinstance(url, str) and url else None, raw=item
    )


def _bad_detect(reason: str) -> AkoolError:
    return AkoolError(f"detect_faces: unexpected response from AKOOL ({reason})", retryable=False)


def _point(value: Any) -> tuple[int, int]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise _bad_detect("landmark is not [x, y]")
    x, y = _as_int(value[0]), _as_int(value[1])
    if x is None or y is None:
        raise _bad_detect("landmark coordinates are not integers")
    return x, y


def _region(value: Any) -> Region:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise _bad_detect("region is not [x, y, w, h]")
    nums = [n for n in (_as_int(v) for v in value) if n is not None]
    if len(nums) != 4:
        raise _bad_detect("region values are not integers")
    return Region(*nums)


def _parse_faces(body: dict[str, Any]) -> list[DetectedFace]:
    frames = body.get("faces_obj")
    if not frames:
        return []
    if not isinstance(frames, dict):
        raise _bad_detect("faces_obj is not an object")
    # Images have one frame, "0"; fall back to the first frame if a variant keys it differently.
    frame = frames.get("0", next(iter(frames.values())))
    if not isinstance(frame, dict):
        raise _bad_detect("frame is not an object")
    regions = frame.get("region") or []
    landmarks = frame.get("landmarks") or []
    strings = frame.get("landmarks_str") or []
    urls = frame.get("face_urls") or []
    crops = frame.get("crop_landmarks") or []
    if not isinstance(regions, list) or not isinstance(landmarks, list) or len(landmarks) != len(regions):
        raise _bad_detect("region and landmarks do not pair up")
    faces: list[DetectedFace] = []
    for i, raw_region in enumerate(regions):
        points = tuple(_point(p) for p in (landmarks[i] or []))
        if len(points) < 4:
            raise _bad_detect("fewer than 4 landmarks for a face")
        lm_str = strings[i] if isinstance(strings, list) and i < len(strings) else None
        if not isinstance(lm_str, str) or not lm_str:
            # Documented as the first four landmarks joined as x,y:x,y:...; rebuild it if absent.
            lm_str = ":".join(f"{x},{y}" for x, y in points[:4])
        face_url = urls[i] if isinstance(urls, list) and i < len(urls) and isinstance(urls[i], str) else None
        crop = crops[i] if isinstance(crops, list) and i < len(crops) and isinstance(crops[i], str) else None
        faces.append(DetectedFace(_region(raw_region), points, lm_str, face_url, crop))
    return faces
