"""Offline face detection + 478-point face mesh with mediapipe's bundled models.

Two stages, because mediapipe's FaceMesh alone only finds faces that fill a good part of the frame
(its internal detector is the short-range BlazeFace at 128 px): first BlazeFace boxes (full- and
short-range, on the whole image and, for large images, on overlapping tiles), then the mesh on a square
crop around each box. The crop is resized to a fixed size, so a face costs the same whether the photo is
512 or 4000 px.

Works on numpy arrays only; the public `Face` type is built by engine.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Mesh indices of the eye contours (mediapipe's FACEMESH_LEFT_EYE / FACEMESH_RIGHT_EYE vertex sets).
EYE_A = (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246)
EYE_B = (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466)
NOSE_TIP = 1
MOUTH_CORNERS = (61, 291)
INNER_LIPS = (13, 14)  # upper / lower inner lip midpoints: their mean is the mouth centre
MESH_POINTS = 478

_DET_SCORE = 0.5
_DET_MAX_SIDE = 1024  # whole-image detection input cap (the model itself sees 192 px anyway)
_TILE = 960  # tiles for large images, so faces of ~100 px in a 2000+ px photo are still found
_MESH_CROP = 384  # side of the square crop fed to the mesh
_CROP_FACTORS = (2.0, 3.0)  # crop side / detection box side; the larger one is a retry


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float
    score: float

    @property
    def area(self) -> float:
        return self.w * self.h


class _Models:
    """mediapipe graphs are not thread-safe and costly to build: one set per process, used under a lock."""

    def __init__(self) -> None:
        # Imported lazily: mediapipe takes ~1 s to import and the server should start without paying it.
        import mediapipe as mp

        self.full_range: Any = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=_DET_SCORE
        )
        self.short_range: Any = mp.solutions.face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=_DET_SCORE
        )
        self.mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
        )


_lock = threading.Lock()
_models: _Models | None = None


def _get_models() -> _Models:
    global _models
    if _models is None:
        _models = _Models()
    return _models


def warm_up() -> None:
    """Build the models now (e.g. at server start) instead of on the first request."""
    with _lock:
        _get_models()


def _run_detector(
    detector: Any, rgb: npt.NDArray[np.uint8], ox: float, oy: float, scale: float
) -> list[_Box]:
    """Boxes from one BlazeFace run, in original-image pixels (`rgb` = original * scale, placed at ox, oy)."""
    h, w = rgb.shape[:2]
    result = detector.process(rgb)
    boxes: list[_Box] = []
    for det in result.detections or []:
        rb = det.location_data.relative_bounding_box
        if rb.width <= 0 or rb.height <= 0:
            continue
        boxes.append(
            _Box(
                x=ox + rb.xmin * w / scale,
                y=oy + rb.ymin * h / scale,
                w=rb.width * w / scale,
                h=rb.height * h / scale,
                score=float(det.score[0]) if det.score else 0.0,
            )
        )
    return boxes


def _overlap(a: _Box, b: _Box) -> tuple[float, float]:
    """(IoU, intersection over the smaller box)."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    if inter <= 0:
        return 0.0, 0.0
    return inter / (a.area + b.area - inter), inter / min(a.area, b.area)


def _suppress(boxes: list[_Box]) -> list[_Box]:
    """Non-maximum suppression; also drops boxes mostly inside a better one (faces cut by a tile edge)."""
    kept: list[_Box] = []
    for box in sorted(boxes, key=lambda b: b.score, reverse=True):
        if all(iou < 0.3 and inside < 0.6 for iou, inside in (_overlap(box, k) for k in kept)):
            kept.append(box)
    return kept


def _tiles(length: int) -> list[int]:
    """Tile origins along one axis: tiles of _TILE px overlapping by a third."""
    if length <= _TILE:
        return [0]
    stride = _TILE * 2 // 3
    starts = list(range(0, length - _TILE, stride))
    starts.append(length - _TILE)
    return starts


