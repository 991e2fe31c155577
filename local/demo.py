"""`make demo`: the whole pipeline, offline, on the local stack, with public-domain sample photos.

Drops these into the drop bucket exactly as a user would (boto3 against the local endpoint):
1. a single-face Pro swap (Grace Hopper's face onto the astronaut), the sidecar uploaded first;
2. a two-face v3 swap in one collage (the two faces exchanged);
3. a deliberately wrong manifest (a plain-http source and an unknown engine: both named in one REJECTED
   report; its "Largest" is read as "largest");
4. a faces preview (`"mode": "faces"`) of the collage: its faces numbered, no swap;
5. a folder manifest over three photos, two uploaded before it and one after: one job and report each.
Before any upload, `dropswap plan` runs over the same files (the stack's own checks, no AKOOL call) and
its table is printed; after, each photo's outcome is compared with the plan. Waits with a progress line,
collects each ended job's completion event (the stack's events feed), writes demo-out/index.html
(before/after side by side, the faces preview inline, the events per photo) and the result files, prints a
summary and exits non-zero if any photo did not end as it should, did not get exactly one event, or ended
otherwise than the plan said.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from devkit import photos
from devkit.template import ROOT
from dropswap.domain import keys
from dropswap.domain.job_events import DETAIL_TYPES
from dropswap_cli import layout, plan
from dropswap_cli.plan import PlannedJob
from local.native_stderr import native_stderr_to
from local.stack import LocalStack, StackConfig

OUT = ROOT / "demo-out"
# How each outcome of `dropswap plan` ends: a swap or a faces preview succeeds (the demo's photos all have
# the faces their manifests ask for), a rejection is a REJECTED report.
PLAN_ENDS = {"SWAP": "SUCCEEDED", "FACES": "SUCCEEDED", "REJECTED": "REJECTED", "WAITING": "WAITING"}
PREFIX = "inbox/demo/"


@dataclass(frozen=True)
class DemoJob:
    title: str
    image_key: str
    manifest: dict[str, Any]
    expect: str  # SUCCEEDED or REJECTED
    sidecar_first: bool = False
    photo: str = "astronaut"  # a key of PHOTOS

    @property
    def sidecar_key(self) -> str:
        return keys.sidecar_key_for_image(self.image_key)

    @property
    def report_key(self) -> str:
        return keys.report_key(self.image_key)


JOBS = [
    DemoJob(
        "Single face, Pro engine: Grace Hopper's face on the astronaut (sidecar uploaded first)",
        PREFIX + "astronaut.jpg",
        {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}], "engine": "auto",
         "metadata": {"order": "demo-1"}},
        "SUCCEEDED",
        sidecar_first=True,
    ),
    DemoJob(
        "Two faces in one photo, v3 engine: the faces exchanged",
        PREFIX + "duo.jpg",
        {
            "version": 1,
            "swaps": [
                {"source": "faces/astronaut.jpg", "target": 0},
                {"source": "faces/hopper.jpg", "target": 1},
            ],
            "engine": "auto",
        },
        "SUCCEEDED",
        photo="collage",
    ),
    DemoJob(
        "Faces preview (\"mode\": \"faces\"): the collage's faces numbered as a target counts them, no swap",
        PREFIX + "pick/duo.jpg",
        {"version": 1, "mode": "faces"},
        "SUCCEEDED",
        photo="collage",
    ),
    DemoJob(
        "A wrong manifest: a plain-http source and an unknown engine, both reported at once "
        "(\"Largest\" is fine: keywords are read in any case)",
        PREFIX + "wrong.jpg",
        {"version": 1, "swaps": [{"source": "http://example.com/face.jpg", "target": "Largest"}],
         "engine": "turbo"},
        "REJECTED",
    ),
]


@dataclass(frozen=True)
class FolderDemo:
    """One `_folder.faceswap.json` over the photos directly in its folder: `before` are there when it
    arrives (found by listing the folder), `after` are uploaded after it (found on upload)."""

    title: str
    folder: str
    manifest: dict[str, Any]
    before: tuple[tuple[str, str], ...]  # (name, a key of PHOTOS)
    after: tuple[tuple[str, str], ...]

    @property
    def manifest_key(self) -> str:
        return self.folder + keys.FOLDER_MANIFEST

    @property
    def photo_keys(self) -> list[str]:
        return [self.folder + name for name, _ in (*self.before, *self.after)]


FOLDER = FolderDemo(
    "A folder manifest: one _folder.faceswap.json puts Grace Hopper's face on the largest face of every "
    "photo in trip/ (two photos uploaded before it, one after)",
    PREFIX + "trip/",
    {"version": 1, "swaps": [{"source": "../faces/hopper.jpg", "target": "largest"}],
     "metadata": {"album": "trip"}},
    before=(("one.jpg", "astronaut"), ("two.jpg", "astronaut-small")),
    after=(("three.jpg", "astronaut-mirrored"),),
)

PHOTOS: dict[str, Callable[[], photos.Image]] = {
    "astronaut": photos.astronaut_bgr,
    "hopper": photos.grace_hopper_bgr,
    "collage": photos.collage_bgr,
    "astronaut-mirrored": lambda: np.ascontiguousarray(photos.astronaut_bgr()[:, ::-1]),
    "astronaut-small": lambda: photos.resize_long_side(photos.astronaut_bgr(), 400),
}


def expected() -> dict[str, str]:
    """Every photo of the demo and the status its report must end with."""
    found = {job.image_key: job.expect for job in JOBS}
    found.update(dict.fromkeys(FOLDER.photo_keys, "SUCCEEDED"))
    return found


def demo_files() -> list[tuple[str, bytes, str]]:
    """Every file of the demo as (key, bytes, content type), in the order the demo uploads them."""
    encoded = {name: photos.jpeg_bytes(make()) for name, make in PHOTOS.items()}
    files = [(PREFIX + "faces/hopper.jpg", encoded["hopper"], "image/jpeg"),
             (PREFIX + "faces/astronaut.jpg", encoded["astronaut"], "image/jpeg")]
    for job in JOBS:
        pair = [(job.image_key, encoded[job.photo], "image/jpeg"),
                (job.sidecar_key, json.dumps(job.manifest, indent=2).encode(), "application/json")]
        files += reversed(pair) if job.sidecar_first else pair
    files += [(FOLDER.folder + name, encoded[photo], "image/jpeg") for name, photo in FOLDER.before]
    files.append((FOLDER.manifest_key, json.dumps(FOLDER.manifest, indent=2).encode(), "application/json"))
    files += [(FOLDER.folder + name, encoded[photo], "image/jpeg") for name, photo in FOLDER.after]
    return files


def plan_files(files: list[tuple[str, bytes, str]], bucket: str, folder: Path) -> list[PlannedJob]:
    """`dropswap plan` over the demo's files, laid out in `folder` as they will be under inbox/."""
    for key, body, _ in files:
        path = folder / key.removeprefix(keys.INBOX)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return plan.plan(plan.LocalDrop(folder, keys.INBOX), plan.Limits(bucket=bucket))


