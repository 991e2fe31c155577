"""S3 event keys are URL-encoded: decode them all, then classify images and sidecars."""

from __future__ import annotations

import pytest

from dropswap.domain import keys
from tests.conftest import load_event


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("inbox/Summer+party/team.jpg", "inbox/Summer party/team.jpg"),  # S3 writes a space as +
        ("inbox/Zo%C3%AB+team.jpg", "inbox/Zoë team.jpg"),  # non-ASCII as UTF-8 percent-escapes
        ("inbox%2Fparty%2Fteam.jpg", "inbox/party/team.jpg"),  # some emulators quote the slash
        ("inbox/a%2Bb.jpg", "inbox/a+b.jpg"),  # a literal + arrives as %2B
        ("inbox/%E6%97%A5%E6%9C%AC/%F0%9F%98%80.png", "inbox/日本/😀.png"),
        ("inbox/100%25.jpg", "inbox/100%.jpg"),
    ],
)
def test_given_encoded_event_key_when_decoded_then_the_real_key(raw: str, decoded: str) -> None:
    assert keys.decode_event_key(raw) == decoded


def test_given_sample_events_when_decoded_then_space_and_unicode_restored() -> None:
    image = load_event("s3-put-image.json")["Records"][0]["s3"]["object"]["key"]
    sidecar = load_event("s3-put-sidecar.json")["Records"][0]["s3"]["object"]["key"]
    assert keys.decode_event_key(image) == "inbox/Summer party/Zoë team.jpg"
    assert keys.decode_event_key(sidecar) == "inbox/Summer party/Zoë team.jpg.faceswap.json"


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("inbox/party/team.jpg", keys.KeyKind.IMAGE),
        ("inbox/party/team.JPEG", keys.KeyKind.IMAGE),
        ("inbox/party/team.jpg.faceswap.json", keys.KeyKind.SIDECAR),
        # not a supported image, or its sidecar: reported as UNSUPPORTED_TYPE if it has a sidecar
        ("inbox/party/notes.txt.faceswap.json", keys.KeyKind.UNSUPPORTED),
        ("inbox/party/notes.txt", keys.KeyKind.UNSUPPORTED),
        ("inbox/party/_folder.faceswap.json", keys.KeyKind.FOLDER_MANIFEST),
        ("results/party/team.swapped.jpg", keys.KeyKind.OTHER),
        ("team.jpg", keys.KeyKind.OTHER),
    ],
)
def test_given_key_when_classified_then_kind(key: str, kind: keys.KeyKind) -> None:
    assert keys.classify(key) is kind


def test_given_image_key_then_results_never_under_inbox() -> None:
    image = "inbox/Summer party/Zoë team.jpg"
    assert keys.report_key(image) == "results/Summer party/Zoë team.jpg.result.json"
    assert keys.result_image_key(image) == "results/Summer party/Zoë team.swapped.jpg"
    assert keys.image_key_for_sidecar(keys.sidecar_key_for_image(image)) == image