def _detect_boxes(models: _Models, image: npt.NDArray[np.uint8]) -> list[_Box]:
    h, w = image.shape[:2]
    scale = min(1.0, _DET_MAX_SIDE / max(h, w))
    small = (
        image
        if scale == 1.0
        else cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    )
    rgb = np.ascontiguousarray(small[:, :, ::-1])
    boxes = _run_detector(models.full_range, rgb, 0, 0, scale)
    boxes += _run_detector(models.short_range, rgb, 0, 0, scale)
    if max(h, w) > _DET_MAX_SIDE:
        for ty in _tiles(h):
            for tx in _tiles(w):
                tile = np.ascontiguousarray(image[ty : ty + _TILE, tx : tx + _TILE, ::-1])
                boxes += _run_detector(models.full_range, tile, tx, ty, 1.0)
    return _suppress(boxes)


def _mesh_in_crop(
    models: _Models, image: npt.NDArray[np.uint8], box: _Box, factor: float
) -> FloatArray | None:
    """The mesh (478×2, original-image pixels) of the face in `box`, or None if the mesh finds none."""
    h, w = image.shape[:2]
    side = factor * max(box.w, box.h)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    s = max(1, round(side))
    # Square crop with black padding where it leaves the image, so the face stays centred for the mesh.
    crop = np.zeros((s, s, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + s), min(h, y0 + s)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    interp = cv2.INTER_AREA if s > _MESH_CROP else cv2.INTER_LINEAR
    crop = np.asarray(cv2.resize(crop, (_MESH_CROP, _MESH_CROP), interpolation=interp), np.uint8)
    result = models.mesh.process(np.ascontiguousarray(crop[:, :, ::-1]))
    if not result.multi_face_landmarks:
        return None
    lms = result.multi_face_landmarks[0].landmark
    pts = np.array([[p.x, p.y] for p in lms], dtype=np.float64) * s + (x0, y0)
    if pts.shape != (MESH_POINTS, 2):
        return None
    # The mesh may have locked onto a neighbouring face inside a wide crop: require it to sit on our box.
    mx, my = pts.mean(axis=0)
    if not (
        box.x - 0.25 * box.w <= mx <= box.x + 1.25 * box.w
        and box.y - 0.25 * box.h <= my <= box.y + 1.25 * box.h
    ):
        return None
    return pts


def region_of(pts: FloatArray, width: int, height: int) -> tuple[int, int, int, int]:
    """[x, y, w, h] integer box around the points, clipped to the image."""
    x0 = int(np.clip(np.floor(pts[:, 0].min()), 0, width - 1))
    y0 = int(np.clip(np.floor(pts[:, 1].min()), 0, height - 1))
    x1 = int(np.clip(np.ceil(pts[:, 0].max()), x0 + 1, width))
    y1 = int(np.clip(np.ceil(pts[:, 1].max()), y0 + 1, height))
    return x0, y0, x1 - x0, y1 - y0


def _region_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def detect_meshes(image: npt.NDArray[np.uint8], max_faces: int) -> list[FloatArray]:
    """Dense meshes (478×2 float, image pixels) of up to `max_faces` faces, most confident first."""
    h, w = image.shape[:2]
    meshes: list[FloatArray] = []
    regions: list[tuple[int, int, int, int]] = []
    with _lock:
        models = _get_models()
        for box in _detect_boxes(models, image):
            if len(meshes) >= max_faces:
                break
            pts: FloatArray | None = None
            for factor in _CROP_FACTORS:
                pts = _mesh_in_crop(models, image, box, factor)
                if pts is not None:
                    break
            if pts is None:
                continue
            region = region_of(pts, w, h)
            # Two boxes can lead the mesh to the same face; keep the first (higher detector score).
            if all(_region_iou(region, r) < 0.5 for r in regions):
                meshes.append(pts)
                regions.append(region)
    return meshes


def six_points(pts: FloatArray) -> list[tuple[float, float]]:
    """AKOOL's 6 points from a mesh: left eye, right eye (by image x), nose tip, mouth centre, left and
    right mouth corner."""
    eye_a = pts[list(EYE_A)].mean(axis=0)
    eye_b = pts[list(EYE_B)].mean(axis=0)
    left_eye, right_eye = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    corner_a, corner_b = pts[MOUTH_CORNERS[0]], pts[MOUTH_CORNERS[1]]
    left_corner, right_corner = (corner_a, corner_b) if corner_a[0] <= corner_b[0] else (corner_b, corner_a)
    mouth = pts[list(INNER_LIPS)].mean(axis=0)
    nose = pts[NOSE_TIP]
    return [(float(p[0]), float(p[1])) for p in (left_eye, right_eye, nose, mouth, left_corner, right_corner)]
