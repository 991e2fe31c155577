"""The credit budget on the submit path and in the reconciler (issue 17 item 4), in moto with the fake AKOOL:
a job past the budget is not submitted and waits (WAITING, "credit budget") with its report, a
`Job Waiting` event and the JobsOverBudget metric; a credit AKOOL refused before accepting the call is given
back; the waiting jobs cost nothing while the budget is spent and are rechecked when it resets or is
raised, then submitted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from devkit.template import load_template
from dropswap.adapters.akool_client import AkoolClient
from dropswap.adapters.credit_store import CreditStore
from dropswap.adapters.job_store import CREDIT_WAIT_STATE
from dropswap.adapters.slot_store import SlotStore
from dropswap.domain.akool import AkoolError
from dropswap.domain.credits import CREDIT_BUDGET, utc_day
from dropswap.domain.job_events import event_id, waiting_event_id
from dropswap.domain.jobs import Status
from dropswap.flows.common.credit_budget import CreditBudget
from dropswap.flows.common.pacing import Pacer
from dropswap.flows.reconcile import Queues, ReconcileLimits, Reconciler
from dropswap.flows.submit.submitter import Submitter
from dropswap.settings import settings
from tests.conftest import REGION, TABLE, load_event, load_handler
from tests.unit.akool_fake import BASE, DETECT, FakeAkool, face, fake_akool
from tests.unit.submit_harness import CREDS, Harness, make_harness
from tests.unit.test_events import Bus, ReportFirst
from tests.unit.test_finalise_support import FakeAkool as FakeLookup
from tests.unit.test_finalise_support import FakeContext, finaliser, objects, store

ROOT = Path(__file__).resolve().parents[2]
ALICE = "inbox/party/faces/alice.jpg"
SWAP = {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "largest"}]}
METADATA = {"order": "A-7"}
DAY_SECONDS = 86400.0
LIMITS = ReconcileLimits(
    reconcile_after_seconds=600, max_job_age_seconds=48 * 3600, waiting_recheck_seconds=300,
    max_waiting_age_seconds=24 * 3600,
)


def _photo(i: int) -> str:
    return f"inbox/party/p{i:02d}.jpg"


@pytest.fixture
def akool(resources: dict[str, str]) -> Iterator[FakeAkool]:
    yield from fake_akool()


@pytest.fixture
def h(akool: FakeAkool) -> Harness:
    akool.faces["party/p"] = [face(120, 80, 90, 110)]
    akool.faces["faces/alice.jpg"] = [face(20, 30, 120, 140)]
    return make_harness(akool)


@pytest.fixture
def bus(resources: dict[str, str]) -> Bus:
    return Bus()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _budget(per_day: int, clock: Clock | None = None) -> CreditBudget:
    # Own client: each submitter in a race test is a separate Lambda instance.
    counter = CreditStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    return CreditBudget(counter, per_day, clock=clock or time.time)


def _spent(clock: Clock | None = None) -> int:
    return CreditStore(boto3.client("dynamodb", region_name=REGION), TABLE).spent(
        utc_day(clock() if clock else time.time())
    )


def _drop(h: Harness, n: int, metadata: Mapping[str, Any] | None = None) -> list[str]:
    """The face, then `n` photos and their sidecars in S3 (no events yet); the sidecar keys."""
    h.put(ALICE)
    sidecars = []
    for i in range(n):
        h.put(_photo(i))
        sidecars.append(h.put_manifest(_photo(i), {**SWAP, "metadata": metadata} if metadata else SWAP))
    return sidecars


def _submitter(h: Harness, budget: CreditBudget, **kwargs: Any) -> Submitter:
    return h.submitter(budget=budget, **kwargs)


def _swapped_jobs(h: Harness) -> list[str]:
    """The job ids AKOOL's swap calls carried (in their webhook URLs)."""
    hooks = [str(c.body["webhookUrl"]) for c in h.akool.submissions() if c.body]
    return [hook.split("?")[0].rsplit("/", 1)[-1] for hook in hooks]


def _reconciler(budget: CreditBudget, rechecks: Any) -> Reconciler:
    return Reconciler(
        store(), finaliser()[0], objects(), lambda: FakeLookup(jobs={}),
        Queues(submit=rechecks, finalise=Sink()), LIMITS, budget=budget,
    )


