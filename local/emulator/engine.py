"""The emulator's offline face engine: real face detection and a classical landmark-based face swap.

INTERFACE (agreed between the emulator server and the engine). The heavy lifting lives in face_mesh.py
(mediapipe detection + mesh) and swap.py (warp + blend); this module is the public surface.
Images are numpy arrays in OpenCV's BGR uint8 layout, shape (h, w, 3). Thread-safe.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from local.emulator import face_mesh
from local.emulator.swap import swap_faces

Image = npt.NDArray[np.uint8]


class EngineError(Exception):
    """The engine cannot do what was asked (unreadable image, no face, ...); message is user-facing."""


@dataclass(frozen=True)
class Face:
    region: tuple[int, int, int, int]  # x, y, width, height in image pixels, top-left origin
    # AKOOL's 6 points: left eye (smaller x), right eye, nose tip, mouth center, left mouth corner,
    # right mouth corner; integer pixel coordinates in the image.
    landmarks: tuple[tuple[int, int], ...]
    # (N, 2) dense landmarks (face mesh) used by the swap. Left out of ==/hash/repr: arrays have no single
    # truth value and 478 rows would flood logs.
    dense: npt.NDArray[np.float64] = field(compare=False, repr=False)

    @property
    def landmarks_str(self) -> str:
        """AKOOL's `landmarks_str`: the first 4 points as "x1,y1:x2,y2:x3,y3:x4,y4"."""
        return ":".join(f"{x},{y}" for x, y in self.landmarks[:4])


_ENCODE_PARAMS: dict[str, list[int]] = {
    ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    ".png": [cv2.IMWRITE_PNG_COMPRESSION, 3],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95],
    ".bmp": [],
}
_NUMBER = r"\s*(-?\d+(?:\.\d+)?)\s*"
_POINT = re.compile(_NUMBER + "," + _NUMBER)
_MATCH_RADIUS = 0.5  # opts must lie within half a face width (mean point distance) of a face to select it


def decode_image(data: bytes) -> Image:
    """Decode JPEG/PNG/WEBP/BMP bytes; EngineError if unreadable."""
    if not data:
        raise EngineError("image is empty")
    try:
        # IMREAD_COLOR: grey/alpha/16-bit inputs all become 8-bit BGR, and EXIF orientation is applied.
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise EngineError("image cannot be decoded") from exc
    if image is None or image.size == 0:
        raise EngineError("image cannot be decoded (not a JPEG/PNG/WEBP/BMP image)")
    return np.ascontiguousarray(image, dtype=np.uint8)


def encode_image(image: Image, ext: str = ".jpg") -> bytes:
    """Encode as `ext` (.jpg/.jpeg/.png/.webp/.bmp, leading dot optional); EngineError if that fails."""
    key = ext.lower() if ext.startswith(".") else "." + ext.lower()
    if key not in _ENCODE_PARAMS:
        raise EngineError(f"unsupported image format {ext!r}")
    _check_image(image)
    try:
        ok, buf = cv2.imencode(key, image, _ENCODE_PARAMS[key])
    except cv2.error as exc:
        raise EngineError("image cannot be encoded") from exc
    if not ok:
        raise EngineError("image cannot be encoded")
    return bytes(buf.tobytes())


def _check_image(image: Image) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise EngineError("expected a BGR uint8 image of shape (h, w, 3)")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise EngineError("image is empty")


def _clip(v: int, size: int) -> int:
    return min(max(v, 0), size - 1)


def _face_from_mesh(pts: npt.NDArray[np.float64], width: int, height: int) -> Face:
    six = face_mesh.six_points(pts)
    pts.flags.writeable = False  # the Face is frozen; so is its mesh
    return Face(
        region=face_mesh.region_of(pts, width, height),
        # Clipped: a face cut by the image edge can have its mesh (hence e.g. the chin) outside the image.
        landmarks=tuple((_clip(round(x), width), _clip(round(y), height)) for x, y in six),
        dense=pts,
    )


def detect(image: Image, max_faces: int = 10) -> list[Face]:
    """All faces, ordered left to right by region x. Empty list if none."""
    _check_image(image)
    if max_faces < 1:
        return []
    h, w = image.shape[:2]
    faces = [_face_from_mesh(pts, w, h) for pts in face_mesh.detect_meshes(image, max_faces)]
    return sorted(faces, key=lambda f: (f.region[0], f.region[1]))


def parse_opts(opts: str) -> list[tuple[float, float]]:
    """Points of an AKOOL opts/landmarks_str ("x1,y1:x2,y2:..."); EngineError if malformed."""
    parts = opts.strip().split(":")
    if not 1 <= len(parts) <= 6:
        raise EngineError("opts must be 1 to 6 points 'x,y' separated by ':'")
    points: list[tuple[float, float]] = []
    for part in parts:
        m = _POINT.fullmatch(part)
        if m is None:
            raise EngineError(f"malformed opts point {part!r}; expected 'x,y'")
        points.append((float(m.group(1)), float(m.group(2))))
    return points


def pick_face(faces: list[Face], opts: str | None) -> Face:
    """The face whose first 4 landmarks are nearest to `opts` ("x1,y1:x2,y2:..."), or the largest
    face when opts is None/empty. EngineError if there is no face or opts is malformed or matches none."""
    if opts is not None and not isinstance(opts, str):
        raise EngineError("opts must be a string")
    points = parse_opts(opts) if opts and opts.strip() else None
    if not faces:
        raise EngineError("no face detected")
    if points is None:
        return max(faces, key=lambda f: f.region[2] * f.region[3])

    def mean_distance(face: Face) -> float:
        pairs = list(zip(points, face.landmarks, strict=False))
        return sum(math.dist(p, q) for p, q in pairs) / len(pairs)

    best = min(faces, key=mean_distance)
    if mean_distance(best) > _MATCH_RADIUS * max(best.region[2], 1):
        raise EngineError("no face matches opts")
    return best


def crop_face(image: Image, face: Face, margin: float = 0.3) -> tuple[Image, tuple[int, int, int, int]]:
    """A crop around the face and its crop_region [x, y, w, h] in the original image."""
    _check_image(image)
    if not math.isfinite(margin) or margin < 0:
        raise EngineError("margin must be a non-negative number")
    h, w = image.shape[:2]
    fx, fy, fw, fh = face.region
    x0 = max(0, math.floor(fx - margin * fw))
    y0 = max(0, math.floor(fy - margin * fh))
    x1 = min(w, math.ceil(fx + fw + margin * fw))
    y1 = min(h, math.ceil(fy + fh + margin * fh))
    if x1 <= x0 or y1 <= y0:
        raise EngineError("face lies outside the image")
    return image[y0:y1, x0:x1].copy(), (x0, y0, x1 - x0, y1 - y0)


def swap(target: Image, target_face: Face, source: Image, source_face: Face, enhance: bool = False) -> Image:
    """Replace target_face in target with source_face's identity; pixels away from the face unchanged."""
    _check_image(target)
    _check_image(source)
    try:
        return swap_faces(target, target_face.dense, source, source_face.dense, enhance=enhance)
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
