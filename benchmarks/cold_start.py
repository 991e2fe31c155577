"""Cold start on the layer as deployed: import time of each handler on python3.13 (docs/benchmarks.md).

In one run, on one interpreter (.venvs/py313's python3.13), in fresh processes, interleaved:
- each handler imported with the layer built for this machine by its make target, WITH its bytecode;
- the same with that layer's bytecode removed (what a layer without .pyc costs: Lambda's /opt is read-only,
  so every cold start compiles every module; `-B` keeps it so here);
- `import boto3, requests` with the same sys.path, the baseline.
The path is Lambda's: the function's code, the layer's python/, the runtime's site-packages with boto3
(devkit/lambda_layer.py). The target: each handler ≤ 1.2× the baseline. The biggest import costs of
the slowest handler come from `-X importtime`.

    python -m benchmarks.cold_start [--runs N]     (make bench runs it as its "cold" section)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.lambda_layer import ROOT, Handler, build_layer, handlers, lambda_env, runtime_site

PYTHON313 = ROOT / ".venvs" / "py313" / "bin" / "python"
RUNS = 15
TARGET = 1.2  # issue 20: every handler ≤ 1.2× on the built artifact
BASELINE = "boto3+requests"
# Wall time, and the process's CPU time, which the machine's other load does not inflate.
_TIMED = ("import time\nt, c = time.perf_counter(), time.process_time()\nimport {module}\n"
          "print(time.perf_counter() - t, time.process_time() - c)")
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", re.MULTILINE)


def _short(h: Handler) -> str:
    return h.function.removesuffix("Function").lower()


@dataclass(frozen=True)
class Runtime:
    python: Path  # python3.13
    site: Path  # its site-packages holding boto3, standing in for the runtime's


@dataclass(frozen=True)
class Case:
    handler: Handler  # whose code dir and environment the import runs with
    layer: Path
    module: str

    def run(self, rt: Runtime, *flags: str) -> subprocess.CompletedProcess[str]:
        """The timed import in a fresh process; stdout's last line is its wall and CPU seconds."""
        proc = subprocess.run([str(rt.python), "-S", "-B", *flags, "-c", _TIMED.format(module=self.module)],
                              env=lambda_env(self.handler, self.layer, rt.site), cwd=self.handler.code_dir,
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"import {self.module} with {self.layer} failed:\n{proc.stderr[-2000:]}")
        return proc

    def ms(self, rt: Runtime) -> tuple[float, float]:
        wall, cpu = self.run(rt).stdout.split()[-2:]
        return float(wall) * 1000, float(cpu) * 1000


def _tree_bytes(root: Path) -> tuple[int, int]:
    """(unzipped bytes, zipped bytes at deflate level 6) of a layer's python/ dir."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    with tempfile.TemporaryFile() as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for p in files:
                zf.write(p, str(Path("python") / p.relative_to(root)))
        zipped = fh.tell()
    return sum(p.stat().st_size for p in files), zipped


def import_costs(case: Case, rt: Runtime, runs: int = 5) -> dict[str, float]:
    """`-X importtime` of the case: self time per top-level package, median of `runs`, in ms."""
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        totals: dict[str, float] = defaultdict(float)
        for self_us, _cum, _indent, name in _IMPORTTIME.findall(case.run(rt, "-X", "importtime").stderr):
            totals[name.split(".")[0]] += int(self_us) / 1000
        per_run.append(totals)
    names = {n for t in per_run for n in t}
    return {n: statistics.median(t.get(n, 0.0) for t in per_run) for n in names}


def extra_costs(handler: dict[str, float], baseline: dict[str, float], top: int = 8) -> dict[str, float]:
    """The packages the handler's import spends more on than the baseline's, largest first, in ms."""
    extra = {n: ms - baseline.get(n, 0.0) for n, ms in handler.items()}
    return {n: round(ms, 1) for n, ms in sorted(extra.items(), key=lambda kv: -kv[1])[:top]}


def _ratios(ms: dict[str, float]) -> dict[str, float]:
    return {name: round(v / ms[BASELINE], 2) for name, v in ms.items() if name != BASELINE}


def run(runs: int = RUNS, python: Path = PYTHON313) -> dict[str, Any]:
    if not python.exists():
        raise RuntimeError(f"{python} is missing: `make bench` builds it (.venvs/py313, python3.13)")
    rt = Runtime(python, runtime_site(python))
    fns = handlers()
    with tempfile.TemporaryDirectory(prefix="dropswap-cold-") as tmp:
        with_pyc = build_layer(Path(tmp) / "with", python)
        without_pyc = Path(tmp) / "without" / "python"
        shutil.copytree(with_pyc, without_pyc, ignore=shutil.ignore_patterns("__pycache__"))
        layers = {"bytecode": with_pyc, "no bytecode": without_pyc}
        cases = {f"{_short(h)}, {kind}": Case(h, layer, h.module)
                 for kind, layer in layers.items() for h in fns}
        cases[BASELINE] = Case(fns[0], with_pyc, "boto3, requests")
        for case in cases.values():  # once untimed: the file system cache, as a warm host has it
            case.run(rt)
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):  # interleaved, so drift in the machine's load hits every case alike
            for name, case in cases.items():
                wall_ms, cpu_ms = case.ms(rt)
                times[name].append(wall_ms)
                cpu[name].append(cpu_ms)
        med = {name: round(statistics.median(t), 1) for name, t in times.items()}
        med_cpu = {name: round(statistics.median(t), 1) for name, t in cpu.items()}
        ratio, ratio_cpu = _ratios(med), _ratios(med_cpu)
        slowest = max(fns, key=lambda h: med[f"{_short(h)}, bytecode"])
        base_costs = import_costs(cases[BASELINE], rt)
        # Every handler's, not only the slowest's: where each one's extra time goes.
        by_handler = {_short(h): extra_costs(import_costs(cases[f"{_short(h)}, bytecode"], rt), base_costs)
                      for h in fns}
        costs = by_handler[_short(slowest)]
        sizes = {kind: _tree_bytes(layer) for kind, layer in layers.items()}
    version = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    worst = max(ratio[f"{_short(h)}, bytecode"] for h in fns)
    return {
        "python": version, "runs": runs, "target_ratio": TARGET, "median_ms": med,
        "min_ms": {name: round(min(t), 1) for name, t in times.items()}, "ratio": ratio,
        "median_cpu_ms": med_cpu, "ratio_cpu": ratio_cpu,
        "worst_ratio_with_bytecode": worst, "met": worst <= TARGET,
        "slowest": _short(slowest), "slowest_extra_ms_by_package": costs,
        "extra_ms_by_package": by_handler,
        "layer_bytes": {kind: {"unzipped": u, "zipped": z} for kind, (u, z) in sizes.items()},
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


def summary_row(r: dict[str, Any]) -> str:
    """The REPORT.md summary table's row."""
    each = ", ".join(f"{n.split(',')[0]} {v}×" for n, v in r["ratio"].items() if n.endswith(", bytecode"))
    return (f"| cold import ≤ {r['target_ratio']}× `import boto3, requests` (python{r['python']}, built "
            f"layer with bytecode) | worst {r['worst_ratio_with_bytecode']}× ({each}) | "
            f"{'met' if r['met'] else '**missed**'} |")


