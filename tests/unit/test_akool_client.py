"""AKOOL client against a fake AKOOL at the requests boundary (documented envelopes, docs/akool.md)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
import requests
import responses

from devkit.credentials import TEST_API_KEY, TEST_CLIENT_ID
from dropswap.adapters.akool_client import AkoolClient
from dropswap.domain.akool import AkoolCredentials, AkoolError, AkoolJobInfo
from tests.unit.akool_fake import (
    BASE,
    DETECT,
    DETECT_URL,
    LIST_URL,
    NO_FACES,
    FakeAkool,
    face,
    fake_akool,
    pro_problems,
    v3_problems,
)

CREDS = AkoolCredentials(client_id=TEST_CLIENT_ID, api_key=TEST_API_KEY)
IMG = "https://bucket.s3.amazonaws.com/inbox/team.jpg?X-Amz-Signature=abc"


@pytest.fixture
def akool(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAkool]:
    monkeypatch.setenv("AKOOL_RETRY_BASE_SECONDS", "0")
    yield from fake_akool()


def _client(**kwargs) -> AkoolClient:
    return AkoolClient(CREDS, BASE, DETECT, **kwargs)


def test_given_api_key_when_calling_then_sent_only_as_x_api_key_header(akool: FakeAkool) -> None:
    akool.faces["team.jpg"] = [face(10, 10, 50, 60)]
    _client().detect_faces(url=IMG)
    call = akool.calls[0]
    assert call.headers["x-api-key"] == TEST_API_KEY
    assert "Authorization" not in call.headers
    assert TEST_API_KEY not in call.url
    assert TEST_API_KEY not in repr(_client()) and TEST_API_KEY not in repr(CREDS)


def test_given_two_faces_when_detecting_then_regions_landmarks_and_opts_are_parsed(akool: FakeAkool) -> None:
    akool.faces["team.jpg"] = [face(300, 95, 88, 104), face(120, 80, 90, 110)]
    faces = _client().detect_faces(url=IMG)
    assert [(f.region.x, f.region.y, f.region.w, f.region.h) for f in faces] == [
        (300, 95, 88, 104),
        (120, 80, 90, 110),
    ]
    assert len(faces[0].landmarks) == 6
    assert faces[0].landmarks_str == ":".join(f"{x},{y}" for x, y in faces[0].landmarks[:4])
    assert akool.calls[0].body == {"single_face": False, "return_face_url": False, "url": IMG}


@pytest.mark.parametrize("status", [200, 400, 500])
def test_given_no_faces_detected_when_detecting_then_empty_list_not_error(
    akool: FakeAkool, status: int
) -> None:
    akool.queue("detect", status, NO_FACES)
    assert _client().detect_faces(url=IMG) == []
    assert len(akool.calls) == 1


def test_given_detector_input_error_when_detecting_then_final_error_without_code(akool: FakeAkool) -> None:
    akool.queue("detect", 400, {"error_code": 1, "error_msg": "Invalid URL format", "faces_obj": {}})
    with pytest.raises(AkoolError) as info:
        _client().detect_faces(url=IMG)
    assert not info.value.retryable and info.value.code is None and "Invalid URL format" in info.value.message


def test_given_detector_500_then_success_when_detecting_then_retried(akool: FakeAkool) -> None:
    akool.queue("detect", 500, {"error_code": 1, "error_msg": "Failed to process media", "faces_obj": {}})
    akool.faces["team.jpg"] = [face(1, 2, 80, 90)]
    assert len(_client().detect_faces(url=IMG)) == 1
    assert len(akool.calls) == 2


MEDIA_FAILED = {"error_code": 1, "error_msg": "Failed to process media", "faces_obj": {}}


def test_given_detector_keeps_failing_to_process_media_then_final_after_two_attempts(
    akool: FakeAkool,
) -> None:
    # Given AKOOL's detector answers HTTP 500 "Failed to process media" every time (an undecodable image)
    for _ in range(4):
        akool.queue("detect", 500, MEDIA_FAILED)
    # When detecting with the default 4 attempts
    with pytest.raises(AkoolError) as info:
        _client().detect_faces(url=IMG)
    # Then it is tried twice, and the error is final (no queue retries for a day), without a code
    assert len(akool.calls) == 2
    assert not info.value.retryable and info.value.code is None
    assert "Failed to process media" in info.value.message


def test_given_other_detector_5xx_then_retryable_after_every_attempt(akool: FakeAkool) -> None:
    # Given a detector outage (HTTP 503, another message)
    for _ in range(4):
        akool.queue("detect", 503, {"error_code": 1, "error_msg": "Service Unavailable", "faces_obj": {}})
    # When detecting / Then all 4 attempts are made and the error stays retryable
    with pytest.raises(AkoolError) as info:
        _client().detect_faces(url=IMG)
    assert len(akool.calls) == 4 and info.value.retryable


def test_given_1005_then_success_when_submitting_then_retried_with_backoff(akool: FakeAkool) -> None:
    akool.queue_code("pro", 1005)
    akool.queue_code("pro", 1005)
    sleeps: list[float] = []
    result = _client(sleep=sleeps.append).faceswap_pro(
        [{"path": "https://x.test/s.jpg"}], [{"path": IMG}], face_enhance=True, webhook_url="https://h.test/w"
    )
    assert result.akool_id and result.akool_job_id and result.url is None
    assert len(akool.submissions()) == 3 and len(sleeps) == 2


def test_given_retry_base_when_backing_off_then_full_jitter_within_exponential_bound(
    akool: FakeAkool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AKOOL_RETRY_BASE_SECONDS", "1")
    for _ in range(3):
        akool.queue_code("pro", 1005)
    sleeps: list[float] = []
    client = _client(sleep=sleeps.append, max_attempts=4)
    client.faceswap_pro(
        [{"path": "https://x.test/s.jpg"}], [{"path": IMG}], face_enhance=False, webhook_url=""
    )
    assert len(sleeps) == 3
    assert all(0 <= s <= bound for s, bound in zip(sleeps, (1, 2, 4), strict=True))


def test_given_1005_forever_when_submitting_then_bounded_attempts_and_retryable_error(
    akool: FakeAkool,
) -> None:
    for _ in range(10):
        akool.queue_code("v3", 1005)
    with pytest.raises(AkoolError) as info:
        _client(max_attempts=3).faceswap_v3(
            IMG,
            [{"path": IMG, "opts": "1,1:2,2:3,3:4,4"}],
            [{"path": IMG, "opts": "1,1:2,2:3,3:4,4"}],
            face_enhance=False,
            webhook_url="",
        )
    assert info.value.retryable and info.value.code == 1005
    assert len(akool.submissions()) == 3


@pytest.mark.parametrize("code", [1003, 1006, 1007, 1101, 1102, 1200, 1016])
def test_given_final_code_when_submitting_then_no_retry_and_code_kept(akool: FakeAkool, code: int) -> None:
    akool.queue_code("pro", code)
    with pytest.raises(AkoolError) as info:
        _client().faceswap_pro([{"path": IMG}], [{"path": IMG}], face_enhance=False, webhook_url="")
    assert info.value.code == code and not info.value.retryable
    assert len(akool.submissions()) == 1


def test_given_1006_with_http_401_status_when_submitting_then_body_code_decides(akool: FakeAkool) -> None:
    akool.queue("pro", 401, {"code": 1101, "msg": "Invalid authorization or The request token has expired"})
    with pytest.raises(AkoolError) as info:
        _client().faceswap_pro([{"path": IMG}], [{"path": IMG}], face_enhance=False, webhook_url="")
    assert info.value.code == 1101 and "Invalid authorization" in info.value.message
    assert TEST_API_KEY not in str(info.value)


def test_given_http_502_html_then_success_when_submitting_then_retried(akool: FakeAkool) -> None:
    akool.queue("pro", 502, "<html>Bad Gateway</html>")
    result = _client().faceswap_pro([{"path": IMG}], [{"path": IMG}], face_enhance=False, webhook_url="")
    assert result.akool_id and len(akool.submissions()) == 2


def test_given_http_502_html_always_when_submitting_then_retryable_with_status(akool: FakeAkool) -> None:
    for _ in range(3):
        akool.queue("pro", 502, "<html>Bad Gateway</html>")
    with pytest.raises(AkoolError) as info:
        _client(max_attempts=3).faceswap_pro(
            [{"path": IMG}], [{"path": IMG}], face_enhance=False, webhook_url=""
        )
    assert info.value.retryable and info.value.http_status == 502 and info.value.code is None


def test_given_timeouts_then_success_when_listing_then_retried(akool: FakeAkool) -> None:
    akool.jobs["a" * 24] = {"_id": "a" * 24, "faceswap_status": 3, "url": "https://cdn.test/r.jpg"}
    calls = {"n": 0}
    real = requests.Session.request

    def flaky(self, method, url, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise requests.ReadTimeout("read timed out")
        return real(self, method, url, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(requests.Session, "request", flaky)
        infos = _client().list_by_ids(["a" * 24])
    assert [i.status for i in infos] == [3] and calls["n"] == 3


def test_given_connection_errors_when_attempts_run_out_then_retryable_error(akool: FakeAkool) -> None:
    akool.rsps.replace(responses.POST, DETECT_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(AkoolError) as info:
        _client(max_attempts=2).detect_faces(url=IMG)
    assert info.value.retryable and "cannot reach AKOOL" in info.value.message


def test_given_little_time_left_when_retrying_then_stops_early(akool: FakeAkool) -> None:
    for _ in range(5):
        akool.queue_code("pro", 1005)
    # 30 s before the first attempt, then 5.5 s: less than the 5 s margin plus a 1 s attempt.
    left = itertools.chain([30.0], itertools.repeat(5.5))
    client = _client(max_attempts=5, remaining_seconds=lambda: next(left), safety_margin_seconds=5.0)
    with pytest.raises(AkoolError) as info:
        client.faceswap_pro([{"path": IMG}], [{"path": IMG}], face_enhance=False, webhook_url="")
    assert info.value.retryable
    assert len(akool.submissions()) == 1


def test_given_no_time_left_when_calling_then_no_request_is_made(akool: FakeAkool) -> None:
    with pytest.raises(AkoolError) as info:
        _client(remaining_seconds=lambda: 3.0, safety_margin_seconds=5.0).detect_faces(url=IMG)
    assert info.value.retryable and akool.calls == []


def test_given_ids_when_listing_then_comma_joined_and_status_coerced(akool: FakeAkool) -> None:
    akool.queue(
        "list",
        200,
        {
            "code": 1000,
            "msg": "OK",
            "data": {
                "result": [
                    {"_id": "a" * 24, "faceswap_status": "3", "url": "https://cdn.test/a.jpg"},
                    {"_id": "b" * 24, "faceswap_status": 2, "url": ""},
                    {"_id": "c" * 24, "faceswap_status": "weird"},
                ]
            },
        },
    )
    infos = _client().list_by_ids(["a" * 24, "b" * 24, "c" * 24])
    assert akool.calls[0].url.startswith(LIST_URL + "?_ids=")
    assert unquote(akool.calls[0].url.split("_ids=")[1]) == ",".join(["a" * 24, "b" * 24, "c" * 24])
    assert infos[0] == AkoolJobInfo("a" * 24, 3, "https://cdn.test/a.jpg", infos[0].raw)
    assert infos[1].status == 2 and infos[1].url is None
    assert len(infos) == 2  # an unreadable status is left out, as if AKOOL did not know the id


def test_given_many_ids_when_listing_then_chunked_and_empty_list_makes_no_call(akool: FakeAkool) -> None:
    assert _client().list_by_ids([]) == []
    assert akool.calls == []
    ids = [f"{i:024x}" for i in range(120)]
    _client().list_by_ids(ids)
    assert len(akool.calls) == 3


def test_given_pro_submit_then_body_matches_documented_v4_schema(akool: FakeAkool) -> None:
    _client().faceswap_pro(
        [
            {"path": "https://x.test/a.jpg", "opts": "1,2:3,4:5,6:7,8"},
            {"path": "https://x.test/b.jpg", "opts": "1,2:3,4:5,6:7,8"},
        ],
        [{"path": IMG, "opts": "1,2:3,4:5,6:7,8"}, {"path": IMG, "opts": "9,2:3,4:5,6:7,8"}],
        face_enhance=True,
        webhook_url="https://h.test/w?token=t",
    )
    body = akool.submissions()[0].body
    assert body is not None and pro_problems(body) == []
    assert body["face_enhance"] is True and body["single_face_mode"] is False
    assert body["model_name"] == "akool_faceswap_image_hq" and "modifyImage" not in body


def test_given_v3_submit_then_face_enhance_is_integer_and_url_returned(akool: FakeAkool) -> None:
    item = {"path": IMG, "opts": "1,2:3,4:5,6:7,8"}
    result = _client().faceswap_v3(IMG, [item], [item], face_enhance=True, webhook_url="")
    body = akool.submissions()[0].body
    assert body is not None and v3_problems(body) == []
    assert body["face_enhance"] == 1 and not isinstance(body["face_enhance"], bool)
    assert body["modifyImage"] == IMG
    assert result.url and result.akool_id


def test_given_success_without_id_when_submitting_then_final_error(akool: FakeAkool) -> None:
    akool.queue("pro", 200, {"code": 1000, "msg": "OK", "data": {}})
    with pytest.raises(AkoolError) as info:
        _client().faceswap_pro([{"path": IMG}], [{"path": IMG}], face_enhance=False, webhook_url="")
    assert not info.value.retryable


def test_given_string_code_when_submitting_then_coerced(akool: FakeAkool) -> None:
    akool.queue("pro", 200, {"code": "1006", "msg": "Your quota is not enough"})
    with pytest.raises(AkoolError) as info:
        _client().faceswap_pro([{"path": IMG}], [{"path": IMG}], face_enhance=False, webhook_url="")
    assert info.value.code == 1006


def test_given_wrong_key_when_calling_then_1101_final(akool: FakeAkool) -> None:
    client = AkoolClient(AkoolCredentials(TEST_CLIENT_ID, "x" * 32), BASE, DETECT)
    with pytest.raises(AkoolError) as info:
        client.list_by_ids(["a" * 24])
    assert info.value.code == 1101 and not info.value.retryable


def test_given_detect_with_both_url_and_img_then_value_error() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        _client().detect_faces(url=IMG, img="data:image/png;base64,AAAA")


def test_given_malformed_detect_body_then_final_error(akool: FakeAkool) -> None:
    akool.queue(
        "detect",
        200,
        {
            "error_code": 0,
            "error_msg": "SUCCESS",
            "faces_obj": {"0": {"region": [[1, 2, 3]], "landmarks": [[[1, 2]] * 6]}},
        },
    )
    with pytest.raises(AkoolError) as info:
        _client().detect_faces(url=IMG)
    assert not info.value.retryable and "unexpected response" in info.value.message
