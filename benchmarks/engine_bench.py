"""Face-engine benchmark: detect/swap latency at 512 and 2000 px (long side) and identity transfer.

Run: `python -m benchmarks.engine_bench`. `run()` returns the numbers as a dict for reports.
Identity is measured with dlib's 128-d face descriptor (test/benchmark-only dependency, non-commercial
models; never used by the engine itself): after swapping Grace Hopper's face onto the astronaut, the result
should be nearer to Hopper (the source) than to the astronaut (the target). dlib's "same person" threshold
is about 0.6.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from devkit import photos
from local.emulator import engine

Image = npt.NDArray[np.uint8]
SIZES = (512, 2000)
RUNS = 5


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def _embedder() -> Callable[[Image, tuple[int, int, int, int] | None], npt.NDArray[np.float64]]:
    import dlib
    import face_recognition_models as models

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(models.pose_predictor_model_location())
    recogniser = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def embed(image: Image, near: tuple[int, int, int, int] | None = None) -> npt.NDArray[np.float64]:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        rects = list(detector(rgb, 1))
        if not rects:
            raise RuntimeError("dlib found no face")
        if near is None:
            rect = max(rects, key=lambda r: r.area())
        else:
            cx, cy = near[0] + near[2] / 2, near[1] + near[3] / 2
            rect = min(rects, key=lambda r: (r.center().x - cx) ** 2 + (r.center().y - cy) ** 2)
        return np.array(recogniser.compute_face_descriptor(rgb, predictor(rgb, rect)), dtype=np.float64)

    return embed


def _one_face(image: Image) -> engine.Face:
    faces = engine.detect(image)
    if len(faces) != 1:
        raise RuntimeError(f"expected one face, found {len(faces)}")
    return faces[0]


def run(runs: int = RUNS) -> dict[str, Any]:
    """Latency (median ms of `runs`) per size and identity distances."""
    result: dict[str, Any] = {"runs": runs, "detect_ms": {}, "swap_ms": {}, "faces_px": {}}

    start = time.perf_counter()
    engine.detect(photos.astronaut_bgr())  # builds the mediapipe graphs once per process
    result["first_detect_ms"] = round((time.perf_counter() - start) * 1000, 1)

    for size in SIZES:
        target = photos.resize_long_side(photos.astronaut_bgr(), size)
        source = photos.resize_long_side(photos.grace_hopper_bgr(), size)
        target_face, source_face = _one_face(target), _one_face(source)
        key = f"{size}px"
        result["faces_px"][key] = {
            "target_width": target_face.region[2],
            "source_width": source_face.region[2],
        }
        result["detect_ms"][key] = _median_ms(partial(engine.detect, target), runs)
        result["swap_ms"][key] = _median_ms(
            partial(engine.swap, target, target_face, source, source_face), runs
        )

    embed = _embedder()
    astronaut, hopper, collage = photos.astronaut_bgr(), photos.grace_hopper_bgr(), photos.collage_bgr()
    e_astronaut, e_hopper = embed(astronaut, None), embed(hopper, None)
    identity: dict[str, dict[str, float]] = {}

    target_face, source_face = _one_face(astronaut), _one_face(hopper)
    swapped = engine.swap(astronaut, target_face, hopper, source_face)
    e_swapped = embed(swapped, target_face.region)
    identity["astronaut<-hopper"] = {
        "to_source": round(float(np.linalg.norm(e_swapped - e_hopper)), 3),
        "to_target": round(float(np.linalg.norm(e_swapped - e_astronaut)), 3),
    }

    right = engine.detect(collage)[1]
    swapped = engine.swap(collage, right, hopper, source_face)
    e_swapped = embed(swapped, right.region)
    identity["collage_right<-hopper"] = {
        "to_source": round(float(np.linalg.norm(e_swapped - e_hopper)), 3),
        "to_target": round(float(np.linalg.norm(e_swapped - embed(collage, right.region))), 3),
    }

    # The reverse direction: the astronaut's face onto Hopper.
    swapped = engine.swap(hopper, source_face, astronaut, target_face)
    e_swapped = embed(swapped, source_face.region)
    identity["hopper<-astronaut"] = {
        "to_source": round(float(np.linalg.norm(e_swapped - e_astronaut)), 3),
        "to_target": round(float(np.linalg.norm(e_swapped - e_hopper)), 3),
    }
    result["identity"] = identity
    result["identity_baseline_source_vs_target"] = round(float(np.linalg.norm(e_hopper - e_astronaut)), 3)
    return result


def main() -> None:
    r = run()
    print(
        f"face engine benchmark (median of {r['runs']} runs; first detect incl. model load "
        f"{r['first_detect_ms']} ms)"
    )
    print(f"{'size':>8} {'detect ms':>10} {'swap ms':>9} {'target face px':>15}")
    for key in r["detect_ms"]:
        width = r["faces_px"][key]["target_width"]
        print(f"{key:>8} {r['detect_ms'][key]:>10} {r['swap_ms'][key]:>9} {width:>15}")
    print(
        f"identity (dlib distance; < 0.6 ~ same person; source vs target before swap: "
        f"{r['identity_baseline_source_vs_target']})"
    )
    for name, d in r["identity"].items():
        print(f"  {name:<24} to source {d['to_source']:.3f}   to target {d['to_target']:.3f}")


if __name__ == "__main__":
    main()
