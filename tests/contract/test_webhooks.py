"""Webhooks as AKOOL sends them: signed, AES-CBC encrypted, retried until 200; and the webhook faults.

The emulator builds callbacks with dropswap.domain.webhook_crypto, so they are checked with an independent
oracle
(tests/akool_oracle.py: AKOOL's signature recipe rewritten, AES-CBC by the openssl command line, itself
checked against the spec's vectors in tests/unit/test_webhook_crypto.py): a bug the emulator shared with
the WebhookFunction would fail here. One test also reads them with webhook_crypto, as the function does.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from dropswap.domain import webhook_crypto
from local.emulator import RunningEmulator
from tests import akool_oracle as oracle
from tests.contract.helpers import (
    CLIENT_ID,
    KEY_16,
    KEY_24,
    KEY_32,
    V3,
    V4,
    Akool,
    Callback,
    ImageServer,
    WebhookReceiver,
    wait_for,
)

MakeEmulator = Callable[..., tuple[RunningEmulator, Akool]]


def open_callback(call: Callback, api_key: str = KEY_32) -> dict[str, Any]:
    """Verify and decrypt one callback with the independent oracle (not the code that built it)."""
    body = call.body
    assert set(body) == {"signature", "dataEncrypt", "timestamp", "nonce"}
    assert isinstance(body["timestamp"], int) and body["timestamp"] > 1_700_000_000_000  # ms epoch
    expected = oracle.signature(CLIENT_ID, body["timestamp"], body["nonce"], body["dataEncrypt"])
    assert body["signature"] == expected
    return oracle.decrypt(body["dataEncrypt"], CLIENT_ID, api_key)


def pro_job(images: ImageServer, hook: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "targetImage": [{"path": f"{images.url}/astronaut.jpg"}],
        "sourceImage": [{"path": f"{images.url}/hopper.jpg"}],
    }
    if hook is not None:
        body["webhookUrl"] = hook
    return body


def statuses(receiver: WebhookReceiver, api_key: str = KEY_32) -> list[int]:
    return [open_callback(c, api_key)["status"] for c in receiver.received()]


def deliveries(akool: Akool, job_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = akool.admin_job(job_id)["webhooks"]
    return found


@pytest.mark.parametrize("api_key", [KEY_16, KEY_24, KEY_32], ids=["aes128", "aes192", "aes256"])
def test_full_job_sends_verifiable_encrypted_callbacks(
    make_emulator: MakeEmulator, images: ImageServer, receiver: WebhookReceiver, api_key: str
) -> None:
    # Given an emulator whose API key is 16, 24 or 32 bytes (AES-128/192/256)
    _, akool = make_emulator(api_key=api_key)
    # When a Pro job with a webhookUrl runs to the end
    job_id = akool.submit(V4, pro_job(images, receiver.hook_url))["data"]["_id"]
    final = akool.wait_final(job_id)
    calls = wait_for(lambda: len(receiver.received()) >= 2 and receiver.received())
    # Then two JSON POSTs arrive at the webhook URL: processing (2), then success (3)
    assert all(c.content_type.startswith("application/json") for c in calls)
    assert all(c.path == "/webhooks/akool/job-1?token=t0k3n" for c in calls)
    payloads = [open_callback(c, api_key) for c in calls]
    assert [p["status"] for p in payloads] == [2, 3]
    # And each decrypts with the API key to {_id, status, type, url}; the final url is the result
    for p in payloads:
        assert set(p) == {"_id", "status", "type", "url"}
        assert p["_id"] == job_id
        assert p["type"] == "faceswap"
    assert payloads[1]["url"] == final["url"]
    assert requests.get(payloads[1]["url"], timeout=5).status_code == 200
    # And the WebhookFunction's module verifies and reads them the same
    for call, payload in zip(calls, payloads, strict=True):
        body = call.body
        assert webhook_crypto.signature_matches(
            CLIENT_ID, body["timestamp"], body["nonce"], body["dataEncrypt"], body["signature"]
        )
        assert webhook_crypto.decrypt(body["dataEncrypt"], CLIENT_ID, api_key) == payload
    # And a receiver holding another key cannot read them
    with pytest.raises(oracle.OracleRefused):
        oracle.decrypt(calls[0].body["dataEncrypt"], CLIENT_ID, "X" * len(api_key))


def test_v3_callbacks_carry_the_preallocated_url(
    akool: Akool, images: ImageServer, receiver: WebhookReceiver
) -> None:
    # Given a v3 job with a webhook
    astronaut = f"{images.url}/astronaut.jpg"
    submitted = akool.submit(V3, {
        "targetImage": [{"path": astronaut}],
        "sourceImage": [{"path": f"{images.url}/hopper.jpg"}],
        "modifyImage": astronaut,
        "webhookUrl": receiver.hook_url,
    })  # fmt: skip
    # When it finishes
    wait_for(lambda: len(receiver.received()) >= 2)
    payloads = [open_callback(c) for c in receiver.received()]
    # Then both callbacks name the url handed out at submit
    assert [p["status"] for p in payloads] == [2, 3]
    assert {p["url"] for p in payloads} == {submitted["data"]["url"]}


def test_callbacks_are_retried_until_200(
    akool: Akool, images: ImageServer, receiver: WebhookReceiver
) -> None:
    # Given a receiver that answers 500 to the final callback twice, then 200
    failures = {"left": 2}

    def respond(body: dict[str, Any]) -> int:
        if oracle.decrypt(body["dataEncrypt"], CLIENT_ID, KEY_32)["status"] == 3 and failures["left"]:
            failures["left"] -= 1
            return 500
        return 200

    receiver.respond = respond
    # When a job finishes
    job_id = akool.submit(V4, pro_job(images, receiver.hook_url))["data"]["_id"]
    wait_for(
        lambda: [c.answered for c in receiver.received()][-1:] == [200] and len(receiver.received()) == 4
    )
    # Then the final callback was sent three times, the same signed body each time, until it got 200
    finals = [c for c in receiver.received() if open_callback(c)["status"] == 3]
    assert [c.answered for c in finals] == [500, 500, 200]
    assert finals[0].body == finals[1].body == finals[2].body
    # And the admin API shows the attempts, their answers and how long each answer took
    record = {d["status"]: d for d in deliveries(akool, job_id)}
    assert [a["http_status"] for a in record[3]["attempts"]] == [500, 500, 200]
    assert all(isinstance(a["seconds"], float) and a["seconds"] > 0 for a in record[3]["attempts"])
    assert record[3]["state"] == "delivered"
    assert record[2]["state"] == "delivered"


def test_retries_are_bounded(
    make_emulator: MakeEmulator, images: ImageServer, receiver: WebhookReceiver
) -> None:
    # Given a receiver that always answers 503 and an emulator allowed 2 retries
    _, akool = make_emulator(webhook_retries=2)
    receiver.respond = lambda body: 503
    # When a job finishes
    job_id = akool.submit(V4, pro_job(images, receiver.hook_url))["data"]["_id"]
    # (both callbacks: the final one only exists once the engine is done, which may be after the first
    # one has used up its retries)
    wait_for(lambda: [d["state"] for d in deliveries(akool, job_id)] == ["failed", "failed"])
    # Waited for: the emulator quiet (no attempt scheduled or being sent), so an extra attempt would have come
    akool.wait_quiet()
    # Then each callback was tried exactly 1 + 2 times and given up
    assert len(receiver.received()) == 6
    assert all(len(d["attempts"]) == 3 for d in deliveries(akool, job_id))


def test_non_200_success_codes_are_retried(
    akool: Akool, images: ImageServer, receiver: WebhookReceiver
) -> None:
    # Given a receiver that first answers 204 (AKOOL wants exactly 200)
    receiver.script = [204]
    # When a job finishes
    akool.submit(V4, pro_job(images, receiver.hook_url))
    wait_for(lambda: len(receiver.received()) >= 3)
    # Then the 204 was retried
    assert [c.answered for c in receiver.received()][:2] == [204, 200]


def test_retry_backoff_is_exponential(
    make_emulator: MakeEmulator, images: ImageServer, receiver: WebhookReceiver
) -> None:
    # Given realistic mode with a 0.1 s first retry delay, no queue time, and a receiver that always fails
    _, akool = make_emulator(
        mode="realistic",
        queue_seconds=0,
        processing_seconds=0,
        webhook_backoff_seconds=0.1,
        webhook_retries=3,
    )
    receiver.respond = lambda body: 500
    # When the processing callback is retried
    akool.submit(V4, pro_job(images, receiver.hook_url))
    wait_for(lambda: sum(open_callback(c)["status"] == 2 for c in receiver.received()) == 4)
    times = [c.at for c in receiver.received() if open_callback(c)["status"] == 2]
    # Then the gaps between attempts are at least 0.1, 0.2, 0.4 s
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.39


def test_dropped_webhooks_never_arrive(akool: Akool, images: ImageServer, receiver: WebhookReceiver) -> None:
    # Given the fault "drop the next 2 webhooks"
    akool.faults(drop_webhooks=2)
    # When a job runs to the end
    job_id = akool.submit(V4, pro_job(images, receiver.hook_url))["data"]["_id"]
    assert akool.wait_final(job_id)["faceswap_status"] == 3
    # Waited for: the emulator quiet (job done, no callback scheduled or being sent): a sent one has arrived
    akool.wait_quiet()
    # Then nothing reached the receiver (polling listbyids is the only way to learn the result)
    assert receiver.received() == []
    assert [d["state"] for d in deliveries(akool, job_id)] == ["dropped", "dropped"]
    # And the next job's callbacks arrive again
    akool.submit(V4, pro_job(images, receiver.hook_url))
    wait_for(lambda: statuses(receiver) == [2, 3])


def test_duplicated_webhooks_arrive_twice(
    akool: Akool, images: ImageServer, receiver: WebhookReceiver
) -> None:
    # Given the fault "duplicate the next 2 webhooks"
    akool.faults(duplicate_webhooks=2)
    # When a job runs to the end
    akool.submit(V4, pro_job(images, receiver.hook_url))
    wait_for(lambda: len(receiver.received()) >= 4)
    # Waited for: the emulator quiet (no callback scheduled or being sent), so a fifth one would have arrived
    akool.wait_quiet()
    # Then each callback came twice, identical
    calls = receiver.received()
    assert sorted(statuses(receiver)) == [2, 2, 3, 3]
    by_status: dict[int, list[dict[str, Any]]] = {}
    for call in calls:
        by_status.setdefault(open_callback(call)["status"], []).append(call.body)
    assert all(a == b for a, b in by_status.values())


@pytest.mark.parametrize(("duplicates", "expected"), [(0, [3, 2]), (2, [3, 3, 2, 2])])
def test_reordered_webhooks_send_final_before_processing(
    akool: Akool, images: ImageServer, receiver: WebhookReceiver, duplicates: int, expected: list[int]
) -> None:
    # Given the fault "reorder the next job's webhooks" (alone, or with every callback duplicated)
    akool.faults(reorder_webhooks=1, duplicate_webhooks=duplicates)
    # When a job runs to the end
    akool.submit(V4, pro_job(images, receiver.hook_url))
    wait_for(lambda: len(receiver.received()) >= len(expected))
    # Waited for: the emulator quiet (no callback scheduled or being sent), so every callback has arrived
    akool.wait_quiet()
    # Then the final callback arrives before the processing one
    assert statuses(receiver) == expected


def test_delayed_webhooks(akool: Akool, images: ImageServer, receiver: WebhookReceiver) -> None:
    # Given webhooks delayed by 0.5 s
    akool.faults(webhook_delay_seconds=0.5)
    started = time.monotonic()
    # When a job runs
    akool.submit(V4, pro_job(images, receiver.hook_url))
    first = wait_for(lambda: receiver.received()[:1])[0]
    # Then the first callback arrived no sooner than the delay
    assert first.at - started >= 0.5


def test_status_4_is_called_back(akool: Akool, images: ImageServer, receiver: WebhookReceiver) -> None:
    # Given the fault "the next job fails"
    akool.faults(fail_jobs=1)
    # When a job runs
    job_id = akool.submit(V4, pro_job(images, receiver.hook_url))["data"]["_id"]
    wait_for(lambda: len(receiver.received()) >= 2)
    payloads = [open_callback(c) for c in receiver.received()]
    # Then the callbacks announce 2, then 4 with no result url, and listbyids agrees
    assert [p["status"] for p in payloads] == [2, 4]
    assert payloads[1]["url"] == ""
    assert akool.job(job_id)["faceswap_status"] == 4  # type: ignore[index]


@pytest.mark.parametrize("hook", [None, ""])
def test_no_webhook_url_means_no_callback(
    akool: Akool, images: ImageServer, receiver: WebhookReceiver, hook: str | None
) -> None:
    # Given a job without webhookUrl, or with "" as AKOOL's examples send
    # When it runs to the end
    job_id = akool.submit(V4, pro_job(images, hook))["data"]["_id"]
    akool.wait_final(job_id)
    # Waited for: the emulator quiet (job done, no callback scheduled or being sent): a sent one has arrived
    akool.wait_quiet()
    # Then no callback is made
    assert receiver.received() == []
    assert deliveries(akool, job_id) == []


def test_webhooks_to_non_loopback_hosts_are_blocked(akool: Akool, images: ImageServer) -> None:
    # Given a webhook URL on the internet (the allow-list is loopback only by default)
    job_id = akool.submit(V4, pro_job(images, "https://hooks.example.com/akool"))["data"]["_id"]
    # When the job finishes
    akool.wait_final(job_id)
    found = wait_for(lambda: len(deliveries(akool, job_id)) == 2 and deliveries(akool, job_id))
    # Then nothing is sent and the admin API says why
    assert [d["state"] for d in found] == ["blocked", "blocked"]
    assert "allow-list" in found[0]["attempts"][0]["error"]


def test_stop_ends_retries(
    make_emulator: MakeEmulator, images: ImageServer, receiver: WebhookReceiver
) -> None:
    # Given a receiver that always fails and slow realistic retries
    running, akool = make_emulator(
        mode="realistic",
        queue_seconds=0,
        processing_seconds=0,
        webhook_backoff_seconds=0.3,
        webhook_retries=50,
    )
    receiver.respond = lambda body: 500
    akool.submit(V4, pro_job(images, receiver.hook_url))
    wait_for(lambda: receiver.received())
    # When the emulator is stopped
    started = time.monotonic()
    running.stop()
    stopped_after = time.monotonic() - started
    count = len(receiver.received())
    # Waited for: every webhook sender thread of the stopped emulator has ended, so none can send again
    wait_for(lambda: running.emulator.webhooks.senders_alive() == 0)
    # Then it stops promptly and no further callback is attempted
    assert stopped_after < 5
    assert len(receiver.received()) == count
