"""Download AKOOL's result image to a temporary file: https only, from public servers only, size-capped,
within an overall deadline, and only if its bytes are a JPEG, PNG or WebP image. Streamed.

Every hop (the URL and each redirect, followed by hand) must be https, name its host as a public DNS name
(source_host.py: no IP address in any notation), lie under AllowedResultHosts when the operator set it,
and resolve to public addresses only; the connection goes to the address checked (pinned_transport.py).

The adapter between finalisation and `requests`. The body is written in small chunks to a file in
the temp directory (/tmp on Lambda) and uploaded to S3 from disk, so memory stays flat whatever the
size of the result; the file is deleted when the `fetch` context exits. Reads return whatever has arrived
(`read1`), so the deadline is checked however slowly the bytes trickle in; a read that gets nothing waits
at most until the deadline. The Content-Type header is only a first filter: the bytes decide (an SVG or
an HTML page labelled image/* is refused), and the stored object gets the type the bytes show.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from dropswap.adapters.pinned_transport import AddressRefused, PinnedAdapter, Resolver, system_resolver
from dropswap.domain import image_header, source_host
from dropswap.domain.akool import FetchedResult, ResultFetchError
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.public_address import parse_address

CHUNK_BYTES = 64 * 1024
_MAX_REDIRECTS = 3
_TRANSIENT_HTTP = frozenset({429, 500, 502, 503, 504})
# Enough leading bytes to tell the formats apart (WebP: "RIFF" size "WEBP").
_SNIFF_BYTES = 12
# The input checks' sniffer decides the type; results are stored only in these (AKOOL returns no BMP).
_RESULT_TYPES = frozenset({image_header.JPEG, image_header.PNG, image_header.WEBP})


def sniff_image_type(head: bytes) -> str | None:
    """The MIME type of a JPEG, PNG or WebP file from its first bytes; None for anything else."""
    kind = image_header.sniff(head)
    return kind if kind in _RESULT_TYPES else None


def _describe(head: bytes) -> str:
    text = head.lstrip().lower()
    if text.startswith((b"<svg", b"<?xml")):
        return "SVG/XML"
    if text.startswith((b"<!doctype", b"<html", b"<head", b"<body")):
        return "HTML"
    return "not a JPEG, PNG or WebP image"






def redact_url(url: str) -> str:
    """scheme://host/path: result URLs may carry signatures in their query string, never log those."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def check_url(
    url: str, *, https_only: bool, allowed_hosts: tuple[str, ...] = (), allow_loopback: bool = False
) -> None:
    """The scheme and host rules for one hop (the addresses are the transport's to check)."""
    parts = urlsplit(url)
    allowed = {"https"} if https_only else {"https", "http"}
    if parts.scheme.lower() not in allowed or not parts.hostname:
        wanted = "https" if https_only else "http(s)"
        raise ResultFetchError(
            ErrorCode.RESULT_URL_NOT_ALLOWED,
            f"result URL must be an absolute {wanted} URL: {redact_url(url)!r}",
        )
    if allow_loopback and _is_loopback_host(parts.hostname):
        return  # the local stack's emulator, on 127.0.0.1
    try:
        host = source_host.public_host(url)
    except source_host.HostRefused as exc:
        raise ResultFetchError(
            ErrorCode.RESULT_URL_NOT_ALLOWED, f"result URL {redact_url(url)} is refused: {exc}"
        ) from None
    if not source_host.host_allowed(host, allowed_hosts):
        raise ResultFetchError(
            ErrorCode.RESULT_URL_NOT_ALLOWED,
            f"result host {host} is not under the allowed result hosts ({', '.join(allowed_hosts)}); "
            "the operator lists them in the AllowedResultHosts parameter",
        )


def _is_loopback_host(host: str) -> bool:
    address = parse_address(host)
    return host == "localhost" or (address is not None and address.is_loopback)