def upload_inputs(stack: LocalStack, files: list[tuple[str, bytes, str]]) -> dict[str, bytes]:
    s3 = stack.client("s3")
    for key, body, ctype in files:
        s3.put_object(Bucket=stack.bucket, Key=key, Body=body, ContentType=ctype)
    return {key: body for key, body, ctype in files if ctype.startswith("image/")}


def wait_for_reports(stack: LocalStack, timeout: float) -> dict[str, dict[str, Any]]:
    s3 = stack.client("s3")
    wanted = list(expected())
    reports: dict[str, dict[str, Any]] = {}
    start = time.monotonic()
    while time.monotonic() - start < timeout and len(reports) < len(wanted):
        for image_key in wanted:
            if image_key in reports:
                continue
            try:
                body = s3.get_object(Bucket=stack.bucket, Key=keys.report_key(image_key))["Body"].read()
            except s3.exceptions.NoSuchKey:
                continue
            report = json.loads(body)
            if report.get("status") in ("SUCCEEDED", "FAILED", "REJECTED"):
                reports[image_key] = report
        done = len(reports)
        print(f"\r  waiting for the pipeline: {done}/{len(wanted)} photos finished, "
              f"{time.monotonic() - start:5.1f}s", end="", flush=True)
        if done < len(wanted):
            time.sleep(0.5)
    print()
    return reports


