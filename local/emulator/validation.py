"""Request validation for the two face-swap submit endpoints (akool-api.md §2a, §2b, §8).

Every violation is a BusinessError: 1003 (parameter error), or 1007 for more than 8 v3 target faces.
The parsed result is a SwapRequest the job runner works from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from local.emulator.codes import PARAM_ERROR, TOO_MANY_FACES, BusinessError, missing

Api = Literal["v3", "v4"]
V4_MODELS = frozenset({"akool_faceswap_image_hq"})
V4_MAX_ITEMS = 50
V3_MAX_FACES = 8


@dataclass(frozen=True)
class SwapItem:
    path: str
    opts: str | None  # None when absent or empty


@dataclass(frozen=True)
class SwapRequest:
    api: Api
    targets: tuple[SwapItem, ...]
    sources: tuple[SwapItem, ...]
    modify_image: str | None  # v3 only
    face_enhance: bool
    single_face_mode: bool  # v4 only
    model_name: str | None  # v4 only
    webhook_url: str | None  # None when absent or ""


def is_http_url(value: object) -> bool:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _array(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if value is None or value == [] or value == "":
        raise missing(name)
    if not isinstance(value, list):
        raise BusinessError(PARAM_ERROR, f"{name} must be an array of {{path, opts}}")
    return value


def _items(name: str, raw: list[Any]) -> tuple[SwapItem, ...]:
    items: list[SwapItem] = []
    for i, item in enumerate(raw):
        where = f"{name}[{i}]"
        if not isinstance(item, dict):
            raise BusinessError(PARAM_ERROR, f"{where} must be an object {{path, opts}}")
        path = item.get("path")
        if path is None or path == "":
            raise missing(f"{where}.path")
        if not is_http_url(path):
            raise BusinessError(PARAM_ERROR, f"{where}.path must be a valid http/https URL")
        opts = item.get("opts")
        if opts is not None and not isinstance(opts, str):
            raise BusinessError(PARAM_ERROR, f"{where}.opts must be a string 'x1,y1:x2,y2:x3,y3:x4,y4'")
        items.append(SwapItem(path=path, opts=opts or None))
    return tuple(items)


def _pairs(targets: tuple[SwapItem, ...], sources: tuple[SwapItem, ...]) -> None:
    # Pairs are matched by index (akool-api.md §2a), so the arrays must line up.
    if len(targets) != len(sources):
        raise BusinessError(
            PARAM_ERROR,
            f"targetImage has {len(targets)} items but sourceImage has {len(sources)}; they pair by index",
        )
    # The conditional opts rule: optional only when both arrays have exactly one item.
    if len(targets) == 1 and len(sources) == 1:
        return
    for name, items in (("targetImage", targets), ("sourceImage", sources)):
        for i, item in enumerate(items):
            if item.opts is None:
                raise BusinessError(
                    PARAM_ERROR,
                    f"validation error: {name}[{i}].opts is required when either array has more than 1 item",
                )


def _webhook(body: dict[str, Any]) -> str | None:
    value = body.get("webhookUrl")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BusinessError(PARAM_ERROR, "webhookUrl must be a string")
    return value


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BusinessError(PARAM_ERROR, f"{name} must be a boolean")
    return value


def validate_v3(body: dict[str, Any]) -> SwapRequest:
    """POST /api/open/v3/faceswap/highquality/specifyimage."""
    raw_targets = _array(body, "targetImage")
    raw_sources = _array(body, "sourceImage")
    modify = body.get("modifyImage")
    if modify is None or modify == "":
        raise missing("modifyImage")
    if len(raw_targets) > V3_MAX_FACES:
        raise BusinessError(TOO_MANY_FACES)
    targets = _items("targetImage", raw_targets)
    sources = _items("sourceImage", raw_sources)
    if not is_http_url(modify):
        raise BusinessError(PARAM_ERROR, "modifyImage must be a valid http/https URL")
    # The shared ImageFaceswap schema carries the same conditional opts rule as Pro (akool-api.md §2a).
    _pairs(targets, sources)
    enhance = body.get("face_enhance", 0)
    if enhance is None:
        enhance = 0
    # An integer enum: booleans are a different JSON type even though Python treats them as ints.
    if isinstance(enhance, bool) or enhance not in (0, 1):
        raise BusinessError(PARAM_ERROR, "face_enhance must be the integer 0 or 1")
    return SwapRequest(
        api="v3",
        targets=targets,
        sources=sources,
        modify_image=modify,
        face_enhance=enhance == 1,
        single_face_mode=False,
        model_name=None,
        webhook_url=_webhook(body),
    )


def validate_v4(body: dict[str, Any]) -> SwapRequest:
    """POST /api/open/v4/faceswap/faceswapByImage (Face Swap Pro)."""
    raw_sources = _array(body, "sourceImage")
    raw_targets = _array(body, "targetImage")
    for name, raw in (("sourceImage", raw_sources), ("targetImage", raw_targets)):
        if len(raw) > V4_MAX_ITEMS:
            raise BusinessError(PARAM_ERROR, f"{name} must have 1 to {V4_MAX_ITEMS} items, got {len(raw)}")
    sources = _items("sourceImage", raw_sources)
    targets = _items("targetImage", raw_targets)
    _pairs(targets, sources)
    model = body.get("model_name", "akool_faceswap_image_hq")
    if model is None:
        model = "akool_faceswap_image_hq"
    if not isinstance(model, str) or model not in V4_MODELS:
        raise BusinessError(PARAM_ERROR, f"model_name must be one of {sorted(V4_MODELS)}")
    return SwapRequest(
        api="v4",
        targets=targets,
        sources=sources,
        modify_image=None,
        face_enhance=_bool(body, "face_enhance"),
        single_face_mode=_bool(body, "single_face_mode"),
        model_name=model,
        webhook_url=_webhook(body),
    )
