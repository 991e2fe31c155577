"""`make demo`: the whole pipeline, offline, on the local stack, with public-domain sample photos.

Drops three jobs into the drop bucket exactly as a user would (boto3 against the local endpoint):
1. a single-face Pro swap (Grace Hopper's face onto the astronaut), the sidecar uploaded first;
2. a two-face v3 swap in one collage (the two faces exchanged);
3. a deliberately wrong manifest (a point that is on no face), which must be REJECTED with a message.
Waits with a progress line, writes demo-out/index.html (before/after side by side) and the result
files, prints a summary and exits non-zero if any job did not end as it should.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dropswap import keys
from local.native_stderr import native_stderr_to
from local.stack import LocalStack, StackConfig
from local.template import ROOT
from tests import photos

OUT = ROOT / "demo-out"
PREFIX = "inbox/demo/"


@dataclass(frozen=True)
class DemoJob:
    title: str
    image_key: str
    manifest: dict[str, Any]
    expect: str  # SUCCEEDED or REJECTED
    sidecar_first: bool = False

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
        {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "largest"}], "engine": "auto"},
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
    ),
    DemoJob(
        "A wrong manifest: the point (5, 5) is on no face",
        PREFIX + "wrong.jpg",
        {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": {"x": 5, "y": 5}}]},
        "REJECTED",
    ),
]


def upload_inputs(stack: LocalStack) -> dict[str, bytes]:
    s3 = stack.client("s3")
    images = {
        PREFIX + "faces/hopper.jpg": photos.jpeg_bytes(photos.grace_hopper_bgr()),
        PREFIX + "faces/astronaut.jpg": photos.jpeg_bytes(photos.astronaut_bgr()),
        PREFIX + "astronaut.jpg": photos.jpeg_bytes(photos.astronaut_bgr()),
        PREFIX + "duo.jpg": photos.jpeg_bytes(photos.collage_bgr()),
        PREFIX + "wrong.jpg": photos.jpeg_bytes(photos.astronaut_bgr()),
    }
    for key in (PREFIX + "faces/hopper.jpg", PREFIX + "faces/astronaut.jpg"):
        s3.put_object(Bucket=stack.bucket, Key=key, Body=images[key], ContentType="image/jpeg")
    for job in JOBS:
        sidecar = json.dumps(job.manifest, indent=2).encode()
        uploads = [(job.image_key, images[job.image_key], "image/jpeg"),
                   (job.sidecar_key, sidecar, "application/json")]
        if job.sidecar_first:
            uploads.reverse()
        for key, body, ctype in uploads:
            s3.put_object(Bucket=stack.bucket, Key=key, Body=body, ContentType=ctype)
    return images


def wait_for_reports(stack: LocalStack, timeout: float) -> dict[str, dict[str, Any]]:
    s3 = stack.client("s3")
    reports: dict[str, dict[str, Any]] = {}
    start = time.monotonic()
    while time.monotonic() - start < timeout and len(reports) < len(JOBS):
        for job in JOBS:
            if job.image_key in reports:
                continue
            try:
                body = s3.get_object(Bucket=stack.bucket, Key=job.report_key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                continue
            report = json.loads(body)
            if report.get("status") in ("SUCCEEDED", "FAILED", "REJECTED"):
                reports[job.image_key] = report
        done = len(reports)
        print(f"\r  waiting for the pipeline: {done}/{len(JOBS)} jobs finished, "
              f"{time.monotonic() - start:5.1f}s", end="", flush=True)
        if done < len(JOBS):
            time.sleep(0.5)
    print()
    return reports


def write_page(stack: LocalStack, images: dict[str, bytes], reports: dict[str, dict[str, Any]]) -> Path:
    s3 = stack.client("s3")
    OUT.mkdir(exist_ok=True)
    rows: list[str] = []
    for i, job in enumerate(JOBS):
        before = OUT / f"{i}-before.jpg"
        before.write_bytes(images[job.image_key])
        report = reports.get(job.image_key, {"status": "NO REPORT (timed out)"})
        (OUT / f"{i}-report.json").write_text(json.dumps(report, indent=2))
        after_html = "<div class='none'>no result</div>"
        result = report.get("result")
        if result and report.get("status") == "SUCCEEDED":
            key = str(result).split("/", 3)[3] if str(result).startswith("s3://") else str(result)
            after = OUT / f"{i}-after.jpg"
            after.write_bytes(s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
            after_html = f"<img src='{after.name}' alt='after'>"
        status = html.escape(str(report.get("status")))
        error = report.get("error")
        err_html = (f"<p class='error'><b>{html.escape(str(error.get('code')))}</b>: "
                    f"{html.escape(str(error.get('message')))}</p>") if isinstance(error, dict) else ""
        timings = html.escape(json.dumps(report.get("timings", {})))
        engine = html.escape(str(report.get("akool", {}).get("engine", "—")))
        rows.append(f"""
<section>
  <h2>{html.escape(job.title)}</h2>
  <p>status <span class='s-{status}'>{status}</span> · engine {engine} · expected {job.expect}</p>
  {err_html}
  <div class='pair'><figure><img src='{before.name}' alt='before'><figcaption>before</figcaption></figure>
  <figure>{after_html}<figcaption>after</figcaption></figure></div>
  <details><summary>manifest and timings</summary><pre>{html.escape(json.dumps(job.manifest, indent=2))}</pre>
  <pre>{timings}</pre></details>
</section>""")
    page = OUT / "index.html"
    page.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dropswap demo</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; background: #fafafa; color: #222; }}
section {{ background: #fff; border: 1px solid #ddd; border-radius: 8px;
  padding: 1rem 1.5rem; margin: 1rem 0; }}
.pair {{ display: flex; gap: 1rem; }} figure {{ margin: 0; flex: 1 1 0; min-width: 0; }}
img {{ width: 100%; max-height: 420px; object-fit: contain; object-position: left; border-radius: 4px; }}
.none {{ width: 300px; height: 200px; display: grid; place-items: center; background: #eee; }}
.s-SUCCEEDED {{ color: #0a7a2f; font-weight: bold; }}
.s-REJECTED, .s-FAILED {{ color: #b00020; font-weight: bold; }}
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
        images = upload_inputs(stack)
        print(f"  uploaded {len(JOBS)} photos with sidecars to s3://{stack.bucket}/{PREFIX}")
        reports = wait_for_reports(stack, args.timeout)
        page = write_page(stack, images, reports)
    print("\nSummary:")
    ok = True
    for job in JOBS:
        report = reports.get(job.image_key, {})
        status = report.get("status", "NO REPORT")
        good = status == job.expect
        ok &= good
        line = f"  {'ok ' if good else 'BAD'} {status:<10} {job.image_key}"
        if report.get("error"):
            line += f"\n        {report['error'].get('message')}"
        print(line)
    print(f"\nBefore/after page: {page}  (total {time.monotonic() - started:.1f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
