"""The sidecar manifest (version 1): parse, validate against the published JSON Schema, resolve sources.

The schema file ships inside this package (`schemas/manifest.schema.json`, the copy the Lambda reads);
`schemas/manifest.schema.json` at the repository root is the published copy, kept identical by a test.
Every error names the field and says how to fix it, because the user only ever sees the message.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import fastjsonschema

from dropswap.domain import keys, source_host
from dropswap.domain.error_codes import ErrorCode
from dropswap.domain.faces import Point, Target

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "manifest.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


# Compiled once per process on first need (not at import: most imports of this module never parse a
# manifest, and compiling costs a cold start ~15 ms), then reused by every invocation while warm.
@cache
def _validator() -> Callable[..., Any]:
    return fastjsonschema.compile(SCHEMA)


@cache
def _metadata_validator() -> Callable[..., Any]:
    return fastjsonschema.compile(SCHEMA["properties"]["metadata"])


# One validator per top-level field, and one for a single swap, so that a manifest with several problems
# gets them all in one report (the whole-schema validator stops at the first). Compiled on first need:
# a valid manifest never needs them.
_PART_SCHEMAS: dict[str, dict[str, Any]] = {
    **{name: {"definitions": SCHEMA["definitions"], **{k: v for k, v in prop.items() if k != "items"}}
       for name, prop in SCHEMA["properties"].items()},
    # A swap's shape (its fields, not their values), then each of its two fields on its own.
    "swap": {**SCHEMA["definitions"]["swap"], "properties": {"source": {}, "target": {}}},
    "source": SCHEMA["definitions"]["swap"]["properties"]["source"],
    "target": {"definitions": SCHEMA["definitions"], "$ref": "#/definitions/target"},
}
# Keywords compared without regard to case ("Largest" is "largest"), each field's allowed spellings.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "target": ("largest", "all"),
    "engine": ("auto", "pro", "v3"),
    "mode": ("faces",),
}

MAX_MANIFEST_BYTES = 256 * 1024
# S3's limit on a key, in bytes of UTF-8: a longer key names no object that can ever be uploaded.
MAX_KEY_BYTES = 1024
MAX_SWAPS = int(SCHEMA["properties"]["swaps"]["maxItems"])
# ARCHITECTURE §5: the user's metadata travels in every report and event (EventBridge caps an entry at
# 256 KiB); 2 KiB of compact JSON is plenty for ids and labels.
MAX_METADATA_BYTES = 2048

Engine = Literal["auto", "pro", "v3"]
# "swap": replace faces (`swaps`); "faces": detection only, a numbered preview (`"mode": "faces"`).
Mode = Literal["swap", "faces"]

_SOURCE_HELP = (
    "use a key relative to the sidecar's folder, an s3://<drop bucket>/inbox/… URI or an https:// URL"
)
_FIELD_HELP: dict[str, str] = {
    "version": 'must be 1 (the only manifest version); add "version": 1',
    "swaps": 'must be a list of 1 to 50 objects like {"source": "faces/alice.jpg", "target": 0}',
    "swap": 'must be an object like {"source": "faces/alice.jpg", "target": 0}',
    "source": f"must be a non-empty string; {_SOURCE_HELP}",
    "target": (
        'must be a face index (0 = leftmost face), "largest", "all" '
        'or a point inside the face like {"x": 410, "y": 220} (non-negative integers)'
    ),
    "mode": 'must be "faces" (the only mode), given instead of "swaps" to get a numbered faces preview',
    "face_enhance": "must be true or false",
    "engine": 'must be "auto", "pro" or "v3"',
    "metadata": 'must be a JSON object of your own, like {"order": "A-1042"} (at most 2 KiB)',
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_PLAIN_KEY = re.compile(r"[^\W\d][\w-]*")


class ManifestError(ValueError):
    """A manifest the pipeline cannot run: `field` is where (e.g. `swaps[1].source`), `message` how to fix."""

    def __init__(self, field: str, message: str, code: ErrorCode = ErrorCode.MANIFEST_INVALID) -> None:
        self.field = field
        self.message = message
        self.code = code
        # The manifest's `metadata` when it is valid itself, though the manifest is not (parse_manifest):
        # the rejection's report and event carry it, for correlation.
        self.metadata_json: str | None = None
        super().__init__(f"{field}: {message}")

    @classmethod
    def all_of(cls, errors: list[ManifestError]) -> ManifestError:
        """Every problem found at once, as one error: the first's field and code, then the others'."""
        first = errors[0]
        if len(errors) == 1:
            return first
        others = "; ".join(str(e) for e in errors[1:])
        return cls(first.field, f"{first.message}; also {others}", code=first.code)


@dataclass(frozen=True)
class Source:
    """Where a swap's new face comes from: an S3 object (drop bucket or an allowed one) or an https URL."""

    raw: str
    bucket: str | None = None
    key: str | None = None
    url: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.key is not None

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.is_s3 else str(self.url)


