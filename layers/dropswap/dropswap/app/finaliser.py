"""The Finaliser, built once here for the two functions that end jobs with it: FinaliseFunction (AKOOL's
word) and ReconcileFunction (expiries)."""

from __future__ import annotations

from dropswap.app.parts import Parts
from dropswap.flows.common.finaliser import Finaliser


def finaliser(parts: Parts) -> Finaliser:
    return Finaliser(
        parts.jobs, parts.objects, parts.result_fetcher(),
        lease_seconds=parts.settings.finalise_lease_seconds, slots=parts.slots, events=parts.events,
    )
