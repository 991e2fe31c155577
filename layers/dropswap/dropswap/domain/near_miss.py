"""Near misses: which photos in a folder a missing input's name most likely meant (issue 18 item 2).

A person names `IMG_1.jpg` in a sidecar while the camera wrote `IMG_1.JPG` or `IMG_1.jpeg`, forgets an
extension (`noext.faceswap.json`), or misspells a face (`hoper.jpg`). Candidates are the photos directly
in the missing key's folder (the caller lists it once, bounded by LIST_BOUND); each is ranked by how it
differs, the strongest first:

1. CASE          only by letter case              IMG_1.JPG for IMG_1.jpg
2. EXTENSION     same name, another image type    IMG_1.jpeg, IMG_1.png for IMG_1.jpg
3. NO_EXTENSION  the name plus an image extension noext.jpg for noext
4. SPELLING      a small edit distance            hopper.jpg for hoper.jpg (1 edit for a name of 4 to 7
                 (insert, delete, replace or      characters, 2 from 8, none below 4; .jpeg counts as
                 swap two neighbours)             .jpg)

then by edit distance and key, so the answer is the same for the same folder. Pure: no I/O.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from dropswap.domain import keys

# At most this many suggestions per missing input: past three, a list reads as noise.
MAX_SUGGESTIONS = 3
# The keys of one folder looked at for one report: S3's largest page, so listing a folder is one
# ListObjectsV2 call however big it is (a near miss past the first 1,000 keys goes unnamed).
LIST_BOUND = 1000
# A name this long (stem, in characters) may be one edit away, from the second length two; shorter names
# are not compared by spelling (`a.jpg` is one edit from `b.jpg`, and means nothing by it).
_ONE_EDIT_FROM = 4
_TWO_EDITS_FROM = 8


class Miss(IntEnum):
    """How a candidate differs from the missing name; the lower, the likelier it was meant."""

    CASE = 1
    EXTENSION = 2
    NO_EXTENSION = 3
    SPELLING = 4


_WHY = {
    Miss.CASE: "same name in another letter case",
    Miss.EXTENSION: "same name, another extension",
    Miss.NO_EXTENSION: "the name with an extension",
    Miss.SPELLING: "a similar name",
}


@dataclass(frozen=True)
class NearMiss:
    key: str
    kind: Miss
    distance: int  # edits between the two names (0 for CASE, EXTENSION and NO_EXTENSION)

    @property
    def why(self) -> str:
        return _WHY[self.kind]

    @property
    def name(self) -> str:
        return posixpath.basename(self.key)


def near_misses(missing: str, candidates: Iterable[str], limit: int = MAX_SUGGESTIONS) -> list[NearMiss]:
    """The photos among `candidates` (keys) in `missing`'s folder that `missing` most likely meant, best
    first, at most `limit`."""
    folder = keys.folder_of(missing)
    found = {
        key: hit
        for key in candidates
        if key != missing and keys.folder_of(key) == folder and _is_photo(key)
        for hit in [_compare(missing, key)]
        if hit is not None
    }
    return sorted(found.values(), key=lambda m: (m.kind, m.distance, m.key))[:limit]


def _is_photo(key: str) -> bool:
    return keys.extension(key) in keys.IMAGE_EXTENSIONS and not keys.is_own_output(key)


def _compare(missing: str, key: str) -> NearMiss | None:
    want, have = posixpath.basename(missing).lower(), posixpath.basename(key).lower()
    want_stem, want_ext = _split(want)
    have_stem, _ = _split(have)
    if want == have:
        return NearMiss(key, Miss.CASE, 0)
    if want_ext and want_stem == have_stem:
        return NearMiss(key, Miss.EXTENSION, 0)
    if not want_ext and have_stem == want:
        return NearMiss(key, Miss.NO_EXTENSION, 0)
    if len(want_stem) < _ONE_EDIT_FROM:
        return None
    bound = 2 if len(want_stem) >= _TWO_EDITS_FROM else 1
    # .jpeg and .jpg are one type: a misspelt name need not also spell the extension alike.
    distance = edit_distance(_same_jpeg(want), _same_jpeg(have), bound)
    return NearMiss(key, Miss.SPELLING, distance) if distance <= bound else None


def _split(name: str) -> tuple[str, str]:
    """(stem, extension) when the name ends with an image extension, else (name, "")."""
    stem, ext = posixpath.splitext(name)
    return (stem, ext) if ext.lstrip(".") in keys.IMAGE_EXTENSIONS else (name, "")


def _same_jpeg(name: str) -> str:
    return name[: -len(".jpeg")] + ".jpg" if name.endswith(".jpeg") else name


def edit_distance(a: str, b: str, bound: int) -> int:
    """The optimal-string-alignment distance of `a` and `b` (insert, delete, replace, or swap two
    neighbours: one edit each), or `bound + 1` as soon as it is certain to exceed `bound`, so a long name
    against a thousand candidates costs little."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > bound:
            return bound + 1
        before, previous = previous, current
    return min(previous[-1], bound + 1)


@dataclass(frozen=True)
class Suggestion:
    """One key a hint offers: `spelled` as the user would write it, `where` its s3:// URI, `why` how it
    differs (None: no near miss, e.g. a relative source one folder off)."""

    spelled: str
    where: str
    why: str | None = None


def did_you_mean(suggestions: Sequence[Suggestion]) -> str:
    """The hint's sentence: one suggestion with where it is, several with how each differs."""
    if len(suggestions) == 1:
        one = suggestions[0]
        return f"did you mean {one.spelled!r}? {one.where} exists" + (f" ({one.why})" if one.why else "")
    options = " or ".join(f"{s.spelled!r}" + (f" ({s.why})" if s.why else "") for s in suggestions)
    return f"did you mean {options}?"


def rename_sidecar(photo_key: str) -> str:
    """The fix when a sidecar names no photo that exists: its name must be the photo's plus the suffix."""
    sidecar = posixpath.basename(keys.sidecar_key_for_image(photo_key))
    return f"a sidecar's name is its photo's full name plus {keys.SIDECAR_SUFFIX}: rename it to {sidecar!r}"