@dataclass(frozen=True)
class Swap:
    index: int
    source: Source
    target: Target

    @property
    def field(self) -> str:
        return f"swaps[{self.index}]"


@dataclass(frozen=True)
class Manifest:
    version: int
    swaps: tuple[Swap, ...]  # empty in "faces" mode
    face_enhance: bool = False
    engine: Engine = "auto"
    mode: Mode = "swap"
    # The user's metadata as compact JSON text (None: none given), carried as is into reports and events.
    metadata_json: str | None = None


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= limit else text[: limit - 2] + '…"'


def _field_name(path: list[Any]) -> str:
    out = ""
    for part in path[1:]:  # path[0] is fastjsonschema's "data"
        text = str(part)
        out += f"[{text}]" if text.isdigit() else (f".{text}" if out else text)
    return out or "manifest"


def _key(name: str) -> str:
    """A key as it appears in a field path: bare when it is a plain name, else quoted (`""`, `"a b"`)."""
    return name if _PLAIN_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _help_for(field: str) -> str:
    if re.fullmatch(r"swaps\[\d+\]", field):
        return _FIELD_HELP["swap"]
    last = field.rsplit(".", 1)[-1]
    return _FIELD_HELP.get(last, "does not match the manifest schema (schemas/manifest.schema.json)")


def _schema_error(exc: fastjsonschema.JsonSchemaValueException) -> ManifestError:
    path = list(exc.path or ["data"])
    field = _field_name(path)
    value = exc.value
    rule = exc.rule
    definition = exc.definition if isinstance(exc.definition, dict) else {}
    if rule == "required" and isinstance(value, dict):
        missing = [name for name in definition.get("required", []) if name not in value]
        name = missing[0] if missing else "?"
        allowed = list(definition.get("properties", {}))
        # A misspelt field shows up as "missing"; naming the misspelling is the more useful message.
        for extra in (k for k in value if k not in allowed):
            if difflib.get_close_matches(extra, [name], n=1):
                sub = f"{field}.{_key(extra)}" if field != "manifest" else _key(extra)
                return ManifestError(sub, f'unknown field; did you mean "{name}"?')
        sub = f"{field}.{name}" if field != "manifest" else name
        return ManifestError(sub, f"is required; it {_help_for(sub)}")
    if rule == "additionalProperties" and isinstance(value, dict):
        allowed = list(definition.get("properties", {}))
        extra = sorted(k for k in value if k not in allowed)
        name = extra[0] if extra else "?"
        sub = f"{field}.{_key(name)}" if field != "manifest" else _key(name)
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        names = ", ".join(f'"{a}"' for a in allowed)
        return ManifestError(sub, f"unknown field{hint} (allowed here: {names})")
    if field == "manifest" and rule == "oneOf" and isinstance(value, dict):
        return _swaps_or_mode(value)
    if field == "manifest" and rule == "type":
        return ManifestError(field, 'must be a JSON object like {"version": 1, "swaps": [...]}')
    if field == "swaps" and rule == "maxItems" and isinstance(value, list):
        return ManifestError(
            field, f"has {len(value)} swaps; at most {MAX_SWAPS} are allowed in one manifest",
            code=ErrorCode.LIMIT,
        )
    if field == "swaps" and rule == "minItems":
        return ManifestError(field, "is empty; " + _FIELD_HELP["swaps"])
    return ManifestError(field, f"{_show(value)} is not valid: it {_help_for(field)}")


