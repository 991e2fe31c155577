"""Result downloads reach public servers only: the host is a DNS name (no IP literal in any notation), under
AllowedResultHosts when set, and every address it resolves to is public; the connection goes to the address
checked (no second lookup), with TLS still verified for the host name; every redirect hop is checked alike."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3.util.connection

from dropswap.adapters.result_fetch import HttpResultFetcher
from dropswap.domain.akool import ResultFetchError
from dropswap.domain.public_address import refusal
from tests.unit.tls_origin import PNG, Origin, route_public_addresses, serve

HOST = "results.example.com"
PUBLIC = "93.184.216.34"
OTHER_PUBLIC = "151.101.1.1"


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Origin]:
    """An https server for HOST and cdn.example.net, trusted through REQUESTS_CA_BUNDLE as the local stack's
    CA is; PUBLIC and OTHER_PUBLIC on port 443 lead to it, every other address is unreachable."""
    for origin in serve(tmp_path, (HOST, "cdn.example.net", "elsewhere.example.org")):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(origin.ca_file))
        origin.routes["/r.png"] = (200, {"Content-Type": "image/png"}, PNG)
        yield origin


@pytest.fixture
def dialled(origin: Origin, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    addresses: list[str] = []
    patch = route_public_addresses(origin, {PUBLIC, OTHER_PUBLIC}, addresses)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", patch)
    return addresses


class Resolver:
    """A fake DNS: each name's answers in turn (the last one repeats); records every lookup."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        turns = self.answers[host]
        return turns.pop(0) if len(turns) > 1 else turns[0]


def _fetcher(
    resolver: Resolver, *, allowed_hosts: tuple[str, ...] = (), allow_loopback: bool = False
) -> HttpResultFetcher:
    return HttpResultFetcher(
        max_bytes=1024 * 1024, timeout_seconds=5, attempts=1, resolver=resolver, allowed_hosts=allowed_hosts,
        allow_loopback=allow_loopback,
    )


def _refused(fetcher: HttpResultFetcher, url: str) -> ResultFetchError:
    with pytest.raises(ResultFetchError) as err, fetcher.fetch(url):
        pass
    return err.value


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("100.64.0.1", "special-purpose"), ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address classified, never bound
        ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("fd00::1", "private"),
        ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "127.0.0.1, a loopback"),
        ("::ffff:169.254.169.254", "169.254.169.254, a link-local"), ("2002:a00:1::1", "10.0.0.1, a private"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254, a link-local"),
    ],
)
def test_given_a_non_public_address_then_it_is_refused_and_says_what_it_is(address: str, why: str) -> None:
    # Given an address no result may come from, When classified, Then refused, naming its kind
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", [PUBLIC, "2606:4700::1111", "8.8.8.8", "::ffff:8.8.8.8"])
def test_given_a_public_address_then_it_is_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["10.0.0.7"], ["169.254.169.254"], ["::ffff:127.0.0.1"], ["fd12::1"], ["100.100.1.1"],
     [PUBLIC, "192.168.0.10"]],
    ids=["loopback", "private", "metadata", "mapped-loopback", "ula", "cgnat", "public-and-private"],
)
def test_given_a_name_resolving_to_a_non_public_address_then_refused_without_connecting(
    answer: list[str], dialled: list[str]
) -> None:
    # Given a public-looking name whose DNS answer holds a non-public address
    resolver = Resolver({HOST: [answer]})
    # When its result is fetched, Then it is refused as not allowed, and no connection is opened
    error = _refused(_fetcher(resolver), f"https://{HOST}/r.png")
    assert error.code == "RESULT_URL_NOT_ALLOWED" and "resolves to" in error.message
    assert dialled == []


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/r.png", "https://2130706433/r.png", "https://0x7f.1/r.png", "https://[::1]/r.png",
     "https://[::ffff:169.254.169.254]/r.png", "https://１２７.０.０.１/r.png", "https://169.254.169.254。/r.png",
     "https://127.0.0.%31/r.png", "https://localhost/r.png", "https://metadata.google.internal/r.png"],
)
def test_given_an_ip_literal_or_local_host_in_any_notation_then_refused_before_any_lookup(
    url: str, dialled: list[str]
) -> None:
    # Given a result URL whose host is an address (or a local name) however it is written
    resolver = Resolver({})
    # When fetched, Then refused as not allowed without a DNS lookup or a connection
    error = _refused(_fetcher(resolver), url)
    assert error.code == "RESULT_URL_NOT_ALLOWED"
    assert resolver.lookups == [] and dialled == []


def test_given_a_public_name_then_the_connection_goes_to_its_checked_address_with_tls_for_the_name(
    origin: Origin, dialled: list[str]
) -> None:
    # Given a name resolving to a public address, served with a certificate for the name
    resolver = Resolver({HOST: [[PUBLIC]]})
    # When its result is fetched
    with _fetcher(resolver).fetch(f"https://{HOST}/r.png") as result:
        assert result.size == len(PNG)
    # Then the connection went to that address, and TLS and HTTP named the host
    assert dialled == [PUBLIC] and origin.sni == [HOST] and origin.hosts == [HOST]