class Sink:
    def __init__(self) -> None:
        self.job_ids: list[str] = []

    def send(self, body: str, delay_seconds: int = 0) -> None:
        self.job_ids.append(json.loads(body)["job_id"])


# -- a job the budget cannot take ------------------------------------------------------------------
def test_given_the_days_budget_spent_when_a_ready_job_arrives_then_it_waits_for_the_credit_budget(
    h: Harness, bus: Bus
) -> None:
    # Given a budget of 2 credits a day, both spent already
    budget = _budget(2)
    assert budget.spend() and budget.spend()
    [sidecar] = _drop(h, 1, METADATA)
    # When the photo's sidecar arrives
    [outcome] = h.event(sidecar, _submitter(h, budget, events=ReportFirst(bus.adapter)))
    # Then the job is not submitted: nothing reached AKOOL (no detection either) and nothing more is counted
    assert (outcome.kind, outcome.detail) == ("OVER_BUDGET", CREDIT_BUDGET)
    assert h.akool.calls == [] and _spent() == 2
    # And it waits for the credit budget, its claim given back (a recheck may take it at once)
    job = h.job(_photo(0))
    assert job.status is Status.WAITING and job.waiting_for == CREDIT_BUDGET
    assert job.extra["open_state"] == CREDIT_WAIT_STATE and "claim_owner" not in job.extra
    # And its report says so, with the budget as it stands and when it resets
    report = h.report(_photo(0))
    assert report["status"] == "WAITING" and report["waiting_for"] == CREDIT_BUDGET
    assert report["metadata"] == METADATA and report["error"] is None
    assert {k: report["budget"][k] for k in ("credits_per_day", "spent", "needed")} == {
        "credits_per_day": 2, "spent": 2, "needed": 1}
    assert report["budget"]["resets_at"].endswith("T00:00:00+00:00")
    assert "AkoolCreditBudgetPerDay" in report["budget"]["message"]
    # And one schema-valid Job Waiting event tells automation, after the report, with its own id
    [event] = bus.received()
    assert event["detail-type"] == "Job Waiting"
    assert event["detail"]["metadata"]["id"] == waiting_event_id(job.job_id) != event_id(job.job_id)
    data = event["detail"]["data"]
    assert (data["status"], data["waiting_for"], data["metadata"]) == ("WAITING", CREDIT_BUDGET, METADATA)
    assert data["report"] == {"key": "results/party/p00.jpg.result.json"} and data["budget"]["spent"] == 2


def test_given_a_job_waiting_for_the_budget_when_rechecked_while_still_spent_then_no_second_report_or_event(
    h: Harness, bus: Bus
) -> None:
    # Given a job waiting for the spent budget
    budget = _budget(1)
    assert budget.spend()
    [sidecar] = _drop(h, 1)
    submitter = _submitter(h, budget, events=bus.adapter)
    [first] = h.event(sidecar, submitter)
    assert first.kind == "OVER_BUDGET" and len(bus.received()) == 1
    h.s3.delete_object(Bucket=h.objects.bucket, Key="results/party/p00.jpg.result.json")
    # When it is rechecked (a redelivered event, a recheck) and the budget is still spent
    assert submitter.recheck_waiting(first.job_id or "").kind == "OVER_BUDGET"
    assert [o.kind for o in h.event(sidecar, submitter)] == ["OVER_BUDGET"]
    # Then it still waits with the budget's waits, without a new report or a second event
    job = h.job(_photo(0))
    assert job.waiting_for == CREDIT_BUDGET and job.extra["open_state"] == CREDIT_WAIT_STATE
    assert not h.has_report(_photo(0)) and bus.received() == [] and h.akool.calls == []


