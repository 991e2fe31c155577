"""Fixtures for the AKOOL emulator contract tests: everything on 127.0.0.1, the emulator in instant mode.

The account limits are off (0) unless a test asks for them: the other tests poll listbyids faster than
any account's rate limit allows. tests/contract/test_limits.py covers the limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from devkit import photos
from local.emulator import EmulatorConfig, RunningEmulator, start_emulator
from tests.contract.helpers import CLIENT_ID, KEY_32, Akool, ImageServer, WebhookReceiver

NO_LIMITS: dict[str, Any] = {"concurrent_jobs": 0, "requests_per_second": 0}


@pytest.fixture(scope="session")
def images() -> Iterator[ImageServer]:
    """Real photos (and a few bad inputs) served over loopback HTTP."""
    server = ImageServer()
    server.add("astronaut.jpg", photos.jpeg_bytes(photos.astronaut_bgr()))
    server.add("hopper.jpg", photos.jpeg_bytes(photos.grace_hopper_bgr()))
    server.add("collage.jpg", photos.jpeg_bytes(photos.collage_bgr()))
    server.add("blank.jpg", photos.jpeg_bytes(np.full((240, 320, 3), 128, np.uint8)))
    server.add("garbage.jpg", b"this is not an image at all", "image/jpeg")
    yield server
    server.close()


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[RunningEmulator]:
    config = EmulatorConfig(client_id=CLIENT_ID, api_key=KEY_32, mode="instant", concurrent_jobs=0,
                            requests_per_second=0)
    with start_emulator(config) as running:
        yield running


@pytest.fixture
def akool(shared_emulator: RunningEmulator) -> Akool:
    """A client of the shared emulator, reset to a clean state (no jobs, faults, log; full credits)."""
    client = Akool(shared_emulator.url, KEY_32)
    client.admin("POST", "reset")
    return client


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., tuple[RunningEmulator, Akool]]]:
    """Start a dedicated emulator with config overrides (instant mode unless given); stopped afterwards."""
    started: list[RunningEmulator] = []

    def make(**overrides: Any) -> tuple[RunningEmulator, Akool]:
        fields: dict[str, Any] = {
            "client_id": CLIENT_ID, "api_key": KEY_32, "mode": "instant", **NO_LIMITS, **overrides
        }
        running = start_emulator(EmulatorConfig(**fields))
        started.append(running)
        return running, Akool(running.url, fields["api_key"])

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()
