"""Face selection: which detected faces a manifest's `target` means. Pure rules, no I/O.

Faces are numbered left to right by the x of their box (ties: top to bottom), the numbering a person
sees when looking at the photo. A target is an index, "largest", "all" or a point inside a face's box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dropswap.domain.error_codes import ErrorCode

# How many faces an error message lists before it stops (a crowd photo would make it unreadable).
_LIST_LIMIT = 20


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def contains(self, px: int, py: int) -> bool:
        return self.x <= px <= self.x + self.w and self.y <= py <= self.y + self.h

    def centre_distance2(self, px: int, py: int) -> float:
        cx, cy = self.x + self.w / 2, self.y + self.h / 2
        return (cx - px) ** 2 + (cy - py) ** 2

    def __str__(self) -> str:
        return f"({self.x},{self.y},{self.w},{self.h})"


@dataclass(frozen=True)
class DetectedFace:
    """One face as AKOOL's detector reports it, in original-image pixel coordinates."""

    region: Region
    landmarks: tuple[tuple[int, int], ...]  # 6 points: eyes, nose tip, mouth centre, mouth corners
    landmarks_str: str  # "x1,y1:x2,y2:x3,y3:x4,y4", the format of a swap item's `opts`
    face_url: str | None = None  # AKOOL-hosted crop (only with return_face_url; expires in 7 days)
    crop_landmarks: str | None = None  # landmarks relative to face_url's crop


@dataclass(frozen=True)
class Point:
    x: int
    y: int


Target = int | Literal["largest", "all"] | Point


@dataclass(frozen=True)
class SelectedFace:
    index: int  # position in the left-to-right order
    face: DetectedFace


class FaceSelectionError(ValueError):
    """A target that matches no face; `field` names the manifest field, `message` says what was found."""

    def __init__(self, field: str, message: str, code: ErrorCode = ErrorCode.FACE_NOT_FOUND) -> None:
        self.field = field
        self.message = message
        self.code = code
        super().__init__(f"{field}: {message}")


def order_faces(faces: Sequence[DetectedFace]) -> list[DetectedFace]:
    """Left to right by box x, then top to bottom: the order indexes refer to."""
    return sorted(faces, key=lambda f: (f.region.x, f.region.y))


def describe_faces(ordered: Sequence[DetectedFace]) -> str:
    """`0:(120,80,90,110) 1:(300,95,88,104)`: what an error shows so the user can pick a face."""
    shown = " ".join(f"{i}:{f.region}" for i, f in enumerate(ordered[:_LIST_LIMIT]))
    more = len(ordered) - _LIST_LIMIT
    return shown + (f" … and {more} more" if more > 0 else "")


def largest(faces: Sequence[DetectedFace]) -> DetectedFace | None:
    """The face with the biggest box (ties: the leftmost)."""
    ordered = order_faces(faces)
    return max(ordered, key=lambda f: f.region.area) if ordered else None


def select(ordered: Sequence[DetectedFace], target: Target, field: str) -> list[SelectedFace]:
    """The faces `target` names, from faces already in `order_faces` order."""
    if not ordered:
        raise FaceSelectionError(
            field,
            "no face found in the target image; use a photo with at least one clearly visible face",
            code=ErrorCode.NO_FACE,
        )
    found = f"faces found: {describe_faces(ordered)}"
    if target == "all":
        return [SelectedFace(i, f) for i, f in enumerate(ordered)]
    if target == "largest":
        best = max(range(len(ordered)), key=lambda i: ordered[i].region.area)
        return [SelectedFace(best, ordered[best])]
    if isinstance(target, Point):
        inside = [i for i, f in enumerate(ordered) if f.region.contains(target.x, target.y)]
        if not inside:
            raise FaceSelectionError(field, f"no face at ({target.x}, {target.y}); {found}")
        # Overlapping boxes: the face whose centre is nearest the point is the one meant.
        best = min(inside, key=lambda i: ordered[i].region.centre_distance2(target.x, target.y))
        return [SelectedFace(best, ordered[best])]
    if isinstance(target, int) and not isinstance(target, bool):
        if target >= len(ordered):
            raise FaceSelectionError(
                field, f"no face with index {target} (faces are numbered from 0, left to right); {found}"
            )
        return [SelectedFace(target, ordered[target])]
    raise FaceSelectionError(field, f"unsupported target {target!r}", code=ErrorCode.MANIFEST_INVALID)
