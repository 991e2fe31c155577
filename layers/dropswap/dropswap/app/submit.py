"""SubmitFunction's object graph: the Submitter with its input gate, its submission and its pacer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from dropswap.app.parts import Parts
from dropswap.domain import tokens
from dropswap.domain.ports import BatchSink, JobEvents, SwapApi
from dropswap.flows.common.credit_budget import CreditBudget
from dropswap.flows.common.pacing import Pacer
from dropswap.flows.submit.input_gate import InputGate
from dropswap.flows.submit.submission import Submission
from dropswap.flows.submit.submitter import SubmitStore, Submitter, SubmitterObjects
from dropswap.settings import Settings, for_function

# The claim outlives the invocation (Timeout 120 s in template.yaml) with room to spare.
LEASE_MARGIN_SECONDS = 60


def settings() -> Settings:
    return for_function("submit")


def submitter(
    s: Settings,
    store: SubmitStore,
    objects: SubmitterObjects,
    akool: Callable[[], SwapApi],
    *,
    queue: BatchSink | None = None,
    pacer: Pacer | None = None,
    budget: CreditBudget | None = None,
    events: JobEvents | None = None,
    lease_seconds: int = 300,
    clock: Callable[[], float] = time.time,
    new_owner: Callable[[], str] = lambda: uuid.uuid4().hex,
    new_token: Callable[[], str] = tokens.new_token,
    list_page_size: int = 1000,
) -> Submitter:
    """The Submitter over these ports. `akool` is called on first need: a rejected input never reads the
    AKOOL secret."""
    pacer = pacer or Pacer.unlimited()
    budget = budget or CreditBudget.uncounted()
    gate = InputGate(
        objects, store, bucket=s.drop_bucket, max_image_bytes=s.max_image_bytes,
        extra_source_buckets=s.extra_source_buckets, allowed_source_hosts=s.allowed_source_hosts,
        max_waiting_age_seconds=s.max_waiting_age_seconds,
    )
    holder = Submission(
        store, objects, akool, s, pacer=pacer, clock=clock, new_token=new_token, events=events,
        budget=budget, cache=store,
    )
    return Submitter(
        store, objects, gate, holder, bucket=s.drop_bucket, queue=queue, list_page_size=list_page_size,
        pacer=pacer, budget=budget, clock=clock, lease_seconds=lease_seconds, new_owner=new_owner,
        events=events,
    )


def build(s: Settings, remaining_seconds: Callable[[], float]) -> tuple[Submitter, Parts]:
    """The Submitter of one invocation over the real adapters, and those adapters (the handler hands
    messages back to `parts.submit_queue`)."""
    parts = Parts(s, remaining_seconds=remaining_seconds)
    return submitter(
        s, parts.jobs, parts.objects, parts.submit_akool, queue=parts.submit_queue, pacer=parts.pacer(),
        budget=parts.budget(), events=parts.events,
        lease_seconds=int(remaining_seconds()) + LEASE_MARGIN_SECONDS,
    ), parts


