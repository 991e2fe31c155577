"""Hypothesis profiles for the fuzz tests (imported by each of them), chosen by HYPOTHESIS_PROFILE:
"ci" (the default, `make test`: small and quick) or "soak" (`make soak`: many more examples).
No example database is kept, so runs leave nothing behind; a failure prints the reproducing blob."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,  # moto and the handler's first call are slow now and then; timing is not the point
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=100, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("soak", max_examples=1500, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(factor: float = 1.0) -> int:
    """The profile's example count scaled for a test (cheap tests run more)."""
    return max(10, int(settings().max_examples * factor))