def _pair(stack: LocalStack, out: Path, stem: str, before: bytes, report: dict[str, Any]) -> str:
    """A photo before and after (its swapped image, its faces preview inline, or "no result")."""
    (out / f"{stem}-before.jpg").write_bytes(before)
    (out / f"{stem}-report.json").write_text(json.dumps(report, indent=2))
    after_html = "<div class='none'>no result</div>"
    preview_html = ""
    result = layout.key_of(str(report.get("result") or ""), stack.bucket)
    if result and report.get("status") == "SUCCEEDED":
        body = stack.client("s3").get_object(Bucket=stack.bucket, Key=result)["Body"].read()
        if result.endswith(".faces.html"):
            # The preview as the user downloads it: a self-contained page, framed at full width (it
            # draws the photo at its own pixel size, so the numbered boxes sit on the faces).
            (out / f"{stem}-faces.html").write_bytes(body)
            preview_html = f"<iframe src='{stem}-faces.html' title='faces preview'></iframe>"
        else:
            (out / f"{stem}-after.jpg").write_bytes(body)
            after_html = f"<img src='{stem}-after.jpg' alt='after'>"
    status = html.escape(str(report.get("status")))
    error = report.get("error")
    err_html = (f"<p class='error'><b>{html.escape(str(error.get('code')))}</b>: "
                f"{html.escape(str(error.get('message')))}</p>") if isinstance(error, dict) else ""
    faces = report.get("faces") or []
    faces_html = ("<p>faces: " + ", ".join(
        html.escape(f"{f.get('index')} at {f.get('box')}" + (f" ← {f['source']}" if f.get("source") else ""))
        for f in faces) + "</p>") if faces else ""
    engine = html.escape(str((report.get("akool") or {}).get("engine", "—")))
    head = f"""
  <p>status <span class='s-{status}'>{status}</span> · engine {engine}</p>
  {err_html}{faces_html}"""
    if preview_html:
        return head + preview_html
    return head + f"""
  <div class='pair'><figure><img src='{stem}-before.jpg' alt='before'><figcaption>before</figcaption></figure>
  <figure>{after_html}<figcaption>after</figcaption></figure></div>"""


def _events_html(events: list[dict[str, Any]]) -> str:
    if not events:
        return "<p class='events'>events: none received</p>"
    items = "".join(
        f"<li><b>{html.escape(str(e.get('detail-type')))}</b> · id "
        f"<code>{html.escape(str(e.get('detail', {}).get('metadata', {}).get('id')))}</code> · metadata "
        f"<code>{html.escape(json.dumps(e.get('detail', {}).get('data', {}).get('metadata')))}</code></li>"
        for e in events
    )
    return f"<div class='events'>events on DropswapEventBus:<ul>{items}</ul></div>"


