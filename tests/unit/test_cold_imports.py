"""Cold start: what each handler's import must NOT load (benchmarks/REPORT.md, "Cold start").

Each handler is imported in a fresh interpreter (this one's), from its function folder with the layer's
source on the path and the template's environment, as Lambda imports it; the modules it loaded are
compared with the list below. Each entry says why it waits for the path that uses it. boto3 and urllib3
are not on any list: every path of every function reads the Jobs table, and botocore imports urllib3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devkit.lambda_layer import LAYER_SOURCE, Handler, handlers

# Not needed to start any handler: loaded on the path that needs it, or never.
NOT_AT_IMPORT_ANYWHERE: dict[str, str] = {
    "requests": "AKOOL's client and the result fetcher, imported when a path first calls AKOOL "
                "(app/parts.py); a webhook or reconcile run that does not ask AKOOL never loads it",
    "charset_normalizer": "requests' dependency: with requests",
    "dropswap.adapters.akool_client": "built on first need (a rejected input never reads the AKOOL secret)",
    "dropswap.adapters.credentials": "Powertools Parameters: read with the secret, on first need",
    "aws_lambda_powertools.utilities.parameters": "with the credentials",
    "dropswap.adapters.result_fetch": "FinaliseFunction's download of AKOOL's result, built per invocation",
    "dropswap.adapters.pinned_transport": "the result fetcher's transport",
    "dropswap.domain.faces_preview": "a \"mode\": \"faces\" job's page only (faces_mode.py)",
    "aws_lambda_powertools.utilities.batch": "the SQS partial batch response is our loop "
                                             "(flows/common/queue_batch.py): Powertools' costs ~35 ms",
    "aws_lambda_powertools.event_handler": "the webhook reads its one route itself: Powertools' resolvers "
                                           "cost ~100 ms",
    "asyncio": "nothing here is async; Powertools' batch utility and event handler imported it",
}
# Manifests are parsed by SubmitFunction only.
NO_MANIFEST: dict[str, str] = {
    "dropswap.domain.manifest": "sidecars and folder manifests are SubmitFunction's",
    "fastjsonschema": "the manifest's schema validator",
}
NOT_AT_IMPORT: dict[str, dict[str, str]] = {
    "SubmitFunction": NOT_AT_IMPORT_ANYWHERE,
    "WebhookFunction": {**NOT_AT_IMPORT_ANYWHERE, **NO_MANIFEST},
    "FinaliseFunction": {**NOT_AT_IMPORT_ANYWHERE, **NO_MANIFEST},
    "ReconcileFunction": {**NOT_AT_IMPORT_ANYWHERE, **NO_MANIFEST},
}
_IMPORT = ("import importlib, json, sys; importlib.import_module(sys.argv[1]); "
           "print(json.dumps(sorted(sys.modules)))")


def _loaded(handler: Handler) -> set[str]:
    env = {**os.environ, **handler.env, "AWS_LAMBDA_FUNCTION_NAME": handler.function,
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONPATH": os.pathsep.join([str(handler.code_dir), str(LAYER_SOURCE)])}
    proc = subprocess.run([sys.executable, "-c", _IMPORT, handler.module], env=env, cwd=handler.code_dir,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("handler", handlers(), ids=lambda h: h.function)
def test_given_a_handler_when_imported_cold_then_it_loads_nothing_on_its_not_at_import_list(
    handler: Handler,
) -> None:
    # Given the handler's list; When its module is imported in a fresh interpreter
    loaded = _loaded(handler)
    # Then none of the listed modules (nor a submodule of one) was loaded
    listed = NOT_AT_IMPORT[handler.function]
    assert {name: listed[name] for name in listed
            if name in loaded or any(m.startswith(name + ".") for m in loaded)} == {}


def test_given_the_lists_then_every_function_of_the_template_has_one() -> None:
    assert {h.function for h in handlers()} == set(NOT_AT_IMPORT)
