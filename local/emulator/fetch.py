"""Downloading input images: allow-listed hosts only, redirects re-checked, size-capped.

There is no internet here, so by default only loopback hosts are fetched (config.allowed_hosts); any other
URL fails the way an unreachable URL fails at AKOOL. The emulator's own crop and result URLs are read from
memory, so a job never waits on a request to its own server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from local.emulator.config import host_allowed

_CHUNK = 64 * 1024


class FetchError(Exception):
    """The URL could not be downloaded; the message says why (never includes secrets)."""


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str  # lower-case media type without parameters, "" when unknown


LocalResolver = Callable[[str], Fetched | None]


class Fetcher:
    def __init__(
        self,
        allowed_hosts: tuple[str, ...],
        timeout: float,
        max_bytes: int,
        max_redirects: int,
        local: LocalResolver,
        verify: str | bool = True,
    ) -> None:
        self._allowed = allowed_hosts
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._local = local
        self._verify = verify  # a CA bundle path, or True for the public roots

    def fetch(self, url: str) -> Fetched:
        own = self._local(url)
        if own is not None:
            return own
        # A session per call: requests.Session is not documented as thread-safe, and trust_env=False
        # keeps proxy variables from routing loopback traffic elsewhere.
        with requests.Session() as session:
            session.trust_env = False
            session.verify = self._verify
            current = url
            for _ in range(self._max_redirects + 1):
                if not host_allowed(current, self._allowed):
                    raise FetchError(f"host not allowed (emulator allow-list): {_safe(current)}")
                try:
                    resp = session.get(current, timeout=self._timeout, stream=True, allow_redirects=False)
                except requests.RequestException as exc:
                    raise FetchError(f"{type(exc).__name__} for {_safe(current)}") from exc
                with resp:
                    if resp.is_redirect and "location" in resp.headers:
                        current = urljoin(current, resp.headers["location"])
                        continue
                    if resp.status_code != 200:
                        raise FetchError(f"HTTP {resp.status_code} for {_safe(current)}")
                    return Fetched(self._read(resp, current), _media_type(resp.headers.get("content-type")))
            raise FetchError(f"too many redirects for {_safe(url)}")

    def _read(self, resp: requests.Response, url: str) -> bytes:
        body = bytearray()
        try:
            for chunk in resp.iter_content(_CHUNK):
                body.extend(chunk)
                if len(body) > self._max_bytes:
                    raise FetchError(f"larger than {self._max_bytes} bytes: {_safe(url)}")
        except requests.RequestException as exc:
            raise FetchError(f"{type(exc).__name__} while reading {_safe(url)}") from exc
        return bytes(body)


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _safe(url: str) -> str:
    """The URL without its query string: presigned URLs carry credentials there."""
    return url.split("?", 1)[0][:300]
