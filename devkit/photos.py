"""Real test photos taken from installed packages, so no photo is committed to the repository.

- astronaut: Eileen Collins, NASA (public domain), shipped with scikit-image.
- Grace Hopper: US Navy photo (public domain), shipped with matplotlib.
Plain functions (no pytest) so integration tests and the demo can import them too.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@lru_cache(maxsize=1)
def _astronaut() -> Image:
    from skimage import data

    rgb = data.astronaut()  # type: ignore[no-untyped-call]  # scikit-image ships no type hints for it
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), dtype=np.uint8)


@lru_cache(maxsize=1)
def _grace_hopper() -> Image:
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return np.asarray(image, dtype=np.uint8)


def astronaut_bgr() -> Image:
    """512×512 colour portrait, one face (a fresh copy: callers may modify it)."""
    return _astronaut().copy()


def grace_hopper_bgr() -> Image:
    """600×512 (h×w) portrait, one face."""
    return _grace_hopper().copy()


def collage_bgr() -> Image:
    """Two faces side by side: Grace Hopper on the left, the astronaut on the right, both 512 px high."""
    hopper = grace_hopper_bgr()
    h, w = hopper.shape[:2]
    hopper = np.asarray(cv2.resize(hopper, (round(w * 512 / h), 512), interpolation=cv2.INTER_AREA), np.uint8)
    return np.ascontiguousarray(np.hstack([hopper, astronaut_bgr()]), dtype=np.uint8)


def resize_long_side(image: Image, long_side: int) -> Image:
    """The image scaled so its longer side is `long_side` px (for size/timing tests)."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    return np.asarray(cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=interp), np.uint8)


def jpeg_bytes(img: Image, quality: int = 95) -> bytes:
    """The image as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())
