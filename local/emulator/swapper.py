"""What a face-swap job does with its inputs: the v3 and v4 (Pro) semantics on real pixels.

v3 specifyimage: the image edited is `modifyImage`. For pair i the target face is picked (engine.pick_face)
among the faces of modifyImage: `targetImage[i].path` is either modifyImage itself (or a byte-identical copy
at another URL), with `opts` in its coordinates, or a face crop this emulator's detect_faces served, whose
`opts` are crop coordinates that are mapped back through the recorded crop_region. The source face is
picked in `sourceImage[i].path` with its own `opts`. All swaps go into one result, in order.

v4 Pro: `targetImage[i].path` is the image edited (no `opts` → largest face; single_face_mode → always the
largest face). When every targetImage path is the same URL all pairs go into one result; a job can only
produce one result, so different target URLs fail the job with a reason saying so.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from local.emulator import engine
from local.emulator.engine import EngineError, Face, Image
from local.emulator.fetch import Fetcher, FetchError
from local.emulator.media import Crop, sniff_image_type
from local.emulator.validation import SwapItem, SwapRequest

_CROP_PATH = re.compile(r"/crops/([0-9a-f]{24})\.png")


class JobFailed(Exception):
    """The job ends in status 4; the message is the reason shown by the admin API."""


@dataclass
class _Loaded:
    data: bytes
    image: Image
    faces: list[Face] | None = None


class Swapper:
    def __init__(
        self,
        fetcher: Fetcher,
        own_netlocs: Callable[[], set[str]],
        crop: Callable[[str], Crop | None],
        max_faces: int,
    ) -> None:
        self._fetcher = fetcher
        self._own_netlocs = own_netlocs
        self._crop = crop
        self._max_faces = max_faces

    def own_crop(self, url: str) -> Crop | None:
        """The crop behind one of this emulator's /crops/<id>.png URLs, else None."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        match = _CROP_PATH.fullmatch(parts.path)
        if parts.netloc not in self._own_netlocs() or match is None:
            return None
        return self._crop(match.group(1))

    def run(self, request: SwapRequest, passthrough: bool) -> tuple[bytes, str]:
        """The result image bytes and media type; JobFailed with a reason otherwise."""
        cache: dict[str, _Loaded] = {}
        if passthrough:
            # Load tests of the pipeline: the edited image comes back untouched, no engine cost.
            url = request.modify_image if request.api == "v3" else request.targets[0].path
            data = self._download(url or "", "modifyImage" if request.api == "v3" else "targetImage[0]")
            return data, sniff_image_type(data) or "application/octet-stream"
        try:
            canvas = self._v3(request, cache) if request.api == "v3" else self._v4(request, cache)
            return engine.encode_image(canvas, ".jpg"), "image/jpeg"
        except EngineError as exc:
            raise JobFailed(f"face swap failed: {exc}") from exc

    def _download(self, url: str, what: str) -> bytes:
        try:
            return self._fetcher.fetch(url).data
        except FetchError as exc:
            raise JobFailed(f"failed to download {what}: {exc}") from exc

    def _load(self, url: str, what: str, cache: dict[str, _Loaded]) -> _Loaded:
        if url not in cache:
            data = self._download(url, what)
            try:
                cache[url] = _Loaded(data, engine.decode_image(data))
            except EngineError as exc:
                raise JobFailed(f"{what}: {exc}") from exc
        return cache[url]

    def _faces(self, loaded: _Loaded) -> list[Face]:
        if loaded.faces is None:
            loaded.faces = engine.detect(loaded.image, self._max_faces)
        return loaded.faces

    def _pick(self, faces: list[Face], opts: str | None, what: str) -> Face:
        try:
            return engine.pick_face(faces, opts)
        except EngineError as exc:
            found = "; ".join(f"{i}:{f.landmarks_str}" for i, f in enumerate(faces)) or "none"
            raise JobFailed(f"{what}: {exc} (opts {opts!r}; faces found: {found})") from exc

    def _source(self, i: int, item: SwapItem, cache: dict[str, _Loaded]) -> tuple[Image, Face]:
        what = f"sourceImage[{i}]"
        loaded = self._load(item.path, what, cache)
        return loaded.image, self._pick(self._faces(loaded), item.opts, what)

    def _v3(self, request: SwapRequest, cache: dict[str, _Loaded]) -> Image:
        modify_url = request.modify_image or ""
        modify = self._load(modify_url, "modifyImage", cache)
        faces = self._faces(modify)
        modify_sha = hashlib.sha256(modify.data).hexdigest()
        canvas = modify.image.copy()
        for i, (target, source) in enumerate(zip(request.targets, request.sources, strict=True)):
            what = f"targetImage[{i}]"
            crop = self.own_crop(target.path)
            if target.path == modify_url:
                opts = target.opts
            elif crop is not None:
                if crop.origin_sha256 != modify_sha:
                    raise JobFailed(
                        f"{what}: the face crop was detected on a different image than modifyImage"
                    )
                opts = _shift(target.opts, crop.region, what) if target.opts else crop.face_landmarks
            elif self._load(target.path, what, cache).data == modify.data:
                opts = target.opts  # the same picture at another URL (e.g. a second presigned URL)
            else:
                raise JobFailed(
                    f"{what}: path is neither modifyImage, a copy of it, nor a face crop from this "
                    "emulator's detect_faces, so its face cannot be located in modifyImage"
                )
            target_face = self._pick(faces, opts, what)
            src_image, src_face = self._source(i, source, cache)
            canvas = engine.swap(canvas, target_face, src_image, src_face, enhance=request.face_enhance)
        return canvas

    def _v4(self, request: SwapRequest, cache: dict[str, _Loaded]) -> Image:
        paths = list(dict.fromkeys(t.path for t in request.targets))
        if len(paths) > 1:
            raise JobFailed(
                f"targetImage has {len(paths)} different paths; the emulator makes one result per job, so "
                "every pair must edit the same target image"
            )
        target = self._load(paths[0], "targetImage[0]", cache)
        faces = self._faces(target)
        canvas = target.image.copy()
        for i, (item, source) in enumerate(zip(request.targets, request.sources, strict=True)):
            opts = None if request.single_face_mode else item.opts
            target_face = self._pick(faces, opts, f"targetImage[{i}]")
            src_image, src_face = self._source(i, source, cache)
            canvas = engine.swap(canvas, target_face, src_image, src_face, enhance=request.face_enhance)
        return canvas


def _shift(opts: str, region: tuple[int, int, int, int], what: str) -> str:
    """Crop-relative opts moved into the original image (crop_landmarks + crop origin)."""
    dx, dy = region[0], region[1]
    points: list[str] = []
    for part in opts.split(":"):
        xy = part.split(",")
        try:
            x, y = (float(v) for v in xy)
        except ValueError:
            raise JobFailed(f"{what}.opts is malformed: expected 'x1,y1:x2,y2:...', got {opts!r}") from None
        points.append(f"{x + dx:g},{y + dy:g}")
    return ":".join(points)
