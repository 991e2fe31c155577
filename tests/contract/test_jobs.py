"""Job lifecycle and semantics: listbyids at every moment, results, delbyids, status 4, what v3/v4 swap."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
import requests

from local.emulator import RunningEmulator, engine
from local.emulator.engine import Image
from tests.contract.helpers import DELETE, DETECT, LIST, V3, V4, Akool, ImageServer, wait_for

LISTBYIDS_FIELDS = {
    "faceswap_type", "faceswap_quality", "faceswap_status", "deduction_status", "image", "video_duration",
    "deduction_duration", "update_time", "_id", "userId", "uid", "url", "createdAt",
}  # fmt: skip


def decode(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def region_change(before: Image, after: Image, region: list[int]) -> float:
    """Mean absolute pixel change inside a face box."""
    x, y, w, h = region
    a = before[y : y + h, x : x + w].astype(np.float64)
    b = after[y : y + h, x : x + w].astype(np.float64)
    return float(np.abs(a - b).mean())


def detect(akool: Akool, url: str, **extra: Any) -> dict[str, Any]:
    answer = akool.post(DETECT, {"url": url, **extra}).json()
    assert answer["error_code"] == 0, answer
    frame: dict[str, Any] = answer["faces_obj"]["0"]
    return frame


def result_image(entry: dict[str, Any]) -> Image:
    resp = requests.get(entry["url"], timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "image/jpeg"
    return decode(resp.content)


def v4_job(
    images: ImageServer, target: str = "astronaut.jpg", source: str = "hopper.jpg", **extra: Any
) -> dict[str, Any]:
    return {
        "targetImage": [{"path": f"{images.url}/{target}"}],
        "sourceImage": [{"path": f"{images.url}/{source}"}],
        **extra,
    }


# -- lifecycle -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["v3", "v4"])
def test_listbyids_is_truthful_from_submit_to_final(
    make_emulator: Callable[..., tuple[RunningEmulator, Akool]], images: ImageServer, api: str
) -> None:
    # Given a realistic-mode emulator with short queue and processing times
    _, akool = make_emulator(mode="realistic", queue_seconds=0.4, processing_seconds=0.4)
    astronaut = f"{images.url}/astronaut.jpg"
    if api == "v3":
        face = detect(akool, astronaut)["landmarks_str"][0]
        submitted = akool.submit(V3, {
            "targetImage": [{"path": astronaut, "opts": face}],
            "sourceImage": [{"path": f"{images.url}/hopper.jpg"}],
            "modifyImage": astronaut,
        })  # fmt: skip
    else:
        submitted = akool.submit(V4, v4_job(images))
    job_id = submitted["data"]["_id"]
    result_url = f"{akool.url}/results/{job_id}.jpg"  # where the emulator serves results
    # When the result file and listbyids are polled from the moment of submit until the job is final
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["faceswap_status"] not in (3, 4):
        # The file first: a status below 3 seen afterwards means the file was not there yet either.
        fetched = requests.get(result_url, timeout=5).status_code
        entry = akool.job(job_id)
        assert entry is not None
        assert set(entry) == LISTBYIDS_FIELDS  # no failure reason or other extras
        seen.append({**entry, "fetched": fetched})
    statuses = [e["faceswap_status"] for e in seen]
    # Then it moves 1 → 2 → 3, never backwards
    assert statuses[0] == 1
    assert statuses == sorted(statuses)
    assert {1, 2, 3} <= set(statuses)
    # And the result file exists only once the status is 3
    assert all(e["fetched"] == 404 for e in seen if e["faceswap_status"] < 3)
    assert requests.get(seen[-1]["url"], timeout=5).status_code == 200
    if api == "v3":
        # v3 shows the pre-allocated url from the start
        assert {e["url"] for e in seen} == {submitted["data"]["url"]}
    else:
        # Pro has no url until it succeeded
        assert all(e["url"] == "" for e in seen if e["faceswap_status"] < 3)
        assert seen[-1]["url"].endswith(f"/results/{job_id}.jpg")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", seen[0]["createdAt"])


def test_listbyids_several_unknown_and_missing_ids(akool: Akool, images: ImageServer) -> None:
    # Given two jobs
    a = akool.submit(V4, v4_job(images))["data"]["_id"]
    b = akool.submit(V4, v4_job(images))["data"]["_id"]
    # When listbyids asks for both plus an unknown id, and then for nothing
    answer = akool.get(LIST, {"_ids": f"{a},{'f' * 24},{b}"}).json()
    empty = akool.get(LIST, {"_ids": ""}).json()
    # Then the known jobs come back in the order asked, the unknown one is left out, and no _ids is 1003
    assert [e["_id"] for e in answer["data"]["result"]] == [a, b]
    assert empty["code"] == 1003


def test_delbyids_removes_jobs_and_results(akool: Akool, images: ImageServer) -> None:
    # Given a finished job
    job_id = akool.submit(V4, v4_job(images))["data"]["_id"]
    url = akool.wait_final(job_id)["url"]
    assert requests.get(url, timeout=5).status_code == 200
    # When it is deleted
    answer = akool.post(DELETE, {"_ids": job_id}).json()
    # Then AKOOL's OK comes back, listbyids no longer knows it, and its result is gone
    assert answer == {"code": 1000, "msg": "OK"}
    assert akool.job(job_id) is None
    assert requests.get(url, timeout=5).status_code == 404


@pytest.mark.parametrize("body", [{}, {"_ids": ""}, {"_ids": ["a"]}])
def test_delbyids_needs_ids(akool: Akool, body: dict[str, Any]) -> None:
    # Given no _ids, an empty one, or a list instead of "id1,id2"
    # When delbyids is called
    # Then 1003
    assert akool.post(DELETE, body).json()["code"] == 1003


# -- status 4 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("https://cdn.example.com/a.jpg", "failed to download targetImage[0]: host not allowed"),
        ("{images}/missing.jpg", "failed to download targetImage[0]: HTTP 404"),
        ("{images}/garbage.jpg", "targetImage[0]: image cannot be decoded"),
        ("{images}/blank.jpg", "targetImage[0]: no face detected"),
    ],
)
def test_bad_inputs_end_in_status_4_with_a_reason(
    akool: Akool, images: ImageServer, target: str, reason: str
) -> None:
    # Given a Pro job whose target cannot be downloaded, decoded, or has no face
    body = v4_job(images)
    body["targetImage"][0]["path"] = target.format(images=images.url)
    job_id = akool.submit(V4, body)["data"]["_id"]
    # When it finishes
    entry = akool.wait_final(job_id)
    # Then it failed (status 4, no result) and the admin API says why
    assert entry["faceswap_status"] == 4
    assert entry["url"] == ""
    assert reason in akool.admin_job(job_id)["reason"]


def test_injected_failure_ends_in_status_4(akool: Akool, images: ImageServer) -> None:
    # Given the fault "the next job fails"
    akool.faults(fail_jobs=1, fail_reason="GPU on fire")
    # When two good jobs run
    first = akool.submit(V4, v4_job(images))["data"]["_id"]
    second = akool.submit(V4, v4_job(images))["data"]["_id"]
    # Then the first fails with the injected reason and the second succeeds
    assert akool.wait_final(first)["faceswap_status"] == 4
    assert akool.admin_job(first)["reason"] == "GPU on fire"
    assert akool.wait_final(second)["faceswap_status"] == 3


# -- what gets swapped ---------------------------------------------------------------------------------------


def test_v3_swaps_every_listed_face_of_modify_image(akool: Akool, images: ImageServer) -> None:
    # Given the two-face collage and its landmarks_str from detect_faces
    collage_url = f"{images.url}/collage.jpg"
    frame = detect(akool, collage_url)
    # Each face gets the other person's face, so both change visibly.
    sources = [f"{images.url}/astronaut.jpg", f"{images.url}/hopper.jpg"]
    body = {
        "targetImage": [{"path": collage_url, "opts": s} for s in frame["landmarks_str"]],
        "sourceImage": [{"path": url, "opts": detect(akool, url)["landmarks_str"][0]} for url in sources],
        "modifyImage": collage_url,
        "face_enhance": 0,
    }
    # When a v3 job swaps both faces
    entry = akool.wait_final(akool.submit(V3, body)["data"]["_id"])
    # Then one result has both faces changed
    assert entry["faceswap_status"] == 3
    before, after = decode(images.files["/collage.jpg"][0]), result_image(entry)
    assert after.shape == before.shape
    for region in frame["region"]:
        assert region_change(before, after, region) > 8


def test_v3_with_face_crops_changes_only_the_chosen_face(akool: Akool, images: ImageServer) -> None:
    # Given crops of the collage's faces (face_urls + crop_landmarks), as AKOOL's docs pair them
    collage_url = f"{images.url}/collage.jpg"
    frame = detect(akool, collage_url, return_face_url=True)
    body = {
        "targetImage": [{"path": frame["face_urls"][1], "opts": frame["crop_landmarks"][1]}],
        "sourceImage": [{"path": f"{images.url}/hopper.jpg"}],
        "modifyImage": collage_url,
    }
    # When a v3 job targets the right-hand face through its crop
    entry = akool.wait_final(akool.submit(V3, body)["data"]["_id"])
    # Then only that face of modifyImage changed
    assert entry["faceswap_status"] == 3
    before, after = decode(images.files["/collage.jpg"][0]), result_image(entry)
    assert region_change(before, after, frame["region"][1]) > 8
    assert region_change(before, after, frame["region"][0]) < 2


def test_v3_crop_of_another_image_fails(akool: Akool, images: ImageServer) -> None:
    # Given a face crop detected on the astronaut, used against the collage as modifyImage
    crop = detect(akool, f"{images.url}/astronaut.jpg", return_face_url=True)
    body = {
        "targetImage": [{"path": crop["face_urls"][0], "opts": crop["crop_landmarks"][0]}],
        "sourceImage": [{"path": f"{images.url}/hopper.jpg"}],
        "modifyImage": f"{images.url}/collage.jpg",
    }
    # When the job runs
    job_id = akool.submit(V3, body)["data"]["_id"]
    # Then it fails: the crop cannot be located in modifyImage
    assert akool.wait_final(job_id)["faceswap_status"] == 4
    assert "different image" in akool.admin_job(job_id)["reason"]


def test_v4_opts_choose_the_target_face(akool: Akool, images: ImageServer) -> None:
    # Given the collage and the right-hand face's landmarks
    frame = detect(akool, f"{images.url}/collage.jpg")
    body = v4_job(images, "collage.jpg")
    body["targetImage"][0]["opts"] = frame["landmarks_str"][1]
    # When Pro swaps with those opts
    entry = akool.wait_final(akool.submit(V4, body)["data"]["_id"])
    # Then only the right-hand face changed
    before, after = decode(images.files["/collage.jpg"][0]), result_image(entry)
    assert region_change(before, after, frame["region"][1]) > 8
    assert region_change(before, after, frame["region"][0]) < 2


def test_v4_without_opts_takes_the_largest_face(akool: Akool, images: ImageServer) -> None:
    # Given the collage, whose larger face is on the left
    frame = detect(akool, f"{images.url}/collage.jpg")
    areas = [w * h for _, _, w, h in frame["region"]]
    largest = areas.index(max(areas))
    # When Pro swaps without opts
    entry = akool.wait_final(akool.submit(V4, v4_job(images, "collage.jpg", "astronaut.jpg"))["data"]["_id"])
    # Then the largest face is the one that changed
    before, after = decode(images.files["/collage.jpg"][0]), result_image(entry)
    assert region_change(before, after, frame["region"][largest]) > 8
    assert region_change(before, after, frame["region"][1 - largest]) < 2


def test_v4_pairs_on_different_target_images_fail(akool: Akool, images: ImageServer) -> None:
    # Given two pairs that edit two different images
    astro, collage = detect(akool, f"{images.url}/astronaut.jpg"), detect(akool, f"{images.url}/collage.jpg")
    source = {
        "path": f"{images.url}/hopper.jpg",
        "opts": detect(akool, f"{images.url}/hopper.jpg")["landmarks_str"][0],
    }
    body = {
        "targetImage": [
            {"path": f"{images.url}/astronaut.jpg", "opts": astro["landmarks_str"][0]},
            {"path": f"{images.url}/collage.jpg", "opts": collage["landmarks_str"][0]},
        ],
        "sourceImage": [source, source],
    }
    # When the job runs
    job_id = akool.submit(V4, body)["data"]["_id"]
    # Then it fails, saying a job makes one result
    assert akool.wait_final(job_id)["faceswap_status"] == 4
    assert "one result per job" in akool.admin_job(job_id)["reason"]


@pytest.mark.parametrize(
    ("api", "flag", "expected"), [("v4", True, True), ("v4", False, False), ("v3", 1, True)]
)
def test_face_enhance_reaches_the_engine(
    akool: Akool, images: ImageServer, monkeypatch: pytest.MonkeyPatch, api: str, flag: Any, expected: bool
) -> None:
    # Given a spy on the engine's swap (the emulator runs in this process)
    calls: list[bool] = []
    real_swap = engine.swap

    def spy(target: Image, target_face: Any, source: Image, source_face: Any, enhance: bool = False) -> Image:
        calls.append(enhance)
        return real_swap(target, target_face, source, source_face, enhance=enhance)

    monkeypatch.setattr(engine, "swap", spy)
    astronaut = f"{images.url}/astronaut.jpg"
    if api == "v4":
        body, path = v4_job(images, face_enhance=flag), V4
    else:
        opts = detect(akool, astronaut)["landmarks_str"][0]
        body = {
            "targetImage": [{"path": astronaut, "opts": opts}],
            "sourceImage": [{"path": f"{images.url}/hopper.jpg"}],
            "modifyImage": astronaut,
            "face_enhance": flag,
        }
        path = V3
    # When a job with face_enhance runs
    assert akool.wait_final(akool.submit(path, body)["data"]["_id"])["faceswap_status"] == 3
    # Then the engine was asked to enhance exactly when face_enhance was set
    assert calls == [expected]


def test_passthrough_engine_returns_the_target_unchanged(akool: Akool, images: ImageServer) -> None:
    # Given the passthrough engine (for load tests of the pipeline)
    akool.admin("POST", "engine", {"engine": "passthrough"})
    # When a job runs
    entry = akool.wait_final(akool.submit(V4, v4_job(images))["data"]["_id"])
    # Then the result is the target image, byte for byte
    assert requests.get(entry["url"], timeout=5).content == images.files["/astronaut.jpg"][0]
    # And a reset brings the configured engine back
    akool.admin("POST", "reset")
    assert akool.admin("GET", "engine") == {"engine": "real"}


def test_padded_results_are_big_valid_jpegs_of_the_same_pixels(akool: Akool, images: ImageServer) -> None:
    # Given the passthrough engine and the fault "pad the next result to 3 MB"
    akool.admin("POST", "engine", {"engine": "passthrough"})
    akool.faults(pad_results={"bytes": 3_000_000, "count": 1})
    # When two jobs run
    padded = akool.wait_final(akool.submit(V4, v4_job(images))["data"]["_id"])
    plain = akool.wait_final(akool.submit(V4, v4_job(images))["data"]["_id"])
    big = requests.get(padded["url"], timeout=10).content
    # Then the first result is at least 3 MB, still a JPEG of exactly the target's pixels
    original = images.files["/astronaut.jpg"][0]
    assert len(big) >= 3_000_000 and big[:3] == b"\xff\xd8\xff"
    decode = lambda data: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # noqa: E731
    assert np.array_equal(decode(big), decode(original))
    assert akool.admin_job(padded["_id"])["result_bytes"] == len(big)
    # And the fault was used up: the second result is the target unchanged
    assert requests.get(plain["url"], timeout=5).content == original
    assert akool.admin("GET", "faults")["faults"]["pad_results"]["count"] == 0


def test_jobs_run_in_parallel_and_all_finish(akool: Akool, images: ImageServer) -> None:
    # Given several jobs submitted at once
    ids = [akool.submit(V4, v4_job(images))["data"]["_id"] for _ in range(6)]
    # When they are all final
    answer = wait_for(
        lambda: (
            (r := akool.get(LIST, {"_ids": ",".join(ids)}).json()["data"]["result"])
            and all(e["faceswap_status"] == 3 for e in r)
            and r
        )
    )
    # Then every one succeeded with its own result
    assert len({e["url"] for e in answer}) == 6
