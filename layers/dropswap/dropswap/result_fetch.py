"""Download AKOOL's result image to a temporary file: https only, size-capped, image/* only, streamed.

The adapter between finalisation and `requests`. The body is written in small chunks to a file in
the temp directory (/tmp on Lambda) and uploaded to S3 from disk, so memory stays flat whatever the
size of the result; the file is deleted when the `fetch` context exits.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import requests

from dropswap.error_codes import ErrorCode

CHUNK_BYTES = 64 * 1024
_MAX_REDIRECTS = 3
_TRANSIENT_HTTP = frozenset({429, 500, 502, 503, 504})


class ResultFetchError(Exception):
    """The result could not be fetched; `code` is the job's error code, `message` says why."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FetchedResult:
    path: str  # a temporary file holding the whole body
    size: int
    content_type: str


def redact_url(url: str) -> str:
    """scheme://host/path: result URLs may carry signatures in their query string, never log those."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def check_url(url: str, *, https_only: bool) -> None:
    parts = urlsplit(url)
    allowed = {"https"} if https_only else {"https", "http"}
    if parts.scheme.lower() not in allowed or not parts.hostname:
        wanted = "https" if https_only else "http(s)"
        raise ResultFetchError(
            ErrorCode.RESULT_URL_NOT_ALLOWED,
            f"result URL must be an absolute {wanted} URL: {redact_url(url)!r}",
        )


class HttpResultFetcher:
    def __init__(
        self,
        *,
        https_only: bool = True,
        max_bytes: int,
        timeout_seconds: float = 30.0,
        attempts: int = 2,
        backoff_seconds: float = 1.0,
        session: requests.Session | None = None,
        temp_dir: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.https_only = https_only
        self.max_bytes = max_bytes
        self._timeout = (min(timeout_seconds, 10.0), timeout_seconds)
        self._attempts = max(1, attempts)
        self._backoff = backoff_seconds
        self._session = session or requests.Session()
        self._temp_dir = temp_dir
        self._sleep = sleep

    @contextlib.contextmanager
    def fetch(self, url: str) -> Iterator[FetchedResult]:
        """Yield the downloaded result; raise ResultFetchError when it cannot be had."""
        fd, path = tempfile.mkstemp(prefix="dropswap-result-", dir=self._temp_dir)
        try:
            with os.fdopen(fd, "w+b") as out:
                result = self._download_with_retries(url, out, path)
            yield result
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _download_with_retries(self, url: str, out: BinaryIO, path: str) -> FetchedResult:
        for attempt in range(1, self._attempts + 1):
            try:
                return self._download(url, out, path)
            except _Transient as exc:
                # Connection drops, timeouts and 5xx are worth one more try; anything else is final.
                if attempt >= self._attempts:
                    raise ResultFetchError(ErrorCode.RESULT_FETCH_FAILED, exc.message) from exc
                out.seek(0)
                out.truncate()
                self._sleep(self._backoff * attempt)
        raise AssertionError("unreachable")

    def _download(self, url: str, out: BinaryIO, path: str) -> FetchedResult:
        check_url(url, https_only=self.https_only)
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                # Redirects are followed by hand so that every hop passes the same https check.
                resp = self._session.get(current, stream=True, timeout=self._timeout, allow_redirects=False)
            except requests.RequestException as exc:
                raise _Transient(f"could not download {redact_url(current)}: {type(exc).__name__}") from exc
            with resp:
                if resp.is_redirect:
                    location = resp.headers.get("Location", "")
                    current = urljoin(current, location)
                    check_url(current, https_only=self.https_only)
                    continue
                return self._save(resp, current, out, path)
        raise ResultFetchError(
            ErrorCode.RESULT_FETCH_FAILED, f"more than {_MAX_REDIRECTS} redirects for {redact_url(url)}"
        )

    def _save(self, resp: requests.Response, url: str, out: BinaryIO, path: str) -> FetchedResult:
        shown = redact_url(url)
        if resp.status_code in _TRANSIENT_HTTP:
            raise _Transient(f"result download {shown} answered HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise ResultFetchError(
                ErrorCode.RESULT_FETCH_FAILED, f"result download {shown} answered HTTP {resp.status_code}"
            )
        content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not content_type.startswith("image/"):
            shown_type = content_type or "none"
            raise ResultFetchError(
                ErrorCode.RESULT_NOT_AN_IMAGE, f"result {shown} has Content-Type {shown_type!r}, not image/*"
            )
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ResultFetchError(
                ErrorCode.RESULT_TOO_LARGE,
                f"result {shown} is {int(declared)} bytes, over the {self.max_bytes} cap",
            )
        size = 0
        try:
            for chunk in resp.iter_content(chunk_size=CHUNK_BYTES):
                size += len(chunk)
                if size > self.max_bytes:
                    # Checked while streaming too: Content-Length may be absent or lie.
                    raise ResultFetchError(
                        ErrorCode.RESULT_TOO_LARGE, f"result {shown} exceeds the {self.max_bytes}-byte cap"
                    )
                out.write(chunk)
        except requests.RequestException as exc:
            raise _Transient(f"download of {shown} broke off: {type(exc).__name__}") from exc
        if size == 0:
            raise ResultFetchError(ErrorCode.RESULT_FETCH_FAILED, f"result {shown} is empty")
        out.flush()
        return FetchedResult(path=path, size=size, content_type=content_type)


class _Transient(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
