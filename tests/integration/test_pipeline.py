"""End to end on the local stack, acting only as a user would. Marked `integration`."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests

from dropswap.domain.jobs import TERMINAL
from local.emulator import engine
from tests import akool_oracle
from tests.integration.helpers import AKOOL_MAX_JOBS_IN_FLIGHT, ASTRONAUT, COLLAGE, HOPPER, User

pytestmark = pytest.mark.integration

ONE_SWAP = {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}]}


def _faces(user: User) -> None:
    user.put(user.prefix + "faces/hopper.jpg", HOPPER)
    user.put(user.prefix + "faces/astronaut.jpg", ASTRONAUT)


def test_given_photo_and_sidecar_when_dropped_then_swapped_result_and_report(user: User) -> None:
    # Given a face source and a target photo; When the user drops the photo, then its sidecar
    _faces(user)
    before = user.inbox_snapshot()
    image = user.prefix + "team.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    # Then the job succeeds with a swapped image that differs from the input only around the face
    report = user.wait_report(image)
    assert report["status"] == "SUCCEEDED", report
    assert report["error"] is None
    assert report["result"].endswith("/team.swapped.jpg")
    out = engine.decode_image(user.result_bytes(report))
    src = engine.decode_image(ASTRONAUT)
    assert out.shape == src.shape
    diff = np.abs(out.astype(int) - src.astype(int)).sum(axis=2) > 40
    face = engine.detect(src)[0]
    x, y, w, h = face.region
    inside = diff[y:y + h, x:x + w].mean()
    outside = np.delete(diff, np.s_[max(0, y - h // 2):y + h + h // 2], axis=0).mean()
    assert inside > 0.2 and outside < 0.02, (inside, outside)
    # And the user's uploads are untouched, and AKOOL saw exactly one submission for the job
    after = {k: v for k, v in user.inbox_snapshot().items() if k in before}
    assert after == before
    assert [s["job_id"] for s in user.submissions()] == [report["job_id"]]


def test_given_key_with_spaces_and_unicode_when_dropped_then_result_keeps_the_name(user: User) -> None:
    # Given a folder and file name with spaces and non-ASCII characters
    _faces(user)
    image = user.prefix + "Summer party/Zoë & friends.jpg"
    manifest = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": 0}]}
    # When dropped
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, manifest)
    # Then the result lands under the same (decoded) name
    report = user.wait_report(image)
    assert report["status"] == "SUCCEEDED", report
    assert report["result"].endswith("Summer party/Zoë & friends.swapped.jpg")


def test_given_sidecar_uploaded_before_image_then_job_waits_and_starts_once(user: User) -> None:
    # Given the sidecar arrives first (the image is missing)
    _faces(user)
    image = user.prefix + "late.jpg"
    user.put_sidecar(image, ONE_SWAP)
    # Then a WAITING report names the missing photo at once
    deadline = time.monotonic() + 60
    waiting = user.report(image)
    while time.monotonic() < deadline and not waiting:
        time.sleep(0.3)
        waiting = user.report(image)
    assert waiting and waiting["status"] == "WAITING", waiting
    assert waiting["waiting_for"] == "input" and waiting["expires_at"]
    assert [m["key"] for m in waiting["missing"]] == [f"s3://{user.bucket}/{image}"]
    # When the image arrives
    user.put(image, ASTRONAUT)
    # Then the job runs exactly once
    report = user.wait_report(image)
    assert report["status"] == "SUCCEEDED", report
    assert len(user.submissions()) == 1


def test_given_duplicate_sidecar_upload_then_one_job_and_one_submission(user: User) -> None:
    # Given a job that was submitted
    _faces(user)
    image = user.prefix + "dup.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    first = user.wait_report(image)
    # When the identical sidecar is uploaded again (same content, same ETag)
    now = datetime.now(UTC)
    uploaded = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the logs' timestamps have ms
    user.put_sidecar(image, ONE_SWAP)
    # Then SubmitFunction handles that upload's event as a DUPLICATE (its invocation has logged the outcome,
    # so any AKOOL call it made is in the emulator's log by now), and AKOOL saw one submission only
    outcomes = user.wait_submit_outcomes(image + ".faceswap.json", after=uploaded)
    assert [o["status"] for o in outcomes] == ["DUPLICATE"] * len(outcomes), outcomes
    assert user.wait_report(image)["job_id"] == first["job_id"]
    assert len(user.submissions()) == 1


def test_given_changed_sidecar_reupload_then_a_new_job_runs(user: User) -> None:
    # Given a finished job
    _faces(user)
    image = user.prefix + "change.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    first = user.wait_report(image)
    # When the user uploads a changed sidecar
    user.put_sidecar(image, {**ONE_SWAP, "face_enhance": True})
    # Then a second, different job runs and succeeds
    deadline = time.monotonic() + 60
    second = first
    while time.monotonic() < deadline and second["job_id"] == first["job_id"]:
        time.sleep(0.3)
        second = user.wait_report(image)
    assert second["job_id"] != first["job_id"]
    second = user.wait_report(image, status="SUCCEEDED")
    assert len({s["job_id"] for s in user.submissions()}) == 2


def test_given_lost_webhook_when_reconciler_runs_then_job_completes(user: User) -> None:
    # Given AKOOL's callbacks for the next job never arrive
    _faces(user)
    user.admin("POST", "faults", {"drop_webhooks": 10})
    image = user.prefix + "lost.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not user.submissions():
        time.sleep(0.2)
    # Waited for: the pipeline at rest (submit queue drained, AKOOL quiet, finalise queue drained), so a
    # callback that got through would have been finalised into a report by now
    user.wait_at_rest()
    [akool_job] = user.admin("GET", "jobs")["jobs"]
    assert akool_job["status"] == 3 and [w["state"] for w in akool_job["webhooks"]] == ["dropped"] * 2
    assert _status(user, image) == "PROCESSING"  # at AKOOL, as far as the stack knows
    # When the scheduled reconciler runs
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _status(user, image) not in TERMINAL:
        user.reconcile()
        time.sleep(0.5)
    # Then the job is finalised from AKOOL's listbyids
    assert user.wait_report(image)["status"] == "SUCCEEDED"


def test_given_akool_fails_the_job_then_failed_with_reason(user: User) -> None:
    # Given AKOOL will end the next job in status 4
    _faces(user)
    user.admin("POST", "faults", {"fail_jobs": 1, "fail_reason": "model crashed"})
    image = user.prefix + "fails.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    # Then the job is FAILED with AKOOL_FAILED (AKOOL's status 4; not a download, URL or age error), a
    # message saying AKOOL failed the swap, and no result image
    report = user.wait_report(image)
    assert report["status"] == "FAILED", report
    assert report["error"]["code"] == "AKOOL_FAILED", report
    assert report["error"]["message"].startswith("AKOOL reported the face swap failed"), report
    assert not user.result_keys(user.prefix.replace("inbox/", "results/") + "fails.swapped")


def test_given_akool_throttles_then_submit_retries_and_succeeds(user: User) -> None:
    # Given AKOOL answers 1005 (too frequent) to the next two submissions
    _faces(user)
    user.admin("POST", "faults", {"submit_error": {"code": 1005, "count": 2}})
    image = user.prefix + "throttled.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    # Then the job still succeeds (its message came back twice, after the backoff's growing delays),
    # after three submission attempts of which one was accepted, and nothing went to a DLQ
    assert user.wait_report(image)["status"] == "SUCCEEDED"
    assert user.queue_depth("SubmitDLQUrl") == 0
    answers = [s["entry"].get("answer", s["entry"].get("response", {})) for s in user.submissions()]
    assert len(answers) == 3, answers


def test_given_forged_webhooks_then_only_akool_listbyids_moves_the_job(user: User) -> None:
    # Given a submitted job whose callbacks are held back, and which AKOOL will end in status 4
    _faces(user)
    user.admin("POST", "faults", {"drop_webhooks": 10, "fail_jobs": 1, "fail_reason": "model crashed"})
    image = user.prefix + "forged.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, ONE_SWAP)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not user.submissions():
        time.sleep(0.2)
    [submission] = user.submissions()
    job_id = submission["job_id"]
    hook = urlsplit(submission["entry"]["body"]["webhookUrl"])
    token = parse_qs(hook.query)["token"][0]
    while time.monotonic() < deadline and "akool_id" not in user.jobs_for(image)[0]:
        time.sleep(0.2)  # the submitter records the job (and its token's hash) after AKOOL's answer
    [job] = user.jobs_for(image)
    status_before, akool_id = job["status"], job["akool_id"]
    url = f"{user.stack.webhook_base_url}/webhooks/akool/{job_id}"
    ca = str(user.stack.tls.bundle)
    unverified_before = user.metric_count("WebhookFunction", "WebhookUnverified")

    # When someone posts a made-up callback with a guessed token, and the same for a job that does not exist
    body = {"signature": "0" * 40, "dataEncrypt": "AAAA", "timestamp": 1, "nonce": "1"}
    guessed = requests.post(url, params={"token": "guessed"}, json=body, timeout=10, verify=ca)
    unknown = requests.post(url.replace(job_id, "0" * 32), params={"token": "x"}, json=body, timeout=10,
                            verify=ca)
    # Then both get the same refusal (no existence oracle) and the job did not move
    assert (guessed.status_code, guessed.text) == (401, unknown.text) == (unknown.status_code, guessed.text)
    assert user.jobs_for(image)[0]["status"] == status_before and _status(user, image) not in TERMINAL

    # When a callback comes with the job's RIGHT token and a payload encrypted with the right key for the
    # job's own AKOOL _id, claiming success with a result URL of its own, but with a wrong signature
    forged_path = "/results/" + "f" * 24 + ".jpg"
    payload = {"_id": akool_id, "status": 3, "type": "faceswap", "url": user.stack.akool_url + forged_path}
    data = akool_oracle.encrypt_text(json.dumps(payload), user.stack.client_id, user.stack.api_key)
    forged = {"signature": "0" * 40, "dataEncrypt": data, "timestamp": 1710757981609, "nonce": "1529"}
    reply = requests.post(url, params={"token": token}, json=forged, timeout=30, verify=ca)
    # Then the body is not trusted: AKOOL (listbyids) knows the job, so the call is answered 200 on its word
    assert reply.status_code == 200, reply.text
    # And the job ends as AKOOL says (status 4), from listbyids, never from the forged body: FAILED by
    # AKOOL, no result image, and the forged URL never fetched
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _status(user, image) not in TERMINAL:
        time.sleep(1.0)
        user.reconcile()  # AKOOL may still have been processing when it was asked; the reconciler asks again
    report = user.wait_report(image)
    assert report["status"] == "FAILED" and report["error"]["code"] == "AKOOL_FAILED", report
    assert report["akool"].get("source") == "listbyids", report
    assert not user.result_keys(user.prefix.replace("inbox/", "results/") + "forged.swapped")
    assert not [r for r in user.admin("GET", "requests")["requests"] if r.get("path") == forged_path]
    # And the call was counted as unverified (WebhookUnverified, alarmed)
    deadline = time.monotonic() + 30
    while (time.monotonic() < deadline
           and user.metric_count("WebhookFunction", "WebhookUnverified") <= unverified_before):
        time.sleep(1.0)
    assert user.metric_count("WebhookFunction", "WebhookUnverified") == unverified_before + 1


def test_given_two_face_collage_when_v3_swap_then_both_faces_replaced(user: User) -> None:
    # Given a collage with two faces and a manifest swapping each
    _faces(user)
    image = user.prefix + "duo.jpg"
    manifest = {"version": 1, "swaps": [{"source": "faces/astronaut.jpg", "target": 0},
                                         {"source": "faces/hopper.jpg", "target": 1}]}
    user.put(image, COLLAGE)
    user.put_sidecar(image, manifest)
    # Then AKOOL v3 was used and the job succeeded
    report = user.wait_report(image)
    assert report["status"] == "SUCCEEDED", report
    assert report["akool"]["engine"] == "v3"
    assert [s["entry"]["path"] for s in user.submissions()] == [
        "/api/open/v3/faceswap/highquality/specifyimage"
    ]
    # And both face boxes (as the emulator's engine detects them) changed, and the rest did not: swapping
    # one face leaves the other box's mean difference under 1 (JPEG noise), swapping both puts each over 20
    out = engine.decode_image(user.result_bytes(report))
    src = engine.decode_image(COLLAGE)
    assert out.shape == src.shape
    diff = np.abs(out.astype(int) - src.astype(int)).mean(axis=2)
    faces = engine.detect(src)
    assert len(faces) == 2, faces
    in_faces = np.zeros(diff.shape, dtype=bool)
    inside = []
    for face in faces:
        x, y, w, h = face.region
        inside.append(float(diff[y:y + h, x:x + w].mean()))
        in_faces[y:y + h, x:x + w] = True
    outside = float(diff[~in_faces].mean())
    assert min(inside) > 8 and outside < 2, (inside, outside)


def test_given_wrong_manifest_then_rejected_with_actionable_message(user: User) -> None:
    # Given a manifest pointing at a spot with no face
    _faces(user)
    image = user.prefix + "wrong.jpg"
    user.put(image, ASTRONAUT)
    point = {"x": 5, "y": 5}
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": point}]})
    # Then REJECTED with a message naming the field and the faces found, and AKOOL never asked to swap
    report = user.wait_report(image)
    assert report["status"] == "REJECTED"
    assert "swaps[0].target" in report["error"]["message"]
    assert user.submissions() == []


def test_given_twenty_jobs_at_once_then_all_succeed_once_each(user: User) -> None:
    # Given 20 photos with sidecars dropped concurrently (the emulator's engine in passthrough to
    # measure the pipeline, not the face swap)
    _faces(user)
    user.admin("POST", "engine", {"engine": "passthrough"})
    # AKOOL's account limits off (the fixture's reset restores them): this test is about once-only
    # submission (test_given_limits_on_... is about pacing).
    user.admin("PUT", "limits", {"concurrent_jobs": 0, "requests_per_second": 0})
    try:
        images = [f"{user.prefix}crowd/{i:02d}.jpg" for i in range(20)]
        before = user.inbox_snapshot()
        started = time.monotonic()

        crowd = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": "largest"}]}

        def drop(image: str) -> None:
            user.put(image, ASTRONAUT)
            user.put_sidecar(image, crowd)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(drop, images))
        reports = [user.wait_report(i, timeout=180) for i in images]
        wall = time.monotonic() - started
    finally:
        user.admin("POST", "engine", {"engine": "real"})
    # Then every job succeeded, AKOOL saw exactly one submission per job, inputs untouched
    assert Counter(r["status"] for r in reports) == {"SUCCEEDED": 20}
    per_job = Counter(s["job_id"] for s in user.submissions())
    assert sorted(per_job) == sorted(r["job_id"] for r in reports)
    assert set(per_job.values()) == {1}
    after = user.inbox_snapshot()
    assert {k: after[k] for k in before} == before
    print(f"20 jobs wall time: {wall:.2f}s")


def test_given_akool_limits_on_when_a_drop_exceeds_them_then_paced_no_job_lost_and_no_dlq_message(
    user: User,
) -> None:
    # Given AKOOL's account limits on, at the stack's AkoolMaxJobsInFlight, and 12 photos dropped at once
    _faces(user)
    user.admin("POST", "engine", {"engine": "passthrough"})
    user.admin("PUT", "limits", {"concurrent_jobs": AKOOL_MAX_JOBS_IN_FLIGHT, "requests_per_second": 5})
    try:
        images = [f"{user.prefix}drop/{i:02d}.jpg" for i in range(12)]
        crowd = {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": "largest"}]}

        def drop(image: str) -> None:
            user.put(image, ASTRONAUT)
            user.put_sidecar(image, crowd)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(drop, images))
        # When the pipeline works through them
        reports = [user.wait_report(i, timeout=300) for i in images]
        limits = user.admin("GET", "limits")
    finally:
        user.admin("POST", "engine", {"engine": "real"})
    # Then every job succeeded, each accepted by AKOOL once, and no message is in a DLQ
    assert Counter(r["status"] for r in reports) == {"SUCCEEDED": 12}
    accepted = Counter(s["job_id"] for s in user.submissions() if s["entry"].get("code") in (None, 1000))
    assert sorted(accepted) == sorted(r["job_id"] for r in reports) and set(accepted.values()) == {1}
    assert user.queue_depth("SubmitDLQUrl") == 0 and user.queue_depth("FinaliseDLQUrl") == 0
    # And the pacing, not AKOOL's 1005, kept the jobs within AKOOL's limit on jobs in flight
    assert limits["refused"]["concurrent_jobs"] == 0, limits
    print(f"1005s by limit: {limits['refused']}")


def test_given_a_manifest_with_three_mistakes_then_one_report_names_all_three(user: User) -> None:
    # Given a manifest with three schema mistakes (wrong version, a negative index, an unknown engine)
    _faces(user)
    image = user.prefix + "three.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, {"version": 2, "swaps": [{"source": "faces/hopper.jpg", "target": -1}],
                             "engine": "fast"})
    # Then one REJECTED report lists the three, each at its JSON path, and AKOOL is never asked to swap
    report = user.wait_report(image)
    assert report["status"] == "REJECTED"
    message = report["error"]["message"]
    for path in ("version: 2", "swaps[0].target: -1", 'engine: "fast"'):
        assert path in message, message
    assert user.submissions() == []


def test_given_keywords_in_capitals_then_the_job_runs_as_if_written_in_lower_case(user: User) -> None:
    # Given "Largest" and "PRO" where the schema spells "largest" and "pro"
    _faces(user)
    image = user.prefix + "caps.jpg"
    user.put(image, ASTRONAUT)
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "Largest"}],
                             "engine": "PRO"})
    # Then the job succeeds
    assert user.wait_report(image)["status"] == "SUCCEEDED"


def _status(user: User, image: str) -> str | None:
    """The status the photo's report shows (None: no report): live states come before the terminal one."""
    report = user.report(image)
    return str(report["status"]) if report else None
