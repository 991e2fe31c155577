"""The /_emulator/ admin API: request log, reset, jobs, mode, engine, credits, config; plus the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from local.emulator import EmulatorConfig, RunningEmulator
from tests.contract.helpers import (
    CLIENT_ID,
    KEY_32,
    LIST,
    QUOTA,
    TOKEN,
    V4,
    Akool,
    ImageServer,
    WebhookReceiver,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


def pro_job(images: ImageServer) -> dict[str, Any]:
    return {
        "targetImage": [{"path": f"{images.url}/astronaut.jpg"}],
        "sourceImage": [{"path": f"{images.url}/hopper.jpg"}],
    }


def test_request_log_records_calls_without_secrets(akool: Akool, images: ImageServer) -> None:
    # Given calls with the API key, a getToken, a Bearer token and no credentials
    token = akool.post(TOKEN, {"clientId": CLIENT_ID, "clientSecret": KEY_32}, auth={}).json()["token"]
    akool.get(QUOTA, auth={"Authorization": f"Bearer {token}"})
    akool.post(V4, pro_job(images))
    akool.get(LIST, {"_ids": "abc"}, auth={})
    # When the request log is read
    log = akool.admin("GET", "requests")["requests"]
    # Then every call is there with method, path, parsed body/query, the kind of auth and the answer
    assert [(e["method"], e["path"], e["auth"], e["code"]) for e in log] == [
        ("POST", TOKEN, "credentials", 1000),
        ("GET", QUOTA, "bearer", 1000),
        ("POST", V4, "x-api-key", 1000),
        ("GET", LIST, "none", 1102),
    ]
    assert log[2]["body"] == pro_job(images)
    assert log[3]["query"] == {"_ids": "abc"}
    assert all(e["http_status"] == 200 for e in log)
    # And neither the API key nor the token appears anywhere in it
    dumped = json.dumps(log)
    assert KEY_32 not in dumped
    assert token not in dumped
    assert log[0]["body"]["clientSecret"] == "***"


def test_request_log_can_be_filtered_by_path(akool: Akool) -> None:
    # Given two different calls
    akool.get(QUOTA)
    akool.get(LIST, {"_ids": "x"})
    # When the log is filtered by path
    resp = requests.get(f"{akool.url}/_emulator/requests", params={"path": QUOTA}, timeout=5)
    # Then only that path is listed
    assert [e["path"] for e in resp.json()["requests"]] == [QUOTA]


def test_reset_clears_log_jobs_faults_and_restores_settings(akool: Akool, images: ImageServer) -> None:
    # Given a job, a fault, spent credits, a switched mode and a request log
    job_id = akool.submit(V4, pro_job(images))["data"]["_id"]
    akool.faults(drop_webhooks=3)
    akool.admin("POST", "credits", {"credits": 5})
    akool.admin("POST", "mode", {"mode": "realistic"})
    # When the emulator is reset
    akool.admin("POST", "reset")
    # Then everything is back to the configured start
    assert akool.admin("GET", "requests")["requests"] == []
    assert akool.admin("GET", "jobs")["jobs"] == []
    assert akool.job(job_id) is None
    assert akool.admin("GET", "faults")["faults"]["drop_webhooks"] == 0
    assert akool.admin("GET", "credits")["credits"] == 1000
    assert akool.admin("GET", "mode") == {"mode": "instant"}


def test_jobs_lists_status_inputs_reason_and_history(akool: Akool, images: ImageServer) -> None:
    # Given one good job and one that cannot download its source
    good = akool.submit(V4, pro_job(images))["data"]["_id"]
    bad_body = pro_job(images)
    bad_body["sourceImage"][0]["path"] = f"{images.url}/missing.jpg"
    bad = akool.submit(V4, bad_body)["data"]["_id"]
    akool.wait_final(good)
    akool.wait_final(bad)
    # When the admin job list is read
    jobs = {j["_id"]: j for j in akool.admin("GET", "jobs")["jobs"]}
    # Then each job shows its status, inputs, failure reason and status history
    assert jobs[good]["status"] == 3 and jobs[good]["reason"] is None
    assert jobs[good]["inputs"] == pro_job(images)
    assert [h["status"] for h in jobs[good]["history"]] == [1, 2, 3]
    assert jobs[bad]["status"] == 4
    assert jobs[bad]["reason"].startswith("failed to download sourceImage[0]")
    # And an unknown job is a 404
    assert requests.get(f"{akool.url}/_emulator/jobs/{'0' * 24}", timeout=5).status_code == 404


def test_mode_engine_and_credits_switches(akool: Akool) -> None:
    # Given the shared emulator in instant mode with the real engine
    assert akool.admin("GET", "mode") == {"mode": "instant"}
    # When mode and engine are switched and switched back, and a bad value is sent
    assert akool.admin("POST", "mode", {"mode": "realistic"}) == {"mode": "realistic"}
    assert akool.admin("GET", "config")["mode"] == "realistic"
    assert akool.admin("POST", "mode", {"mode": "instant"}) == {"mode": "instant"}
    assert akool.admin("POST", "engine", {"engine": "passthrough"}) == {"engine": "passthrough"}
    assert akool.admin("POST", "engine", {"engine": "real"}) == {"engine": "real"}
    bad = requests.post(f"{akool.url}/_emulator/mode", json={"mode": "warp"}, timeout=5)
    # Then each switch answers its new value and the bad one is refused
    assert bad.status_code == 400
    assert akool.admin("POST", "credits", {"credits": 7}) == {"credits": 7}
    assert akool.get(QUOTA).json()["data"]["credit"] == 7


def test_config_never_shows_the_api_key(akool: Akool) -> None:
    # Given the running emulator
    # When its config is read
    config = akool.admin("GET", "config")
    # Then it names the client id but not the key
    assert config["client_id"] == CLIENT_ID
    assert KEY_32 not in json.dumps(config)


def test_realistic_mode_keeps_jobs_queued_until_switched_to_instant(
    make_emulator: Callable[..., tuple[RunningEmulator, Akool]], images: ImageServer
) -> None:
    # Given a realistic-mode emulator with a long queue time and a submitted job
    _, akool = make_emulator(mode="realistic", queue_seconds=30, processing_seconds=30)
    job_id = akool.submit(V4, pro_job(images))["data"]["_id"]
    # Waited for: a worker holding the job for its realistic queue time (instant mode would have run it)
    wait_for(lambda: akool.admin("GET", "activity")["jobs_held"] == 1)
    queued = akool.job(job_id)
    # When the emulator is switched to instant mode
    akool.admin("POST", "mode", {"mode": "instant"})
    # Then the job was in queue, and now finishes at engine speed
    assert queued is not None and queued["faceswap_status"] == 1
    assert akool.wait_final(job_id, timeout=10)["faceswap_status"] == 3


def test_activity_is_quiet_only_once_nothing_is_left_to_send(
    akool: Akool, images: ImageServer, receiver: WebhookReceiver
) -> None:
    # Given an idle emulator (waited for: a job of the previous test may still be finishing after the
    # reset), and callbacks held back for a minute before their first attempt
    assert akool.wait_quiet() == {
        "quiet": True, "jobs_unfinished": 0, "jobs_held": 0, "webhooks_pending": 0
    }
    akool.faults(webhook_delay_seconds=60)
    # When a job with a webhook finishes
    job_id = akool.submit(V4, {**pro_job(images), "webhookUrl": receiver.hook_url})["data"]["_id"]
    akool.wait_final(job_id)
    # Then the emulator is not quiet: the processing callback waits (the final one is queued behind it)
    busy = wait_for(lambda: (a := akool.admin("GET", "activity"))["jobs_unfinished"] == 0 and a)
    assert busy == {"quiet": False, "jobs_unfinished": 0, "jobs_held": 0, "webhooks_pending": 1}
    assert [(w["status"], w["state"], w["attempts"]) for w in akool.admin_job(job_id)["webhooks"]] == [
        (2, "pending", []), (3, "pending", [])
    ]
    # And once the pending callbacks are forgotten (reset), it is quiet again
    akool.admin("POST", "reset")
    assert akool.wait_quiet() == {"quiet": True, "jobs_unfinished": 0, "jobs_held": 0, "webhooks_pending": 0}


def test_unknown_routes_and_methods(akool: Akool) -> None:
    # Given the emulator
    # When an unknown path and a wrong method are used
    missing = requests.get(f"{akool.url}/api/open/v3/nope", timeout=5)
    wrong = requests.get(f"{akool.url}/api/open/v4/faceswap/faceswapByImage", timeout=5)
    # Then 404 and 405
    assert missing.status_code == 404
    assert wrong.status_code == 405


def test_config_rejects_non_loopback_binding_and_bad_keys() -> None:
    # Given settings that would expose the emulator or break webhook encryption
    # When a config is built
    # Then it is refused
    with pytest.raises(ValueError, match="loopback"):
        EmulatorConfig(client_id=CLIENT_ID, api_key=KEY_32, host="0.0.0.0")  # noqa: S104 - the point of the test
    with pytest.raises(ValueError, match="16, 24 or 32"):
        EmulatorConfig(client_id=CLIENT_ID, api_key="short")


def test_cli_prints_its_url_and_serves() -> None:
    # Given the CLI started on port 0
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'dropswap'}"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.emulator",
            "--port",
            "0",
            "--client-id",
            CLIENT_ID,
            "--mode",
            "instant",
        ],
        cwd=ROOT,
        env={**env, "AKOOL_EMULATOR_API_KEY": KEY_32},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        # When its first output line is read
        url = proc.stdout.readline().strip()
        # Then it is a loopback URL where the API answers
        assert url.startswith("http://127.0.0.1:")
        answer = wait_for(lambda: requests.get(url + QUOTA, headers={"x-api-key": KEY_32}, timeout=5).json())
        assert answer["data"]["credit"] == 1000
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
