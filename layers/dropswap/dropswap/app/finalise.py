"""FinaliseFunction's object graph: the finaliser over the real adapters."""

from __future__ import annotations

from collections.abc import Callable

from dropswap.app.finaliser import finaliser
from dropswap.app.parts import Parts
from dropswap.flows.common.finaliser import Finaliser
from dropswap.settings import Settings, for_function


def settings() -> Settings:
    return for_function("finalise")


def build(s: Settings, remaining_seconds: Callable[[], float]) -> tuple[Finaliser, Parts]:
    """The finaliser of one invocation, and its adapters (the handler reads jobs through `parts.jobs` and
    hands messages back to `parts.finalise_queue`)."""
    parts = Parts(s, remaining_seconds=remaining_seconds)
    return finaliser(parts), parts