def write_page(
    stack: LocalStack,
    images: dict[str, bytes],
    reports: dict[str, dict[str, Any]],
    events: dict[str, list[dict[str, Any]]],
    out: Path = OUT,
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    missing = {"status": "NO REPORT (timed out)"}
    rows: list[str] = []
    for i, job in enumerate(JOBS):
        report = reports.get(job.image_key, missing)
        timings = html.escape(json.dumps(report.get("timings", {})))
        rows.append(f"""
<section>
  <h2>{html.escape(job.title)}</h2>
  <p><code>{html.escape(job.image_key)}</code> · expected {job.expect}</p>
  {_pair(stack, out, str(i), images[job.image_key], report)}
  {_events_html(events.get(job.image_key, []))}
  <details><summary>manifest and timings</summary><pre>{html.escape(json.dumps(job.manifest, indent=2))}</pre>
  <pre>{timings}</pre></details>
</section>""")
    photos_html = "".join(
        f"<h3><code>{html.escape(key)}</code></h3>"
        + _pair(stack, out, f"folder-{n}", images[key], reports.get(key, missing))
        + _events_html(events.get(key, []))
        for n, key in enumerate(FOLDER.photo_keys)
    )
    rows.append(f"""
<section>
  <h2>{html.escape(FOLDER.title)}</h2>
  <p><code>{html.escape(FOLDER.manifest_key)}</code>:</p>
  <pre>{html.escape(json.dumps(FOLDER.manifest, indent=2))}</pre>
  {photos_html}
</section>""")
    page = out / "index.html"
    page.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dropswap demo</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; background: #fafafa; color: #222; }}
section {{ background: #fff; border: 1px solid #ddd; border-radius: 8px;
  padding: 1rem 1.5rem; margin: 1rem 0; }}
.pair {{ display: flex; gap: 1rem; }} figure {{ margin: 0; flex: 1 1 0; min-width: 0; }}
img {{ width: 100%; max-height: 420px; object-fit: contain; object-position: left; border-radius: 4px; }}
iframe {{ width: 100%; height: 820px; border: 1px solid #ddd; border-radius: 4px; }}
.none {{ width: 300px; height: 200px; display: grid; place-items: center; background: #eee; }}
.s-SUCCEEDED {{ color: #0a7a2f; font-weight: bold; }}
.s-REJECTED, .s-FAILED {{ color: #b00020; font-weight: bold; }}
.events {{ font-size: .9em; color: #444; }} .events ul {{ margin: .2rem 0; }}
.error {{ background: #fff4f4; border-left: 4px solid #b00020; padding: .5rem; font-family: monospace; }}
</style></head><body>
<h1>dropswap demo</h1>
<p>Photos dropped into <code>s3://{html.escape(stack.bucket)}/{PREFIX}</code> on the local stack
(template.yaml deployed to MiniStack with IAM enforced, and the AKOOL emulator; offline).
Sample photos: the astronaut Eileen Collins (NASA, scikit-image) and
Grace Hopper (US Navy, matplotlib), both public domain.</p>
{''.join(rows)}
</body></html>
""", encoding="utf-8")
    return page


def wait_for_events(
    stack: LocalStack, image_keys: list[str], since: datetime, timeout: float
) -> dict[str, list[dict[str, Any]]]:
    """The completion events the stack's feed received since `since` (.dropswap/events.jsonl, which earlier
    stacks appended to too: a rule on DropswapEventBus to a queue), by photo; each ended job's event comes
    shortly after its report."""
    feed = stack.config.state_dir / "events.jsonl"
    # EventBridge's `time` has whole seconds.
    after = (since - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, list[dict[str, Any]]] = {}
        lines = feed.read_text(encoding="utf-8").splitlines() if feed.exists() else []
        for event in map(json.loads, lines):
            key = event.get("detail", {}).get("data", {}).get("image", {}).get("key")
            # Completion events only: `Job Submitted` (and `Job Waiting`) come earlier for the same job.
            completion = event.get("detail-type") in DETAIL_TYPES.values()
            if completion and key in image_keys and str(event.get("time", "")) >= after:
                found.setdefault(key, []).append(event)
        if len(found) == len(image_keys) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def run(
    stack: LocalStack, timeout: float, out: Path = OUT
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], Path, list[PlannedJob]]:
    """Plan the demo's inputs, drop them on a running stack, wait for the reports and their events, write
    the page."""
    files = demo_files()
    with tempfile.TemporaryDirectory(prefix="dropswap-plan-") as folder:
        planned = plan_files(files, stack.bucket, Path(folder))
    print()
    plan.show(planned, f"the demo's {len(files)} files, before upload", Console(width=110))
    since = datetime.now(UTC)
    images = upload_inputs(stack, files)
    print(f"  uploaded {len(expected())} photos with their manifests to s3://{stack.bucket}/{PREFIX}")
    reports = wait_for_reports(stack, timeout)
    events = wait_for_events(stack, list(reports), since, timeout=20.0)
    return reports, events, write_page(stack, images, reports, events, out), planned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo")
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--mode", choices=["realistic", "instant"], default="realistic")
    args = parser.parse_args(argv)
    started = time.monotonic()
    print("dropswap demo: deploying template.yaml to the local stack (MiniStack, AKOOL emulator)…",
          flush=True)
    config = StackConfig(mode="instant" if args.mode == "instant" else "realistic")
    with native_stderr_to(config.state_dir / "logs" / "demo-stderr.log"), LocalStack(config) as stack:
        print(f"  stack up in {time.monotonic() - started:.1f}s; AKOOL emulator at {stack.akool_url}")
        reports, events, page, planned = run(stack, args.timeout)
    said = {job.photo: PLAN_ENDS[job.outcome] for job in planned}
    print("\nSummary:")
    ok = True
    for image_key, expect in expected().items():
        report = reports.get(image_key, {})
        status = report.get("status", "NO REPORT")
        received = len(events.get(image_key, []))
        # one completion event per ended job, and the end `dropswap plan` said before the upload
        good = status == expect and received == 1 and said.get(image_key) == status
        ok &= good
        line = (f"  {'ok ' if good else 'BAD'} {status:<10} {image_key} ({received} event(s), "
                f"plan: {said.get(image_key, 'no job')})")
        if report.get("error"):
            line += f"\n        {report['error'].get('message')}"
        print(line)
    print(f"\nBefore/after page: {page}  (total {time.monotonic() - started:.1f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
