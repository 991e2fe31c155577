"""Planning a swap: which faces, which engine, and what AKOOL is sent. Pure rules, no I/O.

Detected faces come in as data (akool_swap.py asks AKOOL's detector for them: the photo first, then every
source, so no swap credit is spent on a photo or a face image without a face), in this order:
1. `shortcut`: one "largest" swap on Pro needs no landmarks (Pro picks the dominant face itself), only a face;
2. `pick`: each swap's target faces (faces.select), each face replaced at most once, the engine
   (`auto`: Pro for exactly one pair, v3 otherwise) and AKOOL's limits on faces per request;
3. `source_face`: the face a source gives (its largest), NO_FACE without one; `Picked.needs_source_opts`:
   whether AKOOL is sent its landmarks (the opts rule);
4. `request`: the target and source items AKOOL gets, and the summary kept on the job record.
Every problem is a ManifestError or FaceSelectionError naming the manifest field (the job is REJECTED).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.faces import (
    DetectedFace,
    FaceSelectionError,
    SelectedFace,
    describe_faces,
    largest,
    order_faces,
    select,
)
from dropswap.domain.manifest import Engine as AskedEngine
from dropswap.domain.manifest import Manifest, ManifestError, Swap

# AKOOL's limits per request (docs/akool.md §2): faces v3 replaces in one image, pairs Pro takes.
V3_MAX_FACES = 8
PRO_MAX_PAIRS = 50

Engine = Literal["pro", "v3"]


@dataclass(frozen=True)
class Plan:
    """The swap as AKOOL gets it: items of `path` (+ `opts`), and per pair what was chosen."""

    engine: Engine
    targets: list[dict[str, str]]
    sources: list[dict[str, str]]
    summary: list[dict[str, Any]]
    faces_detected: int | None = None
    detect_calls: int = 0  # AKOOL detect_faces requests made for this plan (akool_swap.Detector)

    def request_summary(self, face_enhance: bool) -> dict[str, Any]:
        """What the job record keeps of the request (never the presigned URLs)."""
        return {
            "engine": self.engine,
            "face_enhance": face_enhance,
            "faces_detected": self.faces_detected,
            "detect_calls": self.detect_calls,
            "pairs": self.summary,
        }


@dataclass(frozen=True)
class Picked:
    """The faces chosen in the target photo, swap by swap, and the engine that will replace them."""

    engine: Engine
    pairs: tuple[tuple[Swap, SelectedFace], ...]
    faces_detected: int

    @property
    def needs_source_opts(self) -> bool:
        # The opts rule (docs/akool.md §2b): with more than one pair every item of both arrays needs
        # opts; v3 expects them always. (Every source is detected anyway: it must show a face.)
        return self.engine == "v3" or len(self.pairs) > 1


def shortcut(
    manifest: Manifest, detected: Sequence[DetectedFace], image_url: str, source_urls: Mapping[int, str]
) -> Plan | None:
    """The plan of a manifest that needs no landmarks, else None; NO_FACE when the photo has no face."""
    swaps = manifest.swaps
    if manifest.engine in ("pro", "auto") and len(swaps) == 1 and swaps[0].target == "largest":
        # Pro picks the dominant face itself and needs no opts for one pair; a face must be there.
        only = swaps[0]
        ordered = order_faces(detected)
        [chosen] = select(ordered, "largest", f"{only.field}.target")
        # The report names the face replaced: the largest detection found (Pro swaps the dominant face).
        return Plan(
            "pro",
            targets=[{"path": image_url}],
            sources=[{"path": source_urls[only.index]}],
            summary=[{"swap": only.index, "source": only.source.raw, "face": chosen.index,
                      "region": _box(chosen.face)}],
            faces_detected=len(ordered),
        )
    return None


def engine_for(asked: AskedEngine, pairs: int) -> Engine:
    """The engine a job runs on: what the manifest asks, `auto` being Pro for exactly one face pair."""
    return "pro" if asked == "pro" or (asked == "auto" and pairs == 1) else "v3"


def pick(manifest: Manifest, detected: Sequence[DetectedFace]) -> Picked:
    """Each swap's faces among those detected in the target photo, and the engine for them."""
    ordered = order_faces(detected)
    pairs: list[tuple[Swap, SelectedFace]] = []
    taken: dict[int, int] = {}
    for swap in manifest.swaps:
        fld = f"{swap.field}.target"
        for chosen in select(ordered, swap.target, fld):
            if chosen.index in taken:
                raise FaceSelectionError(
                    fld,
                    f"face {chosen.index} {chosen.face.region} is already replaced by "
                    f"swaps[{taken[chosen.index]}]; each face can be swapped only once",
                    code=ErrorCode.DUPLICATE_FACE,
                )
            taken[chosen.index] = swap.index
            pairs.append((swap, chosen))

    engine = engine_for(manifest.engine, len(pairs))
    if engine == "v3" and len(pairs) > V3_MAX_FACES:
        whole = next((s for s in manifest.swaps if s.target == "all"), None)
        if whole is not None:
            raise _split_all(whole, ordered)
        raise ManifestError(
            "swaps",
            f"{len(pairs)} faces selected; AKOOL v3 replaces at most {V3_MAX_FACES} faces in one image, "
            'so select at most 8 (by index or point instead of "all")',
            code=ErrorCode.LIMIT,
        )
    if engine == "pro" and len(pairs) > PRO_MAX_PAIRS:
        raise ManifestError(
            "swaps",
            f"{len(pairs)} faces selected; Face Swap Pro takes at most {PRO_MAX_PAIRS}",
            code=ErrorCode.LIMIT,
        )
    return Picked(engine, tuple(pairs), faces_detected=len(ordered))


