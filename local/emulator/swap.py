"""Classical landmark-based face swap: piecewise-affine warp over a Delaunay triangulation of the source
mesh, LAB colour transfer, Poisson blending (cv2.seamlessClone) and a feathered composite confined to the
target face.

Works on numpy arrays; raises ValueError with a user-facing message for degenerate input (engine.py turns it
into EngineError).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
from scipy.spatial import Delaunay

Image = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]

_WARP_POINTS = (
    468  # the mesh without the 10 iris points: they sit inside the eye contour and only add slivers
)
_MIN_FACE_SIDE = 8.0  # px; below this there is nothing to swap
# Inner lip contour (mediapipe mesh indices, in ring order): the target's open mouth is kept as it is.
_INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)


def _face_size(pts: FloatArray) -> float:
    span = pts.max(axis=0) - pts.min(axis=0)
    return float(min(span[0], span[1]))


def _check_image(image: Image, what: str) -> None:
    if (
        image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
        or image.shape[0] < 2
        or image.shape[1] < 2
    ):
        raise ValueError(f"{what} image must be a non-empty BGR uint8 image")


def _check_points(pts: FloatArray, what: str) -> FloatArray:
    arr = np.asarray(pts, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < _WARP_POINTS or not np.isfinite(arr).all():
        raise ValueError(f"{what} face has no usable dense landmarks")
    arr = arr[:_WARP_POINTS]
    if _face_size(arr) < _MIN_FACE_SIDE:
        raise ValueError(f"{what} face is too small to swap")
    return arr


def _affines(
    src: FloatArray, dst: FloatArray, tris: npt.NDArray[np.int64]
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Per-triangle affine maps dst -> src, (T, 3, 2) with [x, y, 1] @ M = [xs, ys]; drops degenerate ones."""
    d = dst[tris]  # (T, 3, 2)
    a = np.concatenate([d, np.ones((len(tris), 3, 1))], axis=2)
    det = np.linalg.det(a)
    ok = np.abs(det) > 1e-3  # twice the triangle area in px²: zero-area triangles have no affine map
    return np.linalg.solve(a[ok], src[tris[ok]]), tris[ok]


def _colour_transfer(warped: Image, target: Image, mask: npt.NDArray[np.bool_]) -> Image:
    """Match the warped face's LAB mean/std to the target face's, measured inside the mask."""
    w_lab = cv2.cvtColor(warped, cv2.COLOR_BGR2LAB).astype(np.float32)
    t_lab = cv2.cvtColor(target, cv2.COLOR_BGR2LAB).astype(np.float32)
    out = w_lab.copy()
    for c in range(3):
        wv, tv = w_lab[:, :, c][mask], t_lab[:, :, c][mask]
        w_mu, w_sd, t_mu, t_sd = float(wv.mean()), float(wv.std()), float(tv.mean()), float(tv.std())
        # Clamp the gain: a near-grey source (old photo) would otherwise have its noise blown up.
        gain = float(np.clip(t_sd / max(w_sd, 1e-3), 0.5, 2.0))
        out[:, :, c] = (w_lab[:, :, c] - w_mu) * gain + t_mu
    return np.asarray(cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR), np.uint8)


