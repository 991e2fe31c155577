"""What the big-drop benchmark watches while it runs, from outside the stack:

- MiniStack's Lambda worker processes (one per execution environment: a worker is spawned only when
  every existing one of that function is busy, so a function's worker count is its peak concurrency so
  far), their resident memory, and the machine's available memory, with a guard that asks the run to
  stop before the machine runs out;
- the AKOOL emulator's request log, copied as it goes: the emulator keeps only its last 10 000 requests,
  and a throttled drop can make more than that.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_WORKER_DIR = re.compile(r"ministack-lambda-(.+)-[A-Za-z0-9_]{8}/_worker\.")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def mem_available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return -1


def _rss(pid: str) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _ppid(pid: str) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[1]  # the field after the state, past the "(comm)"


def _cpu_seconds(pid: str) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def ministack_cpu_seconds(parent: int) -> float:
    """CPU time of the MiniStack server(s) this process started (not their workers)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _ppid(entry.name) == str(parent):
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            if b"ministack" in cmdline:
                total += _cpu_seconds(entry.name)
    return total


def lambda_workers(ancestor: int) -> dict[str, list[str]]:
    """MiniStack's worker processes under process `ancestor` (this run's, not another stack's on the
    same machine), by function name (parsed from the worker script's temp folder)."""
    found: dict[str, list[str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        match = _WORKER_DIR.search(cmdline)
        if match and _descends_from(entry.name, str(ancestor)):
            found.setdefault(match.group(1), []).append(entry.name)
    return found


def _descends_from(pid: str, ancestor: str) -> bool:
    for _ in range(8):  # worker -> MiniStack -> this process, with room to spare
        parent = _ppid(pid)
        if parent is None or parent in ("0", "1"):
            return False
        if parent == ancestor:
            return True
        pid = parent
    return False


@dataclass
class Sample:
    at: float  # epoch seconds
    workers: dict[str, int]  # function name -> worker processes
    workers_rss_mib: float
    available_mib: int
    server_cpu_seconds: float  # the MiniStack server's CPU time so far (one core at most: its GIL)


@dataclass
class Monitor:
    """Samples every `interval` seconds on a thread until stopped. `emulator` is the in-process Emulator
    whose request log is copied (None: no copying)."""

    emulator: Any = None
    interval: float = 1.0
    min_available_mib: int = 3072
    samples: list[Sample] = field(default_factory=list)
    requests: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq -> slim request log entry
    requests_lost: int = 0  # entries that left the emulator's log before they were copied
    low_memory: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Monitor:
        self._thread = threading.Thread(target=self._run, name="big-drop-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        workers = lambda_workers(os.getpid())
        rss = sum(_rss(pid) for pids in workers.values() for pid in pids)
        available = mem_available_mib()
        self.samples.append(Sample(
            time.time(), {name: len(p) for name, p in workers.items()}, rss / MIB, available,
            ministack_cpu_seconds(os.getpid()),
        ))
        if 0 <= available < self.min_available_mib:
            self.low_memory.set()
        self._copy_requests()

    def _copy_requests(self) -> None:
        if self.emulator is None:
            return
        entries = self.emulator.requests()
        if not entries:
            return
        newest_known = max(self.requests, default=0)
        if entries[0]["seq"] > newest_known + 1:
            self.requests_lost += entries[0]["seq"] - newest_known - 1
        for e in entries:
            if e["seq"] > newest_known:
                self.requests[e["seq"]] = {
                    k: e.get(k) for k in ("seq", "at", "path", "code", "limit", "http_status")
                }

    # -- summaries -------------------------------------------------------------------------------
    def peak_workers(self) -> Counter[str]:
        peak: Counter[str] = Counter()
        for s in self.samples:
            for name, count in s.workers.items():
                peak[name] = max(peak[name], count)
        return peak

    def peak_rss_mib(self) -> float:
        return max((s.workers_rss_mib for s in self.samples), default=0.0)

    def min_available(self) -> int:
        return min((s.available_mib for s in self.samples), default=-1)

    def line(self) -> str:
        """Now, for a progress line: worker processes, memory, the MiniStack server's recent CPU use."""
        if not self.samples:
            return "no sample yet"
        now = self.samples[-1]
        before = next((s for s in reversed(self.samples) if now.at - s.at >= 10), self.samples[0])
        busy = (now.server_cpu_seconds - before.server_cpu_seconds) / max(now.at - before.at, 1e-9)
        return (f"workers {sum(now.workers.values())} ({now.workers_rss_mib:.0f} MiB), available "
                f"{now.available_mib} MiB, MiniStack server CPU {busy:.0%}")

    def request_log(self) -> list[dict[str, Any]]:
        return [self.requests[k] for k in sorted(self.requests)]
