"""Fuzzing the sidecar manifest parser: whatever a user uploads, the answer is a Manifest or a
ManifestError naming a field with a message a person can read (and that fits in the UTF-8 report).

Three inputs: arbitrary bytes; JSON-ish text (JSON's own alphabet, so the tokenizer is exercised deep
down); and structured near-valid manifests (a valid one with one or more things wrong, sources from a
grammar of the tricky cases). The @example cases are regressions this fuzzing found.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dropswap.domain import keys
from dropswap.domain.faces import Point
from dropswap.domain.manifest import MAX_SWAPS, Manifest, ManifestError, parse_manifest
from tests.fuzz.profiles import examples

DROP = "dropswap-123456789012-us-east-1-drop"
EXTRA = ("faces-bucket",)
SIDECARS = st.sampled_from([
    "inbox/team.jpg.faceswap.json",
    "inbox/party/2024/team.png.faceswap.json",
    "inbox/Summer party/Zoë & friends.jpg.faceswap.json",
])


def _parse(data: bytes, sidecar_key: str) -> Manifest | ManifestError:
    try:
        return parse_manifest(data, sidecar_key=sidecar_key, drop_bucket=DROP, extra_source_buckets=EXTRA)
    except ManifestError as exc:
        return exc


def _check(result: Manifest | ManifestError) -> None:
    """The contract of the parser, for any input (any other exception fails the test by itself)."""
    if isinstance(result, ManifestError):
        assert isinstance(result.field, str) and result.field
        assert isinstance(result.message, str) and result.message.strip()
        assert isinstance(result.code, str) and result.code
        # The error goes into results/…result.json (UTF-8 JSON): it must encode.
        json.dumps({"field": result.field, "message": result.message}, ensure_ascii=False).encode("utf-8")
        assert str(result) == f"{result.field}: {result.message}"
        return
    assert 1 <= len(result.swaps) <= MAX_SWAPS
    assert result.engine in ("auto", "pro", "v3") and isinstance(result.face_enhance, bool)
    for i, swap in enumerate(result.swaps):
        assert swap.index == i
        src = swap.source
        if src.key is not None:
            assert src.bucket in (DROP, *EXTRA) and src.url is None
            assert src.key and not src.key.endswith("/")
            if src.bucket == DROP and not src.raw.lower().startswith("s3://"):
                assert src.key.startswith(keys.INBOX)  # relative keys never leave inbox/
            src.key.encode("utf-8")
        else:
            assert src.url is not None and src.url.lower().startswith("https://")
            src.url.encode("utf-8")
        target = swap.target
        if isinstance(target, Point):
            assert target.x >= 0 and target.y >= 0
        elif isinstance(target, int):
            assert target >= 0
        else:
            assert target in ("largest", "all")


# -- 1. arbitrary bytes -------------------------------------------------------------------------------
@settings(max_examples=examples(3))
@given(data=st.binary(max_size=4096), sidecar=SIDECARS)
@example(data=b"[" * 100_000, sidecar="inbox/team.jpg.faceswap.json")  # RecursionError escaped
@example(data=b"1" * 5000, sidecar="inbox/team.jpg.faceswap.json")  # int > 4300 digits: ValueError
@example(data=b"\xef\xbb\xbf{}", sidecar="inbox/team.jpg.faceswap.json")  # a BOM
@example(data='{"version": 1}'.encode("utf-16"), sidecar="inbox/team.jpg.faceswap.json")
def test_given_any_bytes_then_manifest_or_manifest_error(data: bytes, sidecar: str) -> None:
    _check(_parse(data, sidecar))


# -- 2. JSON-ish text ---------------------------------------------------------------------------------
# JSON's alphabet and some of the manifest's own words, so the tokenizer and the schema both get deep.
_TOKENS = [*'{}[]:,"\\ \n0123456789.-+eE', "true", "false", "null", "NaN", "-Infinity", "\\u", "d800", "dc00",
           "00e9", '"version"', '"swaps"', '"source"', '"target"', '"x"', '"y"', '"largest"', '"engine"',
           '"face_enhance"', '"faces/a.jpg"', '"https://cdn.example.com/a.jpg"', '"s3://b/k.jpg"']
JSONISH = st.lists(st.sampled_from(_TOKENS), max_size=120).map("".join)


@settings(max_examples=examples(3))
@given(text=JSONISH, sidecar=SIDECARS)
def test_given_jsonish_text_then_manifest_or_manifest_error(text: str, sidecar: str) -> None:
    _check(_parse(text.encode("utf-8"), sidecar))


# -- 3. arbitrary JSON documents ----------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=examples(2))
@given(doc=JSON_VALUES, sidecar=SIDECARS)
def test_given_any_json_document_then_manifest_or_manifest_error(doc: Any, sidecar: str) -> None:
    _check(_parse(json.dumps(doc).encode("utf-8"), sidecar))


# -- 4. near-valid manifests --------------------------------------------------------------------------
HOSTS = st.sampled_from([
    "cdn.example.com", "127.0.0.1", "localhost", "10.0.0.8", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]",
    "0177.0.0.1", "0x7f.1", "printer.local", "metadata.google.internal", "intranet", "xn--zo-kia.example",
    "user:pw@cdn.example.com", "cdn.example.com:99999", "cdn.example.com.", "[fe80::1%25eth0]", "",
])
SOURCES = st.one_of(
    st.sampled_from(["faces/alice.jpg", "./alice.png", "../alice.jpg", "../../alice.jpg", "../../../x.jpg",
                     "a//b.jpg", "faces/", ".", "..", "/abs/alice.jpg", "  faces/alice.jpg  ", "", " ",
                     "faces/al\x00ice.jpg", "faces/al\tice.jpg", "key:with:colons.jpg", "./key:colon.jpg",
                     "C:\\faces\\alice.jpg", "faces/Zoë.jpg", "faces/\u200bzero-width.jpg"]),
    st.builds(lambda scheme, host, path: f"{scheme}://{host}/{path}",
              st.sampled_from(["https", "HTTPS", "http", "file", "s3", "S3", "ftp", "data", "javascript"]),
              st.one_of(HOSTS, st.sampled_from([DROP, "faces-bucket", "other-bucket"])),
              st.sampled_from(["alice.jpg", "", "a/../b.jpg", "faces/./x.jpg", "x y.jpg", "a%2F..%2Fb.jpg",
                               "dir/", "?q=1", "#frag"])),
    st.text(max_size=40),
)
TARGETS = st.one_of(
    st.integers(min_value=-3, max_value=60), st.sampled_from(["largest", "all", "LARGEST", "", "0", "first"]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.fixed_dictionaries({"x": st.integers(-5, 5000), "y": st.integers(-5, 5000)}),
    st.dictionaries(st.sampled_from(["x", "y", "z", "X"]),
                    st.one_of(st.integers(-1, 9), st.floats(), st.text(max_size=3)), max_size=4),
    st.lists(st.integers(0, 3), max_size=2),
)
KEYS = st.sampled_from(["version", "swaps", "face_enhance", "engine", "swap", "Version", "faceEnhance",
                        "engnie", "sources", "", "\u00e9ngine"])
ANY_SMALL = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.floats(), st.text(max_size=8),
                      st.lists(st.integers(), max_size=2),
                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    n = draw(st.one_of(st.integers(1, 3), st.sampled_from([0, MAX_SWAPS, MAX_SWAPS + 1])))
    swaps: list[Any] = []
    for _ in range(n):
        swap: dict[str, Any] = {"source": draw(SOURCES), "target": draw(TARGETS)}
        if draw(st.integers(0, 9)) == 0:
            del swap[draw(st.sampled_from(["source", "target"]))]
        if draw(st.integers(0, 9)) == 0:
            swap[draw(st.sampled_from(["sourc", "targets", "face", "opts"]))] = draw(ANY_SMALL)
        swaps.append(swap if draw(st.integers(0, 19)) else draw(ANY_SMALL))
    doc: dict[str, Any] = {"version": 1, "swaps": swaps}
    if draw(st.booleans()):
        doc["face_enhance"] = draw(st.one_of(st.booleans(), ANY_SMALL))
    if draw(st.booleans()):
        doc["engine"] = draw(st.one_of(st.sampled_from(["auto", "pro", "v3", "V3", "v4", ""]), ANY_SMALL))
    for _ in range(draw(st.integers(0, 2))):  # one or two top-level things wrong
        op = draw(st.sampled_from(["drop", "add", "retype"]))
        key = draw(KEYS)
        if op == "drop":
            doc.pop(key, None)
        elif op == "add":
            doc[key] = draw(ANY_SMALL)
        else:
            doc[draw(st.sampled_from(["version", "swaps"]))] = draw(ANY_SMALL)
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:  # a lone surrogate escape somewhere in a string
        text = text.replace('"', '"\\ud83d', 1) if '"' in text else text
    return text.encode("utf-8")


@settings(max_examples=examples(4))
@given(data=near_valid(), sidecar=SIDECARS)
@example(data=b'{"version": 1, "swaps": [{"source": "a.jpg", "target": 0}], "\\ud800": 1}',
         sidecar="inbox/team.jpg.faceswap.json")  # error message not UTF-8: the report write crashed
@example(data=b'{"version": 1, "swaps": [{"source": "a\\udc00.jpg", "target": 0}]}',
         sidecar="inbox/team.jpg.faceswap.json")  # accepted, then broke the HEAD of that key
@example(data=b'{"version": 1, "swaps": [{"source": "a.jpg", "target": ' + b"9" * 4400 + b"}]}",
         sidecar="inbox/team.jpg.faceswap.json")
@example(data=b'{"version": 1, "swaps": [{"source": "a.jpg", "target": 0}], "": null}',
         sidecar="inbox/team.jpg.faceswap.json")  # an empty key was named by an empty field
def test_given_near_valid_manifest_then_manifest_or_manifest_error(data: bytes, sidecar: str) -> None:
    _check(_parse(data, sidecar))


def test_given_odd_unknown_key_then_the_field_names_it_quoted() -> None:
    for key, field in (("", 'swaps[0].""'), ("a b", 'swaps[0]."a b"'), ("opts", "swaps[0].opts")):
        doc = {"version": 1, "swaps": [{"source": "a.jpg", "target": 0, key: 1}]}
        result = _parse(json.dumps(doc).encode(), "inbox/team.jpg.faceswap.json")
        assert isinstance(result, ManifestError) and result.field == field, result
    raw = b'{"version": 1, "swaps": [{"source": "a.jpg", "target": 0}], "": 1}'
    top = _parse(raw, "inbox/t.jpg.faceswap.json")
    assert isinstance(top, ManifestError) and top.field == '""'


def test_given_surrogate_or_huge_number_then_rejected_as_invalid_json() -> None:
    # The regressions, spelled out: each is a ManifestError with the manifest as the field
    for data in (b"[" * 100_000, b"1" * 5000, b'{"version": 1, "swaps": [], "\\ud800": 1}',
                 b'{"version": 1, "swaps": [{"source": "a\\udc00.jpg", "target": 0}]}'):
        result = _parse(data, "inbox/team.jpg.faceswap.json")
        assert isinstance(result, ManifestError) and result.code == "INVALID_JSON"
        assert result.field == "manifest"