def markdown(r: dict[str, Any]) -> str:
    """The "## Cold start" section of benchmarks/REPORT.md."""
    lines = ["## Cold start", "",
             f"Import time of each handler module on Python {r['python']} (Lambda's runtime), in a fresh "
             "process per import with Lambda's path (function code, the layer's python/, then the runtime's "
             "site-packages holding boto3) and the template's environment (parameter defaults, "
             "placeholder resource names); "
             f"median of {r['runs']} interleaved runs after one untimed run. The layer is built for this "
             "machine by `make -C layers/dropswap build-SharedLayer` (the target `sam build` runs), once as "
             "built (with its python3.13 bytecode) and once with the bytecode removed; the process does not "
             "write bytecode (`-B`), as Lambda cannot write to /opt. The baseline `import boto3, requests` "
             "runs with the same path, so requests is the layer's (with bytecode). CPU time is the "
             "process's own during the import: a cross-check that other load on the machine does not "
             "inflate.", "",
             "| import | median ms | min ms | × boto3+requests | median CPU ms | × (CPU) |",
             "|---|---|---|---|---|---|"]
    for name, ms in r["median_ms"].items():
        lines.append(f"| {name} | {ms} | {r['min_ms'][name]} | {r['ratio'].get(name, 1.0)} | "
                     f"{r['median_cpu_ms'][name]} | {r['ratio_cpu'].get(name, 1.0)} |")
    lb = r["layer_bytes"]
    lines += ["", f"Target ≤ {r['target_ratio']}× with the layer as deployed (bytecode): worst "
              f"{r['worst_ratio_with_bytecode']}×, {'met' if r['met'] else '**missed**'}.", "",
              f"What the slowest import ({r['slowest']}, with bytecode) spends beyond the baseline's, by "
              "top-level package (`-X importtime` self times summed per package, median of 5 runs each, "
              "handler minus baseline): "
              + ", ".join(f"{k} +{v} ms" for k, v in r["slowest_extra_ms_by_package"].items()) + ".", "",
              "Each handler (with bytecode), the same measure: its largest extra costs by top-level package, "
              "ms beyond the baseline's.", "",
              "| handler | extra ms by package (`-X importtime`, median of 5) |", "|---|---|",
              *(f"| {h} | " + ", ".join(f"{k} {v:+}" for k, v in c.items()) + " |"
                for h, c in r.get("extra_ms_by_package", {}).items()), "",
              f"The bytecode's price in size: layer {_mib(lb['bytecode']['unzipped'])} unzipped / "
              f"{_mib(lb['bytecode']['zipped'])} zipped with it, {_mib(lb['no bytecode']['unzipped'])} / "
              f"{_mib(lb['no bytecode']['zipped'])} without (this machine's wheels).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    doc = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=doc)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs per case (default {RUNS}, ≥ 9)")
    parser.add_argument("--python", type=Path, default=PYTHON313, help="python3.13 with boto3 (the runtime)")
    args = parser.parse_args(argv)
    result = run(max(args.runs, 9), args.python)
    print(json.dumps(result, indent=2))
    print()
    print(summary_row(result))
    print()
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