def test_given_dns_rebinding_then_the_connection_goes_to_the_address_that_was_checked(
    origin: Origin, dialled: list[str]
) -> None:
    # Given a name whose first answer is public and every later one private (DNS rebinding)
    resolver = Resolver({HOST: [[PUBLIC], ["127.0.0.1"]]})
    # When its result is fetched
    with _fetcher(resolver).fetch(f"https://{HOST}/r.png") as result:
        assert result.size == len(PNG)
    # Then the name was looked up once, and the connection went to the address that was checked
    assert resolver.lookups == [HOST] and dialled == [PUBLIC]


def test_given_a_certificate_for_another_name_then_the_pinned_connection_still_fails_verification(
    origin: Origin, dialled: list[str]
) -> None:
    # Given a public name served by a server whose certificate does not name it
    resolver = Resolver({"unlisted.example.com": [[PUBLIC]]})
    # When fetched, Then TLS verification fails (pinning the address keeps the certificate check)
    error = _refused(_fetcher(resolver), "https://unlisted.example.com/r.png")
    assert error.code == "RESULT_FETCH_FAILED" and "SSLError" in error.message
    assert dialled == [PUBLIC]


@pytest.mark.parametrize(
    "target", ["inside.example.com", "https://127.0.0.1/x.png", "http://cdn.example.net/r.png"]
)
def test_given_a_redirect_to_a_non_public_place_then_the_hop_is_refused(
    origin: Origin, dialled: list[str], target: str
) -> None:
    # Given a public result URL redirecting to a name that resolves to a private address, to an IP literal,
    # or to plain http
    location = f"https://{target}/r.png" if "://" not in target else target
    origin.routes["/start.png"] = (302, {"Location": location}, b"")
    resolver = Resolver(
        {HOST: [[PUBLIC]], "inside.example.com": [["10.0.0.5"]], "cdn.example.net": [[PUBLIC]]}
    )
    # When fetched, Then the redirect hop is refused and nothing but the first address is dialled
    error = _refused(_fetcher(resolver), f"https://{HOST}/start.png")
    assert error.code == "RESULT_URL_NOT_ALLOWED"
    assert dialled == [PUBLIC]


def test_given_a_redirect_to_another_public_name_then_followed_to_that_names_checked_address(
    origin: Origin, dialled: list[str]
) -> None:
    # Given a redirect to another public name on another public address
    origin.routes["/start.png"] = (302, {"Location": "https://cdn.example.net/r.png"}, b"")
    resolver = Resolver({HOST: [[PUBLIC]], "cdn.example.net": [[OTHER_PUBLIC]]})
    # When fetched, Then each hop was looked up once and dialled at its own checked address
    with _fetcher(resolver).fetch(f"https://{HOST}/start.png") as result:
        assert result.size == len(PNG)
    assert resolver.lookups == [HOST, "cdn.example.net"] and dialled == [PUBLIC, OTHER_PUBLIC]
    assert origin.sni == [HOST, "cdn.example.net"]


def test_given_allowed_result_hosts_then_only_names_under_them_are_fetched_on_every_hop(
    origin: Origin, dialled: list[str]
) -> None:
    # Given AllowedResultHosts = example.com, and a URL under it that redirects elsewhere
    resolver = Resolver({HOST: [[PUBLIC]], "elsewhere.example.org": [[PUBLIC]]})
    fetcher = _fetcher(resolver, allowed_hosts=("example.com",))
    origin.routes["/start.png"] = (302, {"Location": "https://elsewhere.example.org/r.png"}, b"")
    # When a URL under it is fetched, Then it is downloaded
    with fetcher.fetch(f"https://{HOST}/r.png") as result:
        assert result.size == len(PNG)
    # And a host outside it (a look-alike included), first or after a redirect, is refused by name
    for url in ("https://elsewhere.example.org/r.png", "https://badexample.com/r.png", f"https://{HOST}/start.png"):
        error = _refused(fetcher, url)
        assert error.code == "RESULT_URL_NOT_ALLOWED" and "AllowedResultHosts" in error.message, url
    assert dialled == [PUBLIC, PUBLIC]


def test_given_the_local_loopback_escape_then_only_loopback_is_let_through() -> None:
    # Given the local stack's setting (its emulator serves results on 127.0.0.1)
    resolver = Resolver({"inside.example.com": [["10.0.0.5"]], "meta.example.com": [["169.254.169.254"]]})
    fetcher = _fetcher(resolver, allow_loopback=True)
    # When a private or link-local place is asked for, Then it is still refused
    for url in ("https://inside.example.com/r.png", "https://meta.example.com/r.png", "https://10.0.0.5/r.png",
                "https://[::ffff:10.0.0.5]/r.png"):
        assert _refused(fetcher, url).code == "RESULT_URL_NOT_ALLOWED", url
    # And a loopback URL passes the checks (nothing listens here, so the download itself fails)
    assert _refused(fetcher, "https://127.0.0.1:9/r.png").code == "RESULT_FETCH_FAILED"
