"""ReconcileFunction's object graph: the reconciler, with the finaliser it expires jobs with."""

from __future__ import annotations

from collections.abc import Callable

from dropswap.app.finaliser import finaliser
from dropswap.app.parts import Parts
from dropswap.flows.reconcile import Queues, ReconcileLimits, Reconciler
from dropswap.settings import Settings, for_function


def settings() -> Settings:
    return for_function("reconcile")


def build(s: Settings, remaining_seconds: Callable[[], float]) -> Reconciler:
    parts = Parts(s, remaining_seconds=remaining_seconds)
    # The finaliser here only expires jobs (JOB_TOO_OLD): AKOOL's results are FinaliseFunction's.
    return Reconciler(
        parts.jobs, finaliser(parts), parts.objects, parts.akool,
        Queues(submit=parts.submit_queue, finalise=parts.finalise_queue), ReconcileLimits.from_settings(s),
        slots=parts.slots, budget=parts.budget(), remaining_seconds=remaining_seconds, events=parts.events,
    )
