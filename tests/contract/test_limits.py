"""AKOOL's account limits: jobs in flight and requests per second, past either 1005 (limits.py, ADMIN.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from local.emulator import RunningEmulator
from local.emulator.config import DEFAULT_CONCURRENT_JOBS, DEFAULT_REQUESTS_PER_SECOND, EmulatorConfig
from local.emulator.limits import AccountLimits
from tests.contract.helpers import CLIENT_ID, DELETE, DETECT, KEY_32, QUOTA, V3, V4, Akool, wait_for
from tests.contract.test_validation import v3_body, v4_body

MakeEmulator = Callable[..., tuple[RunningEmulator, Akool]]
TOO_FREQUENT = {"code": 1005, "msg": "Operation is too frequent"}
ROOT = Path(__file__).resolve().parents[2]


def limits(akool: Akool) -> dict[str, Any]:
    return akool.admin("GET", "limits")


def put_limits(akool: Akool, body: Any) -> requests.Response:
    return requests.put(f"{akool.url}/_emulator/limits", json=body, timeout=10)


def log_entries(akool: Akool, path: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = akool.admin("GET", f"requests?path={path}")["requests"]
    return entries


# -- concurrent jobs -------------------------------------------------------------------------------
def test_given_n_jobs_in_flight_when_one_more_is_submitted_then_1005_until_a_slot_frees(
    make_emulator: MakeEmulator,
) -> None:
    # Given an account limited to 2 jobs in flight, and two slow jobs accepted
    _, akool = make_emulator(mode="realistic", queue_seconds=60, processing_seconds=60, concurrent_jobs=2)
    first = akool.submit(V4, v4_body())["data"]["_id"]
    akool.submit(V3, v3_body())
    # When a third is submitted (either API)
    refused = akool.post(V4, v4_body()).json()
    refused_v3 = akool.post(V3, v3_body()).json()
    # Then it is refused as AKOOL does, creates no job and costs no credit
    assert refused == TOO_FREQUENT
    assert refused_v3 == TOO_FREQUENT
    assert len(akool.admin("GET", "jobs")["jobs"]) == 2
    assert akool.admin("GET", "credits")["credits"] == 998
    # And the request log says which limit answered 1005
    assert [e["code"] for e in log_entries(akool, V4)] == [1000, 1005]
    assert log_entries(akool, V4)[1]["limit"] == "concurrent_jobs"
    assert limits(akool)["refused"] == {"concurrent_jobs": 2, "requests_per_second": 0}
    assert limits(akool)["in_flight"] == 2
    # When the jobs finish (instant mode lets them run now)
    akool.admin("POST", "mode", {"mode": "instant"})
    akool.wait_final(first)
    wait_for(lambda: limits(akool)["in_flight"] == 0)
    # Then the same submission is accepted
    assert akool.post(V4, v4_body()).json()["code"] == 1000


def test_given_a_full_account_when_a_job_is_deleted_then_its_slot_is_free(
    make_emulator: MakeEmulator,
) -> None:
    # Given an account limited to 1 job in flight, holding one
    _, akool = make_emulator(mode="realistic", queue_seconds=60, concurrent_jobs=1)
    job_id = akool.submit(V4, v4_body())["data"]["_id"]
    assert akool.post(V4, v4_body()).json() == TOO_FREQUENT
    # When that job is deleted (delbyids)
    assert akool.post(DELETE, {"_ids": job_id}).json()["code"] == 1000
    # Then a new job is accepted, and the deleted one shows when it gave its slot back
    assert akool.post(V4, v4_body()).json()["code"] == 1000
    deleted = akool.admin_job(job_id)
    assert deleted["done_at"] is not None and deleted["done_at"] >= deleted["accepted_at"]


def test_jobs_record_accepted_processing_and_done_times(make_emulator: MakeEmulator) -> None:
    # Given an emulator with the limits on
    _, akool = make_emulator(concurrent_jobs=4, requests_per_second=0)
    # When a job runs to the end
    job_id = akool.submit(V4, v4_body())["data"]["_id"]
    akool.wait_final(job_id)
    job = akool.admin_job(job_id)
    listed = {j["_id"]: j for j in akool.admin("GET", "jobs")["jobs"]}[job_id]
    # Then its slot timeline is in the admin API: accepted <= processing <= done
    assert job["accepted_at"] <= job["processing_at"] <= job["done_at"]
    assert {k: listed[k] for k in ("accepted_at", "processing_at", "done_at")} == {
        k: job[k] for k in ("accepted_at", "processing_at", "done_at")
    }


# -- requests per second ---------------------------------------------------------------------------
def test_given_r_requests_this_second_when_more_come_then_1005_and_it_recovers(
    make_emulator: MakeEmulator,
) -> None:
    # Given an account allowed 2 requests per second
    _, akool = make_emulator(requests_per_second=2)
    with requests.Session() as session:
        session.headers["x-api-key"] = KEY_32
        # When 6 requests are sent back to back (a few ms each, well inside one second)
        answers = [session.get(akool.url + QUOTA, timeout=10).json() for _ in range(6)]
        # Then the first two are answered and later ones are refused with AKOOL's 1005
        assert [a["code"] for a in answers[:2]] == [1000, 1000]
        assert TOO_FREQUENT in answers[2:]
        # And once a second has passed without requests, requests are answered again
        wait_for(lambda: session.get(akool.url + QUOTA, timeout=10).json()["code"] == 1000, timeout=5,
                 interval=1.05)
    refused = [e for e in log_entries(akool, QUOTA) if e["code"] == 1005]
    assert refused and {e["limit"] for e in refused} == {"requests_per_second"}


def test_the_rate_limit_counts_every_authenticated_route_with_akool_envelope(
    make_emulator: MakeEmulator,
) -> None:
    # Given an account allowed 1 request per second, used up by one quota request
    _, akool = make_emulator(requests_per_second=1)
    with requests.Session() as session:
        session.headers["x-api-key"] = KEY_32
        assert session.get(akool.url + QUOTA, timeout=10).json()["code"] == 1000
        # When the detector and a submission are called in the same second, and a request without a key
        detect = session.post(akool.url + DETECT, json={"url": "http://127.0.0.1:9/x.jpg"}, timeout=10)
        submit = session.post(akool.url + V4, json=v4_body(), timeout=10)
        anonymous = requests.get(akool.url + QUOTA, timeout=10)
    # Then both are refused with the {code,msg} envelope and HTTP 200 (the account's gate, not the route)
    assert (detect.status_code, detect.json()) == (200, TOO_FREQUENT)
    assert (submit.status_code, submit.json()) == (200, TOO_FREQUENT)
    # And a request without credentials is refused for that (1102), not counted against the account
    assert anonymous.json()["code"] == 1102


def test_the_request_window_admits_r_per_second_and_only_counts_what_it_admitted() -> None:
    # Given limits of 3 requests per second, on a clock the test controls
    gate = AccountLimits(concurrent_jobs=0, requests_per_second=3)
    # When 5 requests come at t=0.0..0.4, then one at t=1.05 and more at t=1.2
    early = [gate.admit_request(now=100.0 + 0.1 * i) for i in range(5)]
    later = gate.admit_request(now=101.05)
    after = [gate.admit_request(now=101.2) for _ in range(3)]
    # Then 3 pass, 2 are refused; at 1.05 s the first admitted one has left the window
    assert early == [True, True, True, False, False]
    assert later is True
    # And refused requests did not count: at 1.2 s two slots are free (t=0.1 and 0.2 left the window)
    assert after == [True, True, False]
    assert gate.snapshot()["refused"] == {"concurrent_jobs": 0, "requests_per_second": 3}


# -- the admin API and configuration ---------------------------------------------------------------
def test_limits_round_trip_through_put_and_get_and_reset_restores_them(make_emulator: MakeEmulator) -> None:
    # Given an emulator configured with 3 jobs and 9 requests per second
    _, akool = make_emulator(concurrent_jobs=3, requests_per_second=9)
    configured = limits(akool)
    # When both limits are set, then only one
    both = put_limits(akool, {"concurrent_jobs": 4, "requests_per_second": 5})
    one = put_limits(akool, {"requests_per_second": 0})
    # Then each PUT answers the new limits, GET reads them back, and /config shows them
    assert configured["concurrent_jobs"] == 3 and configured["requests_per_second"] == 9
    assert both.status_code == 200 and both.json()["concurrent_jobs"] == 4
    assert both.json()["requests_per_second"] == 5
    assert one.json()["concurrent_jobs"] == 4 and one.json()["requests_per_second"] == 0
    current = limits(akool)
    assert {k: current[k] for k in ("concurrent_jobs", "requests_per_second", "in_flight")} == {
        "concurrent_jobs": 4, "requests_per_second": 0, "in_flight": 0
    }
    config = akool.admin("GET", "config")
    assert (config["concurrent_jobs"], config["requests_per_second"]) == (4, 0)
    # And a reset restores the configured limits
    akool.admin("POST", "reset")
    assert (limits(akool)["concurrent_jobs"], limits(akool)["requests_per_second"]) == (3, 9)


@pytest.mark.parametrize(
    "body",
    [
        {"concurrent_jobs": -1},
        {"requests_per_second": 1.5},
        {"concurrent_jobs": "4"},
        {"concurrent_jobs": True},
        {"concurrent_jobs": None},
        {"requests_per_second": 10**9},
        {"concurrent_jobs": 2, "burst": 3},
        {},
        [4, 5],
        "4",
    ],
    ids=[
        "negative", "float", "string", "bool", "null", "huge", "unknown-key", "empty", "list", "string-body"
    ],
)
def test_bad_limits_are_400_and_change_nothing(akool: Akool, body: Any) -> None:
    # Given the current limits
    before = limits(akool)
    # When nonsense is PUT
    resp = put_limits(akool, body)
    # Then 400 with a reason, and the limits are unchanged
    assert resp.status_code == 400
    assert resp.json()["error"]
    assert limits(akool) == before


def test_zero_means_unlimited(make_emulator: MakeEmulator) -> None:
    # Given both limits set to 0 on a realistic emulator whose jobs stay queued
    _, akool = make_emulator(mode="realistic", queue_seconds=60, concurrent_jobs=1, requests_per_second=1)
    assert put_limits(akool, {"concurrent_jobs": 0, "requests_per_second": 0}).status_code == 200
    # When 12 jobs are submitted back to back
    answers = [akool.post(V4, v4_body()).json()["code"] for _ in range(12)]
    # Then every one is accepted and all 12 are in flight at once
    assert answers == [1000] * 12
    assert limits(akool)["in_flight"] == 12


def test_config_defaults_are_the_documented_assumptions_and_bad_values_are_refused() -> None:
    # Given a config with only the credentials
    config = EmulatorConfig(client_id=CLIENT_ID, api_key=KEY_32)
    # Then the limits are on with the values ADMIN.md documents, with a worker per slot
    assert (config.concurrent_jobs, config.requests_per_second) == (4, 5)
    assert (DEFAULT_CONCURRENT_JOBS, DEFAULT_REQUESTS_PER_SECOND) == (4, 5)
    assert config.workers >= config.concurrent_jobs
    assert "`concurrent_jobs=4`" in (ROOT / "local" / "emulator" / "ADMIN.md").read_text()
    # When a negative limit is configured, then it is refused
    with pytest.raises(ValueError, match="concurrent_jobs"):
        EmulatorConfig(client_id=CLIENT_ID, api_key=KEY_32, concurrent_jobs=-1)


def test_cli_flags_set_the_limits() -> None:
    # Given the CLI started with both limit flags
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'dropswap'}",
        "AKOOL_EMULATOR_API_KEY": KEY_32,
    }
    args = [sys.executable, "-m", "local.emulator", "--port", "0", "--client-id", CLIENT_ID]
    args += ["--mode", "instant"]
    proc = subprocess.Popen(
        [*args, "--concurrent-jobs", "7", "--requests-per-second", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        # When its limits are read
        read = wait_for(lambda: requests.get(f"{url}/_emulator/limits", timeout=5).json())
        # Then they are the flags' values
        assert (read["concurrent_jobs"], read["requests_per_second"]) == (7, 0)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    # And a negative value is refused before anything starts
    bad = subprocess.run([*args, "--concurrent-jobs", "-2"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=30, check=False)
    assert bad.returncode == 2 and "concurrent_jobs" in bad.stderr