@pytest.mark.parametrize("per_day", [1, 3])
def test_given_a_budget_when_more_jobs_race_than_it_admits_then_exactly_it_is_swapped_and_the_rest_wait(
    h: Harness, per_day: int
) -> None:
    # Given six ready jobs, each delivered to its own submitter (a Lambda instance), all at once
    sidecars = _drop(h, 6)
    submitters = [_submitter(h, _budget(per_day)) for _ in sidecars]
    start = threading.Barrier(len(sidecars))
    kinds: list[str] = []
    errors: list[BaseException] = []

    def deliver(i: int) -> None:
        try:
            start.wait()
            kinds.extend(o.kind for o in h.event(sidecars[i], submitters[i]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(len(sidecars))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly `per_day` swaps reached AKOOL and were counted; every other job waits for the budget
    assert errors == []
    assert sorted(kinds) == sorted(["SUBMITTED"] * per_day + ["OVER_BUDGET"] * (6 - per_day))
    assert len(h.akool.submissions()) == per_day == _spent()
    waiting = [h.report(_photo(i)) for i in range(6) if h.job(_photo(i)).status is Status.WAITING]
    assert len(waiting) == 6 - per_day and {r["waiting_for"] for r in waiting} == {CREDIT_BUDGET}


def test_given_the_last_credit_taken_while_a_job_detects_then_it_waits_and_gives_its_slot_back(
    h: Harness,
) -> None:
    # Given one credit left, which another submitter spends while this job is at AKOOL's detector
    budget = _budget(1)
    slots = SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)
    pacer = Pacer(slots, 2, wait_seconds=0.0, poll_seconds=0.1)
    [sidecar] = _drop(h, 1)

    spent: list[bool] = []

    class OtherSpendsMeanwhile(AkoolClient):
        def detect_faces(self, *args: Any, **kwargs: Any) -> Any:
            if not spent:  # at the first detection (the photo's; the face is detected too)
                assert _budget(1).spend() is not None
                spent.append(True)
            return super().detect_faces(*args, **kwargs)

    submitter = _submitter(h, budget, pacer=pacer, akool=lambda: OtherSpendsMeanwhile(CREDS, BASE, DETECT))
    # When the job reaches the gate right before the swap call
    [outcome] = h.event(sidecar, submitter)
    # Then no swap call: the job waits for the budget, its AKOOL slot given back, the day at its budget
    assert outcome.kind == "OVER_BUDGET" and h.akool.submissions() == []
    assert slots.holders() == frozenset() and _spent() == 1
    assert h.report(_photo(0))["waiting_for"] == CREDIT_BUDGET


# -- refusals and the credit -------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "kind"), [(1005, "retried"), (1006, "FAILED"), (1003, "FAILED")])
def test_given_akool_refuses_the_swap_call_then_its_credit_is_given_back(
    h: Harness, code: int, kind: str
) -> None:
    # Given a budget of one and a swap call AKOOL refuses with `code` (not accepted: no credit taken)
    budget = _budget(1)
    [sidecar] = _drop(h, 1)
    h.akool.queue_code("pro", code)
    # When the job is submitted (one attempt per call, as the submit path makes it: a 1005 goes up and
    # the message is retried later)
    submitter = _submitter(h, budget, akool=lambda: AkoolClient(CREDS, BASE, DETECT, max_attempts=1))
    if kind == "retried":
        with pytest.raises(AkoolError):
            h.event(sidecar, submitter)
    else:
        assert [o.kind for o in h.event(sidecar, submitter)] == [kind]
    # Then the credit is back: the day's count is 0 and the budget admits the retry (or the next job)
    assert len(h.akool.submissions()) == 1 and _spent() == 0 and budget.has_room()
    if kind == "retried":
        assert [o.kind for o in h.event(sidecar, _submitter(h, budget))] == ["SUBMITTED"]
        assert _spent() == 1


def test_given_the_swap_call_times_out_then_its_credit_stays_counted(h: Harness) -> None:
    # Given a swap call that may have been accepted (no answer within the timeout)
    [sidecar] = _drop(h, 1)

    class TimesOut(AkoolClient):
        def faceswap_pro(self, *args: Any, **kwargs: Any) -> Any:
            raise AkoolError("faceswap: AKOOL did not answer within 10.0s", retryable=True)

    # When the job is submitted, Then the error goes up (the message is retried) and the credit stays
    with pytest.raises(AkoolError):
        h.event(sidecar, _submitter(h, _budget(5), akool=lambda: TimesOut(CREDS, BASE, DETECT)))
    assert _spent() == 1


def test_given_a_faces_only_job_then_no_credit_is_counted_even_with_the_budget_spent(h: Harness) -> None:
    # Given the day's budget spent and a "mode": "faces" sidecar (detection only, no swap)
    budget = _budget(1)
    assert budget.spend()
    h.put(_photo(0))
    sidecar = h.put_manifest(_photo(0), {"version": 1, "mode": "faces"})
    # When it arrives, Then it succeeds as usual and the count is unchanged
    assert [o.kind for o in h.event(sidecar, _submitter(h, budget))] == ["SUCCEEDED"]
    assert _spent() == 1


# -- waiting jobs resume: the reconciler --------------------------------------------------------------
def test_given_jobs_waiting_while_the_budget_stays_spent_then_the_reconciler_sends_nothing_nor_expires_them(
    h: Harness,
) -> None:
    # Given three jobs held back by a budget of one, and the reconciler running two days later
    clock = Clock()
    sidecars = _drop(h, 3)
    for sidecar in sidecars:
        h.event(sidecar, _submitter(h, _budget(1, clock)))
    assert _spent(clock) == 1
    later = Clock()
    later.now = clock.now + 2 * DAY_SECONDS
    spent_again = _budget(1, later)
    assert spent_again.spend()  # that day's credit went to another upload
    rechecks = Sink()
    # When the reconciler runs with the day's budget spent
    summary = Reconciler(
        store(), finaliser()[0], objects(), lambda: FakeLookup(jobs={}),
        Queues(submit=rechecks, finalise=Sink()), LIMITS, budget=spent_again, clock=later,
    ).run()
    # Then no recheck (no hammering), and none is rejected as a missing input however long it waits
    assert rechecks.job_ids == []
    assert not {"credit_rechecked", "rechecked", "rejected"} & set(summary.counts)
    assert [h.job(_photo(i)).status for i in range(3)].count(Status.WAITING) == 2


def test_given_jobs_waiting_for_the_budget_when_raised_then_rechecked_as_it_admits_oldest_first_and_submitted(
    h: Harness,
) -> None:
    # Given five jobs dropped with a budget of two: two swapped, three waiting, one after the other
    sidecars = _drop(h, 5)
    outcomes = []
    for sidecar in sidecars:
        outcomes.extend(h.event(sidecar, _submitter(h, _budget(2))))
        time.sleep(0.002)  # distinct update times: the queue's order is theirs
    waiting = [o.job_id for o in outcomes if o.kind == "OVER_BUDGET"]
    assert len(waiting) == 3 and len(h.akool.submissions()) == 2
    # When the budget is raised to four (a redeploy) and the reconciler runs
    rechecks = Sink()
    summary = _reconciler(_budget(4), rechecks).run()
    # Then it rechecks as many as the budget now admits, the longest waiting first
    assert rechecks.job_ids == waiting[:2] and summary.counts == {"credit_rechecked": 2}
    # And SubmitFunction submits them
    for job_id in rechecks.job_ids:
        assert _submitter(h, _budget(4)).recheck_waiting(job_id).kind == "SUBMITTED"
    assert _spent() == 4 and _swapped_jobs(h)[2:] == waiting[:2]
    # And with the budget raised to unlimited (0) the last one goes too
    last = Sink()
    _reconciler(_budget(0), last).run()
    assert last.job_ids == waiting[2:]
    assert _submitter(h, _budget(0)).recheck_waiting(waiting[2] or "").kind == "SUBMITTED"
    assert len(h.akool.submissions()) == 5 and _spent() == 5


def test_given_jobs_waiting_for_a_spent_budget_when_the_utc_day_turns_then_they_resume(h: Harness) -> None:
    # Given two jobs waiting for a budget of one, spent today
    clock = Clock()
    for sidecar in _drop(h, 3):
        h.event(sidecar, _submitter(h, _budget(1, clock)))
    assert len(h.akool.submissions()) == 1
    # When the reconciler runs on the next UTC day
    clock.now += DAY_SECONDS
    rechecks = Sink()
    _reconciler(_budget(1, clock), rechecks).run()
    # Then the new day's budget admits one of them, which is submitted and counted on the new day
    [job_id] = rechecks.job_ids
    assert _submitter(h, _budget(1, clock)).recheck_waiting(job_id).kind == "SUBMITTED"
    assert _spent(clock) == 1 and len(h.akool.submissions()) == 2


def test_given_a_budget_wait_whose_holder_stopped_mid_recheck_then_rechecked_and_never_expired(
    h: Harness,
) -> None:
    # Given a job waiting for the budget whose recheck took its claim (moving it back among the input
    # waits) and then stopped, two days ago
    budget = _budget(1)
    assert budget.spend()
    [sidecar] = _drop(h, 1)
    [outcome] = h.event(sidecar, _submitter(h, budget))
    old = store(clock=lambda: time.time() - 2 * DAY_SECONDS)
    assert old.claim(outcome.job_id or "", "crashed", 60, create_fields={}).applied
    rechecks = Sink()
    # When the reconciler runs
    summary = _reconciler(budget, rechecks).run()
    # Then it is rechecked, not rejected as a missing input
    assert rechecks.job_ids == [outcome.job_id] and summary.counts == {"rechecked": 1}
    assert h.job(_photo(0)).status is Status.WAITING


# -- through the handler: the metric the alarm watches ----------------------------------------------
def test_given_the_budget_spent_when_submit_function_handles_a_sidecar_then_jobs_over_budget_metric(
    h: Harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given SubmitFunction deployed with a budget of one credit a day, spent
    monkeypatch.setenv("AKOOL_CREDIT_BUDGET_PER_DAY", "1")
    settings.cache_clear()
    assert _budget(1).spend()
    [sidecar] = _drop(h, 1)
    app = load_handler("submit")
    event = load_event("sqs-submit-sidecar.json")
    notification = json.loads(event["Records"][0]["body"])
    notification["Records"][0]["s3"]["object"]["key"] = sidecar
    event["Records"][0]["body"] = json.dumps(notification)
    # When the handler takes the sidecar's event
    assert app.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    # Then the job waits for the budget and JobsOverBudget (the alarm's metric) counts it, not JobsWaiting
    assert h.job(_photo(0)).waiting_for == CREDIT_BUDGET and h.akool.calls == []
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    totals = {
        name: sum(sum(_values(m.get(name, 0))) for m in metrics) for name in ("JobsOverBudget", "JobsWaiting")
    }
    assert totals == {"JobsOverBudget": 1, "JobsWaiting": 0}
    settings.cache_clear()


def _values(value: Any) -> list[float]:
    # An EMF metric value is a number, or a list of them.
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


# -- the template: the parameter reaches the functions, the alarm watches the metric ---------------------
def test_given_the_template_then_the_budget_parameters_reach_the_submitter_and_the_reconciler() -> None:
    source = load_template()
    budget, per_swap = (source["Parameters"][p] for p in ("AkoolCreditBudgetPerDay", "AkoolCreditsPerSwap"))
    # Then a bounded budget, 0 = unlimited, with a safe default; one credit per swap unless set
    assert (budget["Type"], budget["Default"], budget["MinValue"]) == ("Number", 100, 0)
    assert (per_swap["Type"], per_swap["Default"], per_swap["MinValue"]) == ("Number", 1, 1)
    for name in ("SubmitFunction", "ReconcileFunction"):
        env = source["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert env["AKOOL_CREDIT_BUDGET_PER_DAY"] == {"Ref": "AkoolCreditBudgetPerDay"}, name
        assert env["AKOOL_CREDITS_PER_SWAP"] == {"Ref": "AkoolCreditsPerSwap"}, name
    # And the functions that never submit know nothing of it
    for name in ("WebhookFunction", "FinaliseFunction"):
        env = source["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert "AKOOL_CREDIT_BUDGET_PER_DAY" not in env, name


def test_given_jobs_over_budget_metric_then_alarmed_where_powertools_emits_it_on_the_alarm_topic() -> None:
    # Given SubmitFunction's Powertools settings and the metric its handler emits for a job over budget
    source = load_template()
    env = {**source["Globals"]["Function"]["Environment"]["Variables"],
           **source["Resources"]["SubmitFunction"]["Properties"]["Environment"]["Variables"]}
    handler = (ROOT / "functions" / "submit" / "app.py").read_text(encoding="utf-8")
    assert '"OVER_BUDGET": "JobsOverBudget"' in handler
    # When the alarms are read, Then one watches it under that namespace and service, on the alarm topic
    [alarm] = [r["Properties"] for r in source["Resources"].values()
               if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["MetricName"] == "JobsOverBudget"]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum", 1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