def _split_all(swap: Swap, ordered: Sequence[DetectedFace]) -> ManifestError:
    """`"all"` over more faces than v3 takes: how many there are, and the rounds that split the job."""
    n = len(ordered)
    rounds = [(lo, min(lo + V3_MAX_FACES, n) - 1) for lo in range(0, n, V3_MAX_FACES)]
    ranges = [f"faces {lo}–{hi}" if hi > lo else f"face {lo}" for lo, hi in rounds]
    further = ", then ".join(ranges[2:])
    repeat = f"; repeat with each new result for {further}" if further else ""
    source = json.dumps(swap.source.raw, ensure_ascii=False)
    return ManifestError(
        f"{swap.field}.target",
        f'"all" means {n} faces in this photo, but AKOOL v3 replaces at most {V3_MAX_FACES} faces in one '
        f"image, so split the job into {len(rounds)} rounds: here, list {ranges[0]} as swaps by index "
        f'({{"source": {source}, "target": 0}} … {{"source": {source}, "target": {rounds[0][1]}}}); then '
        "upload the swapped result (results/…/<name>.swapped.<ext>) to inbox/ as a new photo with a sidecar "
        f'for {ranges[1]}{repeat} ("mode": "faces" previews the numbering of a photo). '
        f"Faces found: {describe_faces(ordered)}",
        code=ErrorCode.LIMIT,
    )


def source_face(swap: Swap, detected: Sequence[DetectedFace]) -> DetectedFace:
    """The face a source photo gives: its largest."""
    face = largest(detected)
    if face is None:
        raise FaceSelectionError(
            f"{swap.field}.source",
            f"no face found in {swap.source.describe()}; use a photo with one clearly visible face",
            code=ErrorCode.NO_FACE,
        )
    return face


def request(
    picked: Picked,
    image_url: str,
    source_urls: Mapping[int, str],
    source_faces: Mapping[str, DetectedFace],
) -> Plan:
    """The request for `picked`; `source_faces` holds the face of each source (by `describe()`), used
    where `picked.needs_source_opts`."""
    # opts are pixel coordinates in the image the same item's `path` points to. We send the full
    # photos (presigned S3 URLs or the user's URL) as paths, so the matching opts are the
    # detector's full-image `landmarks_str`. `crop_landmarks` would only fit AKOOL's cropped
    # face_urls, which expire in 7 days, and a crop as Pro's target would swap the crop, not the photo.
    targets = [{"path": image_url, "opts": chosen.face.landmarks_str} for _, chosen in picked.pairs]
    sources = [
        {"path": source_urls[swap.index], "opts": source_faces[swap.source.describe()].landmarks_str}
        if picked.needs_source_opts
        else {"path": source_urls[swap.index]}
        for swap, _ in picked.pairs
    ]
    summary = [
        {"swap": swap.index, "source": swap.source.raw, "face": chosen.index, "region": _box(chosen.face)}
        for swap, chosen in picked.pairs
    ]
    return Plan(picked.engine, targets, sources, summary, faces_detected=picked.faces_detected)


def _box(face: DetectedFace) -> list[int]:
    r = face.region
    return [r.x, r.y, r.w, r.h]