@cache
def _part_validator(name: str) -> Callable[..., Any]:
    return fastjsonschema.compile(_PART_SCHEMAS[name])


def _schema_problems(doc: Any, first: fastjsonschema.JsonSchemaValueException) -> list[ManifestError]:
    """Every schema problem of a manifest the whole schema refused (`first`: its first one), each named by
    its JSON path: unknown fields, each top-level field, and each swap on its own."""
    if not isinstance(doc, dict):
        return [_schema_error(first)]
    problems: list[ManifestError] = []
    known = SCHEMA["properties"]
    extras = sorted(k for k in doc if k not in known)
    problems += [_unknown_field(doc, extra) for extra in extras]
    if "version" not in doc:
        problems.append(ManifestError("version", f"is required; it {_FIELD_HELP['version']}"))
    has_swaps, has_mode = "swaps" in doc, "mode" in doc
    # Neither: unless an unknown field already reads as a misspelling of one ("did you mean"), say so.
    misspelt = any(difflib.get_close_matches(e, ["swaps", "mode"], n=1) for e in extras)
    if (has_swaps and has_mode) or (not has_swaps and not has_mode and not misspelt):
        problems.append(_swaps_or_mode(doc))
    for name in (k for k in known if k in doc):
        problems += _part_problems(name, doc[name], f"data.{name}")
        if name == "swaps" and isinstance(doc["swaps"], list):
            for i, item in enumerate(doc["swaps"]):
                problems += _part_problems("swap", item, f"data.swaps[{i}]")
                for field in ("source", "target"):
                    if isinstance(item, dict) and field in item:
                        problems += _part_problems(field, item[field], f"data.swaps[{i}].{field}")
    return problems or [_schema_error(first)]


def _part_problems(part: str, value: Any, name: str) -> list[ManifestError]:
    try:
        _part_validator(part)(value, name_prefix=name)
    except fastjsonschema.JsonSchemaValueException as exc:
        return [_schema_error(exc)]
    return []


def _field_problems(item: Any) -> list[ManifestError]:
    if not isinstance(item, dict):
        return []
    return [p for field in ("source", "target") if field in item
            for p in _part_problems(field, item[field], f"data.{field}")]


