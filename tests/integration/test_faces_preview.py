"""`"mode": "faces"` on the local stack, acting as a user: the faces preview opened in a headless browser
(a screenshot kept in the test output, its pixels checked), and no AKOOL swap call. Marked `integration`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from devkit import photos
from dropswap.domain.faces_preview import BOX_COLOUR
from tests.integration.helpers import SUBMIT_PATHS, User, results_base

pytestmark = pytest.mark.integration

DETECT_PATH = "/interface/detect-api/detect_faces"
# Screenshots stay after the run (tmp_path is pruned): .dropswap/ is the project's git-ignored output.
OUTPUT = Path(__file__).resolve().parents[2] / ".dropswap" / "test-output"
BOX_BGR = np.array([int(BOX_COLOUR[5:7], 16), int(BOX_COLOUR[3:5], 16), int(BOX_COLOUR[1:3], 16)])


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    # `make test` installs Chromium (make browser), so a missing browser fails there instead of skipping
    # the one test that looks at the page as a person would.
    missing = "no headless browser: install Chromium (`make browser`, or apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(missing)
    pytest.skip(missing)


def _grid(rows: int, cols: int) -> photos.Image:
    """The astronaut tiled rows × cols (one face per tile), 384 px tiles."""
    tile = np.asarray(cv2.resize(photos.astronaut_bgr(), (384, 384), interpolation=cv2.INTER_AREA), np.uint8)
    return np.ascontiguousarray(np.vstack([np.hstack([tile] * cols)] * rows), dtype=np.uint8)


def _akool_paths(user: User) -> list[str]:
    return [str(e.get("path")) for e in user.admin("GET", "requests")["requests"]]


def _screenshot(page: Path, out: Path, width: int, height: int) -> photos.Image:
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", f"--window-size={width},{height}", f"--screenshot={out}",
         page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    shot = cv2.imread(str(out), cv2.IMREAD_COLOR)
    assert shot is not None, f"no screenshot at {out}"
    return np.asarray(shot, dtype=np.uint8)


def _is_box(pixels: photos.Image) -> npt.NDArray[np.bool_]:
    return np.asarray(np.abs(pixels.astype(int) - BOX_BGR).max(axis=-1) <= 40)


def test_given_faces_mode_when_dropped_then_preview_renders_numbered_boxes_and_no_swap(
    user: User, tmp_path: Path
) -> None:
    # Given a photo of six faces (2 rows × 3) and a sidecar asking only for its faces
    grid = _grid(2, 3)
    image = user.prefix + "crowd.jpg"
    user.put(image, photos.jpeg_bytes(grid))
    user.put_sidecar(image, {"version": 1, "mode": "faces"})
    # When the job ends
    report = user.wait_report(image)
    # Then it SUCCEEDED with the six faces, numbered left to right (then top to bottom)
    assert report["status"] == "SUCCEEDED" and report["error"] is None, report
    faces = report["faces"]
    assert [f["index"] for f in faces] == list(range(6))
    assert [(f["box"][0], f["box"][1]) for f in faces] == sorted((f["box"][0], f["box"][1]) for f in faces)
    base = results_base(image)  # results/<path>/crowd.jpg: the photo's extension is kept
    assert report["result"] == f"s3://{user.bucket}/{base}.faces.html"
    doc = json.loads(user.s3.get_object(Bucket=user.bucket, Key=base + ".faces.json")["Body"].read())
    assert doc["faces"] == faces
    # And AKOOL got detections only: no swap call at all
    paths = _akool_paths(user)
    assert DETECT_PATH in paths and not set(SUBMIT_PATHS) & set(paths), paths
    assert user.submissions() == []

    # When the user downloads the preview and opens it in a browser, offline (a file, no server)
    page = tmp_path / "crowd.jpg.faces.html"
    page.write_bytes(user.s3.get_object(Bucket=user.bucket, Key=base + ".faces.html")["Body"].read())
    h, w = grid.shape[:2]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = _screenshot(page, OUTPUT / "faces-preview.png", w, h + 200)
    shutil.copy(OUTPUT / "faces-preview.png", tmp_path / "faces-preview.png")
    # Then the photo is drawn at its own size at the top left: away from the faces it is the photo
    photo = cv2.imdecode(np.frombuffer(photos.jpeg_bytes(grid), np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(shot[300:380, 20:360].astype(int) - photo[300:380, 20:360].astype(int)).mean() < 6
    for f in faces:
        x, y, bw, bh = f["box"]
        # And each face's box is drawn in the box colour along its four edges
        edges = {
            "left": shot[y + bh // 3: y + bh - 2, x], "right": shot[y + bh // 3: y + bh - 2, x + bw - 1],
            "top": shot[y, x + bw // 2: x + bw - 2], "bottom": shot[y + bh - 1, x + 2: x + bw - 2],
        }
        for edge, pixels in edges.items():
            assert _is_box(pixels).mean() > 0.9, (f["index"], edge)
        # And its number's label (top left inside the box) differs from the photo there, with light
        # pixels (the digit) on the box colour
        label = shot[y + 2: y + 18, x + 2: x + 14]
        assert np.abs(label.astype(int) - photo[y + 2: y + 18, x + 2: x + 14].astype(int)).mean() > 40
        assert _is_box(label).mean() > 0.3 and (label.min(axis=-1) > 200).any(), f["index"]
        # And inside the box, past the label, the face is still the photo
        inner = (slice(y + bh // 2, y + bh - 6), slice(x + bw // 3, x + bw - 6))
        assert np.abs(shot[inner].astype(int) - photo[inner].astype(int)).mean() < 10, f["index"]


def test_given_all_over_ten_faces_then_rejected_with_count_and_how_to_split(user: User) -> None:
    # Given a photo of ten faces (2 rows × 5; the emulator's detector finds all ten) and "all" (v3 takes 8)
    image = user.prefix + "ten.jpg"
    user.put(user.prefix + "faces/hopper.jpg", photos.jpeg_bytes(photos.grace_hopper_bgr()))
    user.put(image, photos.jpeg_bytes(_grid(2, 5)))
    user.put_sidecar(image, {"version": 1, "swaps": [{"source": "faces/hopper.jpg", "target": "all"}]})
    # When the job ends / Then REJECTED saying how many faces there are and how to split the job
    report = user.wait_report(image)
    assert report["status"] == "REJECTED" and report["error"]["code"] == "LIMIT", report
    message = report["error"]["message"]
    assert message.startswith('swaps[0].target: "all" means 10 faces in this photo'), message
    assert "into 2 rounds" in message and "list faces 0–7 as swaps by index" in message
    assert "a sidecar for faces 8–9" in message
    # And no swap was sent to AKOOL
    assert user.submissions() == []


def test_given_img_1_jpg_and_png_in_faces_mode_then_their_faces_files_coexist(user: User) -> None:
    # Given IMG_1.jpg and IMG_1.png in one folder, each with a faces-mode sidecar
    pictures = {"IMG_1.jpg": photos.jpeg_bytes(photos.astronaut_bgr()),
                "IMG_1.png": cv2.imencode(".png", photos.collage_bgr())[1].tobytes()}
    for name, body in pictures.items():
        user.put(user.prefix + name, body, "image/png" if name.endswith(".png") else "image/jpeg")
        user.put_sidecar(user.prefix + name, {"version": 1, "mode": "faces"})
    # When both jobs end
    reports = {name: user.wait_report(user.prefix + name) for name in pictures}
    # Then each has its own faces list and preview, named after the photo with its extension
    for name, report in reports.items():
        base = results_base(user.prefix + name)
        assert report["status"] == "SUCCEEDED" and report["result"] == f"s3://{user.bucket}/{base}.faces.html"
        doc = json.loads(user.s3.get_object(Bucket=user.bucket, Key=base + ".faces.json")["Body"].read())
        assert doc["image"] == f"s3://{user.bucket}/{user.prefix}{name}" and doc["faces"] == report["faces"]
    # And the astronaut (one face) and the collage (two) were not mixed up
    assert [len(reports[n]["faces"]) for n in pictures] == [1, 2]
