"""The host of an https:// source URL, read the way the strictest common URL parsers read it, and the rule
it must meet: a public DNS name, never an IP address in any notation.

WHATWG URL parsers (browsers, Node's fetch, some Python clients) do more to a host than urlsplit does: `\\`
ends the authority like `/`; the host is percent-decoded, then mapped by IDNA/UTS-46 (fullwidth digits and
letters become ASCII, ideographic full stops become dots); a host whose last label is a number is IPv4 in
dotted, decimal, octal, hex or short form. AKOOL fetches the URL with a parser we do not know, so a source
is accepted only when the WHATWG reading and urlsplit's find the same public DNS name.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import unquote_to_bytes, urlsplit

import idna  # in the layer's closure through requests, which imports it at cold start anyway

_DOTS = str.maketrans(dict.fromkeys("\u3002\uff0e\uff61", "."))  # ideographic, fullwidth, halfwidth stops
_AUTHORITY_END = re.compile(r"[/\\?#]")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")  # no public top-level domain has a digit
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")
_MAX_NAME = 253
_PUBLIC = "AKOOL needs a public URL"


class HostRefused(ValueError):
    """The URL's host is not a public DNS name; the message says why, for the user."""


def public_host(url: str) -> str:
    """The host of an https URL (lowercase ASCII, no trailing dot) when every reading of it is the same
    public DNS name; HostRefused otherwise."""
    try:
        parts = urlsplit(url)
        rfc_host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise HostRefused("not a valid URL") from None
    userinfo, whatwg_host, port = whatwg_authority(url)
    if not rfc_host or not whatwg_host:
        raise HostRefused("the URL has no host")
    if userinfo or parts.username is not None or parts.password is not None:
        raise HostRefused("credentials in URLs are not accepted")
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise HostRefused("not a valid URL")
    name = _public_name(whatwg_host)
    if "\\" in parts.netloc:
        raise HostRefused("a \\ in the host part ends the host for some URL parsers, not for others; write /")
    # With no \ and no userinfo both parsers split the authority alike; this guards what that misses.
    if _public_name(rfc_host) != name:
        raise HostRefused(
            f"URL parsers disagree about its host ({whatwg_host!r} or {rfc_host!r}); write the host plainly"
        )
    return name


def whatwg_authority(url: str) -> tuple[bool, str, str]:
    """(has userinfo, host, port) of a special-scheme URL ("https:…") as the WHATWG parser splits it: any run
    of / and \\ after the scheme, then up to the first / \\ ? or #; userinfo ends at the last @, the port
    starts at the first : outside [ ]."""
    rest = url.split(":", 1)[1].lstrip("/\\")
    authority = _AUTHORITY_END.split(rest, 1)[0]
    _, at, hostport = authority.rpartition("@")
    inside = False
    for i, char in enumerate(hostport):
        if char in "[]":
            inside = char == "["
        elif char == ":" and not inside:
            return bool(at), hostport[:i], hostport[i + 1 :]
    return bool(at), hostport, ""


def canonical(host: str) -> str:
    """A host as WHATWG's host parser turns it into ASCII: percent-decoded (UTF-8), NFKC, ideographic full
    stops as dots, IDNA/UTS-46 mapped, lowercase. A trailing dot is kept."""
    try:
        decoded = unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        raise HostRefused(f"host {host!r} has percent-escapes that are not UTF-8 text") from None
    mapped = unicodedata.normalize("NFKC", decoded).translate(_DOTS)
    if not mapped.isascii():
        try:
            mapped = idna.encode(mapped, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise HostRefused(f"host {host!r} is not a valid DNS name") from None
    return mapped.lower()


def whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address WHATWG's IPv4 parser reads in an ASCII host (127.1, 0x7f.1, 017700000001, 2130706433,
    with or without a trailing dot), or None."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    numbers = [_ipv4_number(part) for part in parts]
    if len(numbers) > 4 or any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    return ipaddress.IPv4Address(values[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(values[:-1])))


def ends_in_number(host: str) -> bool:
    """WHATWG's test for "this host is IPv4": its last label (before an optional trailing dot) is a number.
    Such a host is never resolved as a name, whether or not it is a valid address."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    return bool(last) and ((last.isascii() and last.isdigit()) or _ipv4_number(last) is not None)


def _ipv4_number(part: str) -> int | None:
    radix = 10
    if part[:2].lower() == "0x":
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    elif not part:
        return None
    if not part:
        return 0
    if not all(c in "0123456789abcdef"[:radix] for c in part.lower()):
        return None
    return int(part, radix)


def _public_name(host: str) -> str:
    """The canonical name of one reading of the host, or HostRefused saying what it is instead."""
    if host.startswith("["):
        raise HostRefused(f"host {host!r} is an IPv6 address; use the DNS name of a public server")
    ascii_host = canonical(host)
    shown = repr(host) if ascii_host == host else f"{host!r} (read as {ascii_host!r})"
    ip = whatwg_ipv4(ascii_host)
    if ip is not None:
        raise HostRefused(f"host {host!r} is the IP address {ip}; use the DNS name of a public server")
    if ends_in_number(ascii_host):
        raise HostRefused(
            f"host {shown} ends in a number, which URL parsers read as an IP address; "
            "use the DNS name of a public server"
        )
    name = ascii_host[:-1] if ascii_host.endswith(".") else ascii_host
    if ":" in name:
        raise HostRefused(f"host {shown} is an IPv6 address; use the DNS name of a public server")
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES) or "." not in name:
        raise HostRefused(f"host {shown} is local or private; {_PUBLIC}")
    labels = name.split(".")
    valid = (
        len(name) <= _MAX_NAME
        and all(_LABEL.fullmatch(label) for label in labels)
        and _TLD.fullmatch(labels[-1]) is not None
        and all(_valid_a_label(label) for label in labels if label.startswith("xn--"))
    )
    if not valid:
        raise HostRefused(
            f"host {shown} is not a valid DNS name (dot-separated labels of letters, digits and hyphens, "
            f"ending in a top-level domain); {_PUBLIC}"
        )
    return name


def _valid_a_label(label: str) -> bool:
    try:
        idna.decode(label)
    except idna.IDNAError:
        return False
    return True


def host_suffixes(entries: tuple[str, ...]) -> tuple[str, ...]:
    """Operator-given host suffixes ("example.com", ".example.com", "*.example.com", "Example.COM.") as
    lowercase ASCII names; ValueError naming an entry that is not a DNS name."""
    out = []
    for entry in entries:
        text = entry.strip().removeprefix("*").strip(".")
        try:
            name = canonical(text).rstrip(".") if text else ""
        except HostRefused:
            name = ""
        if not name or len(name) > _MAX_NAME or not all(_LABEL.fullmatch(x) for x in name.split(".")):
            raise ValueError(f"{entry!r} is not a host name suffix; write names like example.com")
        out.append(name)
    return tuple(dict.fromkeys(out))


def host_allowed(host: str, suffixes: tuple[str, ...]) -> bool:
    """Whether `host` (as public_host returns it) is one of `suffixes` or a name under one; any host when
    there are none."""
    return not suffixes or any(host == s or host.endswith("." + s) for s in suffixes)