def _unknown_field(doc: dict[str, Any], extra: str) -> ManifestError:
    allowed = list(SCHEMA["properties"])
    missing = [name for name in ("version", "swaps", "mode") if name not in doc]
    close = difflib.get_close_matches(extra, missing, n=1) or difflib.get_close_matches(extra, allowed, n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    names = ", ".join(f'"{a}"' for a in allowed)
    return ManifestError(_key(extra), f"unknown field{hint} (allowed here: {names})")


def _normalise_keywords(doc: Any) -> Any:
    """The manifest with its keywords (`target`, `engine`, `mode`) in their schema spelling when they
    differ only by case: a person writes "Largest" and means "largest". The parsed manifest, and so the
    report, carries the schema's spelling."""
    if not isinstance(doc, dict):
        return doc

    def fold(field: str, value: Any) -> Any:
        if isinstance(value, str) and value not in _KEYWORDS[field] and value.lower() in _KEYWORDS[field]:
            return value.lower()
        return value

    out = {k: fold(k, v) if k in ("engine", "mode") else v for k, v in doc.items()}
    if isinstance(out.get("swaps"), list):
        out["swaps"] = [
            {**item, "target": fold("target", item["target"])}
            if isinstance(item, dict) and "target" in item else item
            for item in out["swaps"]
        ]
    return out


def _swaps_or_mode(doc: dict[str, Any]) -> ManifestError:
    """The top level's oneOf: exactly one of "swaps" and "mode"."""
    if "swaps" in doc and "mode" in doc:
        return ManifestError(
            "mode",
            'cannot be given with "swaps": keep "swaps" to replace faces, or only "mode": "faces" to get '
            "the photo's numbered faces without a swap",
        )
    for extra in (k for k in doc if k not in SCHEMA["properties"]):
        close = difflib.get_close_matches(extra, ["swaps", "mode"], n=1)
        if close:
            return ManifestError(_key(extra), f'unknown field; did you mean "{close[0]}"?')
    return ManifestError(
        "swaps",
        f'is required; it {_FIELD_HELP["swaps"]} (or give "mode": "faces" instead, for a numbered '
        "preview of the photo's faces)",
    )


def parse_manifest(
    data: bytes,
    *,
    sidecar_key: str,
    drop_bucket: str,
    extra_source_buckets: tuple[str, ...] = (),
    allowed_source_hosts: tuple[str, ...] = (),
) -> Manifest:
    """Bytes of a sidecar → Manifest, or ManifestError naming the field and the fix. The error of a
    manifest that is JSON but invalid carries its `metadata` if that alone is valid (`metadata_json`)."""
    doc = _read_json(data)
    try:
        return _manifest_of(
            doc, sidecar_key=sidecar_key, drop_bucket=drop_bucket,
            extra_source_buckets=extra_source_buckets, allowed_source_hosts=allowed_source_hosts,
        )
    except ManifestError as exc:
        exc.metadata_json = _valid_metadata_json(doc)
        raise


def _read_json(data: bytes) -> Any:
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            "manifest", f"is {len(data)} bytes; a manifest may be at most {MAX_MANIFEST_BYTES}",
            code=ErrorCode.LIMIT,
        )
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise ManifestError(
            "manifest", "is not UTF-8 text; save the sidecar as UTF-8 JSON", code=ErrorCode.INVALID_JSON
        ) from None
    except json.JSONDecodeError as exc:
        raise ManifestError(
            "manifest",
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "check commas, quotes and brackets",
            code=ErrorCode.INVALID_JSON,
        ) from None
    except RecursionError:
        raise ManifestError(
            "manifest", "is nested too deeply to read; a manifest is a flat JSON object",
            code=ErrorCode.INVALID_JSON,
        ) from None
    except ValueError:
        # Python refuses integers of more than 4300 digits (int_max_str_digits); json raises it as is.
        raise ManifestError(
            "manifest", "holds a number with thousands of digits; use small whole numbers",
            code=ErrorCode.INVALID_JSON,
        ) from None
    return doc


def _manifest_of(
    doc: Any,
    *,
    sidecar_key: str,
    drop_bucket: str,
    extra_source_buckets: tuple[str, ...],
    allowed_source_hosts: tuple[str, ...],
) -> Manifest:
    _check_text(doc)
    doc = _normalise_keywords(doc)
    problems: list[ManifestError] = []
    try:
        _validator()(doc)
    except fastjsonschema.JsonSchemaValueException as exc:
        problems = _schema_problems(doc, exc)
        if not isinstance(doc, dict) or not isinstance(doc.get("swaps"), list):
            raise ManifestError.all_of(problems) from None
    if not problems and doc.get("mode") == "faces":
        return Manifest(version=1, swaps=(), mode="faces", metadata_json=_metadata_json(doc))
    folder = keys.folder_of(sidecar_key)
    allowed_buckets = (drop_bucket, *extra_source_buckets)
    swaps: list[Swap] = []
    for i, item in enumerate(doc["swaps"]):
        if problems and _part_problems("swap", item, "data") + _field_problems(item):
            continue  # its schema problems are listed already; its source is resolved once they are fixed
        try:
            source = resolve_source(
                item["source"], f"swaps[{i}].source", folder, allowed_buckets,
                allowed_hosts=allowed_source_hosts,
            )
        except ManifestError as exc:
            problems.append(exc)  # every bad source at once, not one per upload of the sidecar
            continue
        swaps.append(Swap(index=i, source=source, target=_target(item["target"])))
    try:
        metadata_json = _metadata_json(doc)
    except ManifestError as exc:
        problems.append(exc)
    if problems:
        raise ManifestError.all_of(problems)
    return Manifest(
        version=1,
        swaps=tuple(swaps),
        face_enhance=bool(doc.get("face_enhance", False)),
        engine=doc.get("engine", "auto"),
        metadata_json=metadata_json,
    )