def swap_faces(
    target: Image, target_pts: FloatArray, source: Image, source_pts: FloatArray, enhance: bool = False
) -> Image:
    """Put the source face (source image + its dense mesh) onto the target face. Returns a new image;
    only pixels inside the target mesh's convex hull can differ from `target`."""
    _check_image(target, "target")
    _check_image(source, "source")
    dst = _check_points(target_pts, "target")
    src = _check_points(source_pts, "source")
    th, tw = target.shape[:2]

    # Work in a padded box around the target face so the cost scales with the face, not the photo.
    pad = 4
    x0 = int(max(0, np.floor(dst[:, 0].min()) - pad))
    y0 = int(max(0, np.floor(dst[:, 1].min()) - pad))
    x1 = int(min(tw, np.ceil(dst[:, 0].max()) + pad + 1))
    y1 = int(min(th, np.ceil(dst[:, 1].max()) + pad + 1))
    if x1 - x0 < _MIN_FACE_SIDE or y1 - y0 < _MIN_FACE_SIDE:
        raise ValueError("target face lies outside the target image")
    rw, rh = x1 - x0, y1 - y0
    local = dst - (x0, y0)

    try:
        tris = np.asarray(Delaunay(src).simplices, dtype=np.int64)
    except Exception as exc:  # scipy's QhullError for collinear/degenerate meshes
        raise ValueError("source face landmarks are degenerate") from exc
    maps, tris = _affines(src, local, tris)
    if len(tris) == 0:
        raise ValueError("target face landmarks are degenerate")

    # Rasterise which triangle covers each target pixel (last one wins where a pose change folds the mesh).
    owner = np.full((rh, rw), -1, np.int32)
    shift = 4  # sub-pixel vertex precision for the rasteriser
    for k, tri in enumerate(tris):
        poly = np.round(local[tri] * (1 << shift)).astype(np.int32)
        cv2.fillConvexPoly(owner, poly, (float(k),), lineType=cv2.LINE_8, shift=shift)
    ys, xs = np.nonzero(owner >= 0)
    if len(ys) == 0:
        raise ValueError("target face covers no pixels")
    m = maps[owner[ys, xs]]  # (n, 3, 2)
    map_x = np.full((rh, rw), -1.0, np.float32)
    map_y = np.full((rh, rw), -1.0, np.float32)
    map_x[ys, xs] = xs * m[:, 0, 0] + ys * m[:, 1, 0] + m[:, 2, 0]
    map_y[ys, xs] = xs * m[:, 0, 1] + ys * m[:, 1, 1] + m[:, 2, 1]
    warped = np.asarray(
        cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), np.uint8
    )

    # Face mask: the target mesh's convex hull, where the warp is defined.
    hull = np.zeros((rh, rw), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(local).astype(np.int32)), (255.0,))
    hull[owner < 0] = 0
    # Keep the target's mouth interior (teeth, tongue): a closed source mouth would otherwise be stretched
    # over it. The Poisson solve then takes the hole's edge from the target too.
    mouth = np.round(local[list(_INNER_LIPS)]).astype(np.int32)
    hole = np.zeros_like(hull)
    cv2.fillPoly(hole, [mouth], (255.0,))
    size = _face_size(dst)
    erode_px = max(2, round(0.04 * size))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1))
    # Constant zero border so the mask also shrinks away from the image edge (default border never erodes).
    inner = np.asarray(cv2.erode(hull, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=(0.0,)), np.uint8)
    inner[hole > 0] = 0
    if cv2.countNonZero(inner) < 16:
        raise ValueError("target face is too small to swap")

    target_roi = target[y0:y1, x0:x1]
    warped = _colour_transfer(warped, target_roi, inner > 0)

    # seamlessClone places the mask's bounding box centred on `center` (integer halves, as in OpenCV's code),
    # so this centre puts the source exactly where it was drawn.
    bx, by, bw, bh = cv2.boundingRect(inner)
    center = (bx + bw // 2, by + bh // 2)
    # seamlessClone erodes the mask it is given in place, hence the copy.
    cloned = cv2.seamlessClone(warped, target_roi, inner.copy(), center, cv2.NORMAL_CLONE)

    if enhance:
        blur = cv2.GaussianBlur(cloned, (0, 0), sigmaX=max(1.0, size / 200))
        cloned = cv2.addWeighted(cloned, 1.5, blur, -0.5, 0)

    # Feather the edge, then confine every change to the hull: seamlessClone alters its whole ROI slightly.
    sigma = max(1.0, erode_px / 2)
    alpha = cv2.GaussianBlur(inner.astype(np.float32) / 255.0, (0, 0), sigmaX=sigma)
    alpha[hull == 0] = 0.0
    a3 = alpha[:, :, None]
    blended = np.clip(
        cloned.astype(np.float32) * a3 + target_roi.astype(np.float32) * (1.0 - a3) + 0.5, 0, 255
    )
    roi_out = np.where(a3 > 0, blended.astype(np.uint8), target_roi)

    out = target.copy()
    out[y0:y1, x0:x1] = roi_out
    return out