class HttpResultFetcher:
    def __init__(
        self,
        *,
        https_only: bool = True,
        allowed_hosts: tuple[str, ...] = (),
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
        max_bytes: int,
        timeout_seconds: float = 30.0,
        deadline_seconds: float = 120.0,
        attempts: int = 2,
        backoff_seconds: float = 1.0,
        temp_dir: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.https_only = https_only
        self._allowed_hosts = allowed_hosts
        self._allow_loopback = allow_loopback
        self.max_bytes = max_bytes
        self._connect_timeout = min(timeout_seconds, 10.0)
        self._read_timeout = timeout_seconds
        self.deadline_seconds = deadline_seconds
        self._clock = clock
        self._attempts = max(1, attempts)
        self._backoff = backoff_seconds
        # Every request, whatever its scheme, goes through the address check.
        self._session = requests.Session()
        adapter = PinnedAdapter(resolver, allow_loopback=allow_loopback)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._temp_dir = temp_dir
        self._sleep = sleep

    @contextlib.contextmanager
    def fetch(self, url: str) -> Iterator[FetchedResult]:
        """Yield the downloaded result; raise ResultFetchError when it cannot be had."""
        fd, path = tempfile.mkstemp(prefix="dropswap-result-", dir=self._temp_dir)
        try:
            with os.fdopen(fd, "w+b") as out:
                result = self._download_with_retries(url, out, path, self._clock() + self.deadline_seconds)
            yield result
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _download_with_retries(self, url: str, out: BinaryIO, path: str, deadline: float) -> FetchedResult:
        for attempt in range(1, self._attempts + 1):
            try:
                return self._download(url, out, path, deadline)
            except _Transient as exc:
                # Connection drops, timeouts and 5xx are worth one more try; anything else is final.
                if attempt >= self._attempts or self._clock() + self._backoff * attempt >= deadline:
                    raise ResultFetchError(ErrorCode.RESULT_FETCH_FAILED, exc.message) from exc
                out.seek(0)
                out.truncate()
                self._sleep(self._backoff * attempt)
        raise AssertionError("unreachable")

    def _left(self, deadline: float, url: str) -> float:
        left = deadline - self._clock()
        if left <= 0:
            raise ResultFetchError(
                ErrorCode.RESULT_FETCH_FAILED,
                f"result {redact_url(url)} did not arrive within the download deadline"
                f" ({self.deadline_seconds:g} s)",
            )
        return left

    def _download(self, url: str, out: BinaryIO, path: str, deadline: float) -> FetchedResult:
        self._check(url)
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            left = self._left(deadline, current)
            # A read waiting for bytes gives up by the deadline at the latest.
            timeout = (min(self._connect_timeout, left), min(self._read_timeout, left))
            try:
                # Redirects are followed by hand so that every hop passes the same https check.
                resp = self._session.get(current, stream=True, timeout=timeout, allow_redirects=False)
            except AddressRefused as exc:
                raise ResultFetchError(
                    ErrorCode.RESULT_URL_NOT_ALLOWED, f"result URL {redact_url(current)} is refused: {exc}"
                ) from None
            except requests.RequestException as exc:
                self._left(deadline, current)  # a timeout at the deadline is the deadline's
                raise _Transient(f"could not download {redact_url(current)}: {type(exc).__name__}") from exc
            with resp:
                if resp.is_redirect:
                    location = resp.headers.get("Location", "")
                    current = urljoin(current, location)
                    self._check(current)
                    continue
                return self._save(resp, current, out, path, deadline)
        raise ResultFetchError(
            ErrorCode.RESULT_FETCH_FAILED, f"more than {_MAX_REDIRECTS} redirects for {redact_url(url)}"
        )

    def _check(self, url: str) -> None:
        check_url(
            url, https_only=self.https_only, allowed_hosts=self._allowed_hosts,
            allow_loopback=self._allow_loopback,
        )

    def _save(
        self, resp: requests.Response, url: str, out: BinaryIO, path: str, deadline: float
    ) -> FetchedResult:
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
        head = b""
        sniffed: str | None = None
        for chunk in self._chunks(resp, url, deadline):
            size += len(chunk)
            if size > self.max_bytes:
                # Checked while streaming too: Content-Length may be absent or lie.
                raise ResultFetchError(
                    ErrorCode.RESULT_TOO_LARGE, f"result {shown} exceeds the {self.max_bytes}-byte cap"
                )
            if sniffed is None:
                head = (head + chunk)[:_SNIFF_BYTES]
                if len(head) >= _SNIFF_BYTES:
                    sniffed = self._sniffed(head, shown)
            out.write(chunk)
        if size == 0:
            raise ResultFetchError(ErrorCode.RESULT_FETCH_FAILED, f"result {shown} is empty")
        if sniffed is None:
            sniffed = self._sniffed(head, shown)
        out.flush()
        return FetchedResult(path=path, size=size, content_type=sniffed)

    def _sniffed(self, head: bytes, shown: str) -> str:
        kind = sniff_image_type(head)
        if kind is None:
            raise ResultFetchError(
                ErrorCode.RESULT_NOT_AN_IMAGE,
                f"result {shown} is {_describe(head)}; only JPEG, PNG and WebP results are stored",
            )
        return kind

    def _chunks(self, resp: requests.Response, url: str, deadline: float) -> Iterator[bytes]:
        """The body as it arrives (content-encoding undone), until the end or the deadline."""
        shown = redact_url(url)
        while True:
            self._left(deadline, url)
            try:
                chunk = resp.raw.read1(CHUNK_BYTES, decode_content=True)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                self._left(deadline, url)
                raise _Transient(f"download of {shown} broke off: {type(exc).__name__}") from exc
            if not chunk:
                return
            yield chunk


class _Transient(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
