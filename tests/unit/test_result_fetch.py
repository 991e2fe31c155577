"""result_fetch: the result download is streamed to disk, https only, size-capped, within an overall
deadline, and stored only if its bytes are a JPEG, PNG or WebP image."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from dropswap.adapters.result_fetch import HttpResultFetcher, redact_url
from dropswap.domain.akool import ResultFetchError

BODY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 512  # ~128 KiB


@dataclass
class Route:
    status: int = 200
    content_type: str = "image/png"
    body: bytes = BODY
    declare_length: bool = True  # send Content-Length (else close-delimited)
    lie_length: int | None = None  # a Content-Length smaller than the body
    location: str | None = None
    trickle: bool = False  # one byte of the body every 20 ms, however long that takes


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}  # noqa: RUF012 - set per server below
    hits: dict[str, int] = {}  # noqa: RUF012

    def do_GET(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        if route.location:
            self.send_header("Location", route.location)
        if route.lie_length is not None:
            self.send_header("Content-Length", str(route.lie_length))
        elif route.declare_length:
            self.send_header("Content-Length", str(len(route.body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        body = route.body if route.lie_length is None else route.body[: route.lie_length]
        if route.trickle:
            for i in range(len(body)):
                try:
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                except OSError:
                    return  # the client gave up
                time.sleep(0.02)
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, Route], dict[str, int]]]:
    routes: dict[str, Route] = {}
    hits: dict[str, int] = {}
    handler = type("H", (_Handler,), {"routes": routes, "hits": hits})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes, hits
    httpd.shutdown()
    httpd.server_close()


def _fetcher(
    max_bytes: int = 1024 * 1024, https_only: bool = False, attempts: int = 1, deadline: float = 60.0
) -> HttpResultFetcher:
    # allow_loopback: the test server is on 127.0.0.1, as the local stack's emulator is.
    return HttpResultFetcher(
        https_only=https_only, max_bytes=max_bytes, timeout_seconds=5, deadline_seconds=deadline,
        attempts=attempts, sleep=lambda _: None, allow_loopback=True,
    )


def test_given_image_when_fetched_then_whole_body_on_disk_and_file_removed_after(server) -> None:
    # Given an image served over HTTP (the local stack allows http)
    base, routes, _ = server
    routes["/r.png"] = Route()
    # When it is fetched
    with _fetcher().fetch(base + "/r.png") as result:
        # Then the temp file holds exactly the body, with its type and size
        with open(result.path, "rb") as fh:
            assert fh.read() == BODY
        assert result.size == len(BODY) and result.content_type == "image/png"
        path = result.path
    # And the temp file is gone once the context exits
    assert not os.path.exists(path)


def test_given_https_only_when_url_is_http_then_refused_without_request(server) -> None:
    # Given https-only (as in AWS) and an http URL
    base, routes, hits = server
    routes["/r.png"] = Route()
    # When fetched, Then it is refused before any request is made
    with pytest.raises(ResultFetchError) as err, _fetcher(https_only=True).fetch(base + "/r.png"):
        pass
    assert err.value.code == "RESULT_URL_NOT_ALLOWED" and hits == {}


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "/relative.png", "https://"])
def test_given_non_http_url_then_refused(url: str) -> None:
    with pytest.raises(ResultFetchError) as err, _fetcher().fetch(url):
        pass
    assert err.value.code == "RESULT_URL_NOT_ALLOWED"


def test_given_declared_length_over_cap_then_too_large_without_reading(server) -> None:
    # Given a result whose Content-Length is over the cap
    base, routes, _ = server
    routes["/big.png"] = Route()
    # When fetched with a smaller cap, Then RESULT_TOO_LARGE
    with pytest.raises(ResultFetchError) as err, _fetcher(max_bytes=1000).fetch(base + "/big.png"):
        pass
    assert err.value.code == "RESULT_TOO_LARGE"


def test_given_no_content_length_when_body_exceeds_cap_then_stopped_while_streaming(server) -> None:
    # Given a close-delimited body (no Content-Length) bigger than the cap
    base, routes, _ = server
    routes["/big.png"] = Route(declare_length=False)
    # When fetched, Then the cap is enforced on the bytes actually received
    with pytest.raises(ResultFetchError) as err, _fetcher(max_bytes=10_000).fetch(base + "/big.png"):
        pass
    assert err.value.code == "RESULT_TOO_LARGE"


@pytest.mark.parametrize("content_type", ["text/html", "application/json", ""])
def test_given_non_image_content_type_then_refused(server, content_type: str) -> None:
    base, routes, _ = server
    routes["/r"] = Route(content_type=content_type, body=b"<html>expired</html>")
    with pytest.raises(ResultFetchError) as err, _fetcher().fetch(base + "/r"):
        pass
    assert err.value.code == "RESULT_NOT_AN_IMAGE"


def test_given_http_404_then_fetch_failed_with_status_in_message(server) -> None:
    base, _, _ = server
    with pytest.raises(ResultFetchError) as err, _fetcher().fetch(base + "/missing.png"):
        pass
    assert err.value.code == "RESULT_FETCH_FAILED" and "404" in err.value.message


def test_given_transient_503_then_retried_once_then_fails(server) -> None:
    # Given a result URL answering 503
    base, routes, hits = server
    routes["/r.png"] = Route(status=503)
    # When fetched with 2 attempts, Then both are made and the error says why
    with pytest.raises(ResultFetchError) as err, _fetcher(attempts=2).fetch(base + "/r.png"):
        pass
    assert hits["/r.png"] == 2 and "503" in err.value.message


def test_given_truncated_body_then_fetch_failed(server) -> None:
    # Given a server that promises more bytes than it sends
    base, routes, _ = server
    routes["/r.png"] = Route(lie_length=len(BODY) + 100)
    with pytest.raises(ResultFetchError) as err, _fetcher().fetch(base + "/r.png"):
        pass
    assert err.value.code == "RESULT_FETCH_FAILED"


@responses.activate
def test_given_https_redirect_to_http_then_refused_and_to_https_followed() -> None:
    # Given one https URL redirecting to http and another redirecting to https
    responses.get("https://cdn.test/a.png", status=302, headers={"Location": "http://cdn.test/a.png"})
    responses.get("https://cdn.test/b.png", status=301, headers={"Location": "/c.png"})
    responses.get("https://cdn.test/c.png", body=BODY, content_type="image/png")
    fetcher = _fetcher(https_only=True)
    # When fetched, Then the downgrade is refused and the https hop is followed
    with pytest.raises(ResultFetchError) as err, fetcher.fetch("https://cdn.test/a.png"):
        pass
    assert err.value.code == "RESULT_URL_NOT_ALLOWED"
    with fetcher.fetch("https://cdn.test/b.png") as result:
        assert result.size == len(BODY)


def test_given_signed_url_when_redacted_then_query_string_dropped() -> None:
    assert redact_url("https://cdn.test/x/final.jpg?Signature=abc&Expires=1") == "https://cdn.test/x/final.jpg"


def test_given_a_result_trickling_in_then_the_download_stops_at_the_deadline(server) -> None:
    # Given a result whose 200 bytes come one every 20 ms (each read gets something: no read timeout
    # fires; without a deadline it would arrive whole after 4 s) and a one-second deadline
    base, routes, _ = server
    routes["/slow.png"] = Route(trickle=True, body=BODY[:200])
    # When fetched, Then it gives up with a clear reason instead of reading for the next hour
    with pytest.raises(ResultFetchError) as err, _fetcher(deadline=1.0, attempts=2).fetch(base + "/slow.png"):
        pass
    assert err.value.code == "RESULT_FETCH_FAILED" and "deadline" in err.value.message


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
         "SVG/XML"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", "SVG/XML"),
        (b"<!DOCTYPE html><html><body>Access denied</body></html>", "HTML"),
        (b"GIF89a" + bytes(64), "not a JPEG, PNG or WebP image"),
    ],
    ids=["svg-with-script", "svg", "html", "gif"],
)
def test_given_a_result_that_is_not_a_jpeg_png_or_webp_then_refused_whatever_its_content_type(
    server, body: bytes, shown: str
) -> None:
    # Given a body labelled image/png that is something else
    base, routes, _ = server
    routes["/r.png"] = Route(content_type="image/png", body=body)
    # When fetched, Then refused as not an image, naming what it is
    with pytest.raises(ResultFetchError) as err, _fetcher().fetch(base + "/r.png"):
        pass
    assert err.value.code == "RESULT_NOT_AN_IMAGE" and shown in err.value.message


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"\xff\xd8\xff\xe0" + bytes(64), "image/jpeg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(64), "image/webp"),
    ],
    ids=["jpeg", "webp"],
)
def test_given_a_jpeg_or_webp_result_labelled_otherwise_then_stored_with_the_type_its_bytes_show(
    server, body: bytes, kind: str
) -> None:
    base, routes, _ = server
    routes["/r"] = Route(content_type="image/png", body=body)
    with _fetcher().fetch(base + "/r") as result:
        assert result.content_type == kind and result.size == len(body)
