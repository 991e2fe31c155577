"""Check recorded AWS calls against the function roles of the transformed template.

The unit tests' world is one deployment: the drop bucket and table of tests/conftest.py, in the moto
account and region, with two ExtraSourceBuckets (tests that read an extra bucket use these names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from devkit.template import functions, load_template
from tests.conftest import EVENT_BUS, QUEUES, TABLE
from tests.unit.call_recorder import ADAPTERS, FunctionCode, RecordedCall, attribute, function_code
from tests.unit.cfn_eval import Stack
from tests.unit.iam_match import Statement, UnknownOperation, allows, needs, role_statements
from tests.unit.sam_transform import TWO_EXTRA_BUCKETS, transformed_template

EXTRA_BUCKETS = tuple(TWO_EXTRA_BUCKETS.split(","))


def unit_stack(
    secret_arn: str, extra_source_buckets: str = TWO_EXTRA_BUCKETS, template: Mapping[str, Any] | None = None
) -> Stack:
    return Stack(
        template if template is not None else transformed_template(extra_source_buckets),
        parameters={"AkoolSecretArn": secret_arn, "ExtraSourceBuckets": extra_source_buckets},
        physical={"JobsTable": TABLE, "DropswapEventBus": EVENT_BUS, **QUEUES},
    )


@lru_cache(maxsize=64)
def _statements(function: str, secret_arn: str) -> tuple[Statement, ...]:
    return tuple(role_statements(unit_stack(secret_arn), function))


def _statements_in(
    template: Mapping[str, Any] | None, function: str, secret_arn: str
) -> tuple[Statement, ...]:
    if template is None:
        return _statements(function, secret_arn)
    return tuple(role_statements(unit_stack(secret_arn, template=template), function))


@lru_cache(maxsize=1)
def _code() -> tuple[FunctionCode, ...]:
    return tuple(function_code(functions(load_template())))


def violations(calls: Iterable[RecordedCall], template: Mapping[str, Any] | None = None) -> list[str]:
    """One line per permission a function's role lacks for a call its code made (in `template`, a
    transformed template deployed with the two extra buckets; by default template.yaml's)."""
    code = list(_code())
    out: list[str] = []
    for call in calls:
        names = attribute(call, code)
        if names is None:
            continue
        origin = ", ".join(sorted(call.handlers) or sorted(call.modules - ADAPTERS))
        if not names:
            out.append(f"{call.describe()} from {origin}: no function's code imports all of "
                       f"{sorted(call.modules)}")
            continue
        try:
            required = needs(call.service, call.operation, call.params, unit_stack(call.secret_arn))
        except UnknownOperation as exc:
            out.append(str(exc))
            continue
        for name in names:
            for need in required:
                if not allows(_statements_in(template, name, call.secret_arn), need):
                    why = f" ({need.why})" if need.why else ""
                    out.append(f"{name}'s role does not allow {need.action} on {need.resource}{why}: "
                               f"needed by {call.describe()} from {origin}")
    return sorted(set(out))
