"""Property tests of https:// manifest sources: an IP address in any disguise is refused, public names pass.

The disguises are the ones WHATWG URL parsers (browsers, Node's fetch) undo before they connect: IPv4 in
dotted, short, decimal, octal and hex notation; fullwidth digits and letters; ideographic and fullwidth full
stops; percent-escapes (of ASCII, and of the UTF-8 of a fullwidth character); code points IDNA ignores; a
trailing dot; a `\\` ending the host. IPv6 in brackets: compressed, exploded, IPv4-mapped and -compatible.
"""

from __future__ import annotations

import ipaddress
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dropswap.domain.manifest import Manifest, ManifestError, parse_manifest
from tests.fuzz.profiles import examples

DROP = "dropswap-123456789012-us-east-1-drop"
SIDECAR = "inbox/team.jpg.faceswap.json"
DOTS = (".", "\u3002", "\uff0e", "\uff61")  # full stop; ideographic, fullwidth, halfwidth ideographic
IGNORED = ("\u00ad", "\u200b", "\u2060", "\ufe00", "\u034f", "\u180b")  # UTS-46 drops these
URL_FORMS = (
    "https://{}/a.jpg", "https://{}", "https://{}:443/a.jpg", "https://{}\\.example.com/a.jpg",
    "https://{}\\a.jpg", "https://{}?x=1", "https://{}#f", "HTTPS://{}/latest/meta-data/",
)


def _parse(url: str) -> Manifest | ManifestError:
    doc = {"version": 1, "swaps": [{"source": url, "target": 0}]}
    try:
        return parse_manifest(json.dumps(doc).encode(), sidecar_key=SIDECAR, drop_bucket=DROP)
    except ManifestError as exc:
        return exc


def _refused(url: str) -> str:
    result = _parse(url)
    assert isinstance(result, ManifestError), f"{url!r} was accepted"
    assert result.code == "INVALID_SOURCE" and result.field == "swaps[0].source", result
    return result.message


# -- IPv4 -----------------------------------------------------------------------------------------------
@st.composite
def number(draw: st.DrawFn, value: int) -> str:
    """One part of an IPv4 address in decimal, octal (leading 0) or hex (0x), as WHATWG parsers read it."""
    form = draw(st.sampled_from(["decimal", "octal", "hex"]))
    if form == "decimal":
        return str(value)
    if form == "octal":
        return "0" * draw(st.integers(1, 3)) + format(value, "o")
    prefix = draw(st.sampled_from(["0x", "0X"]))
    return prefix + "0" * draw(st.integers(0, 2)) + format(value, draw(st.sampled_from(["x", "X"])))


@st.composite
def ipv4_notation(draw: st.DrawFn) -> tuple[ipaddress.IPv4Address, str]:
    """An address and one of its notations: 4 parts (a.b.c.d) or a short form whose last part holds the
    remaining bytes (a.b.c16, a.b24, a32)."""
    address = ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
    count = draw(st.integers(1, 4))
    packed = address.packed
    values = [*packed[: count - 1], int.from_bytes(packed[count - 1 :], "big")]
    return address, ".".join(draw(number(v)) for v in values)


def _fullwidth(char: str) -> str:
    return chr(ord(char) - 0x21 + 0xFF01) if "!" <= char <= "~" else char


def _escaped(char: str, upper: bool) -> str:
    return "".join(f"%{byte:02X}" if upper else f"%{byte:02x}" for byte in char.encode("utf-8"))


@st.composite
def disguised(draw: st.DrawFn, text: str) -> str:
    """`text` with each character kept, made fullwidth or percent-escaped (itself or its fullwidth form),
    each dot any full stop, code points IDNA ignores scattered in, and maybe a trailing dot."""
    out = []
    for char in text:
        if char == ".":
            char = draw(st.sampled_from(DOTS))
        how = draw(st.sampled_from(["keep", "keep", "fullwidth", "escape", "escape-fullwidth"]))
        if how == "fullwidth":
            char = _fullwidth(char)
        elif how.startswith("escape"):
            char = _escaped(_fullwidth(char) if how == "escape-fullwidth" else char, draw(st.booleans()))
        if draw(st.integers(0, 9)) == 0:
            char += draw(st.sampled_from(IGNORED))
        out.append(char)
    if draw(st.booleans()):
        out.append(draw(st.sampled_from(DOTS)))
    return "".join(out)


@settings(max_examples=examples(3))
@given(data=st.data(), form=st.sampled_from(URL_FORMS))
def test_given_ipv4_in_any_notation_and_disguise_when_parsed_then_refused_naming_the_address(
    data: st.DataObject, form: str
) -> None:
    # Given an IPv4 address written in any notation, disguised, in a URL
    address, text = data.draw(ipv4_notation())
    url = form.format(data.draw(disguised(text)))
    # When a manifest names it as a source
    message = _refused(url)
    # Then it is refused, and the message names the address WHATWG parsers would connect to
    assert f"is the IP address {address};" in message, (url, message)


# -- IPv6 -----------------------------------------------------------------------------------------------
@st.composite
def ipv6_literal(draw: st.DrawFn) -> str:
    v4 = draw(st.ip_addresses(v=4))
    address = draw(st.one_of(
        st.ip_addresses(v=6).map(str),
        st.ip_addresses(v=6).map(lambda a: a.exploded),
        st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
        st.sampled_from([f"::ffff:{v4}", f"::{v4}", f"0:0:0:0:0:ffff:{v4}", f"::FFFF:{v4}",
                         ipaddress.IPv6Address(0xFFFF_0000_0000 | int(v4)).exploded]),
        st.sampled_from(["::1", "::", "fe80::1%25eth0", "0:0:0:0:0:0:0:1", "::ffff:169.254.169.254"]),
    ))  # fmt: skip
    return f"[{address}]"


@settings(max_examples=examples(2))
@given(host=ipv6_literal(), form=st.sampled_from(URL_FORMS))
def test_given_bracketed_ipv6_in_any_form_when_parsed_then_refused(host: str, form: str) -> None:
    # Given an IPv6 literal (compressed, exploded, IPv4-mapped or -compatible, zoned) in a URL
    # When a manifest names it as a source
    message = _refused(form.format(host))
    # Then it is refused as an IPv6 address (or, where Python cannot even parse it, as no valid URL)
    assert "is an IPv6 address" in message or "not a valid URL" in message, message


# -- public names ---------------------------------------------------------------------------------------
LABELS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda label: not label.startswith("xn--")
)
TLDS = st.sampled_from(["com", "org", "net", "io", "de", "uk", "travel", "example", "xn--p1ai"])


@settings(max_examples=examples(2))
@given(
    labels=st.lists(LABELS, min_size=1, max_size=4),
    tld=TLDS,
    upper=st.booleans(),
    port=st.sampled_from(["", ":443", ":8443"]),
    path=st.sampled_from(["/a.jpg", "/faces/Alice%20B.png?sig=abc&exp=1", "", "/x\\y.jpg", "#frag"]),
)
def test_given_public_dns_name_when_parsed_then_accepted_as_is(
    labels: list[str], tld: str, upper: bool, port: str, path: str
) -> None:
    # Given an ordinary public DNS name (labels of letters, digits and hyphens; even all-digit ones)
    name = ".".join([*labels, tld])
    url = f"https://{name.upper() if upper else name}{port}{path}"
    # When a manifest names it as a source
    result = _parse(url)
    # Then it is accepted and handed on unchanged
    assert isinstance(result, Manifest), (url, result)
    assert result.swaps[0].source.url == url
