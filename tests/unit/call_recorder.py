"""Record every AWS call the real code makes (a botocore event hook), and which function's code made it.

The hook is on `before-parameter-build`, which botocore emits for API calls and for presigned URLs alike
(a URL presigned with a role is only as good as that role's rights). A call is attributed by the stack
that made it: a Lambda handler (functions/<name>/app.py) on the stack names its function; otherwise the
dropswap modules on the stack name every function whose code imports all of them, transitively (so a
Submitter call counts for SubmitFunction and ReconcileFunction, which both run it). Calls that only pass
through the AWS adapters (a test arranging or inspecting state), or whose nearest project frame is test
code (a fake that simulates a user's upload mid-run), belong to no function.
"""

from __future__ import annotations

import ast
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore import handlers

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "layers" / "dropswap" / "dropswap"
FUNCTIONS_DIR = ROOT / "functions"
# Thin wrappers around boto3 clients: reaching AWS through only these is not a function's code path.
ADAPTERS = frozenset(
    f"dropswap.adapters.{name}"
    for name in ("aws", "object_store", "job_store", "credentials", "slot_store", "queues", "event_bus")
)
_KEPT_PARAMS = (
    "Bucket", "Key", "CopySource", "TableName", "IndexName", "SecretId", "QueueUrl", "Entries",
)


@dataclass(frozen=True)
class RecordedCall:
    service: str
    operation: str
    params: Mapping[str, Any]
    modules: frozenset[str]  # dropswap modules on the stack
    handlers: frozenset[str]  # function code folders on the stack, e.g. "functions/submit"
    secret_arn: str = ""  # the AKOOL_SECRET_ID the code was configured with (the AkoolSecretArn parameter)

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.service}:{self.operation}({shown})"


@dataclass
class CallRecorder:
    calls: list[RecordedCall] = field(default_factory=list)


_active: CallRecorder | None = None
_installed = threading.Lock()
_is_installed = False


def _hook(params: Mapping[str, Any], model: Any, **_: Any) -> None:
    recorder = _active
    if recorder is None:
        return
    modules: set[str] = set()
    code_dirs: set[str] = set()
    nearest_is_code: bool | None = None
    frame = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        path = Path(frame.f_code.co_filename)
        if name.startswith("dropswap."):
            modules.add(name)
        elif path.name == "app.py" and path.parent.parent == FUNCTIONS_DIR:
            code_dirs.add(path.parent.relative_to(ROOT).as_posix())
        elif name.startswith("tests.") and nearest_is_code is None:
            nearest_is_code = False  # the test itself calls AWS here (arranging state, simulating a user)
        if nearest_is_code is None and (modules or code_dirs):
            nearest_is_code = True
        frame = frame.f_back  # type: ignore[assignment]
    if not nearest_is_code:
        return
    recorder.calls.append(
        RecordedCall(
            service=str(model.service_model.service_name),
            operation=str(model.name),
            params={k: params[k] for k in _KEPT_PARAMS if k in params},
            modules=frozenset(modules),
            handlers=frozenset(code_dirs),
            secret_arn=os.environ.get("AKOOL_SECRET_ID", ""),
        )
    )


def install() -> None:
    """Register the hook for every botocore session created from now on (moto hooks in the same way)."""
    global _is_installed
    with _installed:
        if not _is_installed:
            handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _hook))
            _is_installed = True


@contextmanager
def recording() -> Iterator[CallRecorder]:
    global _active
    install()
    recorder, previous = CallRecorder(), _active
    _active = recorder
    try:
        yield recorder
    finally:
        _active = previous


# -- which function's code makes a call ----------------------------------------------------------------
def _module_file(module: str) -> Path | None:
    """The file of a dropswap module or package (its __init__.py), or None if there is none."""
    base = PACKAGE_DIR / module.split(".", 1)[1].replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """dropswap modules a file imports (TYPE_CHECKING imports included: that only widens the closure).
    `from dropswap.x import y` counts y when it is a submodule, and every package on the way."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "dropswap" or node.module.startswith("dropswap."):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("dropswap."))
    for module in list(found):
        parts = module.split(".")
        found.update(".".join(parts[:i]) for i in range(2, len(parts)))
    return {m for m in found if m != "dropswap" and _module_file(m) is not None}


def import_closure(handler: Path) -> frozenset[str]:
    """Every dropswap module a handler's code can run."""
    seen: set[str] = set()
    todo = list(_imports(handler))
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            source = _module_file(module)
            if source is not None:
                todo.extend(_imports(source))
    return frozenset(seen)


@dataclass(frozen=True)
class FunctionCode:
    name: str  # logical id in template.yaml
    code_dir: str  # e.g. "functions/submit"
    modules: frozenset[str]


def function_code(functions: Mapping[str, Mapping[str, Any]]) -> list[FunctionCode]:
    """From devkit.template.functions(): each function's folder and the dropswap modules it can run."""
    out = []
    for name, props in functions.items():
        code_dir = str(props["CodeUri"]).rstrip("/")
        module = str(props["Handler"]).rpartition(".")[0]
        out.append(FunctionCode(name, code_dir, import_closure(ROOT / code_dir / f"{module}.py")))
    return out


def attribute(call: RecordedCall, code: list[FunctionCode]) -> list[str] | None:
    """The functions whose code makes this call; None when it is no function's (test setup)."""
    if not call.handlers and not (call.modules - ADAPTERS):
        return None
    return [
        f.name for f in code
        if (not call.handlers or f.code_dir in call.handlers) and call.modules <= f.modules
    ]