def _metadata_json(doc: dict[str, Any]) -> str | None:
    """The manifest's `metadata` (an object: the schema checked) as compact JSON, within its size limit."""
    if "metadata" not in doc:
        return None
    text = json.dumps(doc["metadata"], ensure_ascii=False, separators=(",", ":"))
    size = len(text.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise ManifestError(
            "metadata",
            f"is {size} bytes as compact JSON; at most {MAX_METADATA_BYTES} (2 KiB) are allowed: keep ids "
            "and short labels there, and put larger data in a file it names (e.g. an S3 key)",
            code=ErrorCode.LIMIT,
        )
    return text


def _valid_metadata_json(doc: Any) -> str | None:
    """The `metadata` of a manifest found invalid, as `_manifest_of` would have kept it, if it is valid
    itself (the same checks: text, schema, size); None when it is not, or not given."""
    if not isinstance(doc, dict) or "metadata" not in doc:
        return None
    try:
        _check_text(doc["metadata"])
        _metadata_validator()(doc["metadata"])
        return _metadata_json(doc)
    except (ManifestError, fastjsonschema.JsonSchemaValueException):
        return None


def _check_text(doc: Any) -> None:
    """Every string (and key) must be Unicode text: JSON's \\uXXXX escapes can encode a lone UTF-16
    surrogate, which is no character, cannot be written to a UTF-8 report or an S3 key, and would break
    the error message meant to name it."""
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ManifestError(
                    "manifest",
                    "contains a \\u escape of a lone UTF-16 surrogate (\\ud800–\\udfff), which is not a "
                    "character; save the sidecar as UTF-8 text",
                    code=ErrorCode.INVALID_JSON,
                ) from None


def _target(value: Any) -> Target:
    # Validated by the schema already; int() because JSON Schema counts 1.0 as an integer.
    if isinstance(value, str):
        return "largest" if value == "largest" else "all"
    if isinstance(value, dict):
        return Point(int(value["x"]), int(value["y"]))
    return int(value)


def check_key_length(key: str, field: str, code: ErrorCode = ErrorCode.INVALID_SOURCE) -> None:
    """ManifestError when `key` is longer than S3 allows: no upload can ever create it, so a job waiting
    for it would only wait out its time."""
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise ManifestError(
            field,
            f"{_show(key)} is a key of {size} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes (UTF-8), "
            "use shorter folder and file names",
            code=code,
        )


def _not_allowed(value: str, field: str, why: str = "") -> ManifestError:
    reason = f" ({why})" if why else ""
    message = f"{_show(value)} is not allowed{reason}; {_SOURCE_HELP}"
    return ManifestError(field, message, code=ErrorCode.INVALID_SOURCE)


def resolve_source(
    raw: str,
    field: str,
    folder: str,
    allowed_buckets: tuple[str, ...],
    *,
    allowed_hosts: tuple[str, ...] = (),
) -> Source:
    """Apply the source rules: relative keys stay in inbox/, s3:// only under inbox/ of the drop bucket or
    in an allowed extra bucket, public https (under `allowed_hosts`, the host suffixes of AllowedSourceHosts,
    when there are any)."""
    value = raw.strip()
    if not value:
        raise ManifestError(field, f"is empty; {_SOURCE_HELP}", code=ErrorCode.INVALID_SOURCE)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _not_allowed(value, field, "contains control characters")
    scheme_match = _SCHEME.match(value)
    if not scheme_match:
        if value.startswith("/"):
            raise _not_allowed(value, field, "keys are relative to the sidecar's folder, without a leading /")
        key = _relative_key(value, field, folder)
        check_key_length(key, field)
        return Source(raw=raw, bucket=allowed_buckets[0], key=key)
    scheme = scheme_match.group(1).lower()
    if scheme == "s3":
        return _s3_source(value, field, allowed_buckets)
    if scheme == "https":
        return Source(raw=raw, url=_https_url(value, field, allowed_hosts))
    if scheme == "http":
        raise _not_allowed(value, field, "plain http is not accepted; use https")
    if scheme == "file":
        raise _not_allowed(value, field, "local files cannot be read")
    raise ManifestError(
        field,
        f"{_show(value)} is not allowed ({scheme}: is not a supported scheme); {_SOURCE_HELP}. "
        f'If it is a key whose name contains ":", write it as "./{value}"',
        code=ErrorCode.INVALID_SOURCE,
    )


def _relative_key(value: str, field: str, folder: str) -> str:
    # Resolve "." and ".." by segments; other segments (even empty ones) are kept, since S3 keys are
    # literal strings and "a//b" names a different object than "a/b".
    parts = folder.rstrip("/").split("/") if folder else []
    for seg in value.split("/"):
        if seg == ".":
            continue
        if seg == "..":
            if len(parts) <= 1:  # would leave inbox/
                raise _not_allowed(value, field, "it leads outside inbox/")
            parts.pop()
            continue
        parts.append(seg)
    key = "/".join(parts)
    if not key.startswith(keys.INBOX) or key.endswith("/") or key == keys.INBOX.rstrip("/"):
        raise _not_allowed(value, field, "it does not name a file under inbox/")
    return key


def _s3_source(value: str, field: str, allowed_buckets: tuple[str, ...]) -> Source:
    rest = value[len("s3://") :] if value[:5].lower() == "s3://" else ""
    bucket, _, key = rest.partition("/")
    if not bucket or not key or key.endswith("/"):
        raise _not_allowed(value, field, "an s3:// source needs a bucket and an object key: s3://bucket/key")
    if bucket not in allowed_buckets:
        raise ManifestError(
            field,
            f"{_show(value)} is not allowed: bucket {bucket!r} is not the drop bucket "
            f"{allowed_buckets[0]!r}; use the drop bucket or ask the operator to list it in "
            "ExtraSourceBuckets",
            code=ErrorCode.INVALID_SOURCE,
        )
    if any(seg in {".", ".."} for seg in key.split("/")):
        # Such keys are mangled by URL normalisation on the way to AKOOL; never useful for a face photo.
        raise _not_allowed(value, field, '"." and ".." segments are not allowed in s3:// keys')
    if bucket == allowed_buckets[0] and not key.startswith(keys.INBOX):
        # Uploaders share the drop bucket: any other prefix (results/ above all) holds other people's
        # files, and AKOOL would fetch them through a URL this pipeline presigns.
        why = f"only keys under {keys.INBOX} of the drop bucket can be sources; upload the face there"
        raise _not_allowed(value, field, why)
    check_key_length(key, field)
    return Source(raw=value, bucket=bucket, key=key)


def _https_url(value: str, field: str, allowed_hosts: tuple[str, ...]) -> str:
    if any(c.isspace() for c in value):
        raise _not_allowed(value, field, "URLs cannot contain spaces; percent-encode them as %20")
    try:
        host = source_host.public_host(value)
    except source_host.HostRefused as exc:
        raise _not_allowed(value, field, str(exc)) from None
    if not source_host.host_allowed(host, allowed_hosts):
        raise ManifestError(
            field,
            f"{_show(value)} is not allowed: host {host} is not under the allowed source hosts "
            f"({', '.join(allowed_hosts)}); use an https URL on one of them, upload the face under inbox/, "
            "or ask the operator to add the host to AllowedSourceHosts",
            code=ErrorCode.INVALID_SOURCE,
        )
    return value
