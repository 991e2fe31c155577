"""A `requests` transport adapter that connects only to public addresses, and only to the one it checked.

For each request it resolves the URL's host once, refuses the request if any address in the answer is not
public (public_address.py), then opens the connection to the first checked address itself: urllib3 is
handed the IP, so no second DNS lookup can swap in another address (DNS rebinding). TLS still names the
host: SNI and the certificate check use the URL's host name, and so does the Host header. Proxies are
ignored, since a proxy would resolve the name again on its own.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import parse_url

from dropswap.domain.public_address import parse_address, refusal

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

# host, port → the addresses it resolves to, as text, in the resolver's order.
Resolver = Callable[[str, int], list[str]]
_DEFAULT_PORTS = {"https": 443, "http": 80}


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host` (each once, in its order)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address a download must not reach; the message says which."""


class PinnedAdapter(HTTPAdapter):
    def __init__(self, resolver: Resolver = system_resolver, *, allow_loopback: bool = False) -> None:
        super().__init__(max_retries=0)
        self._resolve = resolver
        self._allow_loopback = allow_loopback

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=None)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host = str(host_params["host"])
        port = int(host_params["port"] or _DEFAULT_PORTS.get(str(host_params["scheme"]), 443))
        host_params["host"] = self._checked_address(host, port)
        if host_params["scheme"] == "https":
            # TLS is about the name, not the address we pinned (urllib3 takes these as pool keywords).
            tls = cast("dict[str, Any]", pool_kwargs)
            tls["server_hostname"] = tls["assert_hostname"] = host.strip("[]")
        return host_params, pool_kwargs

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        # The server sees the name it was asked for, not the address the connection goes to.
        url = parse_url(str(request.url))
        host = url.host or ""
        request.headers["Host"] = host if url.port is None else f"{host}:{url.port}"

    def _checked_address(self, host: str, port: int) -> str:
        literal = parse_address(host)
        try:
            answers = [str(literal)] if literal is not None else self._resolve(host, port)
        except OSError as exc:
            raise requests.ConnectionError(f"could not resolve the host: {type(exc).__name__}") from exc
        if not answers:
            raise requests.ConnectionError("the host resolved to no address")
        for text in answers:
            address = parse_address(text)
            why = "not an IP address" if address is None else refusal(
                address, allow_loopback=self._allow_loopback
            )
            if why is not None:
                raise AddressRefused(
                    f"host {host} resolves to {text}, {why}; results come from public servers"
                )
        address = parse_address(answers[0])
        assert address is not None  # checked above
        # urllib3 puts IPv6 hosts in brackets itself.
        return str(address) if address.version == 4 else f"[{address}]"
