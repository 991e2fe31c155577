"""AKOOL emulator for the local stack and tests (dev-only, never deployed). See server.py and ADMIN.md."""

from local.emulator.config import EmulatorConfig
from local.emulator.server import RunningEmulator, start_emulator

__all__ = ["EmulatorConfig", "RunningEmulator", "start_emulator"]
