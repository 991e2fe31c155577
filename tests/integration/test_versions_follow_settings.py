"""The alias "live" follows a parameter-only redeploy, and SnapStart toggles on it (issue 20 item 2).

SubmitFunction, WebhookFunction and FinaliseFunction run as published versions behind "live"; SAM names a
version after the properties as written, so without template.yaml's SettingsDigest a changed parameter
value would leave the alias on the old version. Checked the way an operator would after `sam deploy
--parameter-overrides`: which version the alias runs, and that version's configuration. MiniStack publishes
versions and records SnapStart's setting, but takes no snapshot (docs/snapstart.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from local.stack import STACK_NAME, LocalStack

pytestmark = pytest.mark.integration

ALIASED = ("SubmitFunction", "WebhookFunction", "FinaliseFunction")


def _live(stack: LocalStack) -> dict[str, dict[str, Any]]:
    """Each aliased function's configuration as its alias "live" runs it."""
    lam = stack.client("lambda")
    return {name: lam.get_function_configuration(FunctionName=stack.functions[name], Qualifier="live")
            for name in ALIASED}


def _parameter(stack: LocalStack, name: str) -> str:
    [deployed] = stack.client("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"]
    return str(next(p["ParameterValue"] for p in deployed["Parameters"] if p["ParameterKey"] == name))


def test_given_a_parameter_only_redeploy_then_live_runs_a_new_version_with_the_new_value(
    stack: LocalStack,
) -> None:
    # Given the deployed stack and the versions its alias runs
    before = _live(stack)
    ttl = _parameter(stack, "PresignTtlSeconds")
    assert {c["Environment"]["Variables"]["PRESIGN_TTL_SECONDS"] for c in before.values()} == {ttl}
    changed = str(int(ttl) + 60)
    try:
        # When only PresignTtlSeconds changes (the template and the code unchanged)
        stack.redeploy({"PresignTtlSeconds": changed})
        after = _live(stack)
        # Then each alias runs a newly published version, configured with the new value, whose description
        # names the new settings digest
        for name in ALIASED:
            old, new = before[name], after[name]
            assert int(new["Version"]) > int(old["Version"]), name
            assert new["Environment"]["Variables"]["PRESIGN_TTL_SECONDS"] == changed, name
            digest = new["Environment"]["Variables"]["SETTINGS_DIGEST"]
            assert digest != old["Environment"]["Variables"]["SETTINGS_DIGEST"], name
            assert new["Description"] == f"SnapStart Disabled, settings {digest}", name
    finally:
        stack.redeploy({"PresignTtlSeconds": ttl})
    # And going back publishes again, to the old value
    assert {c["Environment"]["Variables"]["PRESIGN_TTL_SECONDS"] for c in _live(stack).values()} == {ttl}


def test_given_snapstart_enabled_by_a_redeploy_then_live_runs_versions_that_apply_it_and_disabled_undoes_it(
    stack: LocalStack,
) -> None:
    # Given the stack as deployed, SnapStart at its default (Disabled)
    assert {c["SnapStart"]["ApplyOn"] for c in _live(stack).values()} == {"None"}
    try:
        # When the operator turns SnapStart on with a redeploy
        stack.redeploy({"SnapStart": "Enabled"})
        enabled = _live(stack)
        # Then the alias runs versions published with SnapStart applied, and the reconciler is untouched
        for name, config in enabled.items():
            assert config["SnapStart"]["ApplyOn"] == "PublishedVersions", name
            assert config["Description"].startswith("SnapStart Enabled, settings "), name
        reconciler = stack.client("lambda").get_function_configuration(
            FunctionName=stack.functions["ReconcileFunction"])
        assert reconciler.get("SnapStart", {}).get("ApplyOn", "None") == "None"
    finally:
        stack.redeploy({"SnapStart": "Disabled"})
    # And turning it off again publishes versions without it
    assert {c["SnapStart"]["ApplyOn"] for c in _live(stack).values()} == {"None"}
