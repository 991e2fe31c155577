"""`dropswap plan`: the stack's own checks over a drop, before it is dropped; nothing uploaded, no AKOOL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devkit import images
from dropswap_cli.plan import LocalDrop, plan
from tests.cli.conftest import BUCKET, run_cli

FACE = images.jpeg()


def _write(root: Path, files: dict[str, bytes | dict[str, Any]]) -> Path:
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(json.dumps(body).encode() if isinstance(body, dict) else body)
    return root


def _plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    assert run_cli("plan", *argv, "--json") == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def _by_photo(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["photo"]: job for job in result["jobs"]}


def test_given_a_folder_with_every_kind_of_job_when_planned_then_each_outcome_and_the_credits(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a local drop: a good swap, a faces preview, a manifest with three schema errors, a source not
    # there yet, a cut-off photo, and a folder manifest over two photos, one of which has its own sidecar
    swap = {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "Largest"}]}
    root = _write(tmp_path / "drop", {
        "party/faces/alice.jpg": FACE,
        "party/good.jpg": FACE, "party/good.jpg.faceswap.json": swap,
        "party/pick.png": images.png(), "party/pick.png.faceswap.json": {"version": 1, "mode": "faces"},
        "party/bad.jpg": FACE,
        "party/bad.jpg.faceswap.json": {"version": 2, "swaps": [{"source": "", "target": -1}], "engine": "x"},
        "party/later.jpg": FACE,
        "party/later.jpg.faceswap.json": {"version": 1, "swaps": [{"source": "faces/bob.jpg", "target": 0}]},
        "party/cut.jpg": images.truncated(FACE), "party/cut.jpg.faceswap.json": swap,
        "trip/_folder.faceswap.json": {"version": 1, "swaps": [{"source": "../party/faces/alice.jpg",
                                                                "target": "all"}]},
        "trip/one.bmp": images.bmp(),
        "trip/two.jpg": FACE, "trip/two.jpg.faceswap.json": {"version": 1, "mode": "faces"},
        "trip/notes.txt": b"not a photo",
    })
    # When the user plans it
    result = _plan_json(capsys, str(root))
    jobs = _by_photo(result)
    # Then each photo with a manifest is one job, as the stack would run it
    assert {k: j["outcome"] for k, j in jobs.items()} == {
        "inbox/party/bad.jpg": "REJECTED", "inbox/party/cut.jpg": "REJECTED", "inbox/party/good.jpg": "SWAP",
        "inbox/party/later.jpg": "WAITING", "inbox/party/pick.png": "FACES", "inbox/trip/one.bmp": "SWAP",
        "inbox/trip/two.jpg": "FACES",
    }
    bad = jobs["inbox/party/bad.jpg"]["detail"]
    assert all(path in bad for path in ("version", "swaps[0].source", "swaps[0].target", "engine")), bad
    assert jobs["inbox/party/cut.jpg"]["code"] == "TRUNCATED_IMAGE"
    assert jobs["inbox/party/later.jpg"]["detail"] == "for inbox/party/faces/bob.jpg"
    assert (jobs["inbox/party/good.jpg"]["faces"], jobs["inbox/trip/one.bmp"]["faces"]) == ("1", "all")
    # And the credits: one a swap job, none for faces previews, rejections or jobs still waiting
    assert result["totals"] == {"jobs": 7, "credits": 2, "swap": 2, "faces": 2, "rejected": 2, "waiting": 1}


def test_given_a_sidecar_without_its_photo_then_it_waits_for_the_photo(tmp_path: Path) -> None:
    root = _write(tmp_path, {"a.jpg.faceswap.json": {"version": 1, "mode": "faces"}})
    [job] = plan(LocalDrop(root, "inbox/"), _limits())
    assert (job.photo, job.outcome, job.credits) == ("inbox/a.jpg", "WAITING", 0)


def test_given_a_gif_under_a_folder_manifest_then_it_is_rejected_as_unsupported(tmp_path: Path) -> None:
    root = _write(tmp_path, {"_folder.faceswap.json": {"version": 1, "mode": "faces"}, "a.gif": b"GIF89a"})
    [job] = plan(LocalDrop(root, "inbox/"), _limits())
    assert (job.outcome, job.code) == ("REJECTED", "UNSUPPORTED_TYPE")


def test_given_a_symlink_in_the_folder_then_plan_never_reads_through_it(tmp_path: Path) -> None:
    # Given a drop folder holding a link to a file outside it, named like a photo, and a sidecar for it
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(FACE)
    root = _write(tmp_path / "drop", {"a.jpg.faceswap.json": {"version": 1, "mode": "faces"}})
    (root / "a.jpg").symlink_to(outside)
    (root / "linked").symlink_to(tmp_path)
    # When planned, Then the link is not part of the drop: the sidecar still waits for its photo
    drop = LocalDrop(root, "inbox/")
    assert drop.keys() == ["inbox/a.jpg.faceswap.json"]
    assert [j.outcome for j in plan(drop, _limits())] == ["WAITING"]


def test_given_a_folder_of_the_bucket_when_planned_then_the_same_checks_run_on_its_objects(
    s3: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    # Given photos and sidecars already in the bucket, the face in another folder of inbox/
    s3.put_object(Bucket=BUCKET, Key="inbox/faces/alice.jpg", Body=FACE)
    manifest = json.dumps({"version": 1, "swaps": [{"source": "../faces/alice.jpg", "target": 0}]})
    for name, body in (("ok.jpg", FACE), ("cut.jpg", images.truncated(FACE))):
        s3.put_object(Bucket=BUCKET, Key=f"inbox/party/{name}", Body=body)
        s3.put_object(Bucket=BUCKET, Key=f"inbox/party/{name}.faceswap.json", Body=manifest.encode())
    # When the user plans the bucket's folder, Then the source outside it is found, the cut photo refused
    result = _plan_json(capsys, "inbox/party/")
    assert {k: j["outcome"] for k, j in _by_photo(result).items()} == {
        "inbox/party/cut.jpg": "REJECTED", "inbox/party/ok.jpg": "SWAP"}
    assert result["totals"]["credits"] == 1
    # And nothing was written to the bucket
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == [
        "inbox/faces/alice.jpg", "inbox/party/cut.jpg", "inbox/party/cut.jpg.faceswap.json",
        "inbox/party/ok.jpg", "inbox/party/ok.jpg.faceswap.json"]


def test_given_a_plan_then_the_table_escapes_what_uploaders_chose(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a photo whose name holds rich markup and a terminal escape
    root = _write(tmp_path / "drop", {"a[/]b\x1b[31m.jpg.faceswap.json": {"version": 1, "mode": "faces"}})
    # When planned as a table, Then it prints, escaped, without crashing on the markup
    capsys.readouterr()
    assert run_cli("plan", str(root)) == 0
    out = capsys.readouterr().out
    assert "\x1b[31m" not in out and "a[/]b" in out


def _limits() -> Any:
    from dropswap_cli.plan import Limits

    return Limits(bucket=BUCKET)


def test_given_a_budget_with_two_credits_left_when_a_drop_needs_three_then_the_plan_says_some_would_wait(
    s3: Any,
) -> None:
    # Given a stack whose budget is 5 credits a day, 3 of them spent today (the Jobs table's day item)
    import time

    import boto3

    from dropswap.domain import credits
    from dropswap_cli.plan import Budget, Limits, _budget_line
    from dropswap_cli.stack import Stack
    from tests.conftest import REGION

    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName="jobs", KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    day = credits.utc_day(time.time())
    ddb.put_item(TableName="jobs", Item={"job_id": {"S": credits.credits_item_id(day)}, "spent": {"N": "3"}})
    stack = Stack("a stack", BUCKET, s3, name="s", outputs={"JobsTableName": "jobs"},
                  session=boto3.Session(region_name=REGION))
    # When the plan reads the budget
    budget = Budget.of(stack, Limits(bucket=BUCKET, credits_per_day=5))
    # Then 2 are left, and a drop needing 3 is told that the jobs past 2 credits would wait
    assert budget is not None and (budget.spent, budget.left) == (3, 2)
    line = _budget_line(3, budget)
    assert "2 of 5 left today" in line and 'would wait (WAITING, waiting_for "credit budget")' in line
    assert "would wait" not in _budget_line(2, budget)
    assert "unlimited" in _budget_line(9, Budget(0, day, 7, "tomorrow"))


def test_given_outputs_in_a_drop_when_planned_then_local_ones_are_not_sent_and_bucket_ones_are_rejected(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a swapped photo with a sidecar of its own, in a local drop folder and in a folder of the bucket
    sidecar = {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": 0}]}
    root = _write(tmp_path / "drop", {"faces/alice.jpg": FACE, "team.swapped.jpg": FACE,
                                      "team.swapped.jpg.faceswap.json": sidecar})
    for key, body in (("inbox/p/faces/alice.jpg", FACE), ("inbox/p/team.swapped.jpg", FACE),
                      ("inbox/p/team.swapped.jpg.faceswap.json", json.dumps(sidecar).encode())):
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    # When each is planned
    local, bucket = _plan_json(capsys, str(root)), _plan_json(capsys, "inbox/p/")
    # Then the local one is no job (`sync` never sends it), and the bucket's is REJECTED as the stack does it
    assert local["jobs"] == []
    [job] = bucket["jobs"]
    assert (job["photo"], job["outcome"], job["code"], job["credits"]) == (
        "inbox/p/team.swapped.jpg", "REJECTED", "OUTPUT_NAME", 0)
