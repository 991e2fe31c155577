"""Sidecar manifest v1: the schema file, parsing, and the source rules, with messages a person can act on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dropswap.domain import manifest as manifest_module
from dropswap.domain.faces import Point
from dropswap.domain.manifest import ManifestError, parse_manifest

ROOT = Path(__file__).resolve().parents[2]
DROP = "my-drop-bucket"
SIDECAR = "inbox/party/team.jpg.faceswap.json"
SOURCE_HELP = (
    "use a key relative to the sidecar's folder, an s3://<drop bucket>/inbox/… URI or an https:// URL"
)


def _parse(doc: Any, *, extra: tuple[str, ...] = (), raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(doc).encode()
    return parse_manifest(data, sidecar_key=SIDECAR, drop_bucket=DROP, extra_source_buckets=extra)


def _error(doc: Any, **kwargs: Any) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        _parse(doc, **kwargs)
    return info.value


def _one(source: Any = "faces/alice.jpg", target: Any = 0, **top: Any) -> dict[str, Any]:
    return {"version": 1, "swaps": [{"source": source, "target": target}], **top}


# -- the schema file -----------------------------------------------------------------------------
def test_given_published_schema_then_byte_identical_to_the_copy_the_lambda_reads() -> None:
    published = (ROOT / "schemas" / "manifest.schema.json").read_bytes()
    shipped = (ROOT / "layers" / "dropswap" / "dropswap" / "schemas" / "manifest.schema.json").read_bytes()
    assert published == shipped
    assert manifest_module.SCHEMA_PATH.read_bytes() == shipped


def test_given_schema_then_draft07_and_no_additional_properties_anywhere() -> None:
    schema = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"

    def objects(node: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if isinstance(node, dict):
            if node.get("type") == "object":
                found.append(node)
            for value in node.values():
                found.extend(objects(value))
        elif isinstance(node, list):
            for value in node:
                found.extend(objects(value))
        return found

    # manifest, swap, point, and the user's own `metadata`: the one object whose keys are the user's
    assert len(objects(schema)) == 4
    metadata = schema["properties"]["metadata"]
    assert all(o.get("additionalProperties") is False for o in objects(schema) if o is not metadata)
    assert schema["properties"]["swaps"]["minItems"] == 1 and schema["properties"]["swaps"]["maxItems"] == 50


# -- valid manifests -----------------------------------------------------------------------------
def test_given_contract_example_when_parsed_then_sources_and_targets_resolved() -> None:
    doc = {
        "version": 1,
        "swaps": [
            {"source": "faces/alice.jpg", "target": 0},
            {"source": f"s3://{DROP}/inbox/people/bob.png", "target": {"x": 410, "y": 220}},
            {"source": "https://cdn.example.com/carol.jpg", "target": "largest"},
        ],
        "face_enhance": False,
        "engine": "auto",
    }
    m = _parse(doc)
    assert [s.source.key for s in m.swaps] == ["inbox/party/faces/alice.jpg", "inbox/people/bob.png", None]
    assert m.swaps[1].source.bucket == DROP and m.swaps[2].source.url == "https://cdn.example.com/carol.jpg"
    assert [s.target for s in m.swaps] == [0, Point(410, 220), "largest"]


def test_given_minimal_manifest_then_defaults_apply() -> None:
    m = _parse(_one(target="all"))
    assert m.face_enhance is False and m.engine == "auto" and m.swaps[0].target == "all"
    assert _parse(_one(face_enhance=True, engine="v3")).engine == "v3"


def test_given_relative_paths_with_dots_then_resolved_inside_inbox() -> None:
    assert _parse(_one("../shared/a.jpg")).swaps[0].source.key == "inbox/shared/a.jpg"
    assert _parse(_one("./a.jpg")).swaps[0].source.key == "inbox/party/a.jpg"
    assert _parse(_one("./a:b.jpg")).swaps[0].source.key == "inbox/party/a:b.jpg"


def test_given_extra_bucket_allowed_then_s3_source_accepted_under_any_prefix() -> None:
    source = _parse(_one("s3://faces-lib/x/a.png"), extra=("faces-lib",)).swaps[0].source
    assert (source.bucket, source.key) == ("faces-lib", "x/a.png")


# -- rejections ----------------------------------------------------------------------------------
def test_given_bad_json_then_error_says_where() -> None:
    err = _error(None, raw=b'{"version": 1, "swaps": [}')
    assert err.field == "manifest" and err.code == "INVALID_JSON" and "line 1, column 26" in err.message


def test_given_not_utf8_or_not_an_object_then_clear_error() -> None:
    assert "must be a JSON object" in str(_error([1, 2]))
    assert _error(None, raw=b"\xff\x00\x00\x00\xff").code == "INVALID_JSON"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"swaps": [{"source": "a.jpg", "target": 0}]},
            'version: is required; it must be 1 (the only manifest version); add "version": 1',
        ),
        (
            {"version": 2, "swaps": [{"source": "a.jpg", "target": 0}]},
            "version: 2 is not valid: it must be 1",
        ),
        ({"version": 1}, "swaps: is required"),
        ({"version": 1, "swaps": []}, "swaps: is empty"),
        (
            _one(target="larg"),
            'swaps[0].target: "larg" is not valid: it must be a face index (0 = leftmost face), "largest"',
        ),
        (_one(target=-1), "swaps[0].target: -1 is not valid"),
        (_one(target={"x": 1}), 'swaps[0].target: {"x": 1} is not valid'),
        (_one(target={"x": 1, "y": 2, "z": 3}), "swaps[0].target: "),
        (_one(target=True), "swaps[0].target: true is not valid"),
        (_one(engine="v4"), 'engine: "v4" is not valid: it must be "auto", "pro" or "v3"'),
        (_one(face_enhance="yes"), 'face_enhance: "yes" is not valid: it must be true or false'),
        (
            _one(colour="red"),
            'colour: unknown field (allowed here: "version", "swaps", "mode", "face_enhance", "engine", '
            '"metadata")',
        ),
        (
            {"version": 1, "swaps": [{"source": "a.jpg", "tagret": 0}]},
            'swaps[0].tagret: unknown field; did you mean "target"?',
        ),
        (
            {"version": 1, "swaps": [{"target": 0}]},
            "swaps[0].source: is required; it must be a non-empty string",
        ),
        (_one(source=""), 'swaps[0].source: "" is not valid: it must be a non-empty string'),
        (_one(source="   "), "swaps[0].source: is empty"),
        (_one(source=7), "swaps[0].source: 7 is not valid"),
        ({"version": 1, "swaps": ["a.jpg"]}, 'swaps[0]: "a.jpg" is not valid: it must be an object like'),
        # "mode": "faces" stands instead of "swaps": exactly one of the two
        ({"version": 1}, 'swaps: is required; it must be a list of 1 to 50 objects like {"source": '),
        (_one(mode="faces"), 'mode: cannot be given with "swaps": keep "swaps" to replace faces, or only'),
        ({"version": 1, "mode": "face"}, 'mode: "face" is not valid: it must be "faces" (the only mode)'),
        ({"version": 1, "mdoe": "faces"}, 'mdoe: unknown field; did you mean "mode"?'),
        ({"version": 1, "swap": []}, 'swap: unknown field; did you mean "swaps"?'),
    ],
)
def test_given_schema_violation_then_field_named_and_fix_suggested(doc: Any, expected: str) -> None:
    err = _error(doc)
    assert str(err).startswith(expected), str(err)


def test_given_51_swaps_then_limit_error() -> None:
    err = _error({"version": 1, "swaps": [{"source": "a.jpg", "target": 0}] * 51})
    assert str(err) == "swaps: has 51 swaps; at most 50 are allowed in one manifest" and err.code == "LIMIT"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "plain http is not accepted; use https"),
        ("file:///etc/passwd", "local files cannot be read"),
        ("../../etc/passwd", "it leads outside inbox/"),
        ("../../../x.jpg", "it leads outside inbox/"),
        ("a/../../../results/x.jpg", "it leads outside inbox/"),
        ("/inbox/a.jpg", "without a leading /"),
        ("ftp://example.com/a.jpg", "ftp: is not a supported scheme"),
        ("data:image/png;base64,AAAA", "data: is not a supported scheme"),
        ("https://169.254.169.254/latest", "is the IP address 169.254.169.254"),
        ("https://10.1.2.3/a.jpg", "is the IP address 10.1.2.3"),
        ("https://192.168.0.10/a.jpg", "is the IP address 192.168.0.10"),
        ("https://127.0.0.1/a.jpg", "is the IP address 127.0.0.1"),
        ("https://[::1]/a.jpg", "is an IPv6 address"),
        ("https://[fe80::1]/a.jpg", "is an IPv6 address"),
        ("https://[::ffff:169.254.169.254]/a.jpg", "is an IPv6 address"),
        ("https://0.0.0.0/a.jpg", "is the IP address 0.0.0.0"),
        ("https://240.0.0.1/a.jpg", "is the IP address 240.0.0.1"),
        ("https://localhost/a.jpg", "is local or private"),
        ("https://LOCALHOST./a.jpg", "is local or private"),
        ("https://api.localhost/a.jpg", "is local or private"),
        ("https://fileserver/a.jpg", "is local or private"),
        ("https://2852039166/a.jpg", "is the IP address 169.254.169.254"),
        ("https://0251.0376.0251.0376/a.jpg", "is the IP address 169.254.169.254"),
        ("https://0x7f.1/a.jpg", "is the IP address 127.0.0.1"),
        ("https://user:pw@cdn.example.com/a.jpg", "credentials in URLs are not accepted"),
        ("https://cdn.example.com/a b.jpg", "URLs cannot contain spaces"),
        ("https:///a.jpg", "the URL has no host"),
        ("s3://my-drop-bucket/", "needs a bucket and an object key"),
        ("s3://my-drop-bucket/a/../b.jpg", '"." and ".." segments are not allowed'),
        # Other prefixes of the shared drop bucket hold other uploaders' files (results/ above all).
        ("s3://my-drop-bucket/results/party/team.swapped.jpg", "only keys under inbox/ of the drop bucket"),
        ("s3://my-drop-bucket/people/bob.png", "only keys under inbox/ of the drop bucket"),
        ("s3://my-drop-bucket/inbox", "only keys under inbox/ of the drop bucket"),
        ("s3://my-drop-bucket/Inbox/a.jpg", "only keys under inbox/ of the drop bucket"),
    ],
)
def test_given_forbidden_source_then_rejected_with_reason_and_alternatives(source: str, reason: str) -> None:
    err = _error(_one(source=source))
    assert err.field == "swaps[0].source" and err.code == "INVALID_SOURCE"
    assert reason in err.message and SOURCE_HELP in err.message, err.message


def test_given_http_source_then_message_matches_the_contract_shape() -> None:
    doc = {
        "version": 1,
        "swaps": [{"source": "a.jpg", "target": 0}, {"source": "http://cdn.example.com/b.jpg", "target": 1}],
    }
    assert str(_error(doc)) == (
        'swaps[1].source: "http://cdn.example.com/b.jpg" is not allowed '
        "(plain http is not accepted; use https); " + SOURCE_HELP
    )


def test_given_drop_bucket_listed_as_extra_too_then_still_only_inbox() -> None:
    err = _error(_one(source="s3://my-drop-bucket/results/a.jpg"), extra=("my-drop-bucket",))
    assert err.code == "INVALID_SOURCE" and "only keys under inbox/" in err.message


def test_given_other_bucket_then_rejected_naming_the_parameter() -> None:
    err = _error(_one(source="s3://someone-else/a.jpg"))
    assert "'someone-else' is not the drop bucket 'my-drop-bucket'" in err.message
    assert "ExtraSourceBuckets" in err.message


def test_given_public_https_sources_then_passed_as_is() -> None:
    for url in (
        "https://cdn.example.com/a.jpg?sig=1",
        "https://CDN.Example.com.:8443/faces/a%20b.jpg",
        "https://bücher.example/a.jpg",
        "https://xn--bcher-kva.example/a.jpg",
        "https://127.0.0.1.nip.io/a.jpg",  # a name; what it resolves to is AKOOL's to fetch, not ours
    ):
        assert _parse(_one(source=url)).swaps[0].source.url == url


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        # The disguises an outside attack got through: WHATWG parsers (browsers, Node's fetch) read each
        # as the address named, so AKOOL might fetch from it.
        ("https://１２７.０.０.１/a.jpg", "is the IP address 127.0.0.1"),
        ("https://127.0.0。1/a.jpg", "is the IP address 127.0.0.1"),
        ("https://169.254.169.254。/latest/meta-data/", "is the IP address 169.254.169.254"),
        ("https://127.0.0.%31/a.jpg", "is the IP address 127.0.0.1"),
        ("https://127.0.0.1\\.example.com/a.jpg", "is the IP address 127.0.0.1"),
        ("https://metadata.google.internaｌ/computeMetadata/v1/", "is local or private"),
        # Related forms: fullwidth and halfwidth stops, an escaped fullwidth digit, an ignored code point.
        ("https://169．254｡169.254/a.jpg", "is the IP address 169.254.169.254"),
        ("https://127.0.0.%EF%BC%91/a.jpg", "is the IP address 127.0.0.1"),
        ("https://127.0.0.1\u00ad/a.jpg", "is the IP address 127.0.0.1"),
        ("https://ｌｏｃａｌｈｏｓｔ/a.jpg", "is local or private"),
    ],
)
def test_given_ip_or_local_host_in_disguise_then_rejected_naming_what_parsers_read(
    source: str, reason: str
) -> None:
    # Given a source URL whose host is an address or a local name written so the raw text hides it
    # When the manifest is parsed
    err = _error(_one(source=source))
    # Then the source is rejected, naming what a WHATWG parser would connect to
    assert err.field == "swaps[0].source" and err.code == "INVALID_SOURCE"
    assert reason in err.message and SOURCE_HELP in err.message, err.message


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("https://8.8.8.8/a.jpg", "is the IP address 8.8.8.8"),
        ("https://[2606:4700::1111]/a.jpg", "is an IPv6 address"),
        ("https://1.2.3.4.5/a.jpg", "ends in a number"),
        ("https://cdn.example.0x10/a.jpg", "ends in a number"),
        ("https://a_b.example.com/a.jpg", "is not a valid DNS name"),
        ("https://-cdn.example.com/a.jpg", "is not a valid DNS name"),
        ("https://cdn..example.com/a.jpg", "is not a valid DNS name"),
        ("https://cdn.example.c0m/a.jpg", "is not a valid DNS name"),
        ("https://xn--zz.example.com/a.jpg", "is not a valid DNS name"),
        ("https://cdn.example.com%2f@x/a.jpg", "credentials in URLs are not accepted"),
        # `\` ends the host for WHATWG parsers and starts userinfo for urlsplit: either way, refused.
        ("https://cdn.example.com\\@127.0.0.1/a.jpg", "credentials in URLs are not accepted"),
        ("https://cdn.example.com\\a.jpg", "ends the host for some URL parsers, not for others"),
        ("https://cdn.example.com%00/a.jpg", "is not a valid DNS name"),
        ("https://%ff.example.com/a.jpg", "percent-escapes that are not UTF-8"),
    ],
)
def test_given_https_host_that_is_no_public_dns_name_then_rejected_with_reason(
    source: str, reason: str
) -> None:
    # Given a source URL whose host is a public IP, not a DNS name, or read differently by two parsers
    # When the manifest is parsed
    err = _error(_one(source=source))
    # Then the source is rejected, saying why
    assert err.code == "INVALID_SOURCE" and reason in err.message, err.message


def test_given_huge_manifest_then_rejected_before_parsing() -> None:
    err = _error(None, raw=b" " * (manifest_module.MAX_MANIFEST_BYTES + 1))
    assert err.code == "LIMIT" and err.field == "manifest"


@given(st.lists(st.sampled_from(["..", ".", "a", "b", "", "inbox", "c.jpg"]), min_size=1, max_size=8))
def test_given_any_relative_path_then_result_is_under_inbox_or_rejected(parts: list[str]) -> None:
    source = "/".join(parts)
    try:
        m = _parse(_one(source=source))
    except ManifestError:
        return
    key = m.swaps[0].source.key
    assert key is not None and key.startswith("inbox/") and "/../" not in f"/{key}/"


def test_given_faces_mode_then_manifest_has_no_swaps() -> None:
    # Given a sidecar asking only for the photo's faces / When parsed / Then faces mode, nothing to swap
    manifest = _parse({"version": 1, "mode": "faces"})
    assert manifest.mode == "faces" and manifest.swaps == ()
    # And a swap manifest stays in swap mode
    assert _parse(_one()).mode == "swap"


def test_given_neither_swaps_nor_mode_then_error_names_both_ways() -> None:
    # Given a manifest with only a version / When parsed / Then the error offers "swaps" and "mode"
    err = _error({"version": 1})
    assert err.field == "swaps" and '"mode": "faces"' in err.message


# -- every problem at once; keywords in any case (issue 18) -------------------------------------------
def test_given_three_schema_errors_then_one_error_names_each_by_its_json_path() -> None:
    # Given a manifest with a wrong version, a negative target and an unknown engine
    doc = {"version": 2, "swaps": [{"source": "faces/alice.jpg", "target": -1}], "engine": "fast"}
    # When parsed, Then one error lists all three, each at its path
    err = _error(doc)
    text = str(err)
    assert err.field == "version"
    expected = ("version: 2 is not valid", "swaps[0].target: -1 is not valid", 'engine: "fast" is not valid')
    for path in expected:
        assert path in text, text


def test_given_schema_errors_and_a_bad_source_in_another_swap_then_both_are_reported() -> None:
    # Given swap 0 with an unknown field and swap 1 with a source outside inbox/
    doc = {"version": 1, "swaps": [{"src": "a.jpg", "target": 0}, {"source": "../../a.jpg", "target": 0}]}
    # When parsed, Then the misspelt field and the bad source are both named
    text = str(_error(doc))
    assert 'swaps[0].src: unknown field; did you mean "source"?' in text
    assert "swaps[1].source:" in text and "leads outside inbox/" in text


def test_given_two_problems_in_one_swap_then_both_are_reported() -> None:
    text = str(_error(_one(source="", target="biggest")))
    assert "swaps[0].source:" in text and "swaps[0].target:" in text


@pytest.mark.parametrize(("field", "given", "expected"), [
    ("target", "Largest", "largest"), ("target", "ALL", "all"),
    ("engine", "PRO", "pro"), ("engine", "V3", "v3"),
])
def test_given_a_keyword_in_another_case_when_parsed_then_it_is_the_schemas_spelling(
    field: str, given: str, expected: str
) -> None:
    # Given "Largest" where "largest" is meant (or PRO, V3, ALL)
    doc = _one(target=given) if field == "target" else _one(**{field: given})
    # When parsed, Then it is accepted and carried in the schema's spelling
    parsed = _parse(doc)
    assert (parsed.swaps[0].target if field == "target" else parsed.engine) == expected


def test_given_mode_faces_in_capitals_then_it_is_a_faces_job() -> None:
    assert _parse({"version": 1, "mode": "Faces"}).mode == "faces"


def _published_validator() -> Any:
    schema = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema)


@pytest.mark.parametrize(("field", "keyword"), [
    (field, spelled) for field, words in manifest_module._KEYWORDS.items() for word in words
    for spelled in (word, word.upper(), word.title())
])
def test_given_the_published_schema_then_it_accepts_each_keyword_in_any_case_as_the_stack_does(
    field: str, keyword: str
) -> None:
    # Given a manifest using a keyword of the stack's, in some letter case
    doc = {"version": 1, "mode": keyword} if field == "mode" else _one(
        **({"target": keyword} if field == "target" else {field: keyword})
    )
    # Then an editor or CI validating with the published schema accepts it, as the stack does
    _published_validator()(doc)
    _parse(doc)


@pytest.mark.parametrize("doc", [
    _one(target="Biggest"), _one(target="largest "), _one(engine="turbo"), _one(engine="v4"),
    {"version": 1, "mode": "facess"},
])
def test_given_the_published_schema_then_words_that_are_no_keyword_in_any_case_are_refused(
    doc: dict[str, Any],
) -> None:
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        _published_validator()(doc)
    _error(doc)


def test_given_a_keyword_that_is_no_keyword_in_any_case_then_it_is_still_refused() -> None:
    assert "swaps[0].target" in str(_error(_one(target="Biggest")))
