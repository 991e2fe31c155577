"""AllowedSourceHosts and AllowedResultHosts: operator-set host suffixes that https sources and result URLs
must be under; from the template parameter, through the function's environment, to the check."""

from __future__ import annotations

import json

import pytest

from dropswap.domain.manifest import ManifestError, parse_manifest
from dropswap.settings import SettingsError, load_settings
from tests.unit.cfn_eval import Stack
from tests.unit.sam_transform import SECRET_ARN, transformed_template

DROP = "my-drop-bucket"
SIDECAR = "inbox/party/team.jpg.faceswap.json"


def _parse(source: str, allowed: tuple[str, ...]) -> str | None:
    doc = {"version": 1, "swaps": [{"source": source, "target": 0}]}
    manifest = parse_manifest(
        json.dumps(doc).encode(), sidecar_key=SIDECAR, drop_bucket=DROP, allowed_source_hosts=allowed
    )
    return manifest.swaps[0].source.url


@pytest.mark.parametrize(
    "url", ["https://example.com/a.jpg", "https://cdn.example.com/a.jpg", "https://a.b.faces.net:8443/x.png"]
)
def test_given_allowed_source_hosts_then_https_sources_on_or_under_them_are_accepted(url: str) -> None:
    # Given AllowedSourceHosts example.com and faces.net, When a source on or under one is parsed
    # Then it is passed on as is
    assert _parse(url, ("example.com", "faces.net")) == url


@pytest.mark.parametrize(
    "url",
    ["https://badexample.com/a.jpg", "https://example.com.evil.org/a.jpg", "https://cdn.example.org/a.jpg"],
    ids=["look-alike", "suffix-inside", "other-domain"],
)
def test_given_allowed_source_hosts_then_other_hosts_are_refused_naming_the_allowed_ones(url: str) -> None:
    # Given AllowedSourceHosts example.com and faces.net, When a source on another host is parsed
    with pytest.raises(ManifestError) as err:
        _parse(url, ("example.com", "faces.net"))
    # Then it is refused as an invalid source, naming the field, the allowed hosts and the parameter
    assert err.value.field == "swaps[0].source" and err.value.code == "INVALID_SOURCE"
    assert "example.com, faces.net" in err.value.message and "AllowedSourceHosts" in err.value.message


def test_given_no_allowed_source_hosts_then_any_public_host_and_s3_sources_unaffected() -> None:
    # Given no AllowedSourceHosts (the default), Then any public https host is accepted
    assert _parse("https://cdn.elsewhere.org/a.jpg", ()) == "https://cdn.elsewhere.org/a.jpg"
    # And a restriction on https hosts leaves keys in the drop folder alone
    doc = {"version": 1, "swaps": [{"source": "faces/a.jpg", "target": 0}]}
    manifest = parse_manifest(
        json.dumps(doc).encode(), sidecar_key=SIDECAR, drop_bucket=DROP, allowed_source_hosts=("example.com",)
    )
    assert manifest.swaps[0].source.key == "inbox/party/faces/a.jpg"


@pytest.mark.parametrize("variable", ["ALLOWED_SOURCE_HOSTS", "ALLOWED_RESULT_HOSTS"])
def test_given_host_suffixes_in_the_environment_then_normalised_and_a_malformed_one_stops_the_function(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given suffixes written in the usual ways
    monkeypatch.setenv(variable, " *.Example.COM. , .faces.net,,bücher.de")
    # When the settings are loaded, Then they are lowercase ASCII names without wildcard or dots around
    settings = load_settings()
    field = "allowed_source_hosts" if variable == "ALLOWED_SOURCE_HOSTS" else "allowed_result_hosts"
    assert getattr(settings, field) == ("example.com", "faces.net", "xn--bcher-kva.de")
    # And an entry that is not a host name stops the function at start, naming the variable
    monkeypatch.setenv(variable, "https://example.com/")
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_given_the_two_parameters_then_they_reach_the_functions_that_check_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a deployment with both parameters set
    template = transformed_template()
    stack = Stack(template, {"AkoolSecretArn": SECRET_ARN, "AllowedSourceHosts": "example.com,faces.net",
                             "AllowedResultHosts": "akool.com"})

    def settings_of(function: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        env = stack.value(template["Resources"][function]["Properties"]["Environment"]["Variables"])
        for name in ("ALLOWED_SOURCE_HOSTS", "ALLOWED_RESULT_HOSTS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        s = load_settings()
        return s.allowed_source_hosts, s.allowed_result_hosts

    # When SubmitFunction (which parses manifests) and FinaliseFunction (which fetches results) start
    # Then each has its list
    assert settings_of("SubmitFunction")[0] == ("example.com", "faces.net")
    assert settings_of("FinaliseFunction")[1] == ("akool.com",)
    # And with the defaults, neither restricts hosts
    stack = Stack(template, {"AkoolSecretArn": SECRET_ARN})
    assert settings_of("SubmitFunction") == ((), ()) and settings_of("FinaliseFunction") == ((), ())
