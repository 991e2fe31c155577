"""Emulator configuration and the host allow-list shared by downloads and webhook deliveries."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from local.emulator.limits import check_limit

Mode = Literal["realistic", "instant"]
EngineKind = Literal["real", "passthrough"]
MODES: tuple[Mode, ...] = ("realistic", "instant")
ENGINES: tuple[EngineKind, ...] = ("real", "passthrough")

# There is no internet here: by default the emulator only talks to this machine.
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("127.0.0.0/8", "::1", "localhost")
_LOOPBACK_BIND = ("127.0.0.1", "localhost", "::1")
_AES_KEY_SIZES = (16, 24, 32)
# AKOOL's account limits are not published; these are assumptions (ADMIN.md says why).
DEFAULT_CONCURRENT_JOBS = 4
DEFAULT_REQUESTS_PER_SECOND = 5


@dataclass
class EmulatorConfig:
    """Everything the emulator needs; every field but the credentials has a working default.

    `mode` and `engine` are the starting values; the admin API can change them at runtime.
    """

    client_id: str
    api_key: str
    host: str = "127.0.0.1"
    port: int = 0  # 0: the OS picks a free port; RunningEmulator.url tells which
    mode: Mode = "realistic"
    engine: EngineKind = "real"  # "passthrough" returns the target image unchanged (load tests only)
    credits: int = 1000  # quota/info's `credit`; each accepted submission costs credits_per_job
    credits_per_job: int = 1
    # Bounded worker pool that runs the face engine. Keep it >= concurrent_jobs: a job waiting for a
    # worker still holds its account slot, so fewer workers would stretch every job.
    workers: int = 4
    # Account limits (local/emulator/limits.py); past either AKOOL answers 1005. 0 = unlimited.
    concurrent_jobs: int = DEFAULT_CONCURRENT_JOBS  # jobs accepted and not finished
    requests_per_second: int = DEFAULT_REQUESTS_PER_SECOND  # authenticated API requests per second
    queue_seconds: float = 2.0  # realistic mode: time a job spends in status 1
    processing_seconds: float = 3.0  # realistic mode: minimum time in status 2
    webhook_retries: int = 5  # retries after the first attempt, so at most 1 + this many POSTs
    webhook_backoff_seconds: float = 1.0  # realistic mode: first retry delay, doubled each time
    webhook_backoff_max_seconds: float = 60.0
    instant_backoff_seconds: float = 0.02  # instant mode: first retry delay
    webhook_timeout_seconds: float = 5.0
    webhook_senders: int = 2  # threads delivering callbacks
    download_timeout_seconds: float = 10.0
    max_download_bytes: int = 25 * 1024 * 1024
    max_redirects: int = 3
    max_faces: int = 10  # faces the detector reports per image
    # Hosts the emulator may download from and post webhooks to: IP networks ("127.0.0.0/8"),
    # host names ("localhost", matched exactly, never resolved), or "*" for any host.
    allowed_hosts: tuple[str, ...] = field(default=DEFAULT_ALLOWED_HOSTS)
    # Base URL written into result and crop URLs; default is the server's own http(s)://host:port.
    public_url: str | None = None
    # HTTPS: the certificate chain and key the server presents (both or neither), and the CA bundle it
    # trusts when it downloads inputs and posts webhooks (None: the public roots).
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    ca_bundle: str | None = None
    # Offline stand-in for DNS: callbacks to https://<api>.execute-api.<region>.amazonaws.com/<stage>/...
    # go to this local API Gateway instead, as <endpoint>/_aws/execute-api/<api>/<stage>/...
    execute_api_endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.host not in _LOOPBACK_BIND:
            raise ValueError(f"the emulator binds loopback only, not {self.host!r}")
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if len(self.api_key.encode("utf-8")) not in _AES_KEY_SIZES:
            # The API key is the AES key of the webhook payloads (akool-api.md §5).
            raise ValueError("api_key must be 16, 24 or 32 bytes (it is the webhook AES key)")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be 0..65535")
        if self.workers < 1 or self.webhook_senders < 1:
            raise ValueError("workers and webhook_senders must be at least 1")
        for name in ("concurrent_jobs", "requests_per_second"):
            check_limit(name, getattr(self, name))
        if self.webhook_retries < 0 or self.credits_per_job < 0:
            raise ValueError("webhook_retries and credits_per_job must not be negative")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        self.allowed_hosts = tuple(self.allowed_hosts)
        for entry in self.allowed_hosts:
            _parse_allow_entry(entry)  # fail fast on a typo


_EXECUTE_API_HOST = re.compile(r"^([a-z0-9]{8,12})\.execute-api\.[a-z0-9-]+\.amazonaws\.com$")


def route_url(url: str, execute_api_endpoint: str | None) -> str:
    """Where a request for `url` goes: execute-api hosts to the local API Gateway, the rest unchanged."""
    if not execute_api_endpoint:
        return url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return url
    match = _EXECUTE_API_HOST.match(host)
    if parts.scheme != "https" or match is None:
        return url
    base = execute_api_endpoint.rstrip("/")
    return urlunsplit(urlsplit(f"{base}/_aws/execute-api/{match.group(1)}{parts.path}")._replace(
        query=parts.query
    ))


def _parse_allow_entry(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | str:
    if entry == "*":
        return entry
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        if not entry or "/" in entry or ":" in entry:
            raise ValueError(f"allowed_hosts entry {entry!r} is neither a network nor a host name") from None
        return entry.lower()


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Whether `url` is http(s) and its host is on the allow-list (names are compared, not resolved)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in allowed:
        rule = _parse_allow_entry(entry)
        if rule == "*":
            return True
        if isinstance(rule, str):
            if address is None and host.lower().rstrip(".") == rule:
                return True
        elif address is not None and address.version == rule.version and address in rule:
            return True
    return False
